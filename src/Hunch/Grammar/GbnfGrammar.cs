using System.Text;

namespace Hunch.Grammar;

/// <summary>
/// A compiled GBNF grammar over bytes: rules whose alternatives are sequences of byte sets and rule references.
/// Character classes and literals are lowered to UTF-8 byte sequences, repetitions to auxiliary rules, so the
/// matcher and the token trie both work byte by byte. Immutable and safe to share between threads and requests.
/// </summary>
public sealed class GbnfGrammar
{
    internal const int End = -1;

    /// <summary>Flat element array: a value &gt;= 0 is a byte-set index, <see cref="End"/> ends an alternative,
    /// and a value &lt;= -2 references rule <c>-(value + 2)</c>.</summary>
    internal readonly int[] Code;
    /// <summary>Start position in <see cref="Code"/> of each alternative of each rule.</summary>
    internal readonly int[][] Alternatives;
    /// <summary>Byte sets, four 64-bit words each.</summary>
    internal readonly ulong[] Sets;
    internal readonly string[] RuleNames;
    internal readonly int RootRule;
    internal readonly GrammarLimits Limits;

    /// <summary>The grammar text this was compiled from.</summary>
    public string Source { get; }

    /// <summary>Number of rules after lowering (auxiliary rules included).</summary>
    public int RuleCount => Alternatives.Length;

    GbnfGrammar(string source, int[] code, int[][] alternatives, ulong[] sets, string[] names, int root, GrammarLimits limits)
    {
        Source = source;
        Code = code;
        Alternatives = alternatives;
        Sets = sets;
        RuleNames = names;
        RootRule = root;
        Limits = limits;
    }

    /// <summary>
    /// Parses and compiles GBNF text. Throws <see cref="GrammarException"/> on a syntax error, an undefined
    /// rule, left recursion (which a top-down matcher cannot follow), or a grammar beyond <paramref name="limits"/>.
    /// </summary>
    public static GbnfGrammar Parse(string text, string rootRule = "root", GrammarLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        limits ??= GrammarLimits.Default;
        var rules = GbnfParser.Parse(text, limits);
        var lowering = new Lowering(limits);
        foreach (var (name, _, _) in rules) lowering.Declare(name);
        if (!lowering.TryGetRule(rootRule, out int root)) throw new GrammarException($"grammar has no rule named '{rootRule}'");
        foreach (var (name, body, _) in rules) lowering.DefineNamed(name, body);
        return lowering.Finish(text, root);
    }

    internal bool SetContains(int set, byte b) => ((Sets[(set << 2) + (b >> 6)] >> (b & 63)) & 1) != 0;

    internal static bool IsRef(int code) => code <= -2;
    internal static int RefRule(int code) => -(code + 2);

    /// <summary>Lowers syntax trees into the flat byte-level form and checks the result.</summary>
    sealed class Lowering(GrammarLimits limits)
    {
        readonly List<List<List<int>>> _rules = [];
        readonly List<string> _names = [];
        readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
        readonly List<ulong> _sets = [];
        readonly Dictionary<(ulong, ulong, ulong, ulong), int> _setIds = [];
        readonly Dictionary<string, int> _classRules = new(StringComparer.Ordinal);
        readonly Dictionary<int, int> _starRules = [];
        int _elements;

        public void Declare(string name)
        {
            _ids[name] = _rules.Count;
            _rules.Add([]);
            _names.Add(name);
        }

        public bool TryGetRule(string name, out int id) => _ids.TryGetValue(name, out id);

        public void DefineNamed(string name, GNode body)
        {
            int id = _ids[name];
            var alts = _rules[id];
            if (body is GNode.Alt alt) foreach (var o in alt.Options) alts.Add(Lower(o, name));
            else alts.Add(Lower(body, name));
        }

        int NewRule(string hint)
        {
            if (_rules.Count >= limits.MaxRules) throw new GrammarException($"grammar needs more than {limits.MaxRules} rules after expanding repetitions");
            _rules.Add([]);
            _names.Add($"{hint}-{_rules.Count}");
            return _rules.Count - 1;
        }

        void Count(int n)
        {
            _elements += n;
            if (_elements > limits.MaxElements) throw new GrammarException($"grammar has more than {limits.MaxElements} elements after expanding repetitions");
        }

        static int RefCode(int rule) => -(rule + 2);

        List<int> Lower(GNode node, string owner)
        {
            var result = new List<int>();
            LowerInto(node, owner, result);
            return result;
        }

