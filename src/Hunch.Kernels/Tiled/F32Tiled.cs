using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Hunch.Kernels.Tiled;

/// <summary>
/// F32 products of a block of weight rows with a small batch of activation rows, bit for bit equal to
/// <see cref="RowKernels.DotF32"/> for every (row, token). Each output keeps the four 8-lane accumulators of the
/// single-token dot and sees exactly the same fused multiply-adds in the same order; only the interleaving of
/// independent outputs changes. The accumulators live in a small state array between column blocks (a store and
/// reload is exact), so a column block of the weight rows and of all activation rows stays in L1 while it is reused:
/// each weight vector is loaded once for up to three tokens, and each activation block once per row of the tile.
/// </summary>
internal static unsafe class F32Tiled
{
    /// <summary>Rows of a tile: the activation block is reused across them.</summary>
    const int TileRows = 8;
    /// <summary>Tokens whose accumulators are kept per tile (bounds the state array).</summary>
    const int TileTokens = 16;
    /// <summary>Columns per block (a multiple of 32): 16 activation blocks of 1 KiB stay in L1 when the activation rows are spaced 1 KiB apart modulo 4 KiB.</summary>
    const int BlockColumns = 256;

    /// <summary>y[t·yStride + r] = DotF32(w row r, act row t) for rows [r0, r1) and t in [0, tokens).</summary>
    [SkipLocalsInit]
    public static void Multiply(byte* w, long rowBytes, int r0, int r1, float* act, long actStride, int tokens, int cols,
        float* y, long yStride)
    {
        var state = stackalloc Vector256<float>[TileRows * TileTokens * 4];
        int full = cols & ~31;
        for (int rt = r0; rt < r1; rt += TileRows)
        {
            int nr = Math.Min(TileRows, r1 - rt);
            for (int tg = 0; tg < tokens; tg += TileTokens)
            {
                int nt = Math.Min(TileTokens, tokens - tg);
                float* actTile = act + tg * actStride;
                for (int i = 0; i < nr * nt * 4; i++) state[i] = Vector256<float>.Zero;
                for (int c0 = 0; c0 < full; c0 += BlockColumns)
                {
                    int len = Math.Min(BlockColumns, full - c0);
                    for (int r = 0; r < nr; r++)
                    {
                        float* wr = (float*)(w + (rt + r) * rowBytes) + c0;
                        var s = state + r * nt * 4;
                        int t = 0;
                        // Groups of three, ending with two pairs rather than three and one (the single token loads
                        // its weight vectors for itself alone).
                        for (; nt - t >= 3 && nt - t != 4; t += 3) Three(wr, actTile + t * actStride + c0, actStride, len, s + t * 4);
                        if (nt - t == 4) { Two(wr, actTile + t * actStride + c0, actStride, len, s + t * 4); t += 2; }
                        if (nt - t == 2) Two(wr, actTile + t * actStride + c0, actStride, len, s + t * 4);
                        else if (nt - t == 1) One(wr, actTile + t * actStride + c0, len, s + t * 4);
                    }
                }
                for (int r = 0; r < nr; r++)
                {
                    float* wr = (float*)(w + (rt + r) * rowBytes);
                    for (int t = 0; t < nt; t++)
                    {
                        var s = state + (r * nt + t) * 4;
                        y[(tg + t) * yStride + rt + r] = Finish(wr, actTile + t * actStride, cols, full, s[0], s[1], s[2], s[3]);
                    }
                }
            }
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

    static void Three(float* a, float* b, long stride, int len, Vector256<float>* s)
    {
        var x0 = s[0]; var x1 = s[1]; var x2 = s[2]; var x3 = s[3];
        var y0 = s[4]; var y1 = s[5]; var y2 = s[6]; var y3 = s[7];
        var z0 = s[8]; var z1 = s[9]; var z2 = s[10]; var z3 = s[11];
        float* b1 = b + stride;
        float* b2 = b1 + stride;
        for (int i = 0; i < len; i += 32)
        {
            var w = Vector256.Load(a + i);
            x0 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b + i), x0);
            y0 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b1 + i), y0);
            z0 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b2 + i), z0);
            w = Vector256.Load(a + i + 8);
            x1 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b + i + 8), x1);
            y1 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b1 + i + 8), y1);
            z1 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b2 + i + 8), z1);
            w = Vector256.Load(a + i + 16);
            x2 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b + i + 16), x2);
            y2 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b1 + i + 16), y2);
            z2 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b2 + i + 16), z2);
            w = Vector256.Load(a + i + 24);
            x3 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b + i + 24), x3);
            y3 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b1 + i + 24), y3);
            z3 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b2 + i + 24), z3);
        }
        s[0] = x0; s[1] = x1; s[2] = x2; s[3] = x3;
        s[4] = y0; s[5] = y1; s[6] = y2; s[7] = y3;
        s[8] = z0; s[9] = z1; s[10] = z2; s[11] = z3;
    }

    static void Two(float* a, float* b, long stride, int len, Vector256<float>* s)
    {
        var x0 = s[0]; var x1 = s[1]; var x2 = s[2]; var x3 = s[3];
        var y0 = s[4]; var y1 = s[5]; var y2 = s[6]; var y3 = s[7];
        float* b1 = b + stride;
        for (int i = 0; i < len; i += 32)
        {
            var w = Vector256.Load(a + i);
            x0 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b + i), x0);
            y0 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b1 + i), y0);
            w = Vector256.Load(a + i + 8);
            x1 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b + i + 8), x1);
            y1 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b1 + i + 8), y1);
            w = Vector256.Load(a + i + 16);
            x2 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b + i + 16), x2);
            y2 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b1 + i + 16), y2);
            w = Vector256.Load(a + i + 24);
            x3 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b + i + 24), x3);
            y3 = Vector256.FusedMultiplyAdd(w, Vector256.Load(b1 + i + 24), y3);
        }
        s[0] = x0; s[1] = x1; s[2] = x2; s[3] = x3;
        s[4] = y0; s[5] = y1; s[6] = y2; s[7] = y3;
    }

    static void One(float* a, float* b, int len, Vector256<float>* s)
    {
        var x0 = s[0]; var x1 = s[1]; var x2 = s[2]; var x3 = s[3];
        for (int i = 0; i < len; i += 32)
        {
            x0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), x0);
            x1 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 8), Vector256.Load(b + i + 8), x1);
            x2 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 16), Vector256.Load(b + i + 16), x2);
            x3 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 24), Vector256.Load(b + i + 24), x3);
        }
        s[0] = x0; s[1] = x1; s[2] = x2; s[3] = x3;
    }
}
