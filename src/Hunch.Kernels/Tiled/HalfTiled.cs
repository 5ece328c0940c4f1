using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Hunch.Kernels.Tiled;

/// <summary>
/// F16 and BF16 weight rows times a small batch of activation rows. The single-row kernels
/// (<see cref="RowKernels.Dot"/>) convert both the weight halves and the activation halves for every weight row;
/// here the activations are widened to floats once per call (exactly: they were already rounded to 16 bits), and
/// each 16-element piece of a weight row is converted once and used for up to <see cref="Tile"/> tokens (for larger
/// batches the whole row is converted once and used by every tile). Per token
/// the operations are those of the row kernel — two 8-lane FMA accumulators over pieces of 16, the same lane sum,
/// the same scalar tail — on the same float values, so every result is bitwise the row kernel's.
/// </summary>
static unsafe class HalfTiled
{
    /// <summary>Tokens sharing one converted weight piece (8 accumulators and 2 weight vectors stay in registers).</summary>
    public const int Tile = 4;

    /// <summary>Widens one prepared (16-bit) activation row to floats.</summary>
    public static void Widen(bool bf16, ushort* halves, int columns, float* destination)
    {
        if (bf16) Widen<BFloat16Piece>(halves, columns, destination);
        else Widen<HalfPiece>(halves, columns, destination);
    }

    static void Widen<TPiece>(ushort* halves, int columns, float* destination) where TPiece : IPiece
    {
        int i = 0;
        for (; i + 16 <= columns; i += 16)
        {
            var (l, h) = TPiece.Load(halves, i);
            l.Store(destination + i);
            h.Store(destination + i + 8);
        }
        for (; i < columns; i++) destination[i] = TPiece.ToFloat(halves, i);
    }

    /// <summary>y[t * rowStride + r] for rows r0..r1 of the weights and <paramref name="tokens"/> widened activation rows.</summary>
    public static void Multiply(bool bf16, byte* weights, long rowBytes, int r0, int r1, float* x, long xStride, int tokens, int columns, float* y, int rowStride)
    {
        if (tokens <= Tile)
        {
            for (int r = r0; r < r1; r++)
            {
                var w = (ushort*)(weights + r * rowBytes);
                if (bf16) Rows<BFloat16Piece>(w, x, xStride, tokens, columns, y + r, rowStride);
                else Rows<HalfPiece>(w, x, xStride, tokens, columns, y + r, rowStride);
            }
            return;
        }
        // Beyond one tile, a block of weight rows is widened to floats once (into this thread's scratch, L1-resident)
        // and each tile of activation rows passes over the whole block while it is in L1: the conversion is paid once
        // per row, and the activations are read from L2 once per block instead of once per row.
        long stride = (columns + 15) / 16 * 16 + 16;   // floats; the extra 64 bytes keep the rows off the same L1 sets
        float* wide = Scratch((int)(RowBlock * stride));
        for (int rb = r0; rb < r1; rb += RowBlock)
        {
            int nr = Math.Min(RowBlock, r1 - rb);
            for (int r = 0; r < nr; r++) Widen(bf16, (ushort*)(weights + (rb + r) * rowBytes), columns, wide + r * stride);
            for (int t0 = 0; t0 < tokens; t0 += Tile)
            {
                int n = Math.Min(Tile, tokens - t0);
                float* xt = x + t0 * xStride;
                float* yt = y + (long)t0 * rowStride + rb;
                int r = 0;
                if (n == Tile)
                    for (; r + 2 <= nr; r += 2)
                        TwoRowsFullTile(wide + r * stride, wide + (r + 1) * stride, xt, xStride, columns, yt + r, rowStride);
                for (; r < nr; r++)
                    Rows<FloatPiece>(wide + r * stride, xt, xStride, n, columns, yt + r, rowStride);
            }
        }
    }

    /// <summary>Weight rows widened together for batches beyond one tile (4 rows of 1024-2816 floats plus one tile's
    /// activations fit L1).</summary>
    const int RowBlock = 4;

    [ThreadStatic] static float* t_scratch;
    [ThreadStatic] static int t_scratchLength;

