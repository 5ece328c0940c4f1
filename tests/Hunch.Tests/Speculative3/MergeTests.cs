using Hunch.Models;
using Hunch.Sampling;
using Hunch.Speculative;
using Hunch.Speculative.Auto;
using Hunch.Speculative.Lookahead;

namespace Hunch.Tests.Speculative3;

public class MergeTests
{
    static readonly int[] Text = [5, 6, 7, 8, 9, 0, 5, 6, 7, 8, 9, 0, 5, 6, 7, 1, 0, 5, 6, 2, 2, 2, 0, 5, 6];
    static readonly ModelConfig Config = ModelConfig.FromGguf(Hunch.Gguf.GgufFile.Open(TestPaths.BundledModel));

    static LookaheadDrafter Lookahead() => new(Config.VocabSize, new LookaheadOptions { CostSized = false, Nodes = 33, Depth = 4, Ngram = 2 }, null, null);
    static PromptLookupDrafter Lookup() => new(new DrafterOptions { Tree = DraftTreeMode.Fixed, TreeNodes = 33, LookupDraftLength = 4 }, null);

    static DraftTree Propose(IDrafter d, int[] tokens, int maxNodes)
    {
        d.Begin(tokens, SamplingOptions.Greedy);
        var tree = new DraftTree();
        tree.Reset(tokens[^1]);
        d.Propose(new DraftContext { Tokens = tokens, PromptLength = tokens.Length, MaxNodes = maxNodes, MaxDepth = 20, Sampling = SamplingOptions.Greedy }, tree);
        return tree;
    }

    static string Paths(DraftTree t)
    {
        var list = new List<string>();
        for (int i = 1; i < t.Count; i++)
        {
            var p = new List<int>();
            for (int n = i; n > 0; n = t.Parents[n]) p.Insert(0, t.Tokens[n]);
            list.Add(string.Join(" ", p));
        }
        list.Sort(StringComparer.Ordinal);
        return string.Join(" | ", list);
    }

    [Fact]
    public void SharedPrefixesAreMergedOnce()
    {
        // Two copies of the same source: the merged tree is exactly one source's tree.
        var single = Propose(Lookahead(), Text, 64);
        using var auto = new AutoDrafter(Config, [Lookahead(), Lookahead()], null, 64);
        var merged = Propose(auto, Text, 64);
        Assert.True(single.Count > 3);
        Assert.Equal(Paths(single), Paths(merged));
        TrieTests.AssertDistinctSiblings(merged);
    }

    [Fact]
    public void DifferentSourcesAreUnitedUnderTheBudget()
    {
        var a = Propose(Lookahead(), Text, 64);
        var b = Propose(Lookup(), Text, 64);
        using var auto = new AutoDrafter(Config, [Lookahead(), Lookup()], null, 64);
        var merged = Propose(auto, Text, 64);
        // Every path of either source is in the union, and nothing else.
        var union = new HashSet<string>(Paths(a).Split(" | ").Concat(Paths(b).Split(" | ")));
        Assert.Equal(union.Count, merged.Count - 1);
        Assert.Subset(union, new HashSet<string>(Paths(merged).Split(" | ")));
        TrieTests.AssertDistinctSiblings(merged);
        foreach (int budget in new[] { 1, 2, 5 })
        {
            using var capped = new AutoDrafter(Config, [Lookahead(), Lookup()], null, budget);
            var t = Propose(capped, Text, 64);
            Assert.Equal(Math.Min(budget, union.Count + 1), t.Count);
            for (int i = 1; i < t.Count; i++) Assert.True(t.Parents[i] < i);
        }
    }

    [Fact]
    public void EverySourceObservesItsKeptRowsAndSpeculationSwitchesOff()
    {
        // A cost curve where every extra row doubles the step: nothing can pay, auto proposes only the root,
        // and its sources still observe (the root's row) without failing.
        var steep = new ForwardCostCurve([1, 2, 4, 8], [10, 20, 40, 80]);
        using var auto = new AutoDrafter(Config, [Lookahead(), Lookup()], steep, 64);
        Assert.Equal(1, Propose(auto, Text, 64).Count);

        using var open = new AutoDrafter(Config, [Lookahead(), Lookup()], null, 64);
        var tree = Propose(open, Text, 64);
        var cache = new Hunch.KvCache.KvCache(Config, 1);
        var batch = new ForwardBatch();
        for (int i = 0; i < tree.Count; i++) batch.Add(tree.Tokens[i], cache, i, tree.Parents[i]);
        var logits = batch.LogitBuffer(Config.VocabSize);
        logits.Clear();
        // The "target" continues 6 -> 7 -> 8: the lookahead branch 7 8 is accepted.
        for (int i = 0; i < tree.Count; i++) logits[i * Config.VocabSize + (tree.Tokens[i] == 6 ? 7 : tree.Tokens[i] == 7 ? 8 : 0)] = 1;
        int seven = tree.FindChild(0, 7), eight = tree.FindChild(seven, 8);
        open.Observe(tree, batch, [0, seven, eight], 9);
        var stats = open.SourceStats;
        Assert.All(stats, s => Assert.Equal(2, s.Accepted));
    }
}