        void LowerInto(GNode node, string owner, List<int> output)
        {
            switch (node)
            {
                case GNode.Seq seq:
                    foreach (var item in seq.Items) LowerInto(item, owner, output);
                    break;
                case GNode.Alt alt:
                {
                    int r = NewRule(owner);
                    foreach (var o in alt.Options) _rules[r].Add(Lower(o, owner));
                    Count(1);
                    output.Add(RefCode(r));
                    break;
                }
                case GNode.Literal lit:
                {
                    var bytes = Encoding.UTF8.GetBytes(lit.Text);
                    Count(bytes.Length);
                    foreach (byte b in bytes) output.Add(SingleByteSet(b));
                    break;
                }
                case GNode.CharSet cs:
                    Count(1);
                    output.Add(LowerCharSet(cs.Ranges, owner));
                    break;
                case GNode.Ref rf:
                    if (!_ids.TryGetValue(rf.Name, out int target))
                        throw new GrammarException($"rule '{rf.Name}' is used (line {rf.Line}) but never defined");
                    Count(1);
                    output.Add(RefCode(target));
                    break;
                case GNode.Repeat rep:
                    LowerRepeat(rep, owner, output);
                    break;
                default:
                    throw new InvalidOperationException("unknown grammar node");
            }
        }

        void LowerRepeat(GNode.Repeat rep, string owner, List<int> output)
        {
            // The repeated item becomes one element: itself when it lowers to one, else a rule holding it.
            var body = Lower(rep.Item, owner);
            int x;
            if (body.Count == 1) x = body[0];
            else
            {
                int r = NewRule(owner);
                _rules[r].Add(body);
                x = RefCode(r);
            }
            Count(rep.Min);
            for (int i = 0; i < rep.Min; i++) output.Add(x);
            if (rep.Max < 0)
            {
                // x* as a right-recursive rule: star ::= x star | (empty). Shared for equal items.
                if (!_starRules.TryGetValue(x, out int star))
                {
                    star = NewRule(owner + "-star");
                    _rules[star].Add([x, RefCode(star)]);
                    _rules[star].Add([]);
                    _starRules[x] = star;
                    Count(2);
                }
                Count(1);
                output.Add(RefCode(star));
            }
            else if (rep.Max > rep.Min)
            {
                // Up to k more as nested optionals, opt_k ::= x opt_(k-1) | (empty): unambiguous, linear size.
                int inner = -1;
                for (int k = 1; k <= rep.Max - rep.Min; k++)
                {
                    int opt = NewRule(owner + "-opt");
                    _rules[opt].Add(inner < 0 ? [x] : [x, RefCode(inner)]);
                    _rules[opt].Add([]);
                    Count(2);
                    inner = opt;
                }
                Count(1);
                output.Add(RefCode(inner));
            }
        }

        int SingleByteSet(byte b)
        {
            Span<ulong> w = stackalloc ulong[4];
            w[b >> 6] |= 1UL << (b & 63);
            return InternSet(w);
        }

        int InternSet(ReadOnlySpan<ulong> w)
        {
            var key = (w[0], w[1], w[2], w[3]);
            if (_setIds.TryGetValue(key, out int id)) return id;
            id = _sets.Count / 4;
            _sets.Add(w[0]); _sets.Add(w[1]); _sets.Add(w[2]); _sets.Add(w[3]);
            _setIds[key] = id;
            return id;
        }

        /// <summary>A class becomes one byte set when all its characters are single bytes; otherwise a rule whose
        /// alternatives are the UTF-8 byte-range sequences covering it.</summary>
        int LowerCharSet(List<(int Lo, int Hi)> ranges, string owner)
        {
            if (ranges.Count == 0) throw new GrammarException($"empty character class in rule '{owner}' can never match");
            var sequences = new List<List<(byte Lo, byte Hi)>>();
            foreach (var (lo, hi) in ranges) Utf8Ranges.Compile(lo, hi, sequences);
            Span<ulong> single = stackalloc ulong[4];
            bool anySingle = false;
            var multi = new List<List<(byte Lo, byte Hi)>>();
            foreach (var s in sequences)
            {
                if (s.Count == 1) { anySingle = true; for (int b = s[0].Lo; b <= s[0].Hi; b++) single[b >> 6] |= 1UL << (b & 63); }
                else multi.Add(s);
            }
            if (multi.Count == 0) return InternSet(single);
            var key = new StringBuilder();
            foreach (var (lo, hi) in ranges) key.Append(lo).Append('-').Append(hi).Append(',');
            if (_classRules.TryGetValue(key.ToString(), out int rule)) return RefCode(rule);
            rule = NewRule(owner + "-char");
            if (anySingle) _rules[rule].Add([InternSet(single)]);
            Span<ulong> w = stackalloc ulong[4];
            foreach (var s in multi)
            {
                var alt = new List<int>(s.Count);
                foreach (var (lo, hi) in s)
                {
                    w.Clear();
                    for (int b = lo; b <= hi; b++) w[b >> 6] |= 1UL << (b & 63);
                    alt.Add(InternSet(w));
                }
                Count(alt.Count);
                _rules[rule].Add(alt);
            }
            _classRules[key.ToString()] = rule;
            return RefCode(rule);
        }

        public GbnfGrammar Finish(string source, int root)
        {
            int n = _rules.Count;
            var code = new List<int>(_elements + n * 4);
            var alternatives = new int[n][];
            for (int r = 0; r < n; r++)
            {
                var alts = _rules[r];
                alternatives[r] = new int[alts.Count];
                for (int a = 0; a < alts.Count; a++)
                {
                    alternatives[r][a] = code.Count;
                    code.AddRange(alts[a]);
                    code.Add(End);
                }
            }
            CheckLeftRecursion(root);
            return new GbnfGrammar(source, code.ToArray(), alternatives, _sets.ToArray(), _names.ToArray(), root, limits);
        }

