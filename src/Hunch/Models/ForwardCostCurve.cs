using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Hunch.Models;

/// <summary>
/// The measured cost c(k) of one <see cref="TransformerModel.Forward"/> over k rows of one sequence (a draft
/// tree of k nodes) on this machine, at a moderate context length. Hardware-aware tree sizing divides expected
/// committed tokens by this curve, so it is measured, never assumed: on a GPU c(k) is flat, on a small CPU it
/// grows almost linearly, and kernel tiling can make some k nearly free. Between sampled sizes the curve is
/// interpolated linearly; beyond the largest it is extrapolated with the last segment's slope.
/// </summary>
public sealed class ForwardCostCurve
{
    /// <summary>Row counts timed by <see cref="Measure"/>.</summary>
    public static ReadOnlySpan<int> SampledSizes => [1, 2, 4, 8, 16, 32];

    static readonly ConditionalWeakTable<TransformerModel, ForwardCostCurve> s_cache = new();
    static readonly Lock s_lock = new();

    readonly int[] _sizes;
    readonly double[] _ms;

    /// <summary>Creates a curve from measured points (sizes strictly increasing, starting at 1; costs in milliseconds).</summary>
    public ForwardCostCurve(ReadOnlySpan<int> sizes, ReadOnlySpan<double> milliseconds)
    {
        if (sizes.Length == 0 || sizes.Length != milliseconds.Length) throw new ArgumentException("a cost curve needs one cost per size and at least one point");
        if (sizes[0] != 1) throw new ArgumentException("a cost curve starts at one row");
        for (int i = 0; i < sizes.Length; i++)
        {
            if (i > 0 && sizes[i] <= sizes[i - 1]) throw new ArgumentException("cost curve sizes must increase");
            if (!(milliseconds[i] > 0) || double.IsInfinity(milliseconds[i])) throw new ArgumentException($"cost {milliseconds[i]} ms at {sizes[i]} rows must be positive and finite");
        }
        _sizes = sizes.ToArray();
        _ms = milliseconds.ToArray();
    }

    /// <summary>Sampled row counts.</summary>
    public ReadOnlySpan<int> Sizes => _sizes;

    /// <summary>Measured milliseconds at each of <see cref="Sizes"/>.</summary>
    public ReadOnlySpan<double> Milliseconds => _ms;

    /// <summary>Estimated milliseconds of one forward over <paramref name="rows"/> rows (at least the one-row cost).</summary>
    public double Cost(int rows)
    {
        if (rows <= 1) return _ms[0];
        if (_sizes.Length == 1) return _ms[0] * rows;
        int i = 1;
        while (i < _sizes.Length - 1 && _sizes[i] < rows) i++;
        // Segment [i-1, i]: interpolate inside it, or extend the last segment beyond the largest sample.
        double x0 = _sizes[i - 1], x1 = _sizes[i], y0 = _ms[i - 1], y1 = _ms[i];
        double y = y0 + (y1 - y0) * (rows - x0) / (x1 - x0);
        return Math.Max(y, _ms[0]);
    }

    /// <summary>
    /// The curve of <paramref name="model"/> on this machine, measured on first use and cached for the model's
    /// lifetime. Measuring runs a short prefill and a few timed forwards of 1..32 rows on a private cache
    /// (no effect on any request's state). Not to be called while another thread runs a forward on the model.
    /// </summary>
    public static ForwardCostCurve Measure(TransformerModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        lock (s_lock)
        {
            if (s_cache.TryGetValue(model, out var cached)) return cached;
            var curve = MeasureNow(model);
            s_cache.AddOrUpdate(model, curve);
            return curve;
        }
    }

    /// <summary>Replaces the cached curve of <paramref name="model"/> (a curve measured elsewhere, or loaded).</summary>
    public static void Set(TransformerModel model, ForwardCostCurve curve)
    {
        lock (s_lock) s_cache.AddOrUpdate(model, curve);
    }

    static ForwardCostCurve MeasureNow(TransformerModel model)
    {
        var cfg = model.Config;
        var sizes = SampledSizes;
        int maxRows = sizes[^1];
        // A moderate context: attention over it is part of every real step's cost.
        int context = Math.Clamp(cfg.ContextLength / 2, 1, 256);
        if (context + maxRows + 1 > cfg.ContextLength) context = Math.Max(1, cfg.ContextLength - maxRows - 1);
        var cache = model.CreateCache(context + maxRows + 1);
        var batch = new ForwardBatch();
        int vocab = cfg.VocabSize;
        // Arbitrary in-vocabulary tokens: the cost does not depend on which tokens run.
        int prefilled = 0;
        while (prefilled < context)
        {
            int n = Math.Min(64, context - prefilled);
            batch.Clear();
            for (int i = 0; i < n; i++)
                batch.Add((prefilled + i) * 7919 % vocab, cache, prefilled + i, i == 0 ? -1 : batch.Count - 1, wantLogits: i == n - 1);
            model.Forward(batch);
            cache.CommitInPlace(n);
            prefilled += n;
        }

        var ms = new double[sizes.Length];
        ms.AsSpan().Fill(double.MaxValue);
        double first = TimeTree(model, batch, cache, context, 1, vocab); // warm-up, also sizes the repetitions
        // The minimum over repetitions, interleaved across sizes: other processes only ever add time, and
        // interleaving spreads a burst of contention over all sizes instead of inflating one.
        // Enough rounds to catch quiet moments on a shared machine (a single contended one-row sample makes every
        // extra row look cheap and inflates every tree): about 400 ms of sampling, 3 to 20 rounds.
        int reps = Math.Clamp((int)(400 / Math.Max(first * 16, 1e-3)), 3, 20);
        for (int r = 0; r < reps; r++)
            for (int s = 0; s < sizes.Length; s++)
                ms[s] = Math.Min(ms[s], Math.Max(TimeTree(model, batch, cache, context, sizes[s], vocab), 1e-6));
        // Timing noise on a shared machine can make a larger forward look cheaper; costs never decrease with rows.
        for (int s = 1; s < ms.Length; s++) ms[s] = Math.Max(ms[s], ms[s - 1]);
        return new ForwardCostCurve(sizes, ms);
    }

    // Times one forward over a draft-tree-shaped batch of k rows (two children per node, every row wanting
    // logits, as in verification); the scratch rows are discarded afterwards.
    static double TimeTree(TransformerModel model, ForwardBatch batch, KvCache.KvCache cache, int position, int k, int vocab)
    {
        batch.Clear();
        for (int i = 0; i < k; i++)
        {
            int parent = i == 0 ? -1 : (i - 1) / 2;
            int depth = System.Numerics.BitOperations.Log2((uint)(i + 1));
            batch.Add((i * 104729 + 17) % vocab, cache, position + depth, parent);
        }
        long t = Stopwatch.GetTimestamp();
        model.Forward(batch);
        return Stopwatch.GetElapsedTime(t).TotalMilliseconds;
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        var parts = new string[_sizes.Length];
        for (int i = 0; i < _sizes.Length; i++) parts[i] = $"{_sizes[i]}:{_ms[i]:F2}ms";
        return string.Join(" ", parts);
    }
}
