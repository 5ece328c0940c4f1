using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Hunch.Kernels.Quant;

/// <summary>
/// Exact binary16 to float conversion with integer arithmetic only: block scales are converted once per block in
/// the hot loops, and the branch-light form here is several times cheaper than the general library conversion.
/// Results equal <see cref="Numerics.HalfToFloat"/> for every input except NaN payload details.
/// </summary>
internal static class Fp16
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort h)
    {
        uint sign = (uint)(h & 0x8000) << 16;
        uint em = (uint)(h & 0x7FFF);
        uint bits;
        if (em >= 0x0400)
        {
            // Normal numbers: rebias the exponent from 15 to 127; infinities and NaN get the all-ones exponent.
            bits = em < 0x7C00 ? (em << 13) + (112u << 23) : (em << 13) | 0x7F800000u;
            return BitConverter.UInt32BitsToSingle(bits | sign);
        }
        // Zero and subnormals: m * 2^-24, computed exactly as (2^-14 + m * 2^-24) - 2^-14.
        float f = BitConverter.UInt32BitsToSingle((em << 13) + (113u << 23)) - 6.103515625e-05f;
        return BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(f) | sign);
    }

    /// <summary>Converts 8 halves (zero-extended in 32-bit lanes) to floats, exactly.</summary>
    /// <remarks>The half's exponent and mantissa shifted into float position read as a float 2^-112 times the
    /// value, for normal and subnormal halves alike, so one multiplication by 2^112 (exact: a power of two, result
    /// in the normal range) finishes both. Infinities and NaNs (exponent all ones) land at 65536 and above; their
    /// exponent is set to all ones, which keeps the NaN payload.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToFloat(Vector256<uint> h)
    {
        var em = h & Vector256.Create(0x7FFFu);
        var sign = (h ^ em) << 16;
        var scaled = ((em << 13).AsSingle() * Vector256.Create(0x77800000u).AsSingle()).AsUInt32();
        var special = Vector256.GreaterThanOrEqual(em, Vector256.Create(0x7C00u)) & Vector256.Create(0x7F800000u);
        return (scaled | special | sign).AsSingle();
    }
}
