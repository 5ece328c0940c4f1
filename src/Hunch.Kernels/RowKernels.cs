using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Hunch.Gguf;

namespace Hunch.Kernels;

/// <summary>
/// Per-type row operations: how an activation row is prepared for a weight type, the dot product of one
/// weight row with one prepared activation row, and dequantization. The numerics follow llama.cpp's CPU
/// backend so that results match its references: F16 and BF16 weights see activations rounded to 16 bits,
/// quantized weights see activations quantized per block to 8 bits (Q8_0, Q8_1 or Q8_K, see
/// <see cref="ActivationType"/>), and block products are integer sums scaled once per block.
/// Every dot product has one fixed reduction order for a given row length, whatever the batch size or thread,
/// which is what makes the engine batch-invariant.
/// </summary>
public static unsafe partial class RowKernels
{
    /// <summary>True when matrix products over this weight type are implemented.</summary>
    public static bool Supports(GgmlType type) => type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 || SupportsQuantized(type);

    static partial void QuantizedSupport(GgmlType type, ref bool supported);

    static bool SupportsQuantized(GgmlType type)
    {
        bool s = false;
        QuantizedSupport(type, ref s);
        return s;
    }

    /// <summary>The encoding of prepared activation rows for a weight type.</summary>
    public static GgmlType ActivationType(GgmlType weightType) => weightType switch
    {
        GgmlType.F32 => GgmlType.F32,
        GgmlType.F16 => GgmlType.F16,
        GgmlType.BF16 => GgmlType.BF16,
        GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 or GgmlType.IQ4_NL => GgmlType.Q8_0,
        GgmlType.Q4_1 or GgmlType.Q5_1 => GgmlType.Q8_1,
        _ => GgmlType.Q8_K,
    };

    /// <summary>Bytes of one prepared activation row of <paramref name="columns"/> elements.</summary>
    public static long ActivationRowBytes(GgmlType weightType, int columns) =>
        GgmlTypeInfo.RowBytes(ActivationType(weightType), columns);

    /// <summary>Converts one float activation row into the encoding the weight type's dot product uses.</summary>
    public static void PrepareActivation(GgmlType weightType, float* x, int columns, byte* destination)
    {
        // Float encodings are the plain row conversions (the same bits weights get); quantized activations use
        // the activation quantizers.
        var type = ActivationType(weightType);
        if (type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16) QuantizeRow(type, x, destination, columns);
        else QuantizeActivation(type, x, columns, destination);
    }

    /// <summary>Dot product of one weight row with one prepared activation row.</summary>
    public static float Dot(GgmlType weightType, byte* row, byte* activation, int columns) => weightType switch
    {
        GgmlType.F32 => DotF32((float*)row, (float*)activation, columns),
        GgmlType.F16 => DotF16((ushort*)row, (ushort*)activation, columns),
        GgmlType.BF16 => DotBF16((ushort*)row, (ushort*)activation, columns),
        _ => DotQuantized(weightType, row, activation, columns),
    };

    /// <summary>Decodes one stored row to floats.</summary>
    public static void DequantizeRow(GgmlType type, byte* row, float* destination, int columns)
    {
        switch (type)
        {
            case GgmlType.F32:
                Buffer.MemoryCopy(row, destination, columns * 4L, columns * 4L);
                return;
            case GgmlType.F16:
                for (int i = 0; i < columns; i++) destination[i] = Numerics.HalfToFloat(((ushort*)row)[i]);
                return;
            case GgmlType.BF16:
                for (int i = 0; i < columns; i++) destination[i] = Numerics.BFloat16ToFloat(((ushort*)row)[i]);
                return;
            default:
                DequantizeQuantized(type, row, destination, columns);
                return;
        }
    }

    static partial void QuantizeActivationImpl(GgmlType activationType, float* x, int columns, byte* destination, ref bool done);
    static partial void DotQuantizedImpl(GgmlType weightType, byte* row, byte* activation, int columns, ref float result, ref bool done);
    static partial void DequantizeQuantizedImpl(GgmlType type, byte* row, float* destination, int columns, ref bool done);

