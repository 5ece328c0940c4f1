using System.Runtime.CompilerServices;

namespace Hunch.Kernels;

/// <summary>Scalar conversions between float and the 16-bit formats stored in GGUF files.</summary>
public static class Numerics
{
    /// <summary>IEEE binary16 to float (subnormals, infinities and NaN handled).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HalfToFloat(ushort h) => (float)BitConverter.UInt16BitsToHalf(h);

    /// <summary>Float to IEEE binary16, rounding to nearest even.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FloatToHalf(float f) => BitConverter.HalfToUInt16Bits((Half)f);

    /// <summary>bfloat16 to float: the upper 16 bits of a float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float BFloat16ToFloat(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    /// <summary>Float to bfloat16 rounding to nearest even, NaN kept quiet (as ggml does).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FloatToBFloat16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7fffffff) > 0x7f800000) return (ushort)((u >> 16) | 64);
        return (ushort)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
    }
}
