using Hunch.Generation;
using Hunch.Models;
using Hunch.Sampling;
using Hunch.Speculative;
using Hunch.Speculative.Model;
using Hunch.Tests.Engine;

namespace Hunch.Tests.Speculative2;

/// <summary>
/// Sampling with q is lossless: the joint law of generated tokens 1-3 at top-k 4 (64 cells) under speculative
/// decoding equals plain decoding's, enumerated exactly with the target (1 + 4 + 16 rows). Chi-square over many
/// seeded runs at significance 0.001; a deliberately biased drafter (argmax picks carrying q) must fail it.
/// </summary>
[Collection("Speculative2")]
public class DistributionTests(ModelPair pair)
{
    static readonly SamplingOptions Sampling = new() { Temperature = 1f, TopK = 4 };
    const double Alpha = 0.001;

    // A prompt on which the draft and the target disagree often enough for the drafts to matter.
    static ReferenceCase Prompt => ReferenceCase.Load()[3];

    [Theory]
    [InlineData("model:DRAFT,depth=2,threshold=0,fixed", 200)]
    [InlineData("model:DRAFT,tree=3,depth=2,threshold=0,fixed", 200)]
    [InlineData("model:DRAFT,branch=3-2", 200)]
    [InlineData("model:DRAFT,beam=3,depth=2", 200)]
    [InlineData("self:exit:3,depth=2,threshold=0,fixed,search=off", 200)]
    public void JointLawOfFirstThreeTokensMatchesPlainSampling(string spec, int runs)
    {
        double p = PValue(spec, runs, biased: false, out string detail);
        Assert.True(p > Alpha, $"{spec}: p = {p:g3} ({detail})");
    }

    [Fact]
    public void BiasedVerifierInputFailsTheSameTest()
    {
        double p = PValue("model:DRAFT,depth=2,threshold=0,fixed", 150, biased: true, out string detail);
        Assert.True(p < Alpha, $"the biased drafter passed: p = {p:g3} ({detail})");
    }

    [Theory]
    [Trait("Category", "Slow")]
    [InlineData("model:DRAFT,depth=2,threshold=0,fixed", 8000)]
    [InlineData("model:DRAFT,tree=3,depth=2,threshold=0,fixed", 8000)]
    [InlineData("model:DRAFT,branch=3-2", 8000)]
    [InlineData("model:DRAFT,beam=3,depth=2", 8000)]
    [InlineData("self:exit:3,depth=2,threshold=0,fixed,search=off", 8000)]
    public void JointLawMatchesWithManyRuns(string spec, int runs)
    {
        double p = PValue(spec, runs, biased: false, out string detail);
        Assert.True(p > Alpha, $"{spec}: p = {p:g3} ({detail})");
    }

