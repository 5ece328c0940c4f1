using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Hunch.Gguf;
using Hunch.Kernels;

namespace Hunch.Benchmarks;

/// <summary>One weight matrix the size of a 1024-wide model's projection, multiplied with k activation rows on one
/// thread: the cost curve of verifying k draft tokens, per weight type.</summary>
[MemoryDiagnoser]
public unsafe class MatMulBenchmarks
{
    const int Rows = 1024, Columns = 1024;
    byte* _weights;
    float* _x;
    float* _y;
    WorkerPool _pool = null!;
    MatMul _mm = null!;
    WeightMatrix _w;

    [Params(GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K)]
    public GgmlType Type { get; set; }

    [Params(1, 4, 16)]
    public int Tokens { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        long rowBytes = GgmlTypeInfo.RowBytes(Type, Columns);
        _weights = (byte*)NativeMemory.AlignedAlloc((nuint)(rowBytes * Rows), 64);
        float* row = (float*)NativeMemory.Alloc(Columns * sizeof(float));
        for (int r = 0; r < Rows; r++)
        {
            for (int c = 0; c < Columns; c++) row[c] = (float)(rng.NextDouble() * 2 - 1);
            RowKernels.QuantizeRow(Type, row, _weights + r * rowBytes, Columns);
        }
        NativeMemory.Free(row);
        _x = (float*)NativeMemory.AlignedAlloc((nuint)(Columns * 64 * sizeof(float)), 64);
        for (int i = 0; i < Columns * 64; i++) _x[i] = (float)(rng.NextDouble() * 2 - 1);
        _y = (float*)NativeMemory.AlignedAlloc((nuint)(Rows * 64 * sizeof(float)), 64);
        _w = new WeightMatrix(Type, _weights, Rows, Columns);
        _pool = new WorkerPool(1);
        _mm = new MatMul(_pool);
    }

    [Benchmark]
    public void Multiply() => _mm.Multiply(_w, _x, Tokens, _y);

    [GlobalCleanup]
    public void Cleanup()
    {
        _mm.Dispose();
        _pool.Dispose();
        NativeMemory.AlignedFree(_weights);
        NativeMemory.AlignedFree(_x);
        NativeMemory.AlignedFree(_y);
    }
}

/// <summary>One quantized row dot product (the single-token kernel), per weight type.</summary>
public unsafe class DotBenchmarks
{
    const int Columns = 4096;
    byte* _row;
    byte* _act;

    [Params(GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K)]
    public GgmlType Type { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(2);
        float* x = (float*)NativeMemory.Alloc(Columns * sizeof(float));
        for (int c = 0; c < Columns; c++) x[c] = (float)(rng.NextDouble() * 2 - 1);
        _row = (byte*)NativeMemory.AlignedAlloc((nuint)GgmlTypeInfo.RowBytes(Type, Columns), 64);
        RowKernels.QuantizeRow(Type, x, _row, Columns);
        for (int c = 0; c < Columns; c++) x[c] = (float)(rng.NextDouble() * 2 - 1);
        _act = (byte*)NativeMemory.AlignedAlloc((nuint)RowKernels.ActivationRowBytes(Type, Columns), 64);
        RowKernels.PrepareActivation(Type, x, Columns, _act);
        NativeMemory.Free(x);
    }

    [Benchmark]
    public float Dot() => RowKernels.Dot(Type, _row, _act, Columns);

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_row);
        NativeMemory.AlignedFree(_act);
    }
}
