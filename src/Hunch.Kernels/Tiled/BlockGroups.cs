using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Hunch.Gguf;
using Hunch.Kernels.Quant;

namespace Hunch.Kernels.Tiled;

/// <summary>
/// Q8_0 and Q4_0 weights against Q8_0 activations, eight blocks at a time. The summation order (the same in
/// <see cref="DotScalar"/>): block i's exact integer dot product Σ q·a is converted to float once and
/// fused-multiply-added with (weight scale × activation scale) into lane i mod 8 of an 8-lane accumulator, in block
/// order; the lanes are summed in the fixed tree of <see cref="RowKernels.HorizontalSum"/>.
/// <para>To get one block's integer sum per lane without a horizontal reduction per token, the eight weight blocks
/// of a group are transposed once (shared by every token of the batch): vector j holds bytes 4j..4j+3 of each of the
/// eight blocks, one block per 32-bit lane. The activation rows are stored transposed the same way once per call
/// (<see cref="Arrange"/>), so eight <c>vpdpbusd</c> (or <c>vpmaddubsw</c>+<c>vpmaddwd</c>) per token leave the eight
/// block sums in the eight lanes, followed by one conversion, one multiply (weight scales × activation scales) and
/// one fused multiply-add per token and group. Weights enter the unsigned operand as q + 128 (Q8_0, VNNI) or as the
/// stored nibble q + 8 (Q4_0); the offset's contribution (128·Σa or 8·Σa per block, from the arranged row's block
/// sums) starts the integer accumulator negated, so the integer sums are exactly Σ q·a on every path.</para>
/// </summary>
internal static unsafe class BlockGroups
{
    /// <summary>Bytes per group of eight blocks in an arranged activation row: 256 transposed quants, the eight
    /// integer accumulator starts −offset·Σa (int; the offset of the weight type's unsigned operand), the eight
    /// block scales (float).</summary>
    public const int GroupBytes = 320;

    /// <summary>Most activation rows per call (one accumulator each on the stack).</summary>
    public const int MaxTokens = 64;

    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Weight types computed by this kernel (and by the matching portable kernels in <see cref="DotScalar"/>).</summary>
    public static bool Handles(GgmlType type) => type is GgmlType.Q8_0 or GgmlType.Q4_0;

    /// <summary>Bytes of an arranged activation row of <paramref name="nb"/> 32-element blocks.</summary>
    public static long ArrangedBytes(int nb) => (long)(nb + 7) / 8 * GroupBytes;

    /// <summary>Rewrites a prepared Q8_0 activation row (<paramref name="nb"/> blocks of 34 bytes) in the grouped,
    /// transposed layout for weights of <paramref name="weightType"/>; blocks past the end of the last group are zero.
    /// <paramref name="vectors"/> = false forces the scalar definition (the reference the vector path is tested
    /// against).</summary>
    public static void Arrange(GgmlType weightType, byte* activation, int nb, byte* destination, bool vectors = true)
    {
        int groups = (nb + 7) / 8;
        int g0 = 0;
        // The integer accumulators start from −offset·Σa, computed here once per activation block.
        int offset = weightType == GgmlType.Q4_0 ? 8 : AvxVnni.IsSupported ? 128 : 0;
        if (vectors && IsSupported)
        {
            // Whole groups with vectors: the eight blocks transposed as the Q8_0 weights are, block sums from
            // byte pairs and quads (exact), scales converted eight at a time (exact).
            var ones = Vector256.Create((byte)1);
            for (; g0 < nb / 8; g0++)
            {
                byte* src = activation + 34L * 8 * g0;
                byte* dst = destination + (long)g0 * GroupBytes;
                TransposeQ8(src + 2, out var v0, out var v1, out var v2, out var v3, out var v4, out var v5, out var v6, out var v7);
                Vector256.Store(v0, dst); Vector256.Store(v1, dst + 32); Vector256.Store(v2, dst + 64); Vector256.Store(v3, dst + 96);
                Vector256.Store(v4, dst + 128); Vector256.Store(v5, dst + 160); Vector256.Store(v6, dst + 192); Vector256.Store(v7, dst + 224);
                var sum = (Quads(ones, v0) + Quads(ones, v1)) + (Quads(ones, v2) + Quads(ones, v3))
                    + ((Quads(ones, v4) + Quads(ones, v5)) + (Quads(ones, v6) + Quads(ones, v7)));
                Vector256.Store(Vector256<int>.Zero - sum * offset, (int*)(dst + 256));
                Vector256.Store(Scales<Q8>(src), (float*)(dst + 288));
            }
        }
        for (int g = g0; g < groups; g++)
        {
            byte* dst = destination + (long)g * GroupBytes;
            int* sums = (int*)(dst + 256);
            float* scales = (float*)(dst + 288);
            for (int b = 0; b < 8; b++)
            {
                int i = 8 * g + b;
                if (i >= nb)
                {
                    for (int j = 0; j < 8; j++) ((int*)dst)[8 * j + b] = 0;
                    sums[b] = 0;
                    scales[b] = 0;
                    continue;
                }
                byte* block = activation + 34L * i;
                sbyte* q = (sbyte*)(block + 2);
                int s = 0;
                for (int e = 0; e < 32; e++) s += q[e];
                for (int j = 0; j < 8; j++) ((int*)dst)[8 * j + b] = ((int*)q)[j];
                sums[b] = -offset * s;
                scales[b] = Fp16.ToFloat(*(ushort*)block);
            }
        }
    }