        /// <summary>
        /// Rejects rules that can reach themselves without consuming a byte: a top-down matcher would expand them
        /// forever. Nullable rules are found by a fixpoint; then the "leftmost reference" graph (a rule to each
        /// rule it may start with after nullable prefixes) must be acyclic.
        /// </summary>
        void CheckLeftRecursion(int root)
        {
            int n = _rules.Count;
            var nullable = new bool[n];
            for (bool changed = true; changed;)
            {
                changed = false;
                for (int r = 0; r < n; r++)
                {
                    if (nullable[r]) continue;
                    foreach (var alt in _rules[r])
                    {
                        bool all = true;
                        foreach (int e in alt) if (e >= 0 || !nullable[RefRule(e)]) { all = false; break; }
                        if (all) { nullable[r] = true; changed = true; break; }
                    }
                }
            }
            var edges = new List<int>[n];
            for (int r = 0; r < n; r++)
            {
                edges[r] = [];
                foreach (var alt in _rules[r])
                    foreach (int e in alt)
                    {
                        if (e >= 0) break;
                        edges[r].Add(RefRule(e));
                        if (!nullable[RefRule(e)]) break;
                    }
            }
            // Iterative depth-first search with colours (0 new, 1 on the path, 2 done): no recursion on hostile depth.
            var colour = new byte[n];
            var stack = new Stack<(int Rule, int Edge)>();
            for (int s = 0; s < n; s++)
            {
                if (colour[s] != 0) continue;
                stack.Push((s, 0));
                colour[s] = 1;
                while (stack.Count > 0)
                {
                    var (r, e) = stack.Pop();
                    if (e < edges[r].Count)
                    {
                        stack.Push((r, e + 1));
                        int t = edges[r][e];
                        if (colour[t] == 1)
                        {
                            var path = new List<string>();
                            foreach (var (pr, _) in stack) { path.Add(_names[pr]); if (pr == t) break; }
                            path.Reverse();
                            path.Add(_names[t]);
                            throw new GrammarException($"grammar is left-recursive (a rule can reach itself without consuming input): {string.Join(" -> ", path)}; rewrite it right-recursively, and do not repeat something that can match the empty string");
                        }
                        if (colour[t] == 0) { colour[t] = 1; stack.Push((t, 0)); }
                    }
                    else colour[r] = 2;
                }
            }
        }
    }
}

/// <summary>Compiles a range of Unicode scalar values into sequences of UTF-8 byte ranges.</summary>
internal static class Utf8Ranges
{
    static readonly int[] s_maxForLength = [0x7F, 0x7FF, 0xFFFF, 0x10FFFF];

    internal static void Compile(int lo, int hi, List<List<(byte Lo, byte Hi)>> output)
    {
        // Split at encoded-length boundaries first, then within one length at continuation-byte boundaries.
        int start = lo;
        for (int len = 1; len <= 4 && start <= hi; len++)
        {
            int max = s_maxForLength[len - 1];
            if (start > max) continue;
            SplitSameLength(start, Math.Min(hi, max), len, output);
            start = max + 1;
        }
    }

    static void SplitSameLength(int lo, int hi, int len, List<List<(byte, byte)>> output)
    {
        for (int i = 1; i < len; i++)
        {
            int m = (1 << (6 * i)) - 1;
            if ((lo & ~m) != (hi & ~m))
            {
                if ((lo & m) != 0) { SplitSameLength(lo, lo | m, len, output); SplitSameLength((lo | m) + 1, hi, len, output); return; }
                if ((hi & m) != m) { SplitSameLength(lo, (hi & ~m) - 1, len, output); SplitSameLength(hi & ~m, hi, len, output); return; }
            }
        }
        Span<byte> a = stackalloc byte[4];
        Span<byte> b = stackalloc byte[4];
        Encode(lo, a);
        Encode(hi, b);
        var seq = new List<(byte, byte)>(len);
        for (int k = 0; k < len; k++) seq.Add((a[k], b[k]));
        output.Add(seq);
    }

    static void Encode(int cp, Span<byte> o)
    {
        if (cp < 0x80) o[0] = (byte)cp;
        else if (cp < 0x800) { o[0] = (byte)(0xC0 | (cp >> 6)); o[1] = (byte)(0x80 | (cp & 0x3F)); }
        else if (cp < 0x10000) { o[0] = (byte)(0xE0 | (cp >> 12)); o[1] = (byte)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (byte)(0x80 | (cp & 0x3F)); }
        else { o[0] = (byte)(0xF0 | (cp >> 18)); o[1] = (byte)(0x80 | ((cp >> 12) & 0x3F)); o[2] = (byte)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (byte)(0x80 | (cp & 0x3F)); }
    }
}
