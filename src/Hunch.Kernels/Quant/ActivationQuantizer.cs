using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Hunch.Kernels.Quant;

/// <summary>
/// Quantizes float activation rows to the 8-bit block encodings the quantized dot products consume, exactly as
/// llama.cpp's x86 CPU backend does (the build the references were made with), so that the integer block sums
/// match its own:
/// <list type="bullet">
/// <item>Q8_0 (32 per block, f16 d): d = amax/127, q = round-half-even(x·(127/amax)) (llama.cpp's AVX2 quantizer,
/// which multiplies by 127/amax rather than 1/d and rounds half to even).</item>
/// <item>Q8_1: as Q8_0, plus s = f16(d·Σq) so the weight minimum can be applied once per block.</item>
/// <item>Q8_K (256 per block, f32 d): scale from the signed extreme m, iscale = −127/m, q = min(127, rne(iscale·x)),
/// d = 1/iscale, and bsums = the sums of each 16 consecutive q (used for the K-quant minimums and offsets).</item>
/// </list>
/// </summary>
internal static unsafe class ActivationQuantizer
{
    public const int Q8_0Bytes = 34;
    public const int Q8_1Bytes = 36;
    public const int Q8_KBytes = 292;

    /// <summary>Quantizes a row to Q8_0; <paramref name="vectors"/> = false forces the scalar definition (the
    /// reference the vector path is tested against).</summary>
    public static void QuantizeQ8_0(float* x, int columns, byte* destination, bool vectors = true)
    {
        int nb = columns / 32;
        for (int b = 0; b < nb; b++)
        {
            // Vector path for blocks of finite values with a finite 127/amax; anything else (NaN, infinities, a
            // maximum so small that 127/amax overflows) takes the scalar definition below.
            if (vectors && Avx2.IsSupported && TryQuantizeQ8_0Block(x + b * 32, destination + b * Q8_0Bytes)) continue;
            float* xb = x + b * 32;
            byte* y = destination + b * Q8_0Bytes;
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(xb[j]));
            float d = amax / 127f;
            float id = amax != 0 ? 127f / amax : 0f;
            *(ushort*)y = Numerics.FloatToHalf(d);
            sbyte* q = (sbyte*)(y + 2);
            for (int j = 0; j < 32; j++) q[j] = RoundToByte(xb[j] * id);
        }
    }

    public static void QuantizeQ8_1(float* x, int columns, byte* destination)
    {
        int nb = columns / 32;
        for (int b = 0; b < nb; b++)
        {
            float* xb = x + b * 32;
            byte* y = destination + b * Q8_1Bytes;
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(xb[j]));
            float d = amax / 127f;
            float id = amax != 0 ? 127f / amax : 0f;
            sbyte* q = (sbyte*)(y + 4);
            int sum = 0;
            for (int j = 0; j < 32; j++)
            {
                q[j] = RoundToByte(xb[j] * id);
                sum += q[j];
            }
            ((ushort*)y)[0] = Numerics.FloatToHalf(d);
            ((ushort*)y)[1] = Numerics.FloatToHalf(d * sum);
        }
    }

    /// <summary>Quantizes a row to Q8_K; <paramref name="vectors"/> = false forces the scalar definition.</summary>
    public static void QuantizeQ8_K(float* x, int columns, byte* destination, bool vectors = true)
    {
        int nb = columns / 256;
        for (int b = 0; b < nb; b++)
        {
            float* xb = x + b * 256;
            byte* y = destination + b * Q8_KBytes;
            if (vectors && Avx2.IsSupported && TryQuantizeQ8_KBlock(xb, y)) continue;
            sbyte* q = (sbyte*)(y + 4);
            short* bsums = (short*)(y + 260);
            float max = 0, amax = 0;
            for (int j = 0; j < 256; j++)
            {
                float ax = MathF.Abs(xb[j]);
                if (ax > amax) { amax = ax; max = xb[j]; }
            }
            if (amax == 0)
            {
                // An all-zero block (or one of NaNs): d = 0 and all quants zero, so it contributes nothing.
                *(float*)y = 0;
                new Span<byte>(q, 256).Clear();
                new Span<short>(bsums, 16).Clear();
                continue;
            }
            float iscale = -127f / max;
            for (int j = 0; j < 256; j++) q[j] = (sbyte)Math.Min(127, NearestInt(iscale * xb[j]));
            for (int g = 0; g < 16; g++)
            {
                int s = 0;
                for (int j = 0; j < 16; j++) s += q[g * 16 + j];
                bsums[g] = (short)s;
            }
            *(float*)y = 1 / iscale;
        }
    }

    /// <summary>One Q8_0 block with AVX2, bit for bit the scalar definition: the maximum of |x| is exact in any
    /// order, x·id is the same IEEE product, and rounding to nearest even then narrowing cannot saturate (|x·id|
    /// stays within 127 plus rounding). Returns false, writing nothing, when the block has a NaN or an infinity
    /// or 127/amax is not finite: those take the scalar path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static bool TryQuantizeQ8_0Block(float* xb, byte* y)
    {
        var x0 = Vector256.Load(xb);
        var x1 = Vector256.Load(xb + 8);
        var x2 = Vector256.Load(xb + 16);
        var x3 = Vector256.Load(xb + 24);
        var m = Vector256.Max(Vector256.Max(Vector256.Abs(x0), Vector256.Abs(x1)), Vector256.Max(Vector256.Abs(x2), Vector256.Abs(x3)));
        float amax = MaxLane(m);
        // NaN fails the comparison (and a NaN lane could be dropped by vmaxps), infinity fails it too.
        if (!(amax <= float.MaxValue) || HasNaN(x0, x1, x2, x3)) return false;
        float id = amax != 0 ? 127f / amax : 0f;
        if (!float.IsFinite(id)) return false;
        *(ushort*)y = Numerics.FloatToHalf(amax / 127f);
        var s = Vector256.Create(id);
        StoreRounded(x0 * s, x1 * s, x2 * s, x3 * s, y + 2);
        return true;
    }

    /// <summary>One Q8_K block with AVX2, bit for bit the scalar definition (the first element of largest |x|
    /// picks the sign, quants rounded to nearest even, the 16-element sums). False, writing nothing, for blocks
    /// that are all zero or hold a NaN or an infinity, or whose scale is not finite.</summary>
    static bool TryQuantizeQ8_KBlock(float* xb, byte* y)
    {
        var m = Vector256<float>.Zero;
        var finite = Vector256<float>.AllBitsSet;
        for (int j = 0; j < 256; j += 8)
        {
            var v = Vector256.Load(xb + j);
            m = Vector256.Max(m, Vector256.Abs(v));
            finite &= Vector256.LessThanOrEqual(Vector256.Abs(v), Vector256.Create(float.MaxValue));
        }
        if (finite.ExtractMostSignificantBits() != 0xFF) return false;
        float amax = MaxLane(m);
        if (amax == 0) return false;
        int first = 0;
        while (MathF.Abs(xb[first]) != amax) first++;
        float max = xb[first];
        float iscale = -127f / max;
        if (!float.IsFinite(iscale)) return false;
        var s = Vector256.Create(iscale);
        sbyte* q = (sbyte*)(y + 4);
        for (int j = 0; j < 256; j += 32)
            StoreRounded(Vector256.Load(xb + j) * s, Vector256.Load(xb + j + 8) * s, Vector256.Load(xb + j + 16) * s, Vector256.Load(xb + j + 24) * s, (byte*)q + j);
        short* bsums = (short*)(y + 260);
        var ones = Vector256.Create((byte)1);
        for (int g = 0; g < 16; g += 2)
        {
            // Pairs of quants summed to 16 bits, then 8-lane sums; lanes 0-3 hold sixteen g, 4-7 sixteen g + 1.
            var pairs = Avx2.MultiplyAddAdjacent(ones, Vector256.Load(q + 16 * g));
            var quads = Avx2.MultiplyAddAdjacent(pairs, Vector256<short>.One);
            var lo = quads.GetLower();
            var hi = quads.GetUpper();
            bsums[g] = (short)(lo[0] + lo[1] + lo[2] + lo[3]);
            bsums[g + 1] = (short)(hi[0] + hi[1] + hi[2] + hi[3]);
        }
        *(float*)y = 1 / iscale;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static bool HasNaN(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d) =>
        (Vector256.Equals(a, a) & Vector256.Equals(b, b) & Vector256.Equals(c, c) & Vector256.Equals(d, d)).ExtractMostSignificantBits() != 0xFF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float MaxLane(Vector256<float> m)
    {
        var h = Vector128.Max(m.GetLower(), m.GetUpper());
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(2, 3, 0, 1)));
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(1, 0, 3, 2)));
        return h.ToScalar();
    }

    /// <summary>Rounds 32 values within ±127.5 to nearest even and stores them as signed bytes in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreRounded(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d, byte* destination)
    {
        var ia = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(a));
        var ib = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(b));
        var ic = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(c));
        var id = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(d));
        // Packing works within 128-bit halves: the bytes come out as dwords [a0 b0 c0 d0 | a1 b1 c1 d1] (each a
        // group of four values), which one permutation puts back in order.
        var ab = Avx2.PackSignedSaturate(ia, ib);
        var cd = Avx2.PackSignedSaturate(ic, id);
        var bytes = Avx2.PackSignedSaturate(ab, cd).AsInt32();
        Vector256.Store(Avx2.PermuteVar8x32(bytes, Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)).AsByte(), destination);
    }

    /// <summary>Round half to even, clamped to the int8 range (inputs are within ±127 by construction; NaN gives 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static sbyte RoundToByte(float v)
    {
        float r = MathF.Round(v);
        if (!(r >= -128f)) return r < 0 ? (sbyte)-128 : (sbyte)0;
        return r > 127f ? (sbyte)127 : (sbyte)(int)r;
    }

    /// <summary>llama.cpp's nearest_int: round half to even for |v| below 2^22; saturates beyond, NaN gives 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int NearestInt(float v)
    {
        float r = MathF.Round(v);
        if (float.IsNaN(r)) return 0;
        if (r > 4194303f) return 4194303;
        if (r < -4194303f) return -4194303;
        return (int)r;
    }
}
