using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Hunch.Gguf;

namespace Hunch.Kernels;

/// <summary>
/// Matrix products of a weight matrix with a small batch of activation rows: y[t, r] = dot(W row r, x[t]).
/// Each activation row is prepared once (rounded or quantized for the weight type), output rows are split
/// into chunks across the worker pool, and each weight row is read once and dotted with every activation row
/// while it is hot in cache. Quantized rows are unpacked once per group of activation rows (16 for Q8_0, Q4_0
/// and Q4_K, see Tiled.BlockGroups and <see cref="RowKernels.DotRows"/>, 4 for the others), whose per-row
/// arithmetic is exactly that of <see cref="RowKernels.Dot"/>, so results do not depend on the batch size or on
/// which thread ran them.
/// </summary>
public sealed unsafe class MatMul : IParallelJob, IDisposable
{
    readonly WorkerPool _pool;
    byte* _actBuffer;
    long _actCapacity;
    float* _scaleBuffer;
    long _scaleCapacity;
    byte* _offsetBuffer;
    long _offsetCapacity;

    // Current call's arguments, set before dispatching (the object is reused so dispatch allocates nothing).
    WeightMatrix _w;
    float* _x;
    float* _y;
    int _tokens;
    long _actRowBytes;
    int _rowsPerChunk;
    bool _quantized;
    bool _vnni;
    long _offsetRowBytes;
    bool _grouped;
    byte* _groupBuffer;
    long _groupCapacity;
    long _groupRowBytes;
    bool _half;
    float* _wideBuffer;
    long _wideCapacity;
    long _wideStride;

    /// <summary>Creates a multiplier that dispatches work on <paramref name="pool"/>.</summary>
    public MatMul(WorkerPool pool) => _pool = pool;

    /// <summary>The pool this multiplier runs on.</summary>
    public WorkerPool Pool => _pool;

    /// <summary>y[t * w.Rows + r] = dot(row r of w, x[t * w.Columns ..]) for t in [0, tokens).</summary>
    public void Multiply(in WeightMatrix w, float* x, int tokens, float* y)
    {
        if (tokens <= 0) return;
        // Rows are spaced so that row t starts 1 KiB further into a 4 KiB page than row t - 1: the same columns
        // of consecutive activation rows then fall in different L1 sets (a power-of-two stride would map a
        // column block of every row to the same sets and evict it while the tiled kernels reuse it).
        long actRow = (RowKernels.ActivationRowBytes(w.Type, w.Columns) + 4095) / 4096 * 4096 + 1024;
        long need = actRow * tokens;
        Reserve(ref _actBuffer, ref _actCapacity, need);
        for (int t = 0; t < tokens; t++)
            RowKernels.PrepareActivation(w.Type, x + (long)t * w.Columns, w.Columns, _actBuffer + t * actRow);

        _quantized = w.Type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16);
        if (_quantized && RowKernels.UsesActivationScales(w.Type))
        {
            // Activation block scales converted to float once per call, not once per weight row.
            int nb = w.Columns / 32;
            long scales = (long)nb * tokens;
            Reserve(ref _scaleBuffer, ref _scaleCapacity, scales);
            for (int t = 0; t < tokens; t++)
                RowKernels.ActivationScales(w.Type, _actBuffer + t * actRow, w.Columns, _scaleBuffer + (long)t * nb);
        }

        // Q8_0 and Q4_0: activation rows rearranged once for the grouped kernel (Tiled.BlockGroups), for every k.
        _grouped = Tiled.BlockGroups.IsSupported && Tiled.BlockGroups.Handles(w.Type);
        if (_grouped)
        {
            int nb = w.Columns / 32;
            _groupRowBytes = (Tiled.BlockGroups.ArrangedBytes(nb) + 4095) / 4096 * 4096 + 1024;
            long bytes = _groupRowBytes * tokens;
            Reserve(ref _groupBuffer, ref _groupCapacity, bytes);
            for (int t = 0; t < tokens; t++)
                Tiled.BlockGroups.Arrange(w.Type, _actBuffer + t * actRow, nb, _groupBuffer + t * _groupRowBytes);
        }

        // F16 and BF16: the 16-bit activation rows widened to floats once per call (Tiled.HalfTiled).
        _half = w.Type is GgmlType.F16 or GgmlType.BF16;
        if (_half)
        {
            _wideStride = ((long)w.Columns * 4 + 4095) / 4096 * 1024 + 256;   // in floats: 4 KiB pages plus 1 KiB
            long floats = _wideStride * tokens;
            Reserve(ref _wideBuffer, ref _wideCapacity, floats);
            for (int t = 0; t < tokens; t++)
                Tiled.HalfTiled.Widen(w.Type == GgmlType.BF16, (ushort*)(_actBuffer + t * actRow), w.Columns, _wideBuffer + t * _wideStride);
        }

        // Batches of signed 32-blocks use the VNNI kernel that shares each weight block's work across tokens; a
        // single token keeps the per-row kernel (same results either way, see Tiled.SignedVnni).
        _vnni = tokens > 1 && Tiled.SignedVnni.IsSupported && RowKernels.UsesActivationScales(w.Type);
        if (_vnni)
        {
            int nb = w.Columns / 32;
            _offsetRowBytes = ((long)nb * 32 + 4095) / 4096 * 4096 + 1024;
            long bytes = _offsetRowBytes * tokens;
            Reserve(ref _offsetBuffer, ref _offsetCapacity, bytes);
            for (int t = 0; t < tokens; t++)
                Tiled.SignedVnni.OffsetQuants(_actBuffer + t * actRow, nb, _offsetBuffer + t * _offsetRowBytes);
        }

