using System.Runtime.InteropServices;
using Hunch.Gguf;
using Hunch.Kernels;
using static Hunch.Tests.Kernels.QuantTestData;

namespace Hunch.Tests.Kernels;

/// <summary>Batch and thread invariance of <see cref="MatMul"/>: every output element is bitwise the same whatever
/// the number of activation rows in the call and however many threads ran it.</summary>
public unsafe class MatMulInvarianceTests
{
    public static IEnumerable<object[]> AllTypes() =>
        new[] { GgmlType.F32, GgmlType.F16, GgmlType.BF16 }.Concat(WeightTypes).Select(t => new object[] { t });

    sealed class Weights : IDisposable
    {
        public readonly byte* Data;
        public readonly WeightMatrix Matrix;

        public Weights(GgmlType type, int rows, int columns, Random rng)
        {
            long rb = GgmlTypeInfo.RowBytes(type, columns);
            Data = (byte*)NativeMemory.AlignedAlloc((nuint)(rb * rows), 64);
            for (int r = 0; r < rows; r++)
            {
                byte[] row;
                if (type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16)
                {
                    row = new byte[rb];
                    var x = Floats(rng, columns);
                    fixed (float* px = x) fixed (byte* pr = row) RowKernels.QuantizeRow(type, px, pr, columns);
                }
                else row = WeightRow(type, columns, r % 3 == 0 ? Kind.Quantized : Kind.Random, rng);
                row.AsSpan().CopyTo(new Span<byte>(Data + r * rb, (int)rb));
            }
            Matrix = new WeightMatrix(type, Data, rows, columns);
        }

        public void Dispose() => NativeMemory.AlignedFree(Data);
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void RowResultsDoNotDependOnBatchSize(GgmlType type)
    {
        var rng = new Random(100 + (int)type);
        int columns = 2 * Math.Max(32, BlockSizeOrOne(type)) + (BlockSizeOrOne(type) == 1 ? 5 : 0);
        const int rows = 37, maxTokens = 64;
        using var w = new Weights(type, rows, columns, rng);
        var x = Floats(rng, maxTokens * columns);
        var single = new float[maxTokens * rows];
        var batched = new float[maxTokens * rows];
        using var pool = new WorkerPool(1);
        using var mm = new MatMul(pool);
        fixed (float* px = x) fixed (float* ps = single) fixed (float* pb = batched)
        {
            for (int t = 0; t < maxTokens; t++) mm.Multiply(w.Matrix, px + (long)t * columns, 1, ps + t * rows);
            for (int k = 1; k <= maxTokens; k++)
            {
                mm.Multiply(w.Matrix, px, k, pb);
                for (int i = 0; i < k * rows; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(ps[i]) == BitConverter.SingleToInt32Bits(pb[i]),
                        $"{type} k={k} token {i / rows} row {i % rows}: {pb[i]:R} vs single {ps[i]:R}");
            }
            // And each element is the row kernel's dot product.
            var act = new byte[RowKernels.ActivationRowBytes(type, columns)];
            fixed (byte* pa = act)
                for (int t = 0; t < maxTokens; t += 9)
                {
                    RowKernels.PrepareActivation(type, px + (long)t * columns, columns, pa);
                    for (int r = 0; r < rows; r++)
                        Assert.Equal(BitConverter.SingleToInt32Bits(RowKernels.Dot(type, w.Matrix.Row(r), pa, columns)), BitConverter.SingleToInt32Bits(ps[t * rows + r]));
                }
        }
    }

    /// <summary>The grouped Q8_0/Q4_0 kernel (eight blocks per group, a partial last group) against the portable
    /// kernel, bit for bit, for every batch size 1..64 and on one and two threads.</summary>
    [Theory]
    [InlineData(GgmlType.Q8_0, 19 * 32, 1)]
    [InlineData(GgmlType.Q8_0, 1024, 2)]
    [InlineData(GgmlType.Q4_0, 19 * 32, 2)]
    [InlineData(GgmlType.Q4_0, 1024, 1)]
    [InlineData(GgmlType.Q5_0, 19 * 32, 2)]
    public void BatchedResultsEqualThePortableKernelForEveryK(GgmlType type, int columns, int threads)
    {
        var rng = new Random(7 + (int)type + columns);
        const int rows = 13, maxTokens = 64;
        using var w = new Weights(type, rows, columns, rng);
        var x = Floats(rng, maxTokens * columns);
        var expected = new float[maxTokens * rows];
        var act = new byte[RowKernels.ActivationRowBytes(type, columns)];
        fixed (float* px = x) fixed (byte* pa = act)
            for (int t = 0; t < maxTokens; t++)
            {
                RowKernels.PrepareActivation(type, px + (long)t * columns, columns, pa);
                for (int r = 0; r < rows; r++) expected[t * rows + r] = RowKernels.DotPortable(type, w.Matrix.Row(r), pa, columns);
            }
        var y = new float[maxTokens * rows];
        using var pool = new WorkerPool(threads);
        using var mm = new MatMul(pool);
        fixed (float* px = x) fixed (float* py = y)
            for (int k = 1; k <= maxTokens; k++)
            {
                mm.Multiply(w.Matrix, px, k, py);
                for (int i = 0; i < k * rows; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(y[i]),
                        $"{type} {columns} columns k={k} token {i / rows} row {i % rows}: {y[i]:R} vs portable {expected[i]:R}");
            }
    }

    static int BlockSizeOrOne(GgmlType t) => GgmlTypeInfo.Layout(t).BlockSize;

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void ResultsDoNotDependOnThreadCount(GgmlType type)
    {
        var rng = new Random(200 + (int)type);
        int columns = 256 * 2;
        const int rows = 301, tokens = 7;
        using var w = new Weights(type, rows, columns, rng);
        var x = Floats(rng, tokens * columns);
        var one = new float[tokens * rows];
        var two = new float[tokens * rows];
        using var pool1 = new WorkerPool(1);
        using var pool2 = new WorkerPool(2);
        using var mm1 = new MatMul(pool1);
        using var mm2 = new MatMul(pool2);
        fixed (float* px = x) fixed (float* p1 = one) fixed (float* p2 = two)
        {
            mm1.Multiply(w.Matrix, px, tokens, p1);
            for (int rep = 0; rep < 3; rep++)
            {
                mm2.Multiply(w.Matrix, px, tokens, p2);
                for (int i = 0; i < one.Length; i++)
                    Assert.Equal(BitConverter.SingleToInt32Bits(p1[i]), BitConverter.SingleToInt32Bits(p2[i]));
            }
        }
    }
}