    static void QuantizeActivation(GgmlType activationType, float* x, int columns, byte* destination)
    {
        bool done = false;
        QuantizeActivationImpl(activationType, x, columns, destination, ref done);
        if (!done) throw new NotSupportedException($"activation type {activationType} is not supported");
    }

    static float DotQuantized(GgmlType weightType, byte* row, byte* activation, int columns)
    {
        bool done = false;
        float r = 0;
        DotQuantizedImpl(weightType, row, activation, columns, ref r, ref done);
        if (!done) throw new NotSupportedException($"weight type {weightType} is not supported");
        return r;
    }

    static void DequantizeQuantized(GgmlType type, byte* row, float* destination, int columns)
    {
        bool done = false;
        DequantizeQuantizedImpl(type, row, destination, columns, ref done);
        if (!done) throw new NotSupportedException($"tensor type {type} is not supported");
    }

    /// <summary>Float dot product with a fixed reduction order: four 8-lane accumulators over blocks of 32,
    /// then a fixed tree sum of the lanes, then the scalar tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float DotF32(float* a, float* b, int n)
    {
        int i = 0;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var acc2 = Vector256<float>.Zero;
        var acc3 = Vector256<float>.Zero;
        for (; i + 32 <= n; i += 32)
        {
            acc0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc0);
            acc1 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 8), Vector256.Load(b + i + 8), acc1);
            acc2 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 16), Vector256.Load(b + i + 16), acc2);
            acc3 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 24), Vector256.Load(b + i + 24), acc3);
        }
        for (; i + 8 <= n; i += 8)
            acc0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc0);
        float sum = HorizontalSum((acc0 + acc1) + (acc2 + acc3));
        for (; i < n; i++) sum = MathF.FusedMultiplyAdd(a[i], b[i], sum);
        return sum;
    }

    /// <summary>Sum of the 8 lanes in a fixed order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalSum(Vector256<float> v)
    {
        var s4 = v.GetLower() + v.GetUpper();
        var s2 = s4 + Vector128.Shuffle(s4, Vector128.Create(2, 3, 0, 1));
        return s2.ToScalar() + s2.GetElement(1);
    }

    static float DotF16(ushort* a, ushort* b, int n)
    {
        int i = 0;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        // Halves are widened and converted exactly with integer vector operations (Quant.Fp16), 16 at a time.
        for (; i + 16 <= n; i += 16)
        {
            var (al, ah) = Vector256.Widen(Vector256.Load(a + i));
            var (bl, bh) = Vector256.Widen(Vector256.Load(b + i));
            acc0 = Vector256.FusedMultiplyAdd(Quant.Fp16.ToFloat(al), Quant.Fp16.ToFloat(bl), acc0);
            acc1 = Vector256.FusedMultiplyAdd(Quant.Fp16.ToFloat(ah), Quant.Fp16.ToFloat(bh), acc1);
        }
        float sum = HorizontalSum(acc0 + acc1);
        for (; i < n; i++) sum = MathF.FusedMultiplyAdd(Numerics.HalfToFloat(a[i]), Numerics.HalfToFloat(b[i]), sum);
        return sum;
    }

    static float DotBF16(ushort* a, ushort* b, int n)
    {
        int i = 0;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        for (; i + 16 <= n; i += 16)
        {
            var wa = Vector256.Load(a + i);
            var wb = Vector256.Load(b + i);
            var (al, ah) = Vector256.Widen(wa);
            var (bl, bh) = Vector256.Widen(wb);
            acc0 = Vector256.FusedMultiplyAdd((al << 16).AsSingle(), (bl << 16).AsSingle(), acc0);
            acc1 = Vector256.FusedMultiplyAdd((ah << 16).AsSingle(), (bh << 16).AsSingle(), acc1);
        }
        float sum = HorizontalSum(acc0 + acc1);
        for (; i < n; i++) sum = MathF.FusedMultiplyAdd(Numerics.BFloat16ToFloat(a[i]), Numerics.BFloat16ToFloat(b[i]), sum);
        return sum;
    }
}
