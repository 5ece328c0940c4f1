using Hunch.Sampling;
using Hunch.Speculative;
using Hunch.Speculative.Lookahead;

namespace Hunch.Tests.Speculative3;

public class TrieTests
{
    [Fact]
    public void CountsEveryNgramUpToTheDepth()
    {
        var t = new NgramTrie(100, 3, 1000);
        t.AppendStream([1, 2, 3, 1, 2, 4]);
        Assert.Equal(2, t.Occurrences(t.Find([1, 2])));
        Assert.Equal(1, t.Occurrences(t.Find([1, 2, 3])));
        Assert.Equal(1, t.Occurrences(t.Find([1, 2, 4])));
        Assert.Equal(1, t.Occurrences(t.Find([2, 3, 1])));
        Assert.Equal(2, t.Occurrences(t.Find([2])));
        Assert.Equal(-1, t.Find([1, 2, 3, 1]));    // longer than the depth
        Assert.Equal(-1, t.Find([4, 1]));          // the stream ended: no n-gram spans it
        Assert.Equal(-1, t.Find([3, 2]));
    }

    [Fact]
    public void StreamsDoNotJoinAndIncrementalAppendEqualsWhole()
    {
        var a = new NgramTrie(50, 4, 1000);
        a.AppendStream([5, 6]);
        a.AppendStream([7, 8]);
        Assert.Equal(-1, a.Find([6, 7]));
        var b = new NgramTrie(50, 4, 1000);
        int[] s = [1, 2, 1, 2, 1, 3, 1, 2];
        foreach (int x in s) b.Append(x);
        var c = new NgramTrie(50, 4, 1000);
        c.AppendStream(s);
        Assert.Equal(c.Count, b.Count);
        Assert.Equal(3, b.Occurrences(b.Find([1, 2])));
        Assert.Equal(2, b.Occurrences(b.Find([2, 1])));
    }

    [Fact]
    public void TopChildrenAreMostFrequentFirstAndCapacityIsABound()
    {
        var t = new NgramTrie(50, 2, 1000);
        t.AppendStream([9, 1, 9, 2, 9, 2, 9, 3, 9, 2, 9, 3]);
        Span<int> kids = stackalloc int[2];
        int n = t.TopChildren(t.Find([9]), kids);
        Assert.Equal(2, n);
        Assert.Equal(2, t.Token(kids[0]));   // 3 times
        Assert.Equal(3, t.Token(kids[1]));   // twice
        var small = new NgramTrie(50, 4, 5);
        small.AppendStream([1, 2, 3, 4, 5, 6, 7, 8]);
        Assert.Equal(5, small.Count);
        small.Append(60);                      // outside the vocabulary: ends the stream, no crash
        Assert.Equal(-1, small.Find([60]));
    }

    [Fact]
    public void LookaheadDraftsFrequentContinuationsAsBranches()
    {
        var d = new LookaheadDrafter(100, new LookaheadOptions { CostSized = false, Nodes = 16, Depth = 3, Ngram = 2 }, null, null);
        // After "5 6": 7 8 9 twice, 7 1 once, 2 2 2 once.
        int[] tokens = [5, 6, 7, 8, 9, 0, 5, 6, 7, 8, 9, 0, 5, 6, 7, 1, 0, 5, 6, 2, 2, 2, 0, 5, 6];
        var tree = Propose(d, tokens, 16);
        int seven = tree.FindChild(0, 7);
        Assert.Equal(1, seven);                      // the most frequent continuation comes first
        Assert.True(tree.FindChild(seven, 8) > 0 && tree.FindChild(seven, 1) > 0);
        Assert.True(tree.FindChild(0, 2) > 0);
        AssertDistinctSiblings(tree);
        Assert.Equal(3, Propose(d, tokens, 3).Count);   // the node cap holds
    }

    [Fact]
    public void JacobiHarvestsNgramsFromItsWindow()
    {
        // A fake "target" that always continues with (token+1) mod 5: after a few Jacobi iterations the pool holds
        // n-grams k, k+1, k+2 (mod 5) and drafting from them is right.
        var d = new JacobiDrafter(64, new LookaheadOptions { CostSized = false, Nodes = 16, Ngram = 3, Window = 4, Depth = 4 }, null);
        var tokens = new List<int> { 1, 2, 3 };
        d.Begin(tokens.ToArray(), SamplingOptions.Greedy);
        var batch = new Hunch.Models.ForwardBatch();
        var cfg = Hunch.Models.ModelConfig.FromGguf(Hunch.Gguf.GgufFile.Open(TestPaths.BundledModel));
        var cache = new Hunch.KvCache.KvCache(cfg, 1);
        for (int step = 0; step < 10; step++)
        {
            var tree = new DraftTree();
            tree.Reset(tokens[^1]);
            d.Propose(new DraftContext { Tokens = tokens.ToArray(), PromptLength = 3, MaxNodes = 16, MaxDepth = 8, Sampling = SamplingOptions.Greedy }, tree);
            batch.Clear();
            for (int i = 0; i < tree.Count; i++) batch.Add(tree.Tokens[i], cache, i, tree.Parents[i]);
            var logits = batch.LogitBuffer(64);
            logits.Clear();
            for (int i = 0; i < tree.Count; i++) logits[i * 64 + (tree.Tokens[i] + 1) % 5] = 1;
            // Accept along the true chain.
            var path = new List<int> { 0 };
            int node = 0;
            while (true)
            {
                int next = tree.FindChild(node, (tree.Tokens[node] + 1) % 5);
                if (next < 0) break;
                path.Add(next);
                node = next;
            }
            int extra = (tree.Tokens[node] + 1) % 5;
            d.Observe(tree, batch, path.ToArray(), extra);
            for (int i = 1; i < path.Count; i++) tokens.Add(tree.Tokens[path[i]]);
            tokens.Add(extra);
        }
        Assert.True(d.PooledNgrams > 0, "nothing harvested");
        for (int i = 1; i < tokens.Count; i++) Assert.Equal((tokens[i - 1] + 1) % 5, tokens[i]);
        Assert.True(tokens.Count > 3 + 10, "no draft was ever accepted");
    }

    static DraftTree Propose(IDrafter d, int[] tokens, int maxNodes)
    {
        d.Begin(tokens, SamplingOptions.Greedy);
        var tree = new DraftTree();
        tree.Reset(tokens[^1]);
        d.Propose(new DraftContext { Tokens = tokens, PromptLength = tokens.Length, MaxNodes = maxNodes, MaxDepth = 20, Sampling = SamplingOptions.Greedy }, tree);
        return tree;
    }

    internal static void AssertDistinctSiblings(DraftTree tree)
    {
        var toks = tree.Tokens.ToArray();
        var parents = tree.Parents.ToArray();
        for (int a = 1; a < toks.Length; a++)
            for (int b = a + 1; b < toks.Length; b++)
                Assert.False(parents[a] == parents[b] && toks[a] == toks[b], "siblings must be distinct");
    }
}