    double PValue(string spec, int runs, bool biased, out string detail)
    {
        var exact = Enumerate(pair.Target, Prompt.PromptIds, out var tokens1, out var tokens2, out var tokens3);
        var counts = new Dictionary<(int, int, int), int>();
        using var drafter = ModelDrafterFactory.Create(GreedyIdentityTests.Resolve(spec), pair.Target);
        if (biased) ((DraftModelDrafter)drafter).Picker.BiasedArgmaxWithQ = true;
        var gen = new Generator(pair.Target, null);
        long drafted = 0;
        for (int r = 0; r < runs; r++)
        {
            var opts = new GenerationOptions { MaxTokens = 3, StopAtEndOfGeneration = false, Sampling = Sampling with { Seed = (ulong)(7919 * r + 17) } };
            var res = gen.Generate(Prompt.PromptIds, opts, drafter);
            drafted += res.Stats.DraftedTokens;
            var key = (res.Tokens[0], res.Tokens[1], res.Tokens[2]);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        Assert.True(drafted >= runs, $"{spec} drafted only {drafted} tokens in {runs} runs");
        double p = ChiSquare.PValue(exact, counts, runs, out detail);
        detail += $", drafted {drafted}";
        return p;
    }

    /// <summary>Exact plain-sampling probabilities of every (t1, t2, t3) with nonzero mass, from one tree forward.</summary>
    internal static Dictionary<(int, int, int), double> Enumerate(TransformerModel model, int[] prompt, out int[] t1, out int[][] t2, out int[][][] t3)
    {
        int V = model.Config.VocabSize;
        var sampler = new Sampler(Sampling, V);
        var cache = model.CreateCache();
        var batch = new ForwardBatch();
        batch.AddSequence(prompt, cache, 0);
        model.Forward(batch);
        var p1 = new float[V];
        sampler.Distribution(batch.Logits(batch.Count - 1), [], p1);
        cache.CommitInPlace(prompt.Length);
        t1 = Support(p1);
        // Level 2 and 3 in one tree batch: children of each t1, then grandchildren.
        batch.Clear();
        var row1 = new int[t1.Length];
        for (int i = 0; i < t1.Length; i++) row1[i] = batch.Add(t1[i], cache, prompt.Length);
        model.Forward(batch);
        var p2 = new float[t1.Length][];
        t2 = new int[t1.Length][];
        for (int i = 0; i < t1.Length; i++)
        {
            p2[i] = new float[V];
            sampler.Distribution(batch.Logits(row1[i]), [], p2[i]);
            t2[i] = Support(p2[i]);
        }
        batch.Clear();
        var rows = new List<(int I, int J, int Row)>();
        for (int i = 0; i < t1.Length; i++)
        {
            int a = batch.Add(t1[i], cache, prompt.Length, -1, false);
            for (int j = 0; j < t2[i].Length; j++) rows.Add((i, j, batch.Add(t2[i][j], cache, prompt.Length + 1, a)));
        }
        model.Forward(batch);
        t3 = new int[t1.Length][][];
        var exact = new Dictionary<(int, int, int), double>();
        var p3 = new float[V];
        for (int i = 0; i < t1.Length; i++) t3[i] = new int[t2[i].Length][];
        foreach (var (i, j, row) in rows)
        {
            sampler.Distribution(batch.Logits(row), [], p3);
            t3[i][j] = Support(p3);
            foreach (int k in t3[i][j])
                exact[(t1[i], t2[i][j], k)] = (double)p1[t1[i]] * p2[i][t2[i][j]] * p3[k];
        }
        return exact;
    }

    static int[] Support(float[] p)
    {
        var s = new List<int>();
        for (int i = 0; i < p.Length; i++) if (p[i] > 0) s.Add(i);
        return s.ToArray();
    }
}

/// <summary>Pearson's chi-square goodness of fit with cells of small expectation pooled.</summary>
internal static class ChiSquare
{
    public static double PValue(Dictionary<(int, int, int), double> exact, Dictionary<(int, int, int), int> counts, int n, out string detail)
    {
        double stat = 0, pooledExpected = 0;
        int pooledObserved = 0, cells = 0, outside = 0;
        foreach (var (key, c) in counts) if (!exact.ContainsKey(key)) outside += c;
        foreach (var (key, p) in exact)
        {
            double e = p * n;
            int o = counts.GetValueOrDefault(key);
            if (e < 5) { pooledExpected += e; pooledObserved += o; continue; }
            stat += (o - e) * (o - e) / e;
            cells++;
        }
        if (outside > 0) { detail = $"{outside} runs produced a sequence plain sampling cannot"; return 0; }
        if (pooledExpected > 0)
        {
            stat += (pooledObserved - pooledExpected) * (pooledObserved - pooledExpected) / Math.Max(pooledExpected, 1e-9);
            cells++;
        }
        int df = cells - 1;
        detail = $"chi2 = {stat:F1}, df = {df}, cells = {exact.Count}";
        return UpperRegularizedGamma(df / 2.0, stat / 2.0);
    }

    /// <summary>Q(a, x) = Γ(a, x) / Γ(a): series for x &lt; a + 1, continued fraction otherwise (Numerical Recipes' scheme).</summary>
    public static double UpperRegularizedGamma(double a, double x)
    {
        if (x <= 0) return 1;
        double lnGammaA = LogGamma(a);
        if (x < a + 1)
        {
            double sum = 1 / a, term = sum;
            for (int k = 1; k < 1000; k++)
            {
                term *= x / (a + k);
                sum += term;
                if (term < sum * 1e-15) break;
            }
            return 1 - sum * Math.Exp(-x + a * Math.Log(x) - lnGammaA);
        }
        double b = x + 1 - a, c = 1e300, d = 1 / b, h = d;
        for (int i = 1; i < 1000; i++)
        {
            double an = -i * (i - a);
            b += 2;
            d = an * d + b; if (Math.Abs(d) < 1e-300) d = 1e-300;
            c = b + an / c; if (Math.Abs(c) < 1e-300) c = 1e-300;
            d = 1 / d;
            double delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-15) break;
        }
        return Math.Exp(-x + a * Math.Log(x) - lnGammaA) * h;
    }

    static double LogGamma(double x)
    {
        // Lanczos approximation (g = 7, n = 9).
        double[] g = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
        if (x < 0.5) return Math.Log(Math.PI / Math.Sin(Math.PI * x)) - LogGamma(1 - x);
        x -= 1;
        double a = g[0];
        double t = x + 7.5;
        for (int i = 1; i < 9; i++) a += g[i] / (x + i);
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(a);
    }
}

public class ChiSquareTests
{
    [Theory]
    [InlineData(10, 29.588, 0.001)]
    [InlineData(1, 10.828, 0.001)]
    [InlineData(40, 73.402, 0.001)]
    [InlineData(5, 4.351, 0.5)]
    public void UpperTailMatchesTables(int df, double x, double p) =>
        Assert.Equal(p, ChiSquare.UpperRegularizedGamma(df / 2.0, x / 2.0), 3);
}
