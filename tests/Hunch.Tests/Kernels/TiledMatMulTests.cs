using System.Runtime.InteropServices;
using Hunch.Gguf;
using Hunch.Kernels;
using static Hunch.Tests.Kernels.QuantTestData;

namespace Hunch.Tests.Kernels;

/// <summary>The tiled batch path of <see cref="MatMul"/> on rows wide enough to span several column blocks, with both
/// tails of the single-token dot (8-wide and scalar), token counts beyond one token tile and row counts that are not a
/// multiple of the row tile: every output must equal the single-token <see cref="RowKernels.Dot"/> bit for bit.</summary>
public unsafe class TiledMatMulTests
{
    [Theory]
    [InlineData(GgmlType.F32, 1000, 1)]
    [InlineData(GgmlType.F32, 1000, 2)]
    [InlineData(GgmlType.F32, 4096 + 32 + 8 + 3, 2)]
    [InlineData(GgmlType.F32, 7, 1)]
    [InlineData(GgmlType.F32, 704, 1)]
    [InlineData(GgmlType.F32, 16 + 8 + 1, 1)]
    [InlineData(GgmlType.F32, 48, 2)]
    [InlineData(GgmlType.Q8_0, 1024, 2)]
    public void BatchedOutputsEqualSingleTokenDots(GgmlType type, int columns, int threads)
    {
        var rng = new Random(columns * 7 + threads);
        const int rows = 21, tokens = 19;
        long rb = GgmlTypeInfo.RowBytes(type, columns);
        var data = (byte*)NativeMemory.AlignedAlloc((nuint)(rb * rows), 64);
        try
        {
            var weights = Floats(rng, rows * columns);
            fixed (float* pw = weights)
                for (int r = 0; r < rows; r++) RowKernels.QuantizeRow(type, pw + (long)r * columns, data + r * rb, columns);
            var w = new WeightMatrix(type, data, rows, columns);
            var x = Floats(rng, tokens * columns);
            var y = new float[tokens * rows];
            var act = new byte[RowKernels.ActivationRowBytes(type, columns)];
            using var pool = new WorkerPool(threads);
            using var mm = new MatMul(pool);
            fixed (float* px = x) fixed (float* py = y) fixed (byte* pa = act)
            {
                foreach (int k in new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 16, 17, tokens })
                {
                    Array.Clear(y);
                    mm.Multiply(w, px, k, py);
                    for (int t = 0; t < k; t++)
                    {
                        RowKernels.PrepareActivation(type, px + (long)t * columns, columns, pa);
                        for (int r = 0; r < rows; r++)
                            Assert.Equal(BitConverter.SingleToInt32Bits(RowKernels.Dot(type, data + r * rb, pa, columns)),
                                BitConverter.SingleToInt32Bits(py[t * rows + r]));
                    }
                }
            }
        }
        finally { NativeMemory.AlignedFree(data); }
    }
}
