using System.Diagnostics;
using Hunch.Models;

namespace Hunch.Cli.Bench;

/// <summary>Engine speed of one model on this machine: prefill and decode tokens/s, forward time by batch size.</summary>
public sealed record EngineSpeedResult(double PrefillTokS, double DecodeTokS, IReadOnlyList<(int K, double Ms)> ForwardMs, long WeightBytes);

/// <summary>Measures like llama-bench: pp (one batched forward over N prompt tokens) and tg (N single-token forwards),
/// medians of repeats, plus the forward time for k = 1..32 rows scored after a 64-token context (the cost of verifying k drafts).</summary>
public static class EngineSpeed
{
    public static EngineSpeedResult Measure(TransformerModel model, int promptTokens = 64, int genTokens = 64, int repeats = 3)
    {
        var cfg = model.Config;
        var batch = new ForwardBatch();
        var rng = new Random(1);
        int[] Tokens(int n) { var t = new int[n]; for (int i = 0; i < n; i++) t[i] = rng.Next(cfg.VocabSize); return t; }
        var cache = model.CreateCache(promptTokens + genTokens + 64);

        double Prefill()
        {
            cache.Clear();
            batch.Clear();
            batch.AddSequence(Tokens(promptTokens), cache, 0);
            var sw = Stopwatch.StartNew();
            model.Forward(batch);
            cache.CommitInPlace(promptTokens);
            return sw.Elapsed.TotalMilliseconds;
        }
        double Decode()
        {
            cache.Clear();
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < genTokens; i++)
            {
                batch.Clear();
                batch.Add(rng.Next(cfg.VocabSize), cache, i);
                model.Forward(batch);
                cache.CommitInPlace(1);
            }
            return sw.Elapsed.TotalMilliseconds;
        }
        Prefill(); Decode(); // warm-up (JIT tiers, page-in of the mapped weights)
        double pp = Median(repeats, Prefill), tg = Median(repeats, Decode);

        var curve = new List<(int, double)>();
        foreach (int k in new[] { 1, 2, 4, 8, 16, 32 })
        {
            Prefill();
            var drafts = Tokens(k);
            double One()
            {
                batch.Clear();
                for (int j = 0; j < k; j++) batch.Add(drafts[j], cache, promptTokens + j, j - 1);
                var sw = Stopwatch.StartNew();
                model.Forward(batch);
                return sw.Elapsed.TotalMilliseconds;
            }
            One();
            curve.Add((k, Median(Math.Max(5, repeats * 3), One)));
        }
        long bytes = 0;
        foreach (var t in model.File.Tensors) if (t.Name != "token_embd.weight" || model.File.FindTensor("output.weight") is null) bytes += t.ByteSize;
        return new EngineSpeedResult(promptTokens * 1000.0 / pp, genTokens * 1000.0 / tg, curve, bytes);
    }

    static double Median(int n, Func<double> f)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = f();
        Array.Sort(v);
        return v[n / 2];
    }
}