        _w = w;
        _x = x;
        _y = y;
        _tokens = tokens;
        _actRowBytes = actRow;
        // Enough chunks for load balance between threads, each large enough to amortise the hand-out.
        int chunks = Math.Max(1, Math.Min(w.Rows / 16, _pool.ThreadCount * 8));
        _rowsPerChunk = (w.Rows + chunks - 1) / chunks;
        chunks = (w.Rows + _rowsPerChunk - 1) / _rowsPerChunk;
        _pool.Run(this, chunks, (long)w.Rows * w.Columns * tokens);
    }

    /// <inheritdoc/>
    [SkipLocalsInit]
    public void Execute(int chunk)
    {
        int r0 = chunk * _rowsPerChunk;
        int r1 = Math.Min(_w.Rows, r0 + _rowsPerChunk);
        var type = _w.Type;
        int cols = _w.Columns;
        int rows = _w.Rows;
        if (_grouped)
        {
            int nb = cols / 32;
            // Measured: up to a few dozen rows, one weight row at a time (streamed contiguously, each group of
            // blocks unpacked once for up to 16 tokens) is fastest; prefill batches use the blocked kernel, which
            // keeps a tile's activations in L1 across 8 weight rows. Both compute the same operations per element.
            if (_tokens >= 32)
            {
                Tiled.BlockGroups.Multiply(type, _w.Data, _w.RowBytes, r0, r1, nb, _groupBuffer, _groupRowBytes, _tokens, _y, rows);
                return;
            }
            float* res = stackalloc float[16];
            for (int r = r0; r < r1; r++)
            {
                byte* row = _w.Row(r);
                for (int t0 = 0; t0 < _tokens; t0 += 16)
                {
                    int n = Math.Min(16, _tokens - t0);
                    Tiled.BlockGroups.Dot(type, row, nb, _groupBuffer + t0 * _groupRowBytes, _groupRowBytes, n, res);
                    for (int i = 0; i < n; i++) _y[(long)(t0 + i) * rows + r] = res[i];
                }
            }
            return;
        }
        if (_vnni)
        {
            float* res = stackalloc float[4];
            int nb = cols / 32;
            for (int r = r0; r < r1; r++)
            {
                byte* row = _w.Row(r);
                for (int t0 = 0; t0 < _tokens; t0 += 4)
                {
                    int n = Math.Min(4, _tokens - t0);
                    byte* a = _offsetBuffer + t0 * _offsetRowBytes;
                    float* scales = _scaleBuffer + (long)t0 * nb;
                    Tiled.SignedVnni.Dot<Quant.DotAvx2.BlockQ5_0>(row, nb, a, _offsetRowBytes, scales, n, res);
                    for (int i = 0; i < n; i++) _y[(long)(t0 + i) * rows + r] = res[i];
                }
            }
            return;
        }
        if (_quantized)
        {
            // Q4_K unpacks a super-block once for up to 16 tokens; the other kernels take up to 4 rows at a time.
            int tile = type == GgmlType.Q4_K ? 16 : 4;
            float* res = stackalloc float[16];
            int nb = cols / 32;
            for (int r = r0; r < r1; r++)
            {
                byte* row = _w.Row(r);
                for (int t0 = 0; t0 < _tokens; t0 += tile)
                {
                    int n = Math.Min(tile, _tokens - t0);
                    float* scales = _scaleBuffer is null ? null : _scaleBuffer + (long)t0 * nb;
                    RowKernels.DotRows(type, row, _actBuffer + t0 * _actRowBytes, _actRowBytes, scales, cols, n, res);
                    for (int i = 0; i < n; i++) _y[(long)(t0 + i) * rows + r] = res[i];
                }
            }
            return;
        }
        if (_half)
        {
            Tiled.HalfTiled.Multiply(type == GgmlType.BF16, _w.Data, _w.RowBytes, r0, r1, _wideBuffer, _wideStride, _tokens, cols, _y, rows);
            return;
        }
        // A single token keeps the row loop (memory-bound; pairing rows measured slower); batches take the
        // register-tiled kernel, which is faster from two tokens on.
        if (type == GgmlType.F32 && _tokens >= 2)
        {
            Tiled.F32Tiled.Multiply(_w.Data, _w.RowBytes, r0, r1, (float*)_actBuffer, _actRowBytes / 4, _tokens, cols, _y, rows);
            return;
        }
        for (int r = r0; r < r1; r++)
        {
            byte* row = _w.Row(r);
            for (int t = 0; t < _tokens; t++)
                _y[(long)t * rows + r] = RowKernels.Dot(type, row, _actBuffer + t * _actRowBytes, cols);
        }
    }

    /// <summary>Makes <paramref name="buffer"/> hold at least <paramref name="count"/> elements (64-byte aligned; grown
    /// at least twofold, never shrunk, so steady-state calls allocate nothing).</summary>
    static void Reserve<T>(ref T* buffer, ref long capacity, long count) where T : unmanaged
    {
        if (count <= capacity) return;
        if (buffer is not null) NativeMemory.AlignedFree(buffer);
        capacity = Math.Max(count, capacity * 2);
        buffer = (T*)NativeMemory.AlignedAlloc((nuint)(capacity * sizeof(T)), 64);
    }

    static void Release<T>(ref T* buffer, ref long capacity) where T : unmanaged
    {
        if (buffer is not null) NativeMemory.AlignedFree(buffer);
        buffer = null;
        capacity = 0;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Release(ref _actBuffer, ref _actCapacity);
        Release(ref _scaleBuffer, ref _scaleCapacity);
        Release(ref _offsetBuffer, ref _offsetCapacity);
        Release(ref _groupBuffer, ref _groupCapacity);
        Release(ref _wideBuffer, ref _wideCapacity);
    }
}
