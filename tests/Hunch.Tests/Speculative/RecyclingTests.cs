using Hunch.Generation;
using Hunch.Models;
using Hunch.Sampling;
using Hunch.Speculative;

namespace Hunch.Tests.Speculative;

/// <summary>Token Recycling's table, template and per-request/warm behaviour on the bundled model.</summary>
[Collection("spec-model")]
public class RecyclingTests(SpecModelFixture fx)
{
    [Fact]
    public void ReferenceTemplateHasTheDescribedShape()
    {
        var t = TreeShape.ReferenceTemplate;
        Assert.Equal(80, t.Length);
        var byDepth = t.GroupBy(p => p.Length).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<int, int> { [1] = 8, [2] = 21, [3] = 25, [4] = 15, [5] = 8, [6] = 3 }, byDepth);
        int Children(int[] path) => t.Count(p => p.Length == path.Length + 1 && p.AsSpan(0, path.Length).SequenceEqual(path));
        Assert.Equal(40, t.Count(p => Children(p) == 0));
        Assert.Equal(8, Children([]));
        Assert.Equal([8, 4, 3, 2, 1, 1, 1, 1], Enumerable.Range(0, 8).Select(r => Children([r])).ToArray());
        Assert.Equal(8, Children([0, 0]));
        // Closed under prefixes, sorted by depth, no duplicates.
        for (int i = 0; i < t.Length; i++)
        {
            if (i > 0) Assert.True(t[i].Length >= t[i - 1].Length);
            if (t[i].Length > 1) Assert.Contains(t.Take(i), p => p.AsSpan().SequenceEqual(t[i].AsSpan(0, t[i].Length - 1)));
            Assert.Single(t, p => p.AsSpan().SequenceEqual(t[i]));
        }
    }

    [Fact]
    public void BestFirstShapeIsConnectedAndOrderedByValue()
    {
        var est = new AcceptanceEstimator(12, 8, [0.6, 0.2, 0.1, 0.05]);
        // Teach it something uneven: rank 1 at depth 2 is good, rank 0 deep is poor.
        for (int i = 0; i < 50; i++) { est.Record(2, 1, 1); est.Record(4, 0, 0); }
        est.EndStep();
        var shape = new TreeShape();
        shape.BuildBestFirst(est, 40, 6, 8);
        Assert.Equal(40, shape.Count);
        for (int s = 0; s < shape.Count; s++)
        {
            if (s > 0) Assert.True(shape.Value[s] <= shape.Value[s - 1]);
            int p = shape.Parent[s];
            Assert.True(p < s);
            Assert.Equal(p < 0 ? 1 : shape.Depth[p] + 1, shape.Depth[s]);
            Assert.True(shape.Depth[s] <= 6);
            double parentValue = p < 0 ? 1 : shape.Value[p];
            Assert.Equal(parentValue * est.Estimate(shape.Depth[s], shape.Rank[s]), shape.Value[s], 12);
            for (int o = 0; o < s; o++) Assert.False(shape.Parent[o] == p && shape.Rank[o] == shape.Rank[s], "duplicate slot");
        }
    }

    [Fact]
    public void BestCountMaximisesTokensPerMillisecond()
    {
        double[] values = [0.8, 0.6, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01];
        // A flat curve (GPU-like) wants every node worth anything; a linear one wants few; a stepped one stops at the step.
        var curves = new[]
        {
            new ForwardCostCurve([1, 2, 4, 8, 16], [10, 10, 10.1, 10.2, 10.4]),
            new ForwardCostCurve([1, 2, 4, 8, 16], [2, 4, 8, 16, 32]),
            new ForwardCostCurve([1, 2, 4, 8, 16], [5, 5.1, 5.2, 12, 24]),
        };
        foreach (var curve in curves)
        {
            var model = new StepCostModel(curve);
            int n = model.BestCountByModel(values);
            double Rate(int k) => (1 + values.Take(k).Sum()) / curve.Cost(1 + k);
            int brute = Enumerable.Range(0, values.Length + 1).MaxBy(Rate);
            Assert.Equal(brute, n);
        }
        Assert.Equal(values.Length, new StepCostModel(curves[0]).BestCountByModel(values));
        Assert.True(new StepCostModel(curves[1]).BestCountByModel(values) <= 1);
        Assert.Equal(3, new StepCostModel(curves[2]).BestCountByModel(values));
    }

    [Fact]
    public void CostCurveIsMeasuredOncePerModelAndInterpolates()
    {
        var c = ForwardCostCurve.Measure(fx.Model);
        Assert.Same(c, ForwardCostCurve.Measure(fx.Model));
        Assert.Equal(ForwardCostCurve.SampledSizes.ToArray(), c.Sizes.ToArray());
        for (int i = 1; i < c.Milliseconds.Length; i++) Assert.True(c.Milliseconds[i] >= c.Milliseconds[i - 1]);
        Assert.True(c.Cost(3) >= c.Cost(2) && c.Cost(3) <= c.Cost(4));
        Assert.True(c.Cost(64) >= c.Cost(32));
        Assert.Throws<ArgumentException>(() => new ForwardCostCurve([2, 4], [1, 2]));
        Assert.Throws<ArgumentException>(() => new ForwardCostCurve([1, 4], [1, double.NaN]));
    }

    [Fact]
    public void TableRoundTripsThroughAFileAndRejectsBadFiles()
    {
        var dir = Directory.CreateTempSubdirectory("hunch-rt-");
        try
        {
            var t = new RecyclingTable(100);
            t.Write(5, [6, 7, 8]);
            t.Write(99, [0, 1, 2, 3, 4, 5, 6, 7]);
            string path = Path.Combine(dir.FullName, "t.bin");
            t.Save(path);
            var u = RecyclingTable.Load(path, 100);
            Assert.Equal(t.Successors, u.Successors);
            Assert.Equal(2, u.FilledRows);
            Assert.Equal([6, 7, 8, -1, -1, -1, -1, -1], u.Row(5).ToArray());

            var ex = Assert.Throws<InvalidDataException>(() => RecyclingTable.Load(path, 200));
            Assert.Contains("vocabulary of 100", ex.Message);
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..(bytes.Length - 4)]);
            Assert.Throws<InvalidDataException>(() => RecyclingTable.Load(path));
            bytes[16] = 0xFF; bytes[17] = 0x7F; // a successor id far outside the vocabulary
            File.WriteAllBytes(path, bytes);
            Assert.Throws<InvalidDataException>(() => RecyclingTable.Load(path));
            File.WriteAllText(path, "not a table");
            Assert.Throws<InvalidDataException>(() => RecyclingTable.Load(path));
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void FactoryParsesSpecsAndRejectsUnknownNames()
    {
        var (name, o) = DrafterFactory.Parse("recycling:tree=fixed, nodes=16 ,table=x.bin", new DrafterOptions());
        Assert.Equal("recycling", name);
        Assert.Equal(DraftTreeMode.Fixed, o.Tree);
        Assert.Equal(16, o.TreeNodes);
        Assert.Equal("x.bin", o.TableFile);
        var (n2, o2) = DrafterFactory.Parse("LOOKUP:ngram=4,length=6,branches=2", new DrafterOptions());
        Assert.Equal(("lookup", 4, 6, 2), (n2, o2.LookupMaxNgram, o2.LookupDraftLength, o2.LookupBranches));

        var ex = Assert.Throws<ArgumentException>(() => DrafterFactory.Create("medusa", fx.Model));
        Assert.Contains("none, recycling, lookup", ex.Message);
        Assert.Throws<ArgumentException>(() => DrafterFactory.Parse("recycling:colour=red", new DrafterOptions()));
        Assert.Throws<ArgumentException>(() => DrafterFactory.Parse("recycling:nodes=many", new DrafterOptions()));
        Assert.Throws<ArgumentException>(() => DrafterFactory.Create("recycling:tree=bushy", fx.Model));
        Assert.Throws<ArgumentException>(() => DrafterFactory.Create("lookup:tree=reference", fx.Model));
        Assert.Throws<ArgumentException>(() => DrafterFactory.Create("lookup:ngram=0", fx.Model));
        Assert.IsType<NoDrafter>(DrafterFactory.Create("none", fx.Model));
    }

    [Fact]
    public void ProposesRecycledSuccessorsBreadthFirstWithDistinctSiblings()
    {
        var table = new RecyclingTable(50);
        table.Write(1, [2, 3, 3, 4]);    // a duplicate, as a concurrently written shared row can hold
        table.Write(2, [5, 6]);
        table.Write(3, [7]);
        using var d = new TokenRecyclingDrafter(50, new DrafterOptions { Tree = DraftTreeMode.Reference }, table, null, null);
        d.Begin([1], SamplingOptions.Greedy);
        var tree = new DraftTree();
        tree.Reset(1);
        d.Propose(new DraftContext { Tokens = [1], PromptLength = 1, MaxNodes = 128, MaxDepth = 10, Sampling = SamplingOptions.Greedy }, tree);
        // Root children 2, 3, 4 (the duplicate 3 dropped), then 2's children 5, 6 and 3's child 7; rows of 4..7 are empty.
        Assert.Equal([1, 2, 3, 4, 5, 6, 7], tree.Tokens.ToArray());
        Assert.Equal([-1, 0, 0, 0, 1, 1, 2], tree.Parents.ToArray());
    }

    GenerationResult[] Pass(IDrafter drafter, int prompts, int tokens)
    {
        var gen = new Generator(fx.Model, null);
        return fx.Cases.Where((_, i) => i % 10 == 1).Take(prompts)
            .Select(rc => fx.Run(rc.PromptIds, tokens, SamplingOptions.Greedy, drafter, gen)).ToArray();
    }

    static double Mat(GenerationResult[] rs) => (double)rs.Sum(r => r.Stats.GeneratedTokens) / rs.Sum(r => r.Stats.Steps);

    [Fact]
    public void PrivateTableResetsBetweenRequests()
    {
        // Fixed tree: no timing in the loop, so a request's drafts are a pure function of its prompt.
        using var d = DrafterFactory.Create("recycling:tree=fixed,nodes=6", fx.Model);
        var first = Pass(d, 2, 32);
        var second = Pass(d, 2, 32);
        for (int i = 0; i < first.Length; i++)
        {
            Assert.Equal(first[i].Tokens, second[i].Tokens);
            Assert.Equal(first[i].Stats.AcceptHistogram, second[i].Stats.AcceptHistogram);
        }
    }

    [Fact]
    public void WarmTableBeatsColdTableOnASecondPass()
    {
        var opts = new DrafterOptions { Tree = DraftTreeMode.Fixed, TreeNodes = 6 };
        var shared = new RecyclingTable(fx.Model.Config.VocabSize);
        using var warm = new TokenRecyclingDrafter(fx.Model, opts, shared);
        Pass(warm, 3, 32);
        Assert.True(shared.FilledRows > 0);
        double warmMat = Mat(Pass(warm, 3, 32));
        using var cold = new TokenRecyclingDrafter(fx.Model, opts);
        double coldMat = Mat(Pass(cold, 3, 32));
        Assert.True(warmMat > coldMat, $"warm MAT {warmMat:F2} <= cold MAT {coldMat:F2}");
    }

    [Fact]
    public void TableFileIsSavedOnDisposeAndLoadedWarm()
    {
        var dir = Directory.CreateTempSubdirectory("hunch-rt-");
        try
        {
            string path = Path.Combine(dir.FullName, "warm.bin");
            using (var d = DrafterFactory.Create($"recycling:tree=fixed,nodes=4,table={path}", fx.Model)) Pass(d, 1, 16);
            var t = RecyclingTable.Load(path, fx.Model.Config.VocabSize);
            Assert.True(t.FilledRows > 10);
        }
        finally { dir.Delete(true); }
    }
}
