using Hunch.Kernels;

namespace Hunch.Models;

/// <summary>
/// Which parts of the network a forward runs: layers [0, <see cref="ExitLayer"/>), minus the attention and
/// feed-forward sub-layers marked as skipped, then the final norm and output matrix on the residual stream.
/// The full plan is the ordinary model; any other plan is a cheaper, approximate model for self-drafting.
/// </summary>
internal readonly struct LayerPlan
{
    /// <summary>Layers run before the final norm (the model's layer count for the full model).</summary>
    public int ExitLayer { get; init; }
    /// <summary>Per layer: skip the attention sub-layer (writes no key/value rows for that layer). Empty: none.</summary>
    public bool[]? SkipAttention { get; init; }
    /// <summary>Per layer: skip the feed-forward sub-layer. Empty: none.</summary>
    public bool[]? SkipFeedForward { get; init; }

    /// <summary>Every layer, nothing skipped (ExitLayer = int.MaxValue is clamped to the layer count).</summary>
    public static LayerPlan Full => new() { ExitLayer = int.MaxValue };

    /// <summary>True when the plan runs the model unchanged.</summary>
    public bool IsFull(int layerCount)
    {
        if (ExitLayer < layerCount) return false;
        for (int l = 0; l < layerCount; l++)
            if (Skips(SkipAttention, l) || Skips(SkipFeedForward, l)) return false;
        return true;
    }

    internal static bool Skips(bool[]? mask, int layer) => mask is not null && layer < mask.Length && mask[layer];
}

public sealed unsafe partial class TransformerModel
{
    /// <summary>
    /// Runs the batch through a partial network (<paramref name="plan"/>): skipped sub-layers and the layers at or
    /// after the exit write no key/value rows; the rows of layers that do run go to the scratch slots exactly as
    /// <see cref="Forward"/> writes them. Logits come from the final norm and output matrix applied to the residual
    /// stream where the plan stops (early exit). Used by self-drafters, which discard every row they write.
    /// </summary>
    internal void ForwardLayers(ForwardBatch batch, in LayerPlan plan)
    {
        if (plan.ExitLayer < 1) throw new ArgumentOutOfRangeException(nameof(plan), $"exit layer {plan.ExitLayer} must be at least 1");
        ForwardCore(batch, plan);
    }

    void ForwardCore(ForwardBatch batch, in LayerPlan plan)
    {
        int n = batch.Count;
        if (n == 0) return;
        var c = Config;
        for (int i = 0; i < n; i++)
        {
            int tok = batch.Tokens[i];
            if ((uint)tok >= (uint)c.VocabSize) throw new ArgumentOutOfRangeException(nameof(batch), $"token id {tok} is outside the vocabulary (0..{c.VocabSize - 1})");
            var cache = batch.Caches[i];
            if (!ReferenceEquals(cache.Config, c) && cache.Config != c) throw new ArgumentException("a row's cache belongs to another model", nameof(batch));
            cache.EnsureRows(cache.Length + batch.LocalIndex[i] + 1);
        }
        EnsureWorkspace(n);
        var ws = _ws;
        int D = c.EmbeddingSize;

        for (int i = 0; i < n; i++)
            RowKernels.DequantizeRow(_embedding.Type, _embedding.Row(batch.Tokens[i]), ws.X + (long)i * D, D);

        _attention.Prepare(batch);
        int exit = Math.Min(plan.ExitLayer, c.LayerCount);
        for (int l = 0; l < exit; l++)
        {
            if (!LayerPlan.Skips(plan.SkipAttention, l)) RunAttentionBlock(l, batch, n);
            if (!LayerPlan.Skips(plan.SkipFeedForward, l)) RunFeedForwardBlock(l, n);
            if (batch.CaptureLayer == l + 1) batch.StoreLayerHidden(new ReadOnlySpan<float>(ws.X, n * D), n, D);
        }

        // Final norm and output matrix for the rows that asked for logits.
        int m = 0;
        for (int i = 0; i < n; i++)
        {
            if (batch.LogitIndex[i] < 0) continue;
            fixed (float* w = _outputNorm) Ops.RmsNorm(ws.X + (long)i * D, w, ws.H + (long)m * D, D, c.RmsEps);
            m++;
        }
        if (batch.CaptureOutputHidden) batch.StoreOutputHidden(new ReadOnlySpan<float>(ws.H, m * D), m, D);
        var logits = batch.LogitBuffer(c.VocabSize);
        if (m > 0)
            fixed (float* y = logits) _matmul.Multiply(_output, ws.H, m, y);
    }
}
