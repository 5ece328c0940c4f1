using Hunch.Sampling;
using Hunch.Speculative;

namespace Hunch.Tests.Speculative;

public class LookupTests
{
    static DraftTree Propose(PromptLookupDrafter d, int[] tokens, int maxNodes = 64)
    {
        d.Begin(tokens, SamplingOptions.Greedy);
        var tree = new DraftTree();
        tree.Reset(tokens[^1]);
        d.Propose(new DraftContext { Tokens = tokens, PromptLength = tokens.Length, MaxNodes = maxNodes, MaxDepth = 20, Sampling = SamplingOptions.Greedy }, tree);
        return tree;
    }

    [Fact]
    public void DraftsTheContinuationOfTheLongestMostRecentMatch()
    {
        var d = new PromptLookupDrafter(new DrafterOptions { Tree = DraftTreeMode.Fixed, TreeNodes = 64, LookupBranches = 1, LookupDraftLength = 4 }, null);
        // "1 2 3" occurs twice before the end; the most recent occurrence is followed by 8 9 10 11. The shorter
        // match "2 3" (followed by 7 7) is more recent still but loses to the longer one.
        int[] tokens = [1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 8, 9, 10, 11, 2, 3, 7, 7, 1, 2, 3];
        var tree = Propose(d, tokens);
        Assert.Equal([3, 8, 9, 10, 11], tree.Tokens.ToArray());
        Assert.Equal([-1, 0, 1, 2, 3], tree.Parents.ToArray());
    }

    [Fact]
    public void DistinctMatchesBecomeBranchesWithDistinctSiblings()
    {
        var d = new PromptLookupDrafter(new DrafterOptions { Tree = DraftTreeMode.Fixed, TreeNodes = 64, LookupBranches = 3, LookupDraftLength = 3 }, null);
        // After "5": 6 7 8 (most recent), 6 9 9 (shares the first token), 1 2 3.
        int[] tokens = [5, 1, 2, 3, 0, 5, 6, 9, 9, 0, 5, 6, 7, 8, 0, 5];
        var tree = Propose(d, tokens);
        var toks = tree.Tokens.ToArray();
        var parents = tree.Parents.ToArray();
        for (int a = 1; a < toks.Length; a++)
            for (int b = a + 1; b < toks.Length; b++)
                Assert.False(parents[a] == parents[b] && toks[a] == toks[b], "siblings must be distinct");
        int six = tree.FindChild(0, 6);
        Assert.True(six > 0);
        Assert.True(tree.FindChild(six, 7) > 0 && tree.FindChild(six, 9) > 0);
        Assert.True(tree.FindChild(0, 1) > 0);
        // Root, 6 7 8, then 9 9 under 6, then 1 2 3 (from the shorter match "5"): 9 nodes.
        Assert.Equal(9, toks.Length);
    }

    [Fact]
    public void NoMatchDraftsNothingAndNodeCapIsRespected()
    {
        var d = new PromptLookupDrafter(new DrafterOptions { Tree = DraftTreeMode.Fixed, TreeNodes = 64 }, null);
        Assert.Equal(1, Propose(d, [1, 2, 3, 4]).Count);
        int[] rep = Enumerable.Range(0, 60).Select(i => i % 5).ToArray();
        Assert.Equal(4, Propose(d, rep, maxNodes: 4).Count);
    }
}
