using System.Runtime.CompilerServices;

namespace Hunch.Grammar;

/// <summary>
/// A continuation below the top of a parse stack: the position to resume at after the current rule ends.
/// Nodes are hash-consed through their parent (<see cref="Child"/> returns the same node for the same
/// position), so two stacks are equal exactly when their tops are equal and their rests are the same object;
/// states share tails and cost nothing to keep per draft-tree node.
/// </summary>
internal sealed class StackNode
{
    internal readonly int Pos;
    internal readonly StackNode? Parent;
    int[]? _keys;
    StackNode[]? _kids;
    int _count;
    Dictionary<int, StackNode>? _map;

    internal StackNode(int pos, StackNode? parent) { Pos = pos; Parent = parent; }

    internal StackNode Child(int pos)
    {
        if (_map is not null)
        {
            if (!_map.TryGetValue(pos, out var found)) _map[pos] = found = new StackNode(pos, this);
            return found;
        }
        for (int i = 0; i < _count; i++) if (_keys![i] == pos) return _kids![i];
        var node = new StackNode(pos, this);
        if (_count == 8)
        {
            _map = new Dictionary<int, StackNode>(16);
            for (int i = 0; i < _count; i++) _map[_keys![i]] = _kids![i];
            _map[pos] = node;
            _keys = null;
            _kids = null;
            return node;
        }
        _keys ??= new int[8];
        _kids ??= new StackNode[8];
        _keys[_count] = pos;
        _kids[_count++] = node;
        return node;
    }
}

/// <summary>One parse stack: <see cref="Top"/> is the position of the byte set to match next (-1 when the
/// grammar is complete on this stack) and <see cref="Rest"/> what follows when the current rule ends.</summary>
internal readonly record struct ParseStack(int Top, StackNode Rest);

/// <summary>
/// Where a constrained generation stands: the set of parse stacks of a pushdown matcher (as llama.cpp's
/// grammar engine keeps it). Immutable: advancing returns a new state, so each draft-tree node keeps its own
/// state at the cost of one small array.
/// </summary>
public sealed class GrammarState
{
    internal readonly ParseStack[] Stacks;
    internal readonly bool Ended;
    internal readonly GrammarMatcher Owner;

    internal GrammarState(GrammarMatcher owner, ParseStack[] stacks, bool ended)
    {
        Owner = owner;
        // A canonical order lets equal stack sets reached by different paths share one cached mask.
        if (stacks.Length > 1) Array.Sort(stacks, static (a, b) => a.Top != b.Top ? a.Top.CompareTo(b.Top)
            : RuntimeHelpers.GetHashCode(a.Rest).CompareTo(RuntimeHelpers.GetHashCode(b.Rest)));
        Stacks = stacks;
        Ended = ended;
        foreach (var s in stacks)
        {
            if (s.Top < 0) IsAccepting = true;
            else CanContinue = true;
        }
        if (ended) { IsAccepting = false; CanContinue = false; }
    }

    /// <summary>The text so far is a complete sentence of the grammar (an end-of-generation token is allowed).</summary>
    public bool IsAccepting { get; }

    /// <summary>More bytes may follow.</summary>
    public bool CanContinue { get; }

    /// <summary>Nothing more may follow: the grammar is complete and cannot be extended, or generation ended.</summary>
    public bool IsComplete => !CanContinue;
}

