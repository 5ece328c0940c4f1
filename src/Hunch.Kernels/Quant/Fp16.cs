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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToFloat(Vector256<uint> h)
    {
        var sign = (h & Vector256.Create(0x8000u)) << 16;
        var em = h & Vector256.Create(0x7FFFu);
        var shifted = em << 13;
        var normal = shifted + Vector256.Create(112u << 23);
        var special = shifted | Vector256.Create(0x7F800000u);
        var sub = (Vector256.AsSingle(shifted + Vector256.Create(113u << 23)) - Vector256.Create(6.103515625e-05f)).AsUInt32();
        var isSub = Vector256.LessThan(em, Vector256.Create(0x0400u));
        var isSpecial = Vector256.GreaterThanOrEqual(em, Vector256.Create(0x7C00u));
        var r = Vector256.ConditionalSelect(isSub, sub, Vector256.ConditionalSelect(isSpecial, special, normal));
        return (r | sign).AsSingle();
    }
}
