using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Hunch.Kernels.Quant;

/// <summary>
/// AVX2 quantized dot products of one weight row with up to four prepared activation rows at once (each weight
/// block is loaded and unpacked once, then multiplied with every activation row). The arithmetic per activation
/// row is the same whatever the number of rows, and equals <see cref="DotScalar"/> bit for bit: integer products
/// by the sign trick (u8×s8 pairs with <c>vpmaddubsw</c>, then pairs of s16 with <c>vpmaddwd</c>) give exact 32-bit
/// lane sums; each block's 8 lane sums are converted to float and fused-multiply-added with the block's combined
/// scale into one accumulator per activation row; the accumulator is reduced in the fixed tree of
/// <see cref="RowKernels.HorizontalSum"/>. This is llama.cpp's AVX2 <c>ggml_vec_dot_*</c> scheme.
/// </summary>
internal static unsafe class DotAvx2
{
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Decoder of one 32-element weight block into 32 signed (or, for Q4_1/Q5_1, unsigned) bytes.</summary>
    internal interface IBlock32
    {
        static abstract int Bytes { get; }
        static abstract Vector256<sbyte> Load(byte* block);
    }

    internal struct BlockQ5_0 : IBlock32
    {
        public static int Bytes => 22;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Load(byte* b)
        {
            // nibble | 0xF0 where the fifth bit is clear: the byte then reads as (q5 − 16) in two's complement.
            var bits = BytesFromBits(*(uint*)(b + 2));
            return (Nibbles(b + 6) | (~bits & Vector256.Create((byte)0xF0))).AsSByte();
        }
    }

    internal struct BlockQ4_1 : IBlock32
    {
        public static int Bytes => 20;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Load(byte* b) => Nibbles(b + 4).AsSByte();
    }

    internal struct BlockQ5_1 : IBlock32
    {
        public static int Bytes => 24;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Load(byte* b)
        {
            var bits = BytesFromBits(*(uint*)(b + 4));
            return (Nibbles(b + 8) | (bits & Vector256.Create((byte)0x10))).AsSByte();
        }
    }

    /// <summary>16 bytes of packed nibbles to 32 bytes: low nibbles in the lower half (elements 0..15), high
    /// nibbles in the upper half (elements 16..31).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<byte> Nibbles(byte* p)
    {
        var v = Vector128.Load(p);
        var hi = Sse2.ShiftRightLogical(v.AsUInt16(), 4).AsByte();
        return Vector256.Create(v, hi) & Vector256.Create((byte)0x0F);
    }

