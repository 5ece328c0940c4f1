using System.Buffers;
using System.Runtime.CompilerServices;
using Hunch.Gguf;
using Hunch.Kernels.Quant;

namespace Hunch.Kernels;

// Quantized weight types. Scheme (llama.cpp's CPU backend, chosen because it is what the reference outputs were
// made with): activations are quantized per block to 8 bits (Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for
// the K-quants), each block product is an exact integer sum scaled once by weight scale × activation scale, and
// the scaled block sums are accumulated in float in one fixed order (8 lanes in block order, then a fixed tree),
// identical in the AVX2 kernels (Quant/DotAvx2.cs) and the portable ones (Quant/DotScalar.cs).
public static unsafe partial class RowKernels
{
    static partial void QuantizedSupport(GgmlType type, ref bool supported) =>
        supported |= type is GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1
            or GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>True when <see cref="QuantizeRow"/> can produce rows of this type.</summary>
    public static bool CanQuantize(GgmlType type) =>
        type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q4_1
            or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q6_K or GgmlType.Q8_K;

    /// <summary>
    /// Encodes one float row of <paramref name="columns"/> elements as <paramref name="type"/> with llama.cpp's
    /// reference quantizers (what llama-quantize does without an importance matrix), writing
    /// <see cref="GgmlTypeInfo.RowBytes"/> bytes to <paramref name="destination"/>.
    /// </summary>
    /// <exception cref="NotSupportedException">The type cannot be quantized to (see <see cref="CanQuantize"/>).</exception>
    /// <exception cref="ArgumentException">The row is not a whole number of blocks.</exception>
    public static void QuantizeRow(GgmlType type, float* x, byte* destination, int columns)
    {
        if (!CanQuantize(type)) throw new NotSupportedException($"quantizing to {type} is not supported");
        CheckColumns(type, columns);
        switch (type)
        {
            case GgmlType.F32:
                Buffer.MemoryCopy(x, destination, columns * 4L, columns * 4L);
                return;
            case GgmlType.F16:
                Quant.Fp16.FromFloats(x, columns, (ushort*)destination);
                return;
            case GgmlType.BF16:
                for (int i = 0; i < columns; i++) ((ushort*)destination)[i] = Numerics.FloatToBFloat16(x[i]);
                return;
            default:
                WeightQuantizer.Quantize(type, x, destination, columns);
                return;
        }
    }

    static void CheckColumns(GgmlType type, int columns)
    {
        int bs = GgmlTypeInfo.Layout(type).BlockSize;
        if (columns < 0 || bs == 0 || columns % bs != 0)
            throw new ArgumentException($"row of {columns} elements is not a whole number of {type} blocks", nameof(columns));
    }

    static partial void QuantizeActivationImpl(GgmlType activationType, float* x, int columns, byte* destination, ref bool done)
    {
        switch (activationType)
        {
            case GgmlType.Q8_0: CheckColumns(activationType, columns); ActivationQuantizer.QuantizeQ8_0(x, columns, destination); done = true; return;
            case GgmlType.Q8_1: CheckColumns(activationType, columns); ActivationQuantizer.QuantizeQ8_1(x, columns, destination); done = true; return;
            case GgmlType.Q8_K: CheckColumns(activationType, columns); ActivationQuantizer.QuantizeQ8_K(x, columns, destination); done = true; return;
        }
    }

    static partial void DequantizeQuantizedImpl(GgmlType type, byte* row, float* destination, int columns, ref bool done)
    {
        if (!GgmlTypeInfo.IsKnown(type)) return;
        CheckColumns(type, columns);
        done = Dequantizer.Dequantize(type, row, destination, columns);
    }

    static partial void DotQuantizedImpl(GgmlType weightType, byte* row, byte* activation, int columns, ref float result, ref bool done)
    {
        if (!SupportsQuantized(weightType)) return;
        CheckColumns(weightType, columns);
        float r;
        if (!UsesActivationScales(weightType) || !DotAvx2.IsSupported)
        {
            DotRows(weightType, row, activation, 0, null, columns, 1, &r);
        }
        else
        {
            int nb = columns / 32;
            float[]? rented = null;
            Span<float> scales = nb <= 1024 ? stackalloc float[nb] : (rented = ArrayPool<float>.Shared.Rent(nb));
            fixed (float* s = scales)
            {
                ActivationScales(weightType, activation, columns, s);
                DotRows(weightType, row, activation, 0, s, columns, 1, &r);
            }
            if (rented is not null) ArrayPool<float>.Shared.Return(rented);
        }
        result = r;
        done = true;
    }

    /// <summary>True when the vectorised kernels for this weight type read the activation block scales from a
    /// float array (<see cref="ActivationScales"/>) rather than from the prepared row (Q8_0 activations).</summary>
    internal static bool UsesActivationScales(GgmlType weightType) => weightType is GgmlType.Q5_0;

