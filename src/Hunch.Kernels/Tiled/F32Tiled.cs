using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Hunch.Kernels.Tiled;

/// <summary>
/// F32 products of a block of weight rows with a small batch of activation rows, bit for bit equal to
/// <see cref="RowKernels.DotF32"/> for every (row, token). Each output keeps the four 8-lane accumulators of the
/// single-token dot and sees exactly the same fused multiply-adds in the same order; only the interleaving of
/// independent outputs changes. Tokens go in pairs: each weight vector is loaded once for two tokens and the
/// eight accumulator chains hide the fused multiply-add latency that bounds a single dot (four chains). Where the
/// JIT has 32 vector registers (EVEX, with AVX-512) two weight rows go together too, so each activation vector is
/// also loaded once for two rows (sixteen accumulators; on 16 registers they would spill).
/// Measured on the bundled model's shapes, all its matrices in one pass, 1 thread (min of 200, see RESULTS):
/// the pair kernel (a triple for odd k) is 1.25-1.5x the row-by-row loop at k = 2..8, the 2x2 kernel 1.6-1.8x at
/// k = 16..32.
/// </summary>
internal static unsafe class F32Tiled
{
    /// <summary>Whether the 2-row x 2-token kernel fits the vector registers the JIT can use.</summary>
    static readonly bool s_wideRegisters = Avx512F.VL.IsSupported;

    /// <summary>Smallest batch that takes the 2-row kernel (below it the pair kernel measured as fast or faster).</summary>
    const int TwoRowTokens = 8;

    /// <summary>y[t·yStride + r] = DotF32(w row r, act row t) for rows [r0, r1) and t in [0, tokens).</summary>
    public static void Multiply(byte* w, long rowBytes, int r0, int r1, float* act, long actStride, int tokens, int cols,
        float* y, long yStride)
    {
        int full = cols & ~31;
        int r = r0;
        if (s_wideRegisters && tokens >= TwoRowTokens)
        {
            for (; r + 2 <= r1; r += 2)
            {
                float* a = (float*)(w + r * rowBytes);
                float* c = (float*)(w + (r + 1) * rowBytes);
                int t = 0;
                for (; t + 2 <= tokens; t += 2)
                    TwoRowsTwoTokens(a, c, act + t * actStride, act + (t + 1) * actStride, cols, full, y + t * yStride + r, yStride);
                if (t < tokens)
                {
                    float* b = act + t * actStride;
                    y[t * yStride + r] = RowKernels.DotF32(a, b, cols);
                    y[t * yStride + r + 1] = RowKernels.DotF32(c, b, cols);
                }
            }
        }
        for (; r < r1; r++)
        {
            float* a = (float*)(w + r * rowBytes);
            int t = 0;
            // Pairs, with an odd count ending on a triple rather than a lone token (whose four chains leave the
            // row's weights waiting on latency).
            for (; tokens - t >= 2 && tokens - t != 3; t += 2)
                TwoTokens(a, act + t * actStride, act + (t + 1) * actStride, cols, full, y + t * yStride + r, yStride);
            if (tokens - t == 3) ThreeTokens(a, act + t * actStride, actStride, cols, full, y + t * yStride + r, yStride);
            else if (t < tokens) y[t * yStride + r] = RowKernels.DotF32(a, act + t * actStride, cols);
        }
    }