    /// <summary>Bit j of <paramref name="x"/> to byte j (0xFF when set, 0 when clear).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<byte> BytesFromBits(uint x)
    {
        var v = Vector256.Create(x).AsByte();
        var spread = Avx2.Shuffle(v, Vector256.Create(
            (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        var mask = Vector256.Create(0x8040201008040201UL).AsByte();
        return Vector256.Equals(spread & mask, mask);
    }

    /// <summary>Lane sums of signed weights <paramref name="x"/> (|x| precomputed) times activations at <paramref name="a"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> MulSigned(Vector256<byte> ax, Vector256<sbyte> x, byte* a)
    {
        var sy = Avx2.Sign(Vector256.Load((sbyte*)a), x);
        // VNNI sums the four u8×s8 products of each lane in one instruction; no pair saturates in these ranges
        // (|x| ≤ 128, |a| ≤ 127), so the lane sums are the same integers either way.
        if (AvxVnni.IsSupported) return Avx.ConvertToVector256Single(AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, ax, sy));
        var p16 = Avx2.MultiplyAddAdjacent(ax, sy);
        return Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(p16, Vector256<short>.One));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> MulUnsigned(Vector256<byte> x, byte* a)
    {
        if (AvxVnni.IsSupported) return Avx.ConvertToVector256Single(AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, x, Vector256.Load((sbyte*)a)));
        var p16 = Avx2.MultiplyAddAdjacent(x, Vector256.Load((sbyte*)a));
        return Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(p16, Vector256<short>.One));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float H(byte* p) => Fp16.ToFloat(*(ushort*)p);

    /// <summary>
    /// Signed 32-element blocks (Q5_0; Q8_0 and Q4_0 use <see cref="Tiled.BlockGroups"/>) against Q8_0 activations. Activation row t starts at
    /// act + t·actStride; its block scales, already converted to float, are at actScale + t·nb.
    /// </summary>
    public static void Signed32<TB>(byte* w, int nb, byte* act, long actStride, float* actScale, int tokens, float* result)
        where TB : struct, IBlock32
    {
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var acc2 = Vector256<float>.Zero;
        var acc3 = Vector256<float>.Zero;
        byte* a = act + 2;
        for (int b = 0; b < nb; b++, w += TB.Bytes, a += 34)
        {
            var qx = TB.Load(w);
            float dw = H(w);
            var ax = Avx2.Abs(qx);
            acc0 = Fma.MultiplyAdd(Vector256.Create(dw * actScale[b]), MulSigned(ax, qx, a), acc0);
            if (tokens > 1)
            {
                acc1 = Fma.MultiplyAdd(Vector256.Create(dw * actScale[nb + b]), MulSigned(ax, qx, a + actStride), acc1);
                if (tokens > 2)
                {
                    acc2 = Fma.MultiplyAdd(Vector256.Create(dw * actScale[2 * nb + b]), MulSigned(ax, qx, a + 2 * actStride), acc2);
                    if (tokens > 3)
                        acc3 = Fma.MultiplyAdd(Vector256.Create(dw * actScale[3 * nb + b]), MulSigned(ax, qx, a + 3 * actStride), acc3);
                }
            }
        }
        result[0] = RowKernels.HorizontalSum(acc0);
        if (tokens > 1) result[1] = RowKernels.HorizontalSum(acc1);
        if (tokens > 2) result[2] = RowKernels.HorizontalSum(acc2);
        if (tokens > 3) result[3] = RowKernels.HorizontalSum(acc3);
    }

    /// <summary>Unsigned 32-element blocks with a minimum (Q4_1, Q5_1) against Q8_1 activations:
    /// Σ (d_w·d_a)·lanes + Σ m_w·s_a, the second sum in block order.</summary>
    public static void Unsigned32<TB>(byte* w, int nb, byte* act, long actStride, int tokens, float* result)
        where TB : struct, IBlock32
    {
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        float s0 = 0, s1 = 0;
        for (int t0 = 0; t0 < tokens; t0 += 2)
        {
            // Two activation rows per pass (four accumulators would spill with the extra minimum sums).
            bool two = t0 + 1 < tokens;
            byte* w1 = w;
            byte* a0 = act + t0 * actStride;
            byte* a1 = a0 + actStride;
            acc0 = acc1 = Vector256<float>.Zero;
            s0 = s1 = 0;
            for (int b = 0; b < nb; b++, w1 += TB.Bytes, a0 += 36, a1 += 36)
            {
                var qx = TB.Load(w1).AsByte();
                float dw = H(w1), mw = H(w1 + 2);
                s0 = MathF.FusedMultiplyAdd(mw, H(a0 + 2), s0);
                acc0 = Fma.MultiplyAdd(Vector256.Create(dw * H(a0)), MulUnsigned(qx, a0 + 4), acc0);
                if (two)
                {
                    s1 = MathF.FusedMultiplyAdd(mw, H(a1 + 2), s1);
                    acc1 = Fma.MultiplyAdd(Vector256.Create(dw * H(a1)), MulUnsigned(qx, a1 + 4), acc1);
                }
            }
            result[t0] = RowKernels.HorizontalSum(acc0) + s0;
            if (two) result[t0 + 1] = RowKernels.HorizontalSum(acc1) + s1;
        }
    }

    /// <summary>Q4_K weights against Q8_K activations (llama.cpp's scheme: 6-bit sub-block scales applied to
    /// 16-bit pair sums; minimums through the activation block sums into a separate 4-lane accumulator). Each
    /// super-block is unpacked once for all the tokens of the call (up to 16 at a time, accumulators on the stack);
    /// every token's float operations are the same, in the same order, whatever the number of tokens.</summary>
    [SkipLocalsInit]
    public static void Q4_K(byte* w, int nb, byte* act, long actStride, int tokens, float* result)
    {
        const int Tile = 16;
        byte* sc = stackalloc byte[16];
        Vector256<float>* acc = stackalloc Vector256<float>[Tile];
        Vector128<float>* accm = stackalloc Vector128<float>[Tile];
        var m4 = Vector256.Create((byte)0x0F);
        for (int t0 = 0; t0 < tokens; t0 += Tile)
        {
            int nt = Math.Min(Tile, tokens - t0);
            for (int t = 0; t < nt; t++) { acc[t] = Vector256<float>.Zero; accm[t] = Vector128<float>.Zero; }
            byte* wb = w;
            long ao = 0;
            for (int b = 0; b < nb; b++, wb += 144, ao += 292)
            {
                float dw = H(wb), dminw = H(wb + 2);
                UnpackScalesK4(wb + 4, sc);
                var mins = Sse41.ConvertToVector128Int16(Vector128.CreateScalar(*(ulong*)(sc + 8)).AsByte());
                var b0 = Vector256.Load(wb + 16);
                var b1 = Vector256.Load(wb + 48);
                var b2 = Vector256.Load(wb + 80);
                var b3 = Vector256.Load(wb + 112);
                var lo0 = b0 & m4; var hi0 = Avx2.ShiftRightLogical(b0.AsUInt16(), 4).AsByte() & m4;
                var lo1 = b1 & m4; var hi1 = Avx2.ShiftRightLogical(b1.AsUInt16(), 4).AsByte() & m4;
                var lo2 = b2 & m4; var hi2 = Avx2.ShiftRightLogical(b2.AsUInt16(), 4).AsByte() & m4;
                var lo3 = b3 & m4; var hi3 = Avx2.ShiftRightLogical(b3.AsUInt16(), 4).AsByte() & m4;
                var sl0 = Vector256.Create((short)sc[0]); var sh0 = Vector256.Create((short)sc[1]);
                var sl1 = Vector256.Create((short)sc[2]); var sh1 = Vector256.Create((short)sc[3]);
                var sl2 = Vector256.Create((short)sc[4]); var sh2 = Vector256.Create((short)sc[5]);
                var sl3 = Vector256.Create((short)sc[6]); var sh3 = Vector256.Create((short)sc[7]);
                byte* a = act + t0 * actStride + ao;
                for (int t = 0; t < nt; t++, a += actStride)
                {
                    float ad = *(float*)a;
                    accm[t] = Fma.MultiplyAdd(Vector128.Create(-ad * dminw), MinSums(mins, a), accm[t]);
                    // Exact integer sums: the grouping of the additions does not change them.
                    var sumi = (ScaledPairs(lo0, a + 4, sl0) + ScaledPairs(hi0, a + 36, sh0))
                        + (ScaledPairs(lo1, a + 68, sl1) + ScaledPairs(hi1, a + 100, sh1));
                    var sumj = (ScaledPairs(lo2, a + 132, sl2) + ScaledPairs(hi2, a + 164, sh2))
                        + (ScaledPairs(lo3, a + 196, sl3) + ScaledPairs(hi3, a + 228, sh3));
                    acc[t] = Fma.MultiplyAdd(Vector256.Create(ad * dw), Avx.ConvertToVector256Single(sumi + sumj), acc[t]);
                }
            }
            for (int t = 0; t < nt; t++) result[t0 + t] = RowKernels.HorizontalSum(acc[t]) + Sum4(accm[t]);
        }
    }

    /// <summary>Q5_K weights against Q8_K activations (as Q4_K, with the fifth bit from qh; minimums summed as one
    /// integer per block into a scalar, as llama.cpp's AVX2 kernel does).</summary>
    public static void Q5_K(byte* w, int nb, byte* act, long actStride, int tokens, float* result)
    {
        byte* sc = stackalloc byte[16];
        for (int t0 = 0; t0 < tokens; t0 += 2)
        {
            bool two = t0 + 1 < tokens;
            byte* a0 = act + t0 * actStride;
            byte* a1 = a0 + actStride;
            var acc0 = Vector256<float>.Zero;
            var acc1 = Vector256<float>.Zero;
            float sm0 = 0, sm1 = 0;
            byte* wb = w;
            for (int b = 0; b < nb; b++, wb += 176, a0 += 292, a1 += 292)
            {
                float dw = H(wb), dminw = H(wb + 2);
                UnpackScalesK4(wb + 4, sc);
                var mins = Sse41.ConvertToVector128Int16(Vector128.CreateScalar(*(ulong*)(sc + 8)).AsByte());
                float ad0 = *(float*)a0;
                sm0 = MathF.FusedMultiplyAdd(-ad0 * dminw, MinSumInt(mins, a0), sm0);
                float ad1 = 0;
                if (two)
                {
                    ad1 = *(float*)a1;
                    sm1 = MathF.FusedMultiplyAdd(-ad1 * dminw, MinSumInt(mins, a1), sm1);
                }
                var sumi0 = Vector256<int>.Zero;
                var sumi1 = Vector256<int>.Zero;
                var hbits = Vector256.Load(wb + 16);
                byte* q = wb + 48;
                for (int j = 0; j < 4; j++, q += 32)
                {
                    var bits = Vector256.Load(q);
                    var lo = (bits & Vector256.Create((byte)0x0F)) | HighBit(hbits, 2 * j);
                    var hi = (Avx2.ShiftRightLogical(bits.AsUInt16(), 4).AsByte() & Vector256.Create((byte)0x0F)) | HighBit(hbits, 2 * j + 1);
                    var sl = Vector256.Create((short)sc[2 * j]);
                    var sh = Vector256.Create((short)sc[2 * j + 1]);
                    sumi0 += ScaledPairs(lo, a0 + 4 + 64 * j, sl) + ScaledPairs(hi, a0 + 36 + 64 * j, sh);
                    if (two) sumi1 += ScaledPairs(lo, a1 + 4 + 64 * j, sl) + ScaledPairs(hi, a1 + 36 + 64 * j, sh);
                }
                acc0 = Fma.MultiplyAdd(Vector256.Create(ad0 * dw), Avx.ConvertToVector256Single(sumi0), acc0);
                if (two) acc1 = Fma.MultiplyAdd(Vector256.Create(ad1 * dw), Avx.ConvertToVector256Single(sumi1), acc1);
            }
            result[t0] = RowKernels.HorizontalSum(acc0) + sm0;
            if (two) result[t0 + 1] = RowKernels.HorizontalSum(acc1) + sm1;
        }
    }

    /// <summary>Q6_K weights against Q8_K activations: (q6 − 32)·a per pair as maddubs(q6, a) − maddubs(32, a),
    /// then the signed 8-bit group scales.</summary>
    public static void Q6_K(byte* w, int nb, byte* act, long actStride, int tokens, float* result)
    {
        for (int t0 = 0; t0 < tokens; t0 += 2)
        {
            bool two = t0 + 1 < tokens;
            byte* a0 = act + t0 * actStride;
            byte* a1 = a0 + actStride;
            var acc0 = Vector256<float>.Zero;
            var acc1 = Vector256<float>.Zero;
            byte* wb = w;
            var m4 = Vector256.Create((byte)0x0F);
            var m2 = Vector256.Create((byte)0x03);
            for (int b = 0; b < nb; b++, wb += 210, a0 += 292, a1 += 292)
            {
                float dw = H(wb + 208);
                var scales = Vector128.Load((sbyte*)(wb + 192));
                var sumi0 = Vector256<int>.Zero;
                var sumi1 = Vector256<int>.Zero;
                for (int n = 0; n < 2; n++)
                {
                    byte* ql = wb + 64 * n;
                    var q1 = Vector256.Load(ql);
                    var q2 = Vector256.Load(ql + 32);
                    var qh = Vector256.Load(wb + 128 + 32 * n);
                    var h0 = Avx2.ShiftLeftLogical((qh & m2).AsUInt16(), 4).AsByte();
                    var h1 = Avx2.ShiftLeftLogical((Avx2.ShiftRightLogical(qh.AsUInt16(), 2).AsByte() & m2).AsUInt16(), 4).AsByte();
                    var h2 = Avx2.ShiftLeftLogical((Avx2.ShiftRightLogical(qh.AsUInt16(), 4).AsByte() & m2).AsUInt16(), 4).AsByte();
                    var h3 = Avx2.ShiftLeftLogical((Avx2.ShiftRightLogical(qh.AsUInt16(), 6).AsByte() & m2).AsUInt16(), 4).AsByte();
                    var c0 = (q1 & m4) | h0;
                    var c1 = (q2 & m4) | h1;
                    var c2 = (Avx2.ShiftRightLogical(q1.AsUInt16(), 4).AsByte() & m4) | h2;
                    var c3 = (Avx2.ShiftRightLogical(q2.AsUInt16(), 4).AsByte() & m4) | h3;
                    var s0 = GroupScales(scales, 4 * n + 0);
                    var s1 = GroupScales(scales, 4 * n + 1);
                    var s2 = GroupScales(scales, 4 * n + 2);
                    var s3 = GroupScales(scales, 4 * n + 3);
                    byte* x0 = a0 + 4 + 128 * n;
                    sumi0 += (Offset32(c0, x0, s0) + Offset32(c1, x0 + 32, s1)) + (Offset32(c2, x0 + 64, s2) + Offset32(c3, x0 + 96, s3));
                    if (two)
                    {
                        byte* x1 = a1 + 4 + 128 * n;
                        sumi1 += (Offset32(c0, x1, s0) + Offset32(c1, x1 + 32, s1)) + (Offset32(c2, x1 + 64, s2) + Offset32(c3, x1 + 96, s3));
                    }
                }
                acc0 = Fma.MultiplyAdd(Vector256.Create(*(float*)a0 * dw), Avx.ConvertToVector256Single(sumi0), acc0);
                if (two) acc1 = Fma.MultiplyAdd(Vector256.Create(*(float*)a1 * dw), Avx.ConvertToVector256Single(sumi1), acc1);
            }
            result[t0] = RowKernels.HorizontalSum(acc0);
            if (two) result[t0 + 1] = RowKernels.HorizontalSum(acc1);
        }
    }

    /// <summary>Q2_K weights against Q8_K activations (minimums through the block sums into the same lanes first).</summary>
    public static void Q2_K(byte* w, int nb, byte* act, long actStride, int tokens, float* result)
    {
        for (int t = 0; t < tokens; t++)
        {
            byte* a = act + t * actStride;
            var acc = Vector256<float>.Zero;
            byte* wb = w;
            for (int b = 0; b < nb; b++, wb += 84, a += 292)
            {
                float ad = *(float*)a;
                var raw = Vector128.Load(wb);
                var sc8 = raw & Vector128.Create((byte)0x0F);
                var mn8 = Sse2.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & Vector128.Create((byte)0x0F);
                var prod = Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(mn8), Vector256.Load((short*)(a + 260)));
                acc = Fma.MultiplyAdd(Vector256.Create(-ad * H(wb + 82)), Avx.ConvertToVector256Single(prod), acc);
                var sumi = Vector256<int>.Zero;
                for (int n = 0; n < 2; n++)
                {
                    var bits = Vector256.Load(wb + 16 + 32 * n);
                    byte* x = a + 4 + 128 * n;
                    for (int s = 0; s < 4; s++)
                    {
                        var q = Vector256.ShiftRightLogical(bits.AsUInt16(), 2 * s).AsByte() & Vector256.Create((byte)3);
                        sumi += Avx2.MultiplyAddAdjacent(GroupScales(sc8.AsSByte(), 4 * n + s), Avx2.MultiplyAddAdjacent(q, Vector256.Load((sbyte*)(x + 32 * s))));
                    }
                }
                acc = Fma.MultiplyAdd(Vector256.Create(ad * H(wb + 80)), Avx.ConvertToVector256Single(sumi), acc);
            }
            result[t] = RowKernels.HorizontalSum(acc);
        }
    }