    /// <summary>The block scales of a prepared Q8_0 activation row as floats (converted once per row instead of
    /// once per row × weight row).</summary>
    internal static void ActivationScales(GgmlType weightType, byte* activation, int columns, float* destination)
    {
        int nb = columns / 32;
        for (int b = 0; b < nb; b++) destination[b] = Fp16.ToFloat(*(ushort*)(activation + 34 * b));
    }

    /// <summary>
    /// Dot products of one quantized weight row of <paramref name="columns"/> elements with <paramref name="tokens"/>
    /// (1..4; Q4_K and the grouped Q8_0/Q4_0 kernel up to 16) prepared activation rows at <paramref name="activation"/> + t·<paramref name="activationStride"/>;
    /// result[t] equals <see cref="Dot"/>(row, activation row t) bit for bit. <paramref name="activationScales"/>
    /// (at t·blocks + b) is required for the types of <see cref="UsesActivationScales"/> when AVX2 is available,
    /// and ignored otherwise.
    /// </summary>
    [SkipLocalsInit]
    internal static void DotRows(GgmlType type, byte* row, byte* activation, long activationStride, float* activationScales,
        int columns, int tokens, float* result)
    {
        if (Tiled.BlockGroups.IsSupported && Tiled.BlockGroups.Handles(type))
        {
            // The grouped kernel reads activation rows rearranged once (MatMul does this once per call).
            int nb = columns / 32;
            long arranged = Tiled.BlockGroups.ArrangedBytes(nb);
            byte[]? rented = null;
            Span<byte> buffer = arranged * tokens <= 16384 ? stackalloc byte[(int)(arranged * tokens)]
                : (rented = ArrayPool<byte>.Shared.Rent((int)(arranged * tokens)));
            fixed (byte* g = buffer)
            {
                for (int t = 0; t < tokens; t++) Tiled.BlockGroups.Arrange(type, activation + t * activationStride, nb, g + t * arranged);
                Tiled.BlockGroups.Dot(type, row, nb, g, arranged, tokens, result);
            }
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
            return;
        }
        if (DotAvx2.IsSupported)
        {
            switch (type)
            {
                case GgmlType.Q5_0: DotAvx2.Signed32<DotAvx2.BlockQ5_0>(row, columns / 32, activation, activationStride, activationScales, tokens, result); return;
                case GgmlType.Q4_1: DotAvx2.Unsigned32<DotAvx2.BlockQ4_1>(row, columns / 32, activation, activationStride, tokens, result); return;
                case GgmlType.Q5_1: DotAvx2.Unsigned32<DotAvx2.BlockQ5_1>(row, columns / 32, activation, activationStride, tokens, result); return;
                case GgmlType.Q2_K: DotAvx2.Q2_K(row, columns / 256, activation, activationStride, tokens, result); return;
                case GgmlType.Q3_K: DotAvx2.Q3_K(row, columns / 256, activation, activationStride, tokens, result); return;
                case GgmlType.Q4_K: DotAvx2.Q4_K(row, columns / 256, activation, activationStride, tokens, result); return;
                case GgmlType.Q5_K: DotAvx2.Q5_K(row, columns / 256, activation, activationStride, tokens, result); return;
                case GgmlType.Q6_K: DotAvx2.Q6_K(row, columns / 256, activation, activationStride, tokens, result); return;
            }
        }
        for (int t = 0; t < tokens; t++)
            result[t] = DotPortable(type, row, activation + t * activationStride, columns);
    }

    /// <summary>The portable quantized dot product (the reference the vector kernels must equal bit for bit).</summary>
    internal static float DotPortable(GgmlType type, byte* row, byte* activation, int columns) => type switch
    {
        GgmlType.Q8_0 => DotScalar.Q8_0(row, activation, columns / 32),
        GgmlType.Q4_0 => DotScalar.Q4_0(row, activation, columns / 32),
        GgmlType.Q5_0 => DotScalar.Q5_0(row, activation, columns / 32),
        GgmlType.Q4_1 => DotScalar.Q4_1(row, activation, columns / 32),
        GgmlType.Q5_1 => DotScalar.Q5_1(row, activation, columns / 32),
        GgmlType.Q2_K => DotScalar.Q2_K(row, activation, columns / 256),
        GgmlType.Q3_K => DotScalar.Q3_K(row, activation, columns / 256),
        GgmlType.Q4_K => DotScalar.Q4_K(row, activation, columns / 256),
        GgmlType.Q5_K => DotScalar.Q5_K(row, activation, columns / 256),
        GgmlType.Q6_K => DotScalar.Q6_K(row, activation, columns / 256),
        _ => throw new NotSupportedException($"weight type {type} is not supported"),
    };
}
