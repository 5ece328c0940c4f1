using Hunch.Sampling;

namespace Hunch.Tests.Sampling;

public class SamplerTests
{
    /// <summary>A direct, slow implementation of the documented transform order, to check the fast one against.</summary>
    static double[] ReferenceDistribution(float[] logits, int[] history, SamplingOptions o)
    {
        int v = logits.Length;
        var l = (float[])logits.Clone();
        var window = history.Length > o.PenaltyLastN ? history[^o.PenaltyLastN..] : history;
        foreach (var t in window.Distinct())
        {
            int count = window.Count(x => x == t);
            float x = l[t];
            if (o.RepeatPenalty != 1f) x = x > 0 ? x / o.RepeatPenalty : x * o.RepeatPenalty;
            l[t] = x - count * o.FrequencyPenalty - o.PresencePenalty;
        }
        var p = new double[v];
        if (o.IsGreedy) { p[Array.IndexOf(l, l.Max())] = 1; return p; }
        var order = Enumerable.Range(0, v).OrderByDescending(i => l[i]).ThenBy(i => i).ToList();
        if (o.TopK > 0) order = order.Take(o.TopK).ToList();
        double max = l[order[0]];
        var w = order.Select(i => Math.Exp((l[i] - max) / o.Temperature)).ToList();
        double sum = w.Sum();
        int keep = order.Count;
        if (o.TopP < 1)
        {
            double cum = 0;
            for (int i = 0; i < order.Count; i++) { cum += w[i]; if (cum >= o.TopP * sum) { keep = i + 1; break; } }
        }
        if (o.MinP > 0)
        {
            int k = 1;
            while (k < keep && w[k] >= w[0] * o.MinP) k++;
            keep = k;
        }
        double s2 = w.Take(keep).Sum();
        for (int i = 0; i < keep; i++) p[order[i]] = w[i] / s2;
        return p;
    }

    public static IEnumerable<object[]> Options() =>
    [
        [new SamplingOptions { Temperature = 0.8f }],
        [new SamplingOptions { Temperature = 1f, TopK = 5 }],
        [new SamplingOptions { Temperature = 0.7f, TopP = 0.9f }],
        [new SamplingOptions { Temperature = 1.3f, MinP = 0.05f }],
        [new SamplingOptions { Temperature = 0.8f, TopK = 40, TopP = 0.95f, MinP = 0.05f }],
        [new SamplingOptions { Temperature = 1f, RepeatPenalty = 1.3f, PresencePenalty = 0.5f, FrequencyPenalty = 0.2f }],
        [new SamplingOptions { Temperature = 0f, RepeatPenalty = 2f }],
    ];

    [Theory]
    [MemberData(nameof(Options))]
    public void DistributionMatchesDirectImplementation(SamplingOptions o)
    {
        var rng = new Random(7);
        for (int trial = 0; trial < 20; trial++)
        {
            int v = 50 + trial * 13;
            var logits = Enumerable.Range(0, v).Select(_ => (float)(rng.NextDouble() * 8 - 4)).ToArray();
            var history = Enumerable.Range(0, 30).Select(_ => rng.Next(v)).ToArray();
            var sampler = new Sampler(o, v);
            var p = new float[v];
            sampler.Distribution(logits, history, p);
            var expected = ReferenceDistribution(logits, history, o);
            for (int i = 0; i < v; i++) Assert.True(Math.Abs(p[i] - expected[i]) < 1e-5, $"token {i}: {p[i]} vs {expected[i]}");
        }
    }

    [Fact]
    public void SameSeedSameTokensDifferentSeedDifferentTokens()
    {
        var rng = new Random(3);
        var logits = Enumerable.Range(0, 300).Select(_ => (float)rng.NextDouble()).ToArray();
        int[] Run(ulong seed)
        {
            var s = new Sampler(new SamplingOptions { Temperature = 1f, TopP = 0.95f, Seed = seed }, logits.Length);
            return Enumerable.Range(0, 50).Select(_ => s.Sample(logits, [])).ToArray();
        }
        Assert.Equal(Run(11), Run(11));
        Assert.NotEqual(Run(11), Run(12));
    }

    [Fact]
    public void SamplesFollowTheDistribution()
    {
        var logits = new float[] { 2f, 1f, 0f, -1f, 3f };
        var o = new SamplingOptions { Temperature = 1f, Seed = 5 };
        var sampler = new Sampler(o, logits.Length);
        var p = new float[logits.Length];
        sampler.Distribution(logits, [], p);
        var counts = new int[logits.Length];
        const int n = 40000;
        for (int i = 0; i < n; i++) counts[sampler.Sample(logits, [])]++;
        for (int i = 0; i < logits.Length; i++)
        {
            double sd = Math.Sqrt(n * p[i] * (1 - p[i]));
            Assert.True(Math.Abs(counts[i] - n * p[i]) < 5 * sd + 1, $"token {i}: {counts[i]} vs {n * p[i]:F0}");
        }
    }

    [Fact]
    public void InvalidOptionsAreRejectedWithAClearMessage()
    {
        Assert.Contains("top-p", Assert.Throws<ArgumentException>(() => new SamplingOptions { TopP = 0 }.Validate()).Message);
        Assert.Contains("top-k", Assert.Throws<ArgumentException>(() => new SamplingOptions { TopK = -1 }.Validate()).Message);
        Assert.Contains("min-p", Assert.Throws<ArgumentException>(() => new SamplingOptions { MinP = 2 }.Validate()).Message);
    }
}