/// <summary>
/// Follows a <see cref="GbnfGrammar"/> byte by byte and computes which tokens may come next.
///
/// Design: a pushdown matcher whose state is a set of stacks (llama.cpp's approach) rather than an Earley
/// chart. With hash-consed persistent stacks a state is an array of (top, rest) pairs, so cloning it for every
/// draft-tree node is free, equality is cheap, and advancing one byte touches only the tops. Earley items would
/// need the whole chart per node. The price is that ambiguous grammars can multiply stacks; that is bounded by
/// <see cref="GrammarLimits.MaxStacks"/> and left recursion is rejected when the grammar is compiled.
///
/// Allowed tokens are found by walking the vocabulary trie with the stack set, pruning a subtree as soon as no
/// stack survives its prefix, so each byte of a shared prefix is matched once and rejected prefixes cost one
/// test. One matcher serves one request (it owns the stack-node pool); not thread-safe.
/// </summary>
public sealed class GrammarMatcher
{
    readonly GbnfGrammar _g;
    readonly TokenVocabulary _vocab;
    readonly StackNode _bottom = new(-1, null);
    readonly GrammarState _ended;
    ParseStack[] _buf = new ParseStack[256];
    int _len;
    (int Pos, StackNode Next)[] _work = new (int, StackNode)[64];
    int[] _frameNode = [], _frameChild = [], _frameStart = [], _frameEnd = [];
    // Masks of recent stack sets: inside a string or a repetition the same set recurs step after step (the
    // stacks are hash-consed, so equal sets compare by reference), and a hit costs one copy instead of a walk.
    readonly Dictionary<ParseStack[], (ulong[] Bits, int Count)> _maskCache = new(StackSetComparer.Instance);
    readonly int _maskCacheCapacity;

    /// <summary>Creates a matcher for one request.</summary>
    public GrammarMatcher(GbnfGrammar grammar, TokenVocabulary vocabulary)
    {
        _g = grammar ?? throw new ArgumentNullException(nameof(grammar));
        _vocab = vocabulary ?? throw new ArgumentNullException(nameof(vocabulary));
        _ended = new GrammarState(this, [], true);
        _maskCacheCapacity = Math.Clamp((4 << 20) / (((vocabulary.Count + 63) >> 6) * 8), 16, 1024);
        _len = 0;
        foreach (int alt in _g.Alternatives[_g.RootRule]) Expand(alt, _bottom, 0);
        Initial = new GrammarState(this, _buf.AsSpan(0, _len).ToArray(), false);
    }

    /// <summary>The state before any token.</summary>
    public GrammarState Initial { get; }

    /// <summary>The vocabulary.</summary>
    public TokenVocabulary Vocabulary => _vocab;

    /// <summary>The state after <paramref name="token"/>, or null when the grammar does not allow it.</summary>
    public GrammarState? Advance(GrammarState state, int token)
    {
        Check(state);
        if (state.Ended || (uint)token >= (uint)_vocab.Count) return null;
        var bytes = _vocab.Bytes(token);
        if (_vocab.IsEndOfGeneration(token)) return state.IsAccepting ? _ended : null;
        if (bytes.Length == 0) return null;
        return AdvanceBytes(state, bytes);
    }

    /// <summary>The state after <paramref name="bytes"/>, or null when the grammar does not allow them.</summary>
    public GrammarState? AdvanceBytes(GrammarState state, ReadOnlySpan<byte> bytes)
    {
        Check(state);
        if (state.Ended) return bytes.Length == 0 ? state : null;
        int n = RunBytes(state, bytes, out int start);
        if (n == 0) return null;
        return new GrammarState(this, _buf.AsSpan(start, n).ToArray(), false);
    }

    /// <summary>Whether <paramref name="token"/> may come next (no state is built).</summary>
    public bool Accepts(GrammarState state, int token)
    {
        Check(state);
        if (state.Ended || (uint)token >= (uint)_vocab.Count) return false;
        if (_vocab.IsEndOfGeneration(token)) return state.IsAccepting;
        var bytes = _vocab.Bytes(token);
        return bytes.Length > 0 && RunBytes(state, bytes, out _) > 0;
    }