    /// <summary>result[t] = dot(weight row <paramref name="w"/>, arranged activation row t) for t in [0, tokens),
    /// tokens 1..<see cref="MaxTokens"/>; arranged row t at <paramref name="act"/> + t·<paramref name="stride"/>.</summary>
    [SkipLocalsInit]
    public static void Dot(GgmlType type, byte* w, int nb, byte* act, long stride, int tokens, float* result)
    {
        if (type == GgmlType.Q8_0) Dot<Q8>(w, nb, act, stride, tokens, result);
        else Dot<Q4>(w, nb, act, stride, tokens, result);
    }

    interface IWeights
    {
        static abstract int Bytes { get; }
        /// <summary>The eight transposed weight vectors of a group as unsigned bytes (q + offset; for Q8_0 without
        /// VNNI, signed q).</summary>
        static abstract void Load(byte* w, out Vector256<byte> v0, out Vector256<byte> v1, out Vector256<byte> v2, out Vector256<byte> v3,
            out Vector256<byte> v4, out Vector256<byte> v5, out Vector256<byte> v6, out Vector256<byte> v7);
        /// <summary>Integer sums of the transposed weight vector <paramref name="v"/> with activation vector <paramref name="a"/>, added to <paramref name="acc"/>.</summary>
        static abstract Vector256<int> Mul(Vector256<int> acc, Vector256<byte> v, Vector256<byte> abs, byte* a);
        static abstract bool NeedsAbs { get; }
    }

    struct Q8 : IWeights
    {
        public static int Bytes => 34;
        public static bool NeedsAbs => !AvxVnni.IsSupported;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* w, out Vector256<byte> v0, out Vector256<byte> v1, out Vector256<byte> v2, out Vector256<byte> v3,
            out Vector256<byte> v4, out Vector256<byte> v5, out Vector256<byte> v6, out Vector256<byte> v7)
        {
            TransposeQ8(w + 2, out v0, out v1, out v2, out v3, out v4, out v5, out v6, out v7);
            if (AvxVnni.IsSupported)
            {
                var bias = Vector256.Create((byte)0x80);
                v0 ^= bias; v1 ^= bias; v2 ^= bias; v3 ^= bias;
                v4 ^= bias; v5 ^= bias; v6 ^= bias; v7 ^= bias;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Mul(Vector256<int> acc, Vector256<byte> v, Vector256<byte> abs, byte* a)
        {
            if (AvxVnni.IsSupported) return AvxVnni.MultiplyWideningAndAdd(acc, v, Vector256.Load((sbyte*)a));
            // Sign trick: |q| (unsigned) times a with q's sign; pairs stay within 16 bits (2·128·127).
            var sy = Avx2.Sign(Vector256.Load((sbyte*)a), v.AsSByte());
            return acc + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(abs, sy), Vector256<short>.One);
        }
    }

