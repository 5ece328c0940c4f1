using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Hunch.Kernels.Tiled;

/// <summary>
/// F32 products of weight rows with a batch of activation rows on 512-bit vectors, bit for bit equal to
/// <see cref="RowKernels.DotF32"/> for every (row, token) and every batch size.
/// </summary>
/// <remarks>
/// <see cref="RowKernels.DotF32"/> keeps four 8-lane accumulators over blocks of 32 columns. Accumulators 0 and 1
/// are the two halves of one 16-lane accumulator over columns 32m..32m+15, accumulators 2 and 3 of one over
/// 32m+16..32m+31, and each lane sees the same fused multiply-adds in the same order whatever the vector width.
/// So a tile of 4 weight rows × up to 4 tokens runs two passes over the row (first halves, then second halves of
/// each block of 32) with one 16-lane accumulator per output: 16 independent chains, and per step 4 weight and 4
/// activation loads feed 16 multiply-adds (the 8-lane kernel needs 2 loads per multiply-add for one token). The
/// outputs then finish exactly as the single-token dot does (its tail of 8-column steps, lane tree, scalar tail).
/// </remarks>
internal static unsafe class F32Wide
{
    /// <summary>Whether 512-bit vectors run in hardware (otherwise <see cref="F32Tiled"/> or the row kernel run).</summary>
    public static bool IsSupported => Vector512.IsHardwareAccelerated;

    /// <summary>y[t·yStride + r] = DotF32(w row r, act row t) for rows [r0, r1) and t in [0, tokens).</summary>
    public static void Multiply(byte* w, long rowBytes, int r0, int r1, float* act, long actStride, int tokens, int cols,
        float* y, long yStride)
    {
        for (int r = r0; r < r1; r += 4)
        {
            int nr = Math.Min(4, r1 - r);
            // A tile's missing rows repeat its last row; their outputs are computed and dropped.
            float* w0 = (float*)(w + r * rowBytes);
            float* w1 = (float*)(w + (r + Math.Min(1, nr - 1)) * rowBytes);
            float* w2 = (float*)(w + (r + Math.Min(2, nr - 1)) * rowBytes);
            float* w3 = (float*)(w + (r + Math.Min(3, nr - 1)) * rowBytes);
            float* yr = y + r;
            int t = 0;
            for (; tokens - t >= 4; t += 4) Tile<Four>(w0, w1, w2, w3, nr, act + t * actStride, actStride, cols, yr + t * yStride, yStride);
            switch (tokens - t)
            {
                case 3: Tile<Three>(w0, w1, w2, w3, nr, act + t * actStride, actStride, cols, yr + t * yStride, yStride); break;
                case 2: Narrow<Two>(w0, w1, w2, w3, nr, act + t * actStride, actStride, cols, yr + t * yStride, yStride); break;
                case 1: Narrow<One>(w0, w1, w2, w3, nr, act + t * actStride, actStride, cols, yr + t * yStride, yStride); break;
            }
        }
    }

    interface ITokens { static abstract int Count { get; } }
    struct One : ITokens { public static int Count => 1; }
    struct Two : ITokens { public static int Count => 2; }
    struct Three : ITokens { public static int Count => 3; }
    struct Four : ITokens { public static int Count => 4; }

    /// <summary>Outputs of 4 weight rows × <typeparamref name="T"/> tokens (only the first <paramref name="nr"/> rows are stored).</summary>
    [SkipLocalsInit]
    static void Tile<T>(float* w0, float* w1, float* w2, float* w3, int nr, float* a0, long stride, int cols, float* y, long yStride)
        where T : struct, ITokens
    {
        int full = cols & ~31;
        float* a1 = a0 + stride, a2 = a1 + stride, a3 = a2 + stride;
        // First-half accumulators of every output, kept while the second pass runs.
        var first = stackalloc Vector512<float>[16];
        for (int half = 0; half < 2; half++)
        {
            var z = Vector512<float>.Zero;
            Vector512<float> s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
            Vector512<float> s20 = z, s21 = z, s22 = z, s23 = z, s30 = z, s31 = z, s32 = z, s33 = z;
            for (int i = half * 16; i < full; i += 32)
            {
                var v0 = Vector512.Load(w0 + i);
                var v1 = Vector512.Load(w1 + i);
                var v2 = Vector512.Load(w2 + i);
                var v3 = Vector512.Load(w3 + i);
                var x = Vector512.Load(a0 + i);
                s00 = Vector512.FusedMultiplyAdd(v0, x, s00);
                s10 = Vector512.FusedMultiplyAdd(v1, x, s10);
                s20 = Vector512.FusedMultiplyAdd(v2, x, s20);
                s30 = Vector512.FusedMultiplyAdd(v3, x, s30);
                if (T.Count > 1)
                {
                    x = Vector512.Load(a1 + i);
                    s01 = Vector512.FusedMultiplyAdd(v0, x, s01);
                    s11 = Vector512.FusedMultiplyAdd(v1, x, s11);
                    s21 = Vector512.FusedMultiplyAdd(v2, x, s21);
                    s31 = Vector512.FusedMultiplyAdd(v3, x, s31);
                }
                if (T.Count > 2)
                {
                    x = Vector512.Load(a2 + i);
                    s02 = Vector512.FusedMultiplyAdd(v0, x, s02);
                    s12 = Vector512.FusedMultiplyAdd(v1, x, s12);
                    s22 = Vector512.FusedMultiplyAdd(v2, x, s22);
                    s32 = Vector512.FusedMultiplyAdd(v3, x, s32);
                }
                if (T.Count > 3)
                {
                    x = Vector512.Load(a3 + i);
                    s03 = Vector512.FusedMultiplyAdd(v0, x, s03);
                    s13 = Vector512.FusedMultiplyAdd(v1, x, s13);
                    s23 = Vector512.FusedMultiplyAdd(v2, x, s23);
                    s33 = Vector512.FusedMultiplyAdd(v3, x, s33);
                }
            }
            if (half == 0)
            {
                first[0] = s00; first[1] = s01; first[2] = s02; first[3] = s03;
                first[4] = s10; first[5] = s11; first[6] = s12; first[7] = s13;
                first[8] = s20; first[9] = s21; first[10] = s22; first[11] = s23;
                first[12] = s30; first[13] = s31; first[14] = s32; first[15] = s33;
                continue;
            }
            Store<T>(w0, a0, stride, cols, full, first, s00, s01, s02, s03, y, yStride);
            if (nr > 1) Store<T>(w1, a0, stride, cols, full, first + 4, s10, s11, s12, s13, y + 1, yStride);
            if (nr > 2) Store<T>(w2, a0, stride, cols, full, first + 8, s20, s21, s22, s23, y + 2, yStride);
            if (nr > 3) Store<T>(w3, a0, stride, cols, full, first + 12, s30, s31, s32, s33, y + 3, yStride);
        }
    }