    /// <summary>The tail of <see cref="RowKernels.DotF32"/> from column <paramref name="i"/> on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Finish(float* a, float* b, int n, int i, Vector256<float> acc0, Vector256<float> acc1, Vector256<float> acc2, Vector256<float> acc3)
    {
        for (; i + 8 <= n; i += 8)
            acc0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc0);
        float sum = RowKernels.HorizontalSum((acc0 + acc1) + (acc2 + acc3));
        for (; i < n; i++) sum = MathF.FusedMultiplyAdd(a[i], b[i], sum);
        return sum;
    }

    // y[0] = DotF32(a, b0), y[yStride] = DotF32(a, b1).
    static void TwoTokens(float* a, float* b0, float* b1, int cols, int full, float* y, long yStride)
    {
        var x0 = Vector256<float>.Zero; var x1 = x0; var x2 = x0; var x3 = x0;
        var y0 = x0; var y1 = x0; var y2 = x0; var y3 = x0;
        for (int i = 0; i < full; i += 32)
        {
            var v = Vector256.Load(a + i);
            x0 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b0 + i), x0);
            y0 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b1 + i), y0);
            v = Vector256.Load(a + i + 8);
            x1 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b0 + i + 8), x1);
            y1 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b1 + i + 8), y1);
            v = Vector256.Load(a + i + 16);
            x2 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b0 + i + 16), x2);
            y2 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b1 + i + 16), y2);
            v = Vector256.Load(a + i + 24);
            x3 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b0 + i + 24), x3);
            y3 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b1 + i + 24), y3);
        }
        y[0] = Finish(a, b0, cols, full, x0, x1, x2, x3);
        y[yStride] = Finish(a, b1, cols, full, y0, y1, y2, y3);
    }

    // y[j·yStride] = DotF32(a, b + j·stride) for j = 0, 1, 2.
    static void ThreeTokens(float* a, float* b, long stride, int cols, int full, float* y, long yStride)
    {
        float* b1 = b + stride;
        float* b2 = b1 + stride;
        var x0 = Vector256<float>.Zero; var x1 = x0; var x2 = x0; var x3 = x0;
        var y0 = x0; var y1 = x0; var y2 = x0; var y3 = x0;
        var z0 = x0; var z1 = x0; var z2 = x0; var z3 = x0;
        for (int i = 0; i < full; i += 32)
        {
            var v = Vector256.Load(a + i);
            x0 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b + i), x0);
            y0 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b1 + i), y0);
            z0 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b2 + i), z0);
            v = Vector256.Load(a + i + 8);
            x1 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b + i + 8), x1);
            y1 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b1 + i + 8), y1);
            z1 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b2 + i + 8), z1);
            v = Vector256.Load(a + i + 16);
            x2 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b + i + 16), x2);
            y2 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b1 + i + 16), y2);
            z2 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b2 + i + 16), z2);
            v = Vector256.Load(a + i + 24);
            x3 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b + i + 24), x3);
            y3 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b1 + i + 24), y3);
            z3 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b2 + i + 24), z3);
        }
        y[0] = Finish(a, b, cols, full, x0, x1, x2, x3);
        y[yStride] = Finish(a, b1, cols, full, y0, y1, y2, y3);
        y[2 * yStride] = Finish(a, b2, cols, full, z0, z1, z2, z3);
    }

    // y[0] = DotF32(a, b0), y[1] = DotF32(c, b0), y[yStride] = DotF32(a, b1), y[yStride + 1] = DotF32(c, b1).
    static void TwoRowsTwoTokens(float* a, float* c, float* b0, float* b1, int cols, int full, float* y, long yStride)
    {
        var p0 = Vector256<float>.Zero; var p1 = p0; var p2 = p0; var p3 = p0;
        var q0 = p0; var q1 = p0; var q2 = p0; var q3 = p0;
        var u0 = p0; var u1 = p0; var u2 = p0; var u3 = p0;
        var v0 = p0; var v1 = p0; var v2 = p0; var v3 = p0;
        for (int i = 0; i < full; i += 32)
        {
            var xa = Vector256.Load(b0 + i); var xb = Vector256.Load(b1 + i);
            var wa = Vector256.Load(a + i); var wc = Vector256.Load(c + i);
            p0 = Vector256.FusedMultiplyAdd(wa, xa, p0); q0 = Vector256.FusedMultiplyAdd(wa, xb, q0);
            u0 = Vector256.FusedMultiplyAdd(wc, xa, u0); v0 = Vector256.FusedMultiplyAdd(wc, xb, v0);
            xa = Vector256.Load(b0 + i + 8); xb = Vector256.Load(b1 + i + 8);
            wa = Vector256.Load(a + i + 8); wc = Vector256.Load(c + i + 8);
            p1 = Vector256.FusedMultiplyAdd(wa, xa, p1); q1 = Vector256.FusedMultiplyAdd(wa, xb, q1);
            u1 = Vector256.FusedMultiplyAdd(wc, xa, u1); v1 = Vector256.FusedMultiplyAdd(wc, xb, v1);
            xa = Vector256.Load(b0 + i + 16); xb = Vector256.Load(b1 + i + 16);
            wa = Vector256.Load(a + i + 16); wc = Vector256.Load(c + i + 16);
            p2 = Vector256.FusedMultiplyAdd(wa, xa, p2); q2 = Vector256.FusedMultiplyAdd(wa, xb, q2);
            u2 = Vector256.FusedMultiplyAdd(wc, xa, u2); v2 = Vector256.FusedMultiplyAdd(wc, xb, v2);
            xa = Vector256.Load(b0 + i + 24); xb = Vector256.Load(b1 + i + 24);
            wa = Vector256.Load(a + i + 24); wc = Vector256.Load(c + i + 24);
            p3 = Vector256.FusedMultiplyAdd(wa, xa, p3); q3 = Vector256.FusedMultiplyAdd(wa, xb, q3);
            u3 = Vector256.FusedMultiplyAdd(wc, xa, u3); v3 = Vector256.FusedMultiplyAdd(wc, xb, v3);
        }
        y[0] = Finish(a, b0, cols, full, p0, p1, p2, p3);
        y[1] = Finish(c, b0, cols, full, u0, u1, u2, u3);
        y[yStride] = Finish(a, b1, cols, full, q0, q1, q2, q3);
        y[yStride + 1] = Finish(c, b1, cols, full, v0, v1, v2, v3);
    }
}
