using System.Text;
using Hunch.Grammar;
using Hunch.Sampling;
using Hunch.Speculative;
using static Hunch.Tests.Grammar.GrammarTestSupport;

namespace Hunch.Tests.Grammar;

public class GrammarMatcherTests
{
    static int[] AllowedByBruteForce(GrammarMatcher m, GrammarState s)
    {
        var list = new List<int>();
        for (int t = 0; t < m.Vocabulary.Count; t++) if (m.Accepts(s, t)) list.Add(t);
        return list.ToArray();
    }

    static int[] AllowedByTrie(GrammarMatcher m, GrammarState s, out int count)
    {
        var bits = new ulong[(m.Vocabulary.Count + 63) / 64];
        count = m.FillAllowed(s, bits);
        var list = new List<int>();
        for (int t = 0; t < m.Vocabulary.Count; t++) if (((bits[t >> 6] >> (t & 63)) & 1) != 0) list.Add(t);
        return list.ToArray();
    }

    [Fact]
    public void SmallVocabularyMaskFollowsTheGrammar()
    {
        var g = GbnfGrammar.Parse("root ::= \"{\" item (\",\" item)* \"}\"\nitem ::= [a-b]+");
        var v = Small("{", "}", ",", "a", "b", "ab", "ba", "a,", "a}", "{a", "c", "}x", "aé");
        int eos = v.Count - 1;
        var m = new GrammarMatcher(g, v);
        string Names(int[] ts) => string.Join(" ", ts.Select(t => t == eos ? "<eos>" : Encoding.UTF8.GetString(v.Bytes(t))));

        Assert.Equal("{ {a", Names(AllowedByTrie(m, m.Initial, out _)));
        var s = m.AdvanceBytes(m.Initial, "{"u8)!;
        Assert.Equal("a b ab ba a, a}", Names(AllowedByTrie(m, s, out _)));
        s = m.AdvanceBytes(s, "a"u8)!;
        Assert.Equal("} , a b ab ba a, a}", Names(AllowedByTrie(m, s, out _)));
        s = m.AdvanceBytes(s, "}"u8)!;
        Assert.True(s.IsAccepting);
        Assert.True(s.IsComplete);
        Assert.Equal("<eos>", Names(AllowedByTrie(m, s, out int n)));
        Assert.Equal(1, n);
        var end = m.Advance(s, eos)!;
        Assert.Empty(AllowedByTrie(m, end, out _));
        Assert.Null(m.Advance(m.Initial, eos));
    }

    [Fact]
    public void TrieMaskEqualsBruteForceOnTheBundledVocabulary()
    {
        var v = BundledVocabulary();
        var g = JsonSchemaGrammar.AnyJson(objectOnly: false);
        var m = new GrammarMatcher(g, v);
        // States along a JSON document, each byte a step: strings, escapes, numbers, nesting, unicode.
        string doc = "{\"key\": [1, -2.5e+3, true, null, \"a\\\"b\\u00e9 ü😀\"], \"o\": {\"x\": {}}, \"n\": 0}";
        var bytes = Encoding.UTF8.GetBytes(doc);
        var s = m.Initial;
        int checkedStates = 0;
        for (int i = 0; i <= bytes.Length; i++)
        {
            if (i % 3 == 0 || i == bytes.Length)
            {
                var trie = AllowedByTrie(m, s, out int count);
                Assert.Equal(AllowedByBruteForce(m, s), trie);
                Assert.Equal(trie.Length, count);
                Assert.NotEmpty(trie);
                checkedStates++;
            }
            if (i < bytes.Length) s = m.AdvanceBytes(s, bytes.AsSpan(i, 1))!;
            Assert.NotNull(s);
        }
        Assert.True(s.IsAccepting);
        Assert.True(checkedStates > 20);
    }

    [Fact]
    public void PrepareTreePrunesInvalidBranchesAndKeepsTheRest()
    {
        var v = Small("{", "}", "a", "b", "\"", "x", ":");
        var g = GbnfGrammar.Parse("root ::= \"{\" [ab]* \"}\"");
        var c = new GrammarConstraint(g, v);
        c.Begin(new SamplingOptions { Temperature = 0.8f });   // sampling: the full mask is computed
        var tree = new DraftTree();
        tree.Reset(5);                 // the root's token is already committed; it is not checked
        int n1 = tree.Add(0, 0);       // "{"   valid
        int n2 = tree.Add(5, 0);       // "x"   invalid, with a subtree
        tree.Add(0, n2);               //   "{" under an invalid node: dropped too
        int n3 = tree.Add(2, n1);      // "{a"  valid
        tree.Add(4, n1);               // "{\"" invalid
        int n4 = tree.Add(1, n3);      // "{a}" valid
        tree.Add(2, n4);               // "{a}a" invalid: the grammar is complete
        int eos = v.Count - 1;
        tree.Add(eos, n4);             // "{a}" + end: valid
        c.PrepareTree(tree);
        Assert.Equal(5, tree.Count);
        var paths = new List<string>();
        for (int i = 1; i < tree.Count; i++)
        {
            var sb = new StringBuilder();
            for (int k = i; k > 0; k = tree.Parents[k]) sb.Insert(0, tree.Tokens[k] == eos ? "$" : Encoding.UTF8.GetString(v.Bytes(tree.Tokens[k])));
            paths.Add(sb.ToString());
        }
        Assert.Equal(["{", "{a", "{a}", "{a}$"], paths);

        // Masking a node uses that node's own state: after "{a" only a, b and } are allowed.
        var logits = new float[v.Count];
        var masked = c.MaskLogits(2, logits).ToArray();
        var allowed = Enumerable.Range(0, v.Count).Where(t => !float.IsNegativeInfinity(masked[t])).ToArray();
        Assert.Equal([1, 2, 3], allowed);
    }

    [Fact]
    public void GreedyShortcutPicksTheSameTokenAsTheFullMask()
    {
        var v = BundledVocabulary();
        var g = JsonSchemaGrammar.AnyJson();
        var rng = new Random(7);
        var greedy = new GrammarConstraint(g, v);
        var full = new GrammarConstraint(g, v);
        greedy.Begin(SamplingOptions.Greedy);
        full.Begin(new SamplingOptions { Temperature = 1f });
        var tree = new DraftTree();
        var logits = new float[v.Count];
        for (int step = 0; step < 40; step++)
        {
            for (int i = 0; i < logits.Length; i++) logits[i] = (float)rng.NextDouble();
            // Make some forbidden tokens the most likely ones so the shortcut has to skip them.
            for (int k = 0; k < 5; k++) logits[rng.Next(logits.Length)] = 10f + k;
            tree.Reset(0);
            greedy.PrepareTree(tree);
            full.PrepareTree(tree);
            int a = Hunch.Kernels.Ops.ArgMax(greedy.MaskLogits(0, logits));
            int b = Hunch.Kernels.Ops.ArgMax(full.MaskLogits(0, logits));
            Assert.Equal(b, a);
            greedy.Commit(tree, [0], a);
            full.Commit(tree, [0], b);
            if (greedy.IsComplete) break;
        }
    }
}
