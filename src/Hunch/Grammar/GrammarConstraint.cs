using Hunch.Kernels;
using Hunch.Sampling;
using Hunch.Speculative;

namespace Hunch.Grammar;

/// <summary>
/// A grammar as an <see cref="ITokenConstraint"/>: each draft-tree node gets the <see cref="GrammarState"/>
/// of its own path; invalid draft nodes are pruned; logits are masked with the trie walk of
/// <see cref="GrammarMatcher.FillAllowed"/>. For greedy requests the argmax is tried first and only when it is
/// forbidden a few more are tried before falling back to the full mask (same argmax, far less work).
/// One request at a time.
/// </summary>
public sealed class GrammarConstraint : ITokenConstraint
{
    /// <summary>How many best tokens a greedy step tests one by one before computing the full mask.</summary>
    const int GreedyProbes = 8;

    readonly GrammarMatcher _matcher;
    readonly DraftTree _scratch = new();
    GrammarState _current;
    GrammarState?[] _nodeStates = new GrammarState?[64];
    int[] _map = new int[64];
    float[] _masked = [];
    ulong[] _bits = [];
    bool _greedyFast;

    /// <summary>Creates a constraint for one request at a time.</summary>
    public GrammarConstraint(GbnfGrammar grammar, TokenVocabulary vocabulary)
    {
        _matcher = new GrammarMatcher(grammar, vocabulary);
        _current = _matcher.Initial;
    }

    /// <summary>The matcher (for inspection).</summary>
    public GrammarMatcher Matcher => _matcher;

    /// <summary>The state after the committed tokens.</summary>
    public GrammarState Current => _current;

    /// <summary>Full masks computed (statistics).</summary>
    public long FullMasks { get; private set; }

    /// <inheritdoc/>
    public bool IsComplete => _current.IsComplete;

    /// <inheritdoc/>
    public bool IsCompleteAt(int node) => _nodeStates[node]?.IsComplete ?? true;

    /// <inheritdoc/>
    public void Begin(SamplingOptions sampling)
    {
        _current = _matcher.Initial;
        _greedyFast = sampling.IsGreedy && !sampling.HasPenalties;
    }

    /// <inheritdoc/>
    public void PrepareTree(DraftTree tree)
    {
        int n = tree.Count;
        if (_nodeStates.Length < n) { _nodeStates = new GrammarState?[n * 2]; _map = new int[n * 2]; }
        _nodeStates[0] = _current;
        if (n == 1) return;

        // Copy the tree aside, then rebuild it keeping only nodes whose whole path the grammar allows.
        // Parents precede children in node order, so one forward pass sees every parent's fate first.
        _scratch.Reset(tree.Tokens[0]);
        var parents = tree.Parents;
        var tokens = tree.Tokens;
        for (int i = 1; i < n; i++) _scratch.Add(tokens[i], parents[i], tree.Q(i));
        var states = new GrammarState?[n];
        states[0] = _current;
        _map[0] = 0;
        tree.Reset(_scratch.Tokens[0]);
        for (int i = 1; i < n; i++)
        {
            int p = _scratch.Parents[i];
            var ps = states[p];
            _map[i] = -1;
            if (ps is null) continue;
            var s = _matcher.Advance(ps, _scratch.Tokens[i]);
            states[i] = s;
            if (s is null) continue;
            int k = tree.Add(_scratch.Tokens[i], _map[p], _scratch.Q(i));
            _map[i] = k;
            _nodeStates[k] = s;
        }
    }

    /// <inheritdoc/>
    public ReadOnlySpan<float> MaskLogits(int node, ReadOnlySpan<float> logits)
    {
        var state = _nodeStates[node] ?? throw new InvalidOperationException("PrepareTree was not called for this step");
        int vocab = _matcher.Vocabulary.Count;
        if (_masked.Length < logits.Length) _masked = new float[logits.Length];
        var m = _masked.AsSpan(0, logits.Length);
        logits.CopyTo(m);
        // A complete node emits nothing more (the generator stops there); its token is only drawn as a formality
        // when it ends an accepted path, so without an end-of-generation token any token will do.
        if (state.IsComplete && _matcher.Vocabulary.EndOfGenerationTokens.IsEmpty) return m;
        if (_greedyFast)
        {
            for (int probe = 0; probe < GreedyProbes; probe++)
            {
                int a = Ops.ArgMax(m);
                if (float.IsNegativeInfinity(m[a])) break;
                if (a < vocab && _matcher.Accepts(state, a)) return m;
                m[a] = float.NegativeInfinity;
            }
        }
        FullMasks++;
        int words = (vocab + 63) >> 6;
        if (_bits.Length < words) _bits = new ulong[words];
        int allowed = _matcher.FillAllowed(state, _bits);
        if (allowed == 0)
            throw new GrammarException("no token of the vocabulary can continue the grammar here (the grammar needs bytes no token provides, or it is complete and the model has no end-of-generation token)");
        for (int i = 0; i < m.Length; i++)
            if (i >= vocab || ((_bits[i >> 6] >> (i & 63)) & 1) == 0) m[i] = float.NegativeInfinity;
        return m;
    }

    /// <inheritdoc/>
    public void Commit(DraftTree tree, ReadOnlySpan<int> acceptedPath, int extraToken)
    {
        var state = _nodeStates[acceptedPath[^1]] ?? throw new InvalidOperationException("PrepareTree was not called for this step");
        if (state.IsComplete) { _current = state; return; }   // nothing follows; the extra token is not emitted
        _current = _matcher.Advance(state, extraToken)
            ?? throw new GrammarException($"token {extraToken} was generated although the grammar forbids it");
    }
}