    struct Q4 : IWeights
    {
        public static int Bytes => 18;
        public static bool NeedsAbs => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* w, out Vector256<byte> v0, out Vector256<byte> v1, out Vector256<byte> v2, out Vector256<byte> v3,
            out Vector256<byte> v4, out Vector256<byte> v5, out Vector256<byte> v6, out Vector256<byte> v7)
        {
            byte* q = w + 2;
            // Byte e of a block holds element e (low nibble) and element e + 16 (high nibble).
            var y0 = Vector256.Create(Vector128.Load(q), Vector128.Load(q + 4 * 18)).AsInt32();
            var y1 = Vector256.Create(Vector128.Load(q + 18), Vector128.Load(q + 5 * 18)).AsInt32();
            var y2 = Vector256.Create(Vector128.Load(q + 2 * 18), Vector128.Load(q + 6 * 18)).AsInt32();
            var y3 = Vector256.Create(Vector128.Load(q + 3 * 18), Vector128.Load(q + 7 * 18)).AsInt32();
            Transpose(y0, y1, y2, y3, out var p0, out var p1, out var p2, out var p3);
            var m = Vector256.Create((byte)0x0F);
            v0 = p0 & m; v1 = p1 & m; v2 = p2 & m; v3 = p3 & m;
            v4 = Avx2.ShiftRightLogical(p0.AsUInt16(), 4).AsByte() & m;
            v5 = Avx2.ShiftRightLogical(p1.AsUInt16(), 4).AsByte() & m;
            v6 = Avx2.ShiftRightLogical(p2.AsUInt16(), 4).AsByte() & m;
            v7 = Avx2.ShiftRightLogical(p3.AsUInt16(), 4).AsByte() & m;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Mul(Vector256<int> acc, Vector256<byte> v, Vector256<byte> abs, byte* a)
        {
            if (AvxVnni.IsSupported) return AvxVnni.MultiplyWideningAndAdd(acc, v, Vector256.Load((sbyte*)a));
            return acc + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(v, Vector256.Load((sbyte*)a)), Vector256<short>.One);
        }
    }

    /// <summary>The quants of eight consecutive 34-byte Q8_0 blocks (<paramref name="q"/> = the first block's quants)
    /// transposed: vector j holds bytes 4j..4j+3 of block b in lane b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void TransposeQ8(byte* q, out Vector256<byte> v0, out Vector256<byte> v1, out Vector256<byte> v2, out Vector256<byte> v3,
        out Vector256<byte> v4, out Vector256<byte> v5, out Vector256<byte> v6, out Vector256<byte> v7)
    {
        // [first half of block b | first half of block b + 4], then the same for the second halves.
        var y0 = Vector256.Create(Vector128.Load(q), Vector128.Load(q + 4 * 34)).AsInt32();
        var y1 = Vector256.Create(Vector128.Load(q + 34), Vector128.Load(q + 5 * 34)).AsInt32();
        var y2 = Vector256.Create(Vector128.Load(q + 2 * 34), Vector128.Load(q + 6 * 34)).AsInt32();
        var y3 = Vector256.Create(Vector128.Load(q + 3 * 34), Vector128.Load(q + 7 * 34)).AsInt32();
        var z0 = Vector256.Create(Vector128.Load(q + 16), Vector128.Load(q + 16 + 4 * 34)).AsInt32();
        var z1 = Vector256.Create(Vector128.Load(q + 16 + 34), Vector128.Load(q + 16 + 5 * 34)).AsInt32();
        var z2 = Vector256.Create(Vector128.Load(q + 16 + 2 * 34), Vector128.Load(q + 16 + 6 * 34)).AsInt32();
        var z3 = Vector256.Create(Vector128.Load(q + 16 + 3 * 34), Vector128.Load(q + 16 + 7 * 34)).AsInt32();
        Transpose(y0, y1, y2, y3, out v0, out v1, out v2, out v3);
        Transpose(z0, z1, z2, z3, out v4, out v5, out v6, out v7);
    }

    /// <summary>Sums of each four signed bytes of <paramref name="v"/> (exact: pairs fit 16 bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Quads(Vector256<byte> ones, Vector256<byte> v) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ones, v.AsSByte()), Vector256<short>.One);

    /// <summary>4×4 transpose of 32-bit elements within each 128-bit half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose(Vector256<int> a, Vector256<int> b, Vector256<int> c, Vector256<int> d,
        out Vector256<byte> o0, out Vector256<byte> o1, out Vector256<byte> o2, out Vector256<byte> o3)
    {
        var t0 = Avx2.UnpackLow(a, b).AsInt64();
        var t1 = Avx2.UnpackHigh(a, b).AsInt64();
        var t2 = Avx2.UnpackLow(c, d).AsInt64();
        var t3 = Avx2.UnpackHigh(c, d).AsInt64();
        o0 = Avx2.UnpackLow(t0, t2).AsByte();
        o1 = Avx2.UnpackHigh(t0, t2).AsByte();
        o2 = Avx2.UnpackLow(t1, t3).AsByte();
        o3 = Avx2.UnpackHigh(t1, t3).AsByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Scales<TW>(byte* w) where TW : struct, IWeights
    {
        int n = TW.Bytes;
        var h = Vector256.Create(*(ushort*)w, *(ushort*)(w + n), *(ushort*)(w + 2 * n), *(ushort*)(w + 3 * n),
            *(ushort*)(w + 4 * n), *(ushort*)(w + 5 * n), *(ushort*)(w + 6 * n), (uint)*(ushort*)(w + 7 * n));
        return Fp16.ToFloat(h);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Token<TW>(Vector256<byte> v0, Vector256<byte> v1, Vector256<byte> v2, Vector256<byte> v3,
        Vector256<byte> v4, Vector256<byte> v5, Vector256<byte> v6, Vector256<byte> v7,
        Vector256<byte> a0, Vector256<byte> a1, Vector256<byte> a2, Vector256<byte> a3,
        Vector256<byte> a4, Vector256<byte> a5, Vector256<byte> a6, Vector256<byte> a7,
        Vector256<float> ws, byte* a, Vector256<float> acc) where TW : struct, IWeights
    {
        // One integer chain from the stored start: the tokens (and groups) are independent, so out-of-order
        // execution overlaps the chains, and no extra add joins two halves.
        var s = Vector256.Load((int*)(a + 256));
        s = TW.Mul(s, v0, a0, a);
        s = TW.Mul(s, v1, a1, a + 32);
        s = TW.Mul(s, v2, a2, a + 64);
        s = TW.Mul(s, v3, a3, a + 96);
        s = TW.Mul(s, v4, a4, a + 128);
        s = TW.Mul(s, v5, a5, a + 160);
        s = TW.Mul(s, v6, a6, a + 192);
        s = TW.Mul(s, v7, a7, a + 224);
        return Fma.MultiplyAdd(ws * Vector256.Load((float*)(a + 288)), Avx.ConvertToVector256Single(s), acc);
    }

    /// <summary>One group of eight weight blocks at <paramref name="wg"/> ready for <see cref="Token{TW}"/>: the
    /// transposed vectors, their absolute values where the sign trick needs them, and the eight scales. With fewer
    /// than eight blocks <paramref name="left"/> in the row, the group is read through <paramref name="tail"/> (8 × 34
    /// bytes) with the missing blocks zero (scale 0, quants 0): adding 0·0 leaves an accumulator lane unchanged bit
    /// for bit (it is never −0), so this equals skipping them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void LoadGroup<TW>(byte* wg, int left, byte* tail,
        out Vector256<byte> v0, out Vector256<byte> v1, out Vector256<byte> v2, out Vector256<byte> v3,
        out Vector256<byte> v4, out Vector256<byte> v5, out Vector256<byte> v6, out Vector256<byte> v7,
        out Vector256<byte> a0, out Vector256<byte> a1, out Vector256<byte> a2, out Vector256<byte> a3,
        out Vector256<byte> a4, out Vector256<byte> a5, out Vector256<byte> a6, out Vector256<byte> a7,
        out Vector256<float> ws) where TW : struct, IWeights
    {
        if (left < 8)
        {
            new Span<byte>(tail, 8 * TW.Bytes).Clear();
            Buffer.MemoryCopy(wg, tail, 8 * TW.Bytes, left * TW.Bytes);
            wg = tail;
        }
        TW.Load(wg, out v0, out v1, out v2, out v3, out v4, out v5, out v6, out v7);
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = default;
        if (TW.NeedsAbs)
        {
            a0 = Avx2.Abs(v0.AsSByte()); a1 = Avx2.Abs(v1.AsSByte()); a2 = Avx2.Abs(v2.AsSByte()); a3 = Avx2.Abs(v3.AsSByte());
            a4 = Avx2.Abs(v4.AsSByte()); a5 = Avx2.Abs(v5.AsSByte()); a6 = Avx2.Abs(v6.AsSByte()); a7 = Avx2.Abs(v7.AsSByte());
        }
        ws = Scales<TW>(wg);
    }

    /// <summary>Rows of weights per block of <see cref="Multiply"/> and activation rows per tile: the tile's slice of
    /// one group (16 × 320 bytes) stays in L1 while the block's rows pass over it.</summary>
    const int RowBlock = 8, TokenTile = 16;

    /// <summary>y[t·<paramref name="yStride"/> + r] = dot(weight row r, arranged activation row t) for rows
    /// [r0, r1) of the matrix at <paramref name="w"/> (rows <paramref name="rowBytes"/> apart) and t in [0, tokens);
    /// every element equals <see cref="Dot(GgmlType, byte*, int, byte*, long, int, float*)"/> bit for bit (the same
    /// operations per row and token, in another interleaving).</summary>
    [SkipLocalsInit]
    public static void Multiply(GgmlType type, byte* w, long rowBytes, int r0, int r1, int nb, byte* act, long stride, int tokens, float* y, long yStride)
    {
        if (type == GgmlType.Q8_0) Multiply<Q8>(w, rowBytes, r0, r1, nb, act, stride, tokens, y, yStride);
        else Multiply<Q4>(w, rowBytes, r0, r1, nb, act, stride, tokens, y, yStride);
    }

    [SkipLocalsInit]
    static void Multiply<TW>(byte* w, long rowBytes, int r0, int r1, int nb, byte* act, long stride, int tokens, float* y, long yStride)
        where TW : struct, IWeights
    {
        Vector256<float>* acc = stackalloc Vector256<float>[RowBlock * TokenTile];
        byte* tail = stackalloc byte[8 * 34];
        int groups = (nb + 7) / 8;
        for (int rb = r0; rb < r1; rb += RowBlock)
        {
            int nr = Math.Min(RowBlock, r1 - rb);
            for (int t0 = 0; t0 < tokens; t0 += TokenTile)
            {
                int nt = Math.Min(TokenTile, tokens - t0);
                for (int i = 0; i < nr * TokenTile; i++) acc[i] = Vector256<float>.Zero;
                for (int g = 0; g < groups; g++)
                {
                    byte* ag = act + t0 * stride + (long)g * GroupBytes;
                    int left = nb - 8 * g;
                    for (int r = 0; r < nr; r++)
                    {
                        LoadGroup<TW>(w + (rb + r) * rowBytes + (long)g * 8 * TW.Bytes, left, tail,
                            out var v0, out var v1, out var v2, out var v3, out var v4, out var v5, out var v6, out var v7,
                            out var a0, out var a1, out var a2, out var a3, out var a4, out var a5, out var a6, out var a7, out var ws);
                        Vector256<float>* ar = acc + r * TokenTile;
                        byte* a = ag;
                        for (int t = 0; t < nt; t++, a += stride)
                            ar[t] = Token<TW>(v0, v1, v2, v3, v4, v5, v6, v7, a0, a1, a2, a3, a4, a5, a6, a7, ws, a, ar[t]);
                    }
                }
                for (int r = 0; r < nr; r++)
                    for (int t = 0; t < nt; t++)
                        y[(t0 + t) * yStride + rb + r] = RowKernels.HorizontalSum(acc[r * TokenTile + t]);
            }
        }
    }

    [SkipLocalsInit]
    static void Dot<TW>(byte* w, int nb, byte* act, long stride, int tokens, float* result) where TW : struct, IWeights
    {
        // One accumulator per token, kept in memory for batches (the eight weight vectors stay in registers
        // while every token of the tile passes over them); a single token keeps its accumulator in a register.
        var acc0 = Vector256<float>.Zero;
        Vector256<float>* acc = stackalloc Vector256<float>[tokens];
        for (int t = 0; t < tokens; t++) acc[t] = Vector256<float>.Zero;
        int groups = (nb + 7) / 8;
        byte* tail = stackalloc byte[8 * 34];
        for (int g = 0; g < groups; g++)
        {
            LoadGroup<TW>(w + (long)g * 8 * TW.Bytes, nb - 8 * g, tail,
                out var v0, out var v1, out var v2, out var v3, out var v4, out var v5, out var v6, out var v7,
                out var a0, out var a1, out var a2, out var a3, out var a4, out var a5, out var a6, out var a7, out var ws);
            byte* a = act + (long)g * GroupBytes;
            if (tokens == 1)
            {
                acc0 = Token<TW>(v0, v1, v2, v3, v4, v5, v6, v7, a0, a1, a2, a3, a4, a5, a6, a7, ws, a, acc0);
                continue;
            }
            for (int t = 0; t < tokens; t++, a += stride)
                acc[t] = Token<TW>(v0, v1, v2, v3, v4, v5, v6, v7, a0, a1, a2, a3, a4, a5, a6, a7, ws, a, acc[t]);
        }
        if (tokens == 1) acc[0] = acc0;
        for (int t = 0; t < tokens; t++) result[t] = RowKernels.HorizontalSum(acc[t]);
    }
}