    /// <summary>Q3_K weights against Q8_K activations: (q2 − 4·[high bit clear])·a as maddubs(q2, a) − maddubs(4 or 0, a).</summary>
    public static void Q3_K(byte* w, int nb, byte* act, long actStride, int tokens, float* result)
    {
        sbyte* sc = stackalloc sbyte[16];
        for (int t = 0; t < tokens; t++)
        {
            byte* a = act + t * actStride;
            var acc = Vector256<float>.Zero;
            byte* wb = w;
            for (int b = 0; b < nb; b++, wb += 110, a += 292)
            {
                Dequantizer.ScalesQ3K(wb + 96, sc);
                var scales = Vector128.Load(sc);
                var hbits = Vector256.Load(wb);
                var sumi = Vector256<int>.Zero;
                for (int n = 0; n < 2; n++)
                {
                    var bits = Vector256.Load(wb + 32 + 32 * n);
                    byte* x = a + 4 + 128 * n;
                    for (int s = 0; s < 4; s++)
                    {
                        int bit = 4 * n + s;
                        var ql = Vector256.ShiftRightLogical(bits.AsUInt16(), 2 * s).AsByte() & Vector256.Create((byte)3);
                        // 4 where the high bit is clear, 0 where it is set.
                        var qh = Avx2.ShiftLeftLogical(Vector256.ShiftRightLogical((~hbits & Vector256.Create((byte)(1 << bit))).AsUInt16(), bit), 2).AsByte();
                        var y = Vector256.Load((sbyte*)(x + 32 * s));
                        var p16 = Avx2.MultiplyAddAdjacent(ql, y) - Avx2.MultiplyAddAdjacent(qh, y);
                        sumi += Avx2.MultiplyAddAdjacent(GroupScales(scales, bit), p16);
                    }
                }
                acc = Fma.MultiplyAdd(Vector256.Create(*(float*)a * H(wb + 108)), Avx.ConvertToVector256Single(sumi), acc);
            }
            result[t] = RowKernels.HorizontalSum(acc);
        }
    }