    /// <summary>Runs bytes from a state; the resulting stacks are _buf[start, start + count).</summary>
    int RunBytes(GrammarState state, ReadOnlySpan<byte> bytes, out int start)
    {
        var stacks = state.Stacks;
        EnsureBuffer(stacks.Length);
        stacks.CopyTo(_buf, 0);
        int from = 0, count = stacks.Length;
        foreach (byte b in bytes)
        {
            _len = from + count;
            int produced = Step(from, count, b);
            if (produced == 0) { start = 0; return 0; }
            // Move the new segment to the front so the buffer does not grow with the token length.
            Array.Copy(_buf, from + count, _buf, 0, produced);
            from = 0;
            count = produced;
        }
        start = from;
        return count;
    }

    /// <summary>
    /// Sets the bit of every token allowed after <paramref name="state"/> in <paramref name="allowed"/> (one bit
    /// per token, the rest cleared) and returns how many are set.
    /// </summary>
    public int FillAllowed(GrammarState state, Span<ulong> allowed)
    {
        Check(state);
        int words = (_vocab.Count + 63) >> 6;
        if (allowed.Length < words) throw new ArgumentException($"the mask needs {words} words", nameof(allowed));
        allowed[..words].Clear();
        if (state.Ended) return 0;
        if (_maskCache.TryGetValue(state.Stacks, out var hit))
        {
            hit.Bits.AsSpan().CopyTo(allowed);
            return hit.Count;
        }
        int total = Walk(state, allowed);
        if (_maskCache.Count >= _maskCacheCapacity) _maskCache.Clear();
        _maskCache[state.Stacks] = (allowed[..words].ToArray(), total);
        return total;
    }

