using System.Runtime.CompilerServices;

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

    public static void QuantizeQ8_0(float* x, int columns, byte* destination)
    {
        int nb = columns / 32;
        for (int b = 0; b < nb; b++)
        {
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

    public static void QuantizeQ8_K(float* x, int columns, byte* destination)
    {
        int nb = columns / 256;
        for (int b = 0; b < nb; b++)
        {
            float* xb = x + b * 256;
            byte* y = destination + b * Q8_KBytes;
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