    /// <summary>Scales and minimums of a Q4_K/Q5_K block: bytes 0..7 the scales, 8..15 the minimums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void UnpackScalesK4(byte* packed, byte* dst)
    {
        uint u0 = ((uint*)packed)[0], u1 = ((uint*)packed)[1], u2 = ((uint*)packed)[2];
        const uint k1 = 0x3f3f3f3f, k2 = 0x0f0f0f0f, k3 = 0x03030303;
        uint* d = (uint*)dst;
        d[0] = u0 & k1;
        d[1] = (u2 & k2) | (((u0 >> 6) & k3) << 4);
        d[2] = u1 & k1;
        d[3] = ((u2 >> 4) & k2) | (((u1 >> 6) & k3) << 4);
    }

    /// <summary>4 lanes: m[2k]·S[2k] + m[2k+1]·S[2k+1], S the 32-element sums of the activation block, as floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> MinSums(Vector128<short> mins, byte* a)
    {
        var bs = Vector256.Load((short*)(a + 260));
        var sums = Ssse3.HorizontalAdd(bs.GetLower(), bs.GetUpper());
        return Sse2.ConvertToVector128Single(Sse2.MultiplyAddAdjacent(mins, sums));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int MinSumInt(Vector128<short> mins, byte* a)
    {
        var bs = Vector256.Load((short*)(a + 260));
        var sums = Ssse3.HorizontalAdd(bs.GetLower(), bs.GetUpper());
        var p = Sse2.MultiplyAddAdjacent(mins, sums);
        return (p.GetElement(0) + p.GetElement(1)) + (p.GetElement(2) + p.GetElement(3));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Sum4(Vector128<float> v) => (v.GetElement(0) + v.GetElement(2)) + (v.GetElement(1) + v.GetElement(3));

    /// <summary>Scale × (u8 q · s8 a) over 32 bytes, as 8 int lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> ScaledPairs(Vector256<byte> q, byte* a, Vector256<short> scale) =>
        Avx2.MultiplyAddAdjacent(scale, Avx2.MultiplyAddAdjacent(q, Vector256.Load((sbyte*)a)));

    /// <summary>Bit <paramref name="bit"/> of each byte moved to bit 4 (adds 16 to a 4-bit quant).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<byte> HighBit(Vector256<byte> hbits, int bit) =>
        Avx2.ShiftLeftLogical(Vector256.ShiftRightLogical((hbits & Vector256.Create((byte)(1 << bit))).AsUInt16(), bit), 4).AsByte();

    /// <summary>16 shorts: scale 2i for the lower 8 (elements 0..15 of a chunk), scale 2i+1 for the upper 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<short> GroupScales(Vector128<sbyte> scales, int i)
    {
        var pick = Vector128.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1) + Vector128.Create((byte)(2 * i));
        return Avx2.ConvertToVector256Int16(Ssse3.Shuffle(scales, pick.AsSByte()));
    }

    /// <summary>Σ scale·(q − 32)·a over 32 bytes as 8 int lanes (q unsigned 6-bit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Offset32(Vector256<byte> q, byte* a, Vector256<short> scale)
    {
        var y = Vector256.Load((sbyte*)a);
        var p16 = Avx2.MultiplyAddAdjacent(q, y) - Avx2.MultiplyAddAdjacent(Vector256.Create((byte)32), y);
        return Avx2.MultiplyAddAdjacent(scale, p16);
    }
}
