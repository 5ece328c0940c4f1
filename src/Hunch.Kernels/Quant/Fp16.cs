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

    /// <summary>Rounds a row of floats to halves, the same bits as <see cref="Numerics.FloatToHalf"/> (round to
    /// nearest even) for every input: eight at a time with integer arithmetic, and lanes of magnitude 65520 or
    /// more (overflow to infinity, infinities, NaN) through the scalar conversion. <paramref name="vectors"/> = false
    /// forces the scalar conversion (the reference the vector path is tested against).</summary>
    public static unsafe void FromFloats(float* x, int count, ushort* destination, bool vectors = true)
    {
        int i = 0;
        if (vectors && System.Runtime.Intrinsics.X86.Avx2.IsSupported)
        {
            for (; i + 8 <= count; i += 8)
            {
                var bits = Vector256.Load((uint*)(x + i));
                var abs = bits & Vector256.Create(0x7FFFFFFFu);
                if (Vector256.GreaterThanOrEqualAny(abs, Vector256.Create(0x477FF000u)))
                {
                    for (int j = i; j < i + 8; j++) destination[j] = Numerics.FloatToHalf(x[j]);
                    continue;
                }
                // Normal halves (|x| >= 2^-14): rebias the exponent and round the 13 dropped mantissa bits to
                // nearest even (a carry into the exponent is the correct rounding up, 65504 + ulp/2 included).
                var normal = (abs - Vector256.Create(0x38000000u) + Vector256.Create(0xFFFu) + ((abs >> 13) & Vector256<uint>.One)) >> 13;
                // Subnormal halves: adding 0.5 leaves |x| rounded to a multiple of 2^-24 (round to nearest even by
                // the float addition itself) in the low mantissa bits of the sum.
                var sub = (abs.AsSingle() + Vector256.Create(0.5f)).AsUInt32() - Vector256.Create(0x3F000000u);
                var h = Vector256.ConditionalSelect(Vector256.LessThan(abs, Vector256.Create(0x38800000u)), sub, normal);
                h |= (bits >> 16) & Vector256.Create(0x8000u);
                // Lanes hold values below 2^16: pack to 16 bits (the pack interleaves 128-bit halves; the permute
                // restores lane order).
                var packed = System.Runtime.Intrinsics.X86.Avx2.PackUnsignedSaturate(h.AsInt32(), h.AsInt32());
                var ordered = System.Runtime.Intrinsics.X86.Avx2.Permute4x64(packed.AsUInt64(), 0b_00_00_10_00);
                Vector128.Store(ordered.GetLower().AsUInt16(), destination + i);
            }
        }
        for (; i < count; i++) destination[i] = Numerics.FloatToHalf(x[i]);
    }
}