    /// <summary>This thread's scratch of at least <paramref name="floats"/> floats (grown, never shrunk: the
    /// pool's threads live as long as the process, and after warm-up no call allocates).</summary>
    static float* Scratch(int floats)
    {
        if (t_scratchLength < floats)
        {
            if (t_scratch is not null) System.Runtime.InteropServices.NativeMemory.AlignedFree(t_scratch);
            t_scratch = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)floats * 4, 64);
            t_scratchLength = floats;
        }
        return t_scratch;
    }

    interface IPiece
    {
        static abstract (Vector256<float> Low, Vector256<float> High) Load(void* row, int i);
        static abstract float ToFloat(void* row, int i);
    }

    readonly struct HalfPiece : IPiece
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static (Vector256<float> Low, Vector256<float> High) Load(void* row, int i)
        {
            var (l, h) = Vector256.Widen(Vector256.Load((ushort*)row + i));
            return (Quant.Fp16.ToFloat(l), Quant.Fp16.ToFloat(h));
        }
        public static float ToFloat(void* row, int i) => Numerics.HalfToFloat(((ushort*)row)[i]);
    }

    readonly struct BFloat16Piece : IPiece
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static (Vector256<float> Low, Vector256<float> High) Load(void* row, int i)
        {
            var (l, h) = Vector256.Widen(Vector256.Load((ushort*)row + i));
            return ((l << 16).AsSingle(), (h << 16).AsSingle());
        }
        public static float ToFloat(void* row, int i) => Numerics.BFloat16ToFloat(((ushort*)row)[i]);
    }

    /// <summary>A weight row already widened to floats (the same values the two pieces above produce).</summary>
    readonly struct FloatPiece : IPiece
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static (Vector256<float> Low, Vector256<float> High) Load(void* row, int i)
            => (Vector256.Load((float*)row + i), Vector256.Load((float*)row + i + 8));
        public static float ToFloat(void* row, int i) => ((float*)row)[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Rows<TPiece>(void* w, float* x, long xStride, int n, int columns, float* y, int rowStride) where TPiece : IPiece
    {
        var a00 = Vector256<float>.Zero; var a01 = Vector256<float>.Zero;
        var a10 = Vector256<float>.Zero; var a11 = Vector256<float>.Zero;
        var a20 = Vector256<float>.Zero; var a21 = Vector256<float>.Zero;
        var a30 = Vector256<float>.Zero; var a31 = Vector256<float>.Zero;
        float* x0 = x, x1 = x + xStride, x2 = x + 2 * xStride, x3 = x + 3 * xStride;
        int i = 0;
        // Unused token slots (n < Tile) are never read: each branch touches only the rows that exist.
        for (; i + 16 <= columns; i += 16)
        {
            var (wl, wh) = TPiece.Load(w, i);
            a00 = Vector256.FusedMultiplyAdd(wl, Vector256.Load(x0 + i), a00);
            a01 = Vector256.FusedMultiplyAdd(wh, Vector256.Load(x0 + i + 8), a01);
            if (n > 1)
            {
                a10 = Vector256.FusedMultiplyAdd(wl, Vector256.Load(x1 + i), a10);
                a11 = Vector256.FusedMultiplyAdd(wh, Vector256.Load(x1 + i + 8), a11);
                if (n > 2)
                {
                    a20 = Vector256.FusedMultiplyAdd(wl, Vector256.Load(x2 + i), a20);
                    a21 = Vector256.FusedMultiplyAdd(wh, Vector256.Load(x2 + i + 8), a21);
                    if (n > 3)
                    {
                        a30 = Vector256.FusedMultiplyAdd(wl, Vector256.Load(x3 + i), a30);
                        a31 = Vector256.FusedMultiplyAdd(wh, Vector256.Load(x3 + i + 8), a31);
                    }
                }
            }
        }
        y[0] = Tail<TPiece>(w, x0, i, columns, RowKernels.HorizontalSum(a00 + a01));
        if (n > 1) y[rowStride] = Tail<TPiece>(w, x1, i, columns, RowKernels.HorizontalSum(a10 + a11));
        if (n > 2) y[2L * rowStride] = Tail<TPiece>(w, x2, i, columns, RowKernels.HorizontalSum(a20 + a21));
        if (n > 3) y[3L * rowStride] = Tail<TPiece>(w, x3, i, columns, RowKernels.HorizontalSum(a30 + a31));
    }

    /// <summary>Two widened weight rows times a full tile of four tokens: per (row, token) exactly the operations of
    /// <see cref="Rows{TPiece}"/> (two accumulators over pieces of 16, the same lane sum and tail), with sixteen
    /// independent accumulators so that the fused multiply-adds are not held back by their own latency and each
    /// activation load serves both rows. (Sixteen accumulators fit the 32 vector registers of AVX-512 machines;
    /// with 16 registers some spill, which changes the speed only.)</summary>
    static void TwoRowsFullTile(float* w0, float* w1, float* x, long xStride, int columns, float* y, int rowStride)
    {
        var a00 = Vector256<float>.Zero; var a01 = Vector256<float>.Zero;
        var a10 = Vector256<float>.Zero; var a11 = Vector256<float>.Zero;
        var a20 = Vector256<float>.Zero; var a21 = Vector256<float>.Zero;
        var a30 = Vector256<float>.Zero; var a31 = Vector256<float>.Zero;
        var b00 = Vector256<float>.Zero; var b01 = Vector256<float>.Zero;
        var b10 = Vector256<float>.Zero; var b11 = Vector256<float>.Zero;
        var b20 = Vector256<float>.Zero; var b21 = Vector256<float>.Zero;
        var b30 = Vector256<float>.Zero; var b31 = Vector256<float>.Zero;
        float* x0 = x, x1 = x + xStride, x2 = x + 2 * xStride, x3 = x + 3 * xStride;
        int i = 0;
        for (; i + 16 <= columns; i += 16)
        {
            var wl = Vector256.Load(w0 + i); var wh = Vector256.Load(w0 + i + 8);
            var vl = Vector256.Load(w1 + i); var vh = Vector256.Load(w1 + i + 8);
            var xl = Vector256.Load(x0 + i); var xh = Vector256.Load(x0 + i + 8);
            a00 = Vector256.FusedMultiplyAdd(wl, xl, a00); a01 = Vector256.FusedMultiplyAdd(wh, xh, a01);
            b00 = Vector256.FusedMultiplyAdd(vl, xl, b00); b01 = Vector256.FusedMultiplyAdd(vh, xh, b01);
            xl = Vector256.Load(x1 + i); xh = Vector256.Load(x1 + i + 8);
            a10 = Vector256.FusedMultiplyAdd(wl, xl, a10); a11 = Vector256.FusedMultiplyAdd(wh, xh, a11);
            b10 = Vector256.FusedMultiplyAdd(vl, xl, b10); b11 = Vector256.FusedMultiplyAdd(vh, xh, b11);
            xl = Vector256.Load(x2 + i); xh = Vector256.Load(x2 + i + 8);
            a20 = Vector256.FusedMultiplyAdd(wl, xl, a20); a21 = Vector256.FusedMultiplyAdd(wh, xh, a21);
            b20 = Vector256.FusedMultiplyAdd(vl, xl, b20); b21 = Vector256.FusedMultiplyAdd(vh, xh, b21);
            xl = Vector256.Load(x3 + i); xh = Vector256.Load(x3 + i + 8);
            a30 = Vector256.FusedMultiplyAdd(wl, xl, a30); a31 = Vector256.FusedMultiplyAdd(wh, xh, a31);
            b30 = Vector256.FusedMultiplyAdd(vl, xl, b30); b31 = Vector256.FusedMultiplyAdd(vh, xh, b31);
        }
        y[0] = Tail<FloatPiece>(w0, x0, i, columns, RowKernels.HorizontalSum(a00 + a01));
        y[rowStride] = Tail<FloatPiece>(w0, x1, i, columns, RowKernels.HorizontalSum(a10 + a11));
        y[2L * rowStride] = Tail<FloatPiece>(w0, x2, i, columns, RowKernels.HorizontalSum(a20 + a21));
        y[3L * rowStride] = Tail<FloatPiece>(w0, x3, i, columns, RowKernels.HorizontalSum(a30 + a31));
        y[1] = Tail<FloatPiece>(w1, x0, i, columns, RowKernels.HorizontalSum(b00 + b01));
        y[rowStride + 1] = Tail<FloatPiece>(w1, x1, i, columns, RowKernels.HorizontalSum(b10 + b11));
        y[2L * rowStride + 1] = Tail<FloatPiece>(w1, x2, i, columns, RowKernels.HorizontalSum(b20 + b21));
        y[3L * rowStride + 1] = Tail<FloatPiece>(w1, x3, i, columns, RowKernels.HorizontalSum(b30 + b31));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Tail<TPiece>(void* w, float* x, int i, int columns, float sum) where TPiece : IPiece
    {
        for (; i < columns; i++) sum = MathF.FusedMultiplyAdd(TPiece.ToFloat(w, i), x[i], sum);
        return sum;
    }
}