    /// <summary>Outputs of 4 weight rows × 1 or 2 tokens in one pass (both halves of each block of 32 at once: the rows
    /// stream through in order, which is what a batch this small, bound by reading the weights, needs).</summary>
    [SkipLocalsInit]
    static void Narrow<T>(float* w0, float* w1, float* w2, float* w3, int nr, float* a0, long stride, int cols, float* y, long yStride)
        where T : struct, ITokens
    {
        int full = cols & ~31;
        float* a1 = a0 + stride;
        var z = Vector512<float>.Zero;
        Vector512<float> p00 = z, p10 = z, p20 = z, p30 = z, q00 = z, q10 = z, q20 = z, q30 = z;
        Vector512<float> p01 = z, p11 = z, p21 = z, p31 = z, q01 = z, q11 = z, q21 = z, q31 = z;
        for (int i = 0; i < full; i += 32)
        {
            var v0 = Vector512.Load(w0 + i);
            var v1 = Vector512.Load(w1 + i);
            var v2 = Vector512.Load(w2 + i);
            var v3 = Vector512.Load(w3 + i);
            var u0 = Vector512.Load(w0 + i + 16);
            var u1 = Vector512.Load(w1 + i + 16);
            var u2 = Vector512.Load(w2 + i + 16);
            var u3 = Vector512.Load(w3 + i + 16);
            var x = Vector512.Load(a0 + i);
            var x2 = Vector512.Load(a0 + i + 16);
            p00 = Vector512.FusedMultiplyAdd(v0, x, p00);
            p10 = Vector512.FusedMultiplyAdd(v1, x, p10);
            p20 = Vector512.FusedMultiplyAdd(v2, x, p20);
            p30 = Vector512.FusedMultiplyAdd(v3, x, p30);
            q00 = Vector512.FusedMultiplyAdd(u0, x2, q00);
            q10 = Vector512.FusedMultiplyAdd(u1, x2, q10);
            q20 = Vector512.FusedMultiplyAdd(u2, x2, q20);
            q30 = Vector512.FusedMultiplyAdd(u3, x2, q30);
            if (T.Count > 1)
            {
                x = Vector512.Load(a1 + i);
                x2 = Vector512.Load(a1 + i + 16);
                p01 = Vector512.FusedMultiplyAdd(v0, x, p01);
                p11 = Vector512.FusedMultiplyAdd(v1, x, p11);
                p21 = Vector512.FusedMultiplyAdd(v2, x, p21);
                p31 = Vector512.FusedMultiplyAdd(v3, x, p31);
                q01 = Vector512.FusedMultiplyAdd(u0, x2, q01);
                q11 = Vector512.FusedMultiplyAdd(u1, x2, q11);
                q21 = Vector512.FusedMultiplyAdd(u2, x2, q21);
                q31 = Vector512.FusedMultiplyAdd(u3, x2, q31);
            }
        }
        y[0] = Finish(w0, a0, cols, full, p00, q00);
        if (nr > 1) y[1] = Finish(w1, a0, cols, full, p10, q10);
        if (nr > 2) y[2] = Finish(w2, a0, cols, full, p20, q20);
        if (nr > 3) y[3] = Finish(w3, a0, cols, full, p30, q30);
        if (T.Count > 1)
        {
            y += yStride;
            y[0] = Finish(w0, a1, cols, full, p01, q01);
            if (nr > 1) y[1] = Finish(w1, a1, cols, full, p11, q11);
            if (nr > 2) y[2] = Finish(w2, a1, cols, full, p21, q21);
            if (nr > 3) y[3] = Finish(w3, a1, cols, full, p31, q31);
        }
    }

    /// <summary>Finishes one weight row's outputs for the tile's tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store<T>(float* wr, float* a0, long stride, int cols, int full, Vector512<float>* first,
        Vector512<float> t0, Vector512<float> t1, Vector512<float> t2, Vector512<float> t3, float* y, long yStride)
        where T : struct, ITokens
    {
        y[0] = Finish(wr, a0, cols, full, first[0], t0);
        if (T.Count > 1) y[yStride] = Finish(wr, a0 + stride, cols, full, first[1], t1);
        if (T.Count > 2) y[2 * yStride] = Finish(wr, a0 + 2 * stride, cols, full, first[2], t2);
        if (T.Count > 3) y[3 * yStride] = Finish(wr, a0 + 3 * stride, cols, full, first[3], t3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Finish(float* wr, float* a, int cols, int full, Vector512<float> first, Vector512<float> second) =>
        F32Tiled.Finish(wr, a, cols, full, first.GetLower(), first.GetUpper(), second.GetLower(), second.GetUpper());
}
