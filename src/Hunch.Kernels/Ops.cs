using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Hunch.Kernels;

/// <summary>Element-wise and per-row operations of a transformer layer. Each works on one row with a fixed
/// reduction order, so a row's result never depends on what else is in the batch.</summary>
public static unsafe class Ops
{
    /// <summary>y = x / sqrt(mean(x²) + eps) * weight (RMSNorm).</summary>
    public static void RmsNorm(float* x, float* weight, float* y, int n, float eps)
    {
        float ss = RowKernels.DotF32(x, x, n);
        // llama.cpp accumulates the mean in double-free float too; the scale is computed once per row.
        float scale = 1f / MathF.Sqrt(ss / n + eps);
        int i = 0;
        var s = Vector256.Create(scale);
        for (; i + 8 <= n; i += 8)
            Vector256.Store(Vector256.Load(x + i) * s * Vector256.Load(weight + i), y + i);
        for (; i < n; i++) y[i] = x[i] * scale * weight[i];
    }

    /// <summary>x += y.</summary>
    public static void Add(float* x, float* y, int n)
    {
        int i = 0;
        for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.Load(x + i) + Vector256.Load(y + i), x + i);
        for (; i < n; i++) x[i] += y[i];
    }

    /// <summary>y += a * x, fused multiply-adds in a fixed order.</summary>
    public static void Axpy(float a, float* x, float* y, int n)
    {
        int i = 0;
        var va = Vector256.Create(a);
        for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.FusedMultiplyAdd(va, Vector256.Load(x + i), Vector256.Load(y + i)), y + i);
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd(a, x[i], y[i]);
    }

    /// <summary>gate = SiLU(gate) * up (SwiGLU).</summary>
    public static void SwiGlu(float* gate, float* up, int n)
    {
        for (int i = 0; i < n; i++)
        {
            float g = gate[i];
            gate[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }

    /// <summary>In-place softmax with the maximum subtracted first (no overflow for large logits).</summary>
    public static void Softmax(Span<float> x)
    {
        if (x.Length == 0) return;
        float max = float.NegativeInfinity;
        foreach (var v in x) if (v > max) max = v;
        float sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float e = MathF.Exp(x[i] - max);
            x[i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        for (int i = 0; i < x.Length; i++) x[i] *= inv;
    }

    /// <summary>
    /// Rotary position embedding applied in place to <paramref name="heads"/> heads laid out every
    /// <paramref name="headStride"/> floats; the first <paramref name="ropeDims"/> elements of each head rotate.
    /// <paramref name="neox"/> false rotates adjacent pairs (2i, 2i+1) as llama GGUF files expect (the converter
    /// permuted Q/K rows for it); true rotates (i, i + ropeDims/2) as NeoX-style architectures (qwen2) expect.
    /// <paramref name="cos"/> and <paramref name="sin"/> hold this position's angle for each pair.
    /// </summary>
    public static void Rope(float* x, int heads, int headStride, int ropeDims, float* cos, float* sin, bool neox)
    {
        int half = ropeDims / 2;
        for (int h = 0; h < heads; h++)
        {
            float* v = x + h * headStride;
            if (!neox)
            {
                for (int k = 0; k < half; k++)
                {
                    float a = v[2 * k], b = v[2 * k + 1];
                    v[2 * k] = a * cos[k] - b * sin[k];
                    v[2 * k + 1] = a * sin[k] + b * cos[k];
                }
            }
            else
            {
                for (int k = 0; k < half; k++)
                {
                    float a = v[k], b = v[k + half];
                    v[k] = a * cos[k] - b * sin[k];
                    v[k + half] = a * sin[k] + b * cos[k];
                }
            }
        }
    }

    /// <summary>Angles of RoPE for one position, computed as ggml does (theta = pos, multiplied by
    /// base^(-2/dims) once per pair, in float) so that results match llama.cpp.</summary>
    public static void RopeAngles(int position, int ropeDims, float freqBase, float* cos, float* sin)
    {
        float thetaScale = MathF.Pow(freqBase, -2.0f / ropeDims);
        float theta = position;
        for (int k = 0; k < ropeDims / 2; k++)
        {
            cos[k] = MathF.Cos(theta);
            sin[k] = MathF.Sin(theta);
            theta *= thetaScale;
        }
    }

    /// <summary>Index of the largest value (the first on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        float bv = float.NegativeInfinity;
        int i = 0;
        ref float x0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        // Eight at a time, looking closer only where some value beats the best so far (same result as the scalar
        // scan: strictly greater wins, so the first of equal maxima stays).
        for (; i + 8 <= x.Length; i += 8)
        {
            if (!Vector256.GreaterThanAny(Vector256.LoadUnsafe(ref x0, (nuint)i), Vector256.Create(bv))) continue;
            for (int j = i; j < i + 8; j++)
                if (x[j] > bv) { bv = x[j]; best = j; }
        }
        for (; i < x.Length; i++)
            if (x[i] > bv) { bv = x[i]; best = i; }
        return best;
    }

    /// <summary>Writes the indices of the <paramref name="k"/> largest values, largest first (ties: lower index first).</summary>
    public static int TopK(ReadOnlySpan<float> x, Span<int> indices, int k)
    {
        k = Math.Min(k, Math.Min(indices.Length, x.Length));
        if (k <= 0) return 0;
        int count = 0;
        int i = 0;
        for (; i < x.Length && count < k; i++) Insert(x, indices, k, ref count, i);
        // Once k values are held, skip eight at a time where none beats the k-th (the scalar scan would skip
        // each of them too, so the result is the same).
        ref float x0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        for (; i + 8 <= x.Length; i += 8)
        {
            if (!Vector256.GreaterThanAny(Vector256.LoadUnsafe(ref x0, (nuint)i), Vector256.Create(x[indices[k - 1]]))) continue;
            for (int j = i; j < i + 8; j++) Insert(x, indices, k, ref count, j);
        }
        for (; i < x.Length; i++) Insert(x, indices, k, ref count, i);
        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Insert(ReadOnlySpan<float> x, Span<int> indices, int k, ref int count, int i)
    {
        float v = x[i];
        if (count == k && !(v > x[indices[k - 1]])) return;
        int pos = count < k ? count++ : k - 1;
        while (pos > 0 && v > x[indices[pos - 1]]) { indices[pos] = indices[pos - 1]; pos--; }
        indices[pos] = i;
    }
}
