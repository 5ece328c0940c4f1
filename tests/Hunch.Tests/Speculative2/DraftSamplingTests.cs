using Hunch.Generation;
using Hunch.Models;
using Hunch.Sampling;
using Hunch.Speculative;
using Hunch.Speculative.Model;

namespace Hunch.Tests.Speculative2;

/// <summary>Sampling without replacement (Gumbel-top-k, conditioned Gumbels) and the self-drafter's cache discipline.</summary>
public class DraftSamplingTests
{
    static readonly float[] Q = [0.4f, 0.25f, 0.2f, 0.1f, 0.05f];

    [Fact]
    public void GumbelTopKSecondPickFollowsQWithTheFirstRemoved()
    {
        // P(second = y) = sum over x != y of q(x) q(y) / (1 - q(x)).
        var expected = new double[Q.Length];
        for (int x = 0; x < Q.Length; x++)
            for (int y = 0; y < Q.Length; y++)
                if (x != y) expected[y] += Q[x] * Q[y] / (1 - Q[x]);
        var rng = new Rng(12345);
        Span<int> top = stackalloc int[3];
        Span<double> keys = stackalloc double[3];
        const int n = 40000;
        var first = new int[Q.Length];
        var second = new int[Q.Length];
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(3, DraftPicker.GumbelTopK(Q, 3, ref rng, top, keys));
            Assert.True(keys[0] >= keys[1] && keys[1] >= keys[2]);
            Assert.True(top[0] != top[1] && top[1] != top[2] && top[0] != top[2]);
            first[top[0]]++;
            second[top[1]]++;
        }
        double chiFirst = 0, chiSecond = 0;
        for (int t = 0; t < Q.Length; t++)
        {
            chiFirst += Sq(first[t] - n * Q[t]) / (n * Q[t]);
            chiSecond += Sq(second[t] - n * expected[t]) / (n * expected[t]);
        }
        Assert.True(ChiSquare.UpperRegularizedGamma(2, chiFirst / 2) > 0.001, $"first pick chi2 {chiFirst}");
        Assert.True(ChiSquare.UpperRegularizedGamma(2, chiSecond / 2) > 0.001, $"second pick chi2 {chiSecond}");
    }

    static double Sq(double x) => x * x;

    [Fact]
    public void GumbelTopKNeverPicksTokensOutsideTheSupport()
    {
        float[] q = [0f, 0.5f, 0f, 0.5f, 0f];
        var rng = new Rng(1);
        Span<int> top = stackalloc int[4];
        Span<double> keys = stackalloc double[4];
        for (int i = 0; i < 1000; i++)
        {
            int n = DraftPicker.GumbelTopK(q, 4, ref rng, top, keys);
            Assert.Equal(2, n);
            Assert.True((top[0] == 1 && top[1] == 3) || (top[0] == 3 && top[1] == 1));
        }
    }

    [Fact]
    public void SiblingDistributionsRemoveEarlierSiblingsAndRenormalise()
    {
        var picker = new DraftPicker(Q.Length);
        picker.Begin(new SamplingOptions { Temperature = 1f, Seed = 3 }, 99);
        var q = picker.Rent();
        Q.CopyTo(q, 0);
        var tokens = new int[3];
        var qs = new float[]?[3];
        int n = picker.PickFrom(q, 3, tokens, qs, out float confidence);
        Assert.Equal(3, n);
        Assert.Same(q, qs[0]);
        Assert.Equal(Q[tokens[0]], confidence);
        for (int i = 1; i < n; i++)
        {
            double removed = 0;
            for (int j = 0; j < i; j++) { removed += Q[tokens[j]]; Assert.Equal(0f, qs[i]![tokens[j]]); }
            for (int t = 0; t < Q.Length; t++)
            {
                bool earlier = false;
                for (int j = 0; j < i; j++) earlier |= tokens[j] == t;
                if (!earlier) Assert.Equal(Q[t] / (1 - removed), qs[i]![t], 5);
            }
        }
    }

    [Fact]
    public void ConditionedGumbelsHaveTheParentScoreAsTheirMaximum()
    {
        var rng = new Rng(7);
        for (int trial = 0; trial < 200; trial++)
        {
            double T = DraftPicker.Gumbel(ref rng) - 3;
            var phi = new double[6];
            for (int i = 0; i < phi.Length; i++) phi[i] = Math.Log((i + 1) / 21.0) + DraftPicker.Gumbel(ref rng) - 2;
            double Z = phi.Max();
            var g = phi.Select(p => RsdDrafter.ConditionedGumbel(T, Z, p)).ToArray();
            Assert.Equal(T, g.Max(), 9);
            // Monotone: the order of the children is kept.
            for (int i = 0; i < phi.Length; i++)
                for (int j = 0; j < phi.Length; j++)
                    if (phi[i] > phi[j]) Assert.True(g[i] >= g[j]);
        }
    }
}

/// <summary>Self-drafters write only scratch rows: the target's committed rows and length are untouched.</summary>
[Collection("Speculative2")]
public class SelfDraftCacheTests(ModelPair pair)
{
    [Theory]
    [InlineData("self:exit:2+depth=4+threshold=0+fixed")]
    [InlineData("self:skip+depth=4+threshold=0+fixed")]
    public void ProposeLeavesCommittedRowsAndLengthUnchanged(string spec)
    {
        var model = pair.Target;
        var prompt = Engine.ReferenceCase.Load()[0].PromptIds;
        var cache = model.CreateCache();
        var batch = new ForwardBatch();
        batch.AddSequence(prompt.AsSpan(0, prompt.Length - 1), cache, 0);
        model.Forward(batch);
        cache.CommitInPlace(prompt.Length - 1);
        var keys = cache.Keys.Select(k => k.AsSpan(0, cache.Length * model.Config.KvDim).ToArray()).ToArray();
        var values = cache.Values.Select(v => v.AsSpan(0, cache.Length * model.Config.KvDim).ToArray()).ToArray();

        using var drafter = ModelDrafterFactory.Create(spec, model);
        drafter.Begin(prompt, SamplingOptions.Greedy);
        var tree = new DraftTree();
        int proposed = 0;
        // The skip search starts with a "do not draft" trial; step until a plan drafts.
        for (int step = 0; step < 40 && proposed == 0; step++)
        {
            tree.Reset(prompt[^1]);
            drafter.Propose(new DraftContext { Tokens = prompt, PromptLength = prompt.Length, MaxNodes = 16, MaxDepth = 8, Sampling = SamplingOptions.Greedy, TargetCache = cache }, tree);
            proposed = tree.Count - 1;
            drafter.Observe(tree, batch, [0], 0);
        }
        Assert.True(proposed > 0);
        Assert.Equal(prompt.Length - 1, cache.Length);
        for (int l = 0; l < keys.Length; l++)
        {
            Assert.Equal(keys[l], cache.Keys[l].AsSpan(0, cache.Length * model.Config.KvDim).ToArray());
            Assert.Equal(values[l], cache.Values[l].AsSpan(0, cache.Length * model.Config.KvDim).ToArray());
        }
    }
}
