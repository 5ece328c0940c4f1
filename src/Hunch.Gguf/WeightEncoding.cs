using System.Runtime.InteropServices;

namespace Hunch.Gguf;

/// <summary>
/// Converts a row of floats to the bytes of a quantized <see cref="GgmlType"/> (exactly
/// <see cref="GgmlTypeInfo.RowBytes"/> bytes for the row's length). Hunch.Kernels supplies the quantizers; this
/// assembly stays free of kernels, so model generators take one as a parameter.
/// </summary>
public delegate void RowQuantizer(GgmlType type, ReadOnlySpan<float> source, Span<byte> destination);

/// <summary>Encodes and decodes rows of the float tensor types (F32, F16, BF16), and others through a quantizer.</summary>
static class WeightEncoding
{
    public static bool IsFloat(GgmlType t) => t is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16;

    /// <summary>Decodes a row of a float-typed tensor.</summary>
    public static void Decode(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.Cast<byte, float>(src)[..dst.Length].CopyTo(dst); break;
            case GgmlType.F16:
                {
                    var h = MemoryMarshal.Cast<byte, ushort>(src);
                    for (int i = 0; i < dst.Length; i++) dst[i] = (float)BitConverter.UInt16BitsToHalf(h[i]);
                    break;
                }
            case GgmlType.BF16:
                {
                    var h = MemoryMarshal.Cast<byte, ushort>(src);
                    for (int i = 0; i < dst.Length; i++) dst[i] = BitConverter.UInt32BitsToSingle((uint)h[i] << 16);
                    break;
                }
            default: throw new NotSupportedException($"decoding {type} rows is not supported here (only F32, F16, BF16)");
        }
    }

    /// <summary>Encodes a row as <paramref name="type"/>; quantized types go through <paramref name="quantizer"/>.</summary>
    public static void Encode(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst, RowQuantizer? quantizer)
    {
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.AsBytes(src).CopyTo(dst); break;
            case GgmlType.F16:
                {
                    var h = MemoryMarshal.Cast<byte, ushort>(dst);
                    for (int i = 0; i < src.Length; i++) h[i] = BitConverter.HalfToUInt16Bits((Half)src[i]);
                    break;
                }
            case GgmlType.BF16:
                {
                    var h = MemoryMarshal.Cast<byte, ushort>(dst);
                    for (int i = 0; i < src.Length; i++) h[i] = ToBFloat16(src[i]);
                    break;
                }
            default:
                if (quantizer is null) throw new ArgumentException($"weight type {type} needs a RowQuantizer (for example Hunch.Kernels' row quantizers)");
                quantizer(type, src, dst);
                break;
        }
    }

    /// <summary>Round-to-nearest-even float to bfloat16, NaN kept quiet (as ggml converts).</summary>
    public static ushort ToBFloat16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7FFFFFFF) > 0x7F800000) return (ushort)((u >> 16) | 64);
        return (ushort)((u + (0x7FFF + ((u >> 16) & 1))) >> 16);
    }

    /// <summary>llama.cpp's <c>general.file_type</c> for a model whose matrices are all <paramref name="type"/>, or null.</summary>
    public static uint? FileType(GgmlType type) => type switch
    {
        GgmlType.F32 => 0, GgmlType.F16 => 1, GgmlType.Q4_0 => 2, GgmlType.Q4_1 => 3, GgmlType.Q8_0 => 7,
        GgmlType.Q5_0 => 8, GgmlType.Q5_1 => 9, GgmlType.Q2_K => 10, GgmlType.Q3_K => 11, GgmlType.Q4_K => 14,
        GgmlType.Q5_K => 16, GgmlType.Q6_K => 18, GgmlType.BF16 => 32,
        _ => null,
    };
}

/// <summary>xoshiro256** seeded through SplitMix64: fast, reproducible across runtimes and platforms.</summary>
struct WeightRandom
{
    ulong _s0, _s1, _s2, _s3;

    public WeightRandom(ulong seed)
    {
        _s0 = SplitMix(ref seed); _s1 = SplitMix(ref seed); _s2 = SplitMix(ref seed); _s3 = SplitMix(ref seed);
    }

    /// <summary>A stream for one tensor: depends only on the model seed and the tensor's name, not on order.</summary>
    public static WeightRandom For(ulong seed, string name)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in name) h = (h ^ c) * 1099511628211UL;
        return new WeightRandom(seed ^ h);
    }

    static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong Next()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3; _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [-1, 1).</summary>
    public float NextSigned() => (float)((long)(Next() >> 40) - (1L << 23)) * (1f / (1 << 23));

    /// <summary>Fills with uniform values of the given standard deviation around <paramref name="mean"/>.</summary>
    public void Fill(Span<float> row, float std, float mean = 0)
    {
        float a = std * MathF.Sqrt(3); // uniform on [-a, a] has standard deviation a / sqrt(3)
        for (int i = 0; i < row.Length; i++) row[i] = mean + a * NextSigned();
    }
}