    int Walk(GrammarState state, Span<ulong> allowed)
    {
        int total = 0;
        if (state.IsAccepting)
            foreach (int t in _vocab.EndOfGenerationTokens) { allowed[t >> 6] |= 1UL << (t & 63); total++; }
        if (!state.CanContinue) return total;

        var stacks = state.Stacks;
        EnsureBuffer(stacks.Length);
        stacks.CopyTo(_buf, 0);
        int maxDepth = _vocab.MaxDepth + 2;
        if (_frameNode.Length < maxDepth)
        {
            _frameNode = new int[maxDepth]; _frameChild = new int[maxDepth];
            _frameStart = new int[maxDepth]; _frameEnd = new int[maxDepth];
        }
        var childStart = _vocab.ChildStart;
        var childByte = _vocab.ChildByte;
        var childNode = _vocab.ChildNode;
        var tokenStart = _vocab.TokenStart;
        var tokenIds = _vocab.TokenIds;
        int depth = 0;
        _frameNode[0] = 0; _frameChild[0] = childStart[0]; _frameStart[0] = 0; _frameEnd[0] = stacks.Length;
        while (depth >= 0)
        {
            int node = _frameNode[depth];
            int c = _frameChild[depth];
            if (c == childStart[node + 1]) { depth--; continue; }
            _frameChild[depth] = c + 1;
            byte b = childByte[c];
            int segStart = _frameStart[depth], segEnd = _frameEnd[depth];
            if (!AnyTopAccepts(segStart, segEnd, b)) continue;
            _len = segEnd;
            int produced = Step(segStart, segEnd - segStart, b);
            if (produced == 0) continue;
            int child = childNode[c];
            for (int k = tokenStart[child]; k < tokenStart[child + 1]; k++)
            {
                int t = tokenIds[k];
                allowed[t >> 6] |= 1UL << (t & 63);
                total++;
            }
            if (childStart[child] < childStart[child + 1])
            {
                depth++;
                _frameNode[depth] = child; _frameChild[depth] = childStart[child];
                _frameStart[depth] = segEnd; _frameEnd[depth] = segEnd + produced;
            }
        }
        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    bool AnyTopAccepts(int start, int end, byte b)
    {
        var code = _g.Code;
        for (int i = start; i < end; i++)
        {
            int top = _buf[i].Top;
            if (top >= 0 && _g.SetContains(code[top], b)) return true;
        }
        return false;
    }

    /// <summary>Advances the stacks _buf[from, from + count) by one byte, appending the results at _len
    /// (deduplicated); returns how many were appended.</summary>
    int Step(int from, int count, byte b)
    {
        var code = _g.Code;
        int outStart = _len;
        for (int i = from; i < from + count; i++)
        {
            var s = _buf[i];
            if (s.Top < 0 || !_g.SetContains(code[s.Top], b)) continue;
            Expand(s.Top + 1, s.Rest, outStart);
        }
        return _len - outStart;
    }

    /// <summary>
    /// Expands position <paramref name="pos"/> (with continuation <paramref name="rest"/>) until every stack has
    /// a byte set on top or is complete, appending new stacks at _len and skipping those already in
    /// [<paramref name="outStart"/>, _len). A reference at the end of an alternative is a tail call: it does not
    /// push, so right recursion (repetition) keeps stacks flat.
    /// </summary>
    void Expand(int pos, StackNode rest, int outStart)
    {
        var code = _g.Code;
        int sp = 0;
        int steps = 0;
        _work[sp++] = (pos, rest);
        while (sp > 0)
        {
            var (p, r) = _work[--sp];
            if (++steps > _g.Limits.MaxExpansionSteps)
                throw new GrammarException($"grammar expansion exceeded {_g.Limits.MaxExpansionSteps} steps for one byte (too ambiguous)");
            int e = code[p];
            if (e >= 0) { Emit(new ParseStack(p, r), outStart); continue; }
            if (e == GbnfGrammar.End)
            {
                if (ReferenceEquals(r, _bottom)) Emit(new ParseStack(-1, _bottom), outStart);
                else Push(r.Pos, r.Parent!, ref sp);
                continue;
            }
            var alts = _g.Alternatives[GbnfGrammar.RefRule(e)];
            var cont = code[p + 1] == GbnfGrammar.End ? r : r.Child(p + 1);
            // Pushed in reverse so alternatives are explored in order (stack order only; results are a set).
            for (int a = alts.Length - 1; a >= 0; a--) Push(alts[a], cont, ref sp);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Push(int pos, StackNode rest, ref int sp)
    {
        if (sp == _work.Length) Array.Resize(ref _work, _work.Length * 2);
        _work[sp++] = (pos, rest);
    }

    void Emit(ParseStack s, int outStart)
    {

        for (int i = outStart; i < _len; i++)
            if (_buf[i].Top == s.Top && ReferenceEquals(_buf[i].Rest, s.Rest)) return;
        if (_len - outStart >= _g.Limits.MaxStacks)
            throw new GrammarException($"grammar is too ambiguous: more than {_g.Limits.MaxStacks} parse stacks at once");
        if (_len == _buf.Length) Array.Resize(ref _buf, _buf.Length * 2);
        _buf[_len++] = s;
    }

    sealed class StackSetComparer : IEqualityComparer<ParseStack[]>
    {
        public static readonly StackSetComparer Instance = new();

        public bool Equals(ParseStack[]? x, ParseStack[]? y)
        {
            if (ReferenceEquals(x, y)) return true;
            if (x is null || y is null || x.Length != y.Length) return false;
            for (int i = 0; i < x.Length; i++)
                if (x[i].Top != y[i].Top || !ReferenceEquals(x[i].Rest, y[i].Rest)) return false;
            return true;
        }

        public int GetHashCode(ParseStack[] stacks)
        {
            var h = new HashCode();
            foreach (var s in stacks) { h.Add(s.Top); h.Add(RuntimeHelpers.GetHashCode(s.Rest)); }
            return h.ToHashCode();
        }
    }

    void EnsureBuffer(int n)
    {
        if (_buf.Length < n * 4) Array.Resize(ref _buf, Math.Max(n * 4, _buf.Length * 2));
    }

    void Check(GrammarState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (!ReferenceEquals(state.Owner, this)) throw new ArgumentException("the state belongs to another matcher", nameof(state));
    }
}
