using System.Runtime.InteropServices;
using Hunch.Gguf;
using Hunch.Kernels;
using Cache = Hunch.KvCache.KvCache;

namespace Hunch.Models;

/// <summary>
/// A decoder-only transformer (llama, qwen2) with weights viewed in place from a memory-mapped GGUF file.
/// <see cref="Forward"/> is the one entry point for prefill, decoding, tree verification and batched serving.
/// A model instance is not thread-safe: one forward at a time (callers serialise or batch).
/// </summary>
public sealed unsafe partial class TransformerModel : IDisposable
{
    readonly GgufFile _file;
    readonly bool _ownsFile;
    readonly Layer[] _layers;
    readonly WeightMatrix _embedding;
    readonly WeightMatrix _output;
    readonly float[] _outputNorm;
    readonly MatMul _matmul;
    readonly AttentionJob _attention;
    Workspace _ws;

    /// <summary>Shape and hyper-parameters.</summary>
    public ModelConfig Config { get; }

    /// <summary>The GGUF file the weights live in.</summary>
    public GgufFile File => _file;

    /// <summary>The output (vocabulary) matrix: rows are tokens, columns the hidden size.</summary>
    internal WeightMatrix OutputMatrix => _output;

    /// <summary>The final RMSNorm gain (frozen; adapters apply it before the output matrix).</summary>
    internal float[] OutputNormWeights => _outputNorm;

    /// <summary>The token embedding matrix.</summary>
    internal WeightMatrix EmbeddingMatrix => _embedding;

    /// <summary>The multiplier used by forwards (drafters that project hidden states to logits share it, between forwards).</summary>
    internal MatMul Multiplier => _matmul;

    /// <summary>Projects <paramref name="rows"/> hidden states (already normalised) through the output matrix.</summary>
    internal void ProjectToVocabulary(ReadOnlySpan<float> hidden, int rows, Span<float> logits)
    {
        if (hidden.Length < rows * Config.EmbeddingSize || logits.Length < rows * Config.VocabSize) throw new ArgumentException("buffers too small");
        fixed (float* h = hidden, y = logits) _matmul.Multiply(_output, h, rows, y);
    }

    /// <summary>Writes the embedding of <paramref name="token"/>.</summary>
    internal void Embed(int token, Span<float> destination)
    {
        if ((uint)token >= (uint)Config.VocabSize) throw new ArgumentOutOfRangeException(nameof(token));
        fixed (float* d = destination) RowKernels.DequantizeRow(_embedding.Type, _embedding.Row(token), d, Config.EmbeddingSize);
    }

    /// <summary>The worker pool forwards run on.</summary>
    public WorkerPool Pool => _matmul.Pool;

    sealed class Layer
    {
        public required float[] AttnNorm, FfnNorm;
        public required WeightMatrix Wq, Wk, Wv, Wo, Gate, Up, Down;
        public float[]? Bq, Bk, Bv, Bo;
    }

    TransformerModel(GgufFile file, bool ownsFile, WorkerPool pool)
    {
        _file = file;
        _ownsFile = ownsFile;
        Config = ModelConfig.FromGguf(file);
        var c = Config;
        _embedding = Matrix("token_embd.weight", c.EmbeddingSize, c.VocabSize);
        _output = file.FindTensor("output.weight") is null ? _embedding : Matrix("output.weight", c.EmbeddingSize, c.VocabSize);
        _outputNorm = Vector("output_norm.weight", c.EmbeddingSize);
        _layers = new Layer[c.LayerCount];
        for (int l = 0; l < c.LayerCount; l++)
        {
            string p = $"blk.{l}.";
            _layers[l] = new Layer
            {
                AttnNorm = Vector(p + "attn_norm.weight", c.EmbeddingSize),
                FfnNorm = Vector(p + "ffn_norm.weight", c.EmbeddingSize),
                Wq = Matrix(p + "attn_q.weight", c.EmbeddingSize, c.QDim),
                Wk = Matrix(p + "attn_k.weight", c.EmbeddingSize, c.KvDim),
                Wv = Matrix(p + "attn_v.weight", c.EmbeddingSize, c.KvDim),
                Wo = Matrix(p + "attn_output.weight", c.QDim, c.EmbeddingSize),
                Gate = Matrix(p + "ffn_gate.weight", c.EmbeddingSize, c.FeedForwardSize),
                Up = Matrix(p + "ffn_up.weight", c.EmbeddingSize, c.FeedForwardSize),
                Down = Matrix(p + "ffn_down.weight", c.FeedForwardSize, c.EmbeddingSize),
                Bq = OptionalVector(p + "attn_q.bias", c.QDim),
                Bk = OptionalVector(p + "attn_k.bias", c.KvDim),
                Bv = OptionalVector(p + "attn_v.bias", c.KvDim),
                Bo = OptionalVector(p + "attn_output.bias", c.EmbeddingSize),
            };
            if (c.Architecture == "qwen2" && (_layers[l].Bq is null || _layers[l].Bk is null || _layers[l].Bv is null))
                throw new GgufException("qwen2 requires attn_q/k/v biases", -1, p + "attn_q.bias");
        }
        _matmul = new MatMul(pool);
        _attention = new AttentionJob(this);
    }

    /// <summary>Opens a GGUF file and loads the model it holds (the model owns and disposes the file).</summary>
    public static TransformerModel Load(string path, WorkerPool? pool = null)
    {
        var file = GgufFile.Open(path);
        try { return new TransformerModel(file, true, pool ?? WorkerPool.Shared); }
        catch { file.Dispose(); throw; }
    }

    /// <summary>Loads the model held by an open GGUF file (the caller keeps ownership of the file).</summary>
    public static TransformerModel Load(GgufFile file, WorkerPool? pool = null) => new(file, false, pool ?? WorkerPool.Shared);

    /// <summary>Creates an empty KV cache for one sequence holding up to <paramref name="capacity"/> rows
    /// (default: the model's context length plus room for a draft tree).</summary>
    public Cache CreateCache(int capacity = 0) => new(Config, capacity > 0 ? capacity : Config.ContextLength + 256);

    WeightMatrix Matrix(string name, int columns, int rows)
    {
        var t = _file.GetTensor(name);
        if (t.Dimensions.Length != 2 || t.Dimensions[0] != columns || t.Dimensions[1] != rows)
            throw new GgufException($"tensor has shape [{string.Join(", ", t.Dimensions)}], expected [{columns}, {rows}]", t.FileOffset, name);
        if (!RowKernels.Supports(t.Type)) throw new GgufException($"tensor type {t.Type} is not supported", t.FileOffset, name);
        return new WeightMatrix(t.Type, _file.GetTensorPointer(t), rows, columns);
    }

    float[] Vector(string name, int length) => OptionalVector(name, length) ?? throw new GgufException("required tensor is missing", -1, name);

    float[]? OptionalVector(string name, int length)
    {
        var t = _file.FindTensor(name);
        if (t is null) return null;
        if (t.ElementCount != length) throw new GgufException($"tensor has {t.ElementCount} elements, expected {length}", t.FileOffset, name);
        if (!RowKernels.Supports(t.Type)) throw new GgufException($"tensor type {t.Type} is not supported", t.FileOffset, name);
        var v = new float[length];
        fixed (float* d = v) RowKernels.DequantizeRow(t.Type, _file.GetTensorPointer(t), d, length);
        return v;
    }

    /// <summary>
    /// Runs the transformer over every row of <paramref name="batch"/>: writes each row's keys and values to its
    /// sequence's scratch rows (after the committed ones, in batch order per sequence) and fills the logits of the
    /// rows that asked for them. Each row's result is bitwise independent of the other rows in the batch and of
    /// the thread count. Commit or discard the scratch rows afterwards with the caches' Commit methods.
    /// </summary>
    public void Forward(ForwardBatch batch) => ForwardCore(batch, LayerPlan.Full);

    void RunLayer(int l, ForwardBatch batch, int n)
    {
        RunAttentionBlock(l, batch, n);
        RunFeedForwardBlock(l, n);
    }

    void RunAttentionBlock(int l, ForwardBatch batch, int n)
    {
        var c = Config;
        var L = _layers[l];
        var ws = _ws;
        int D = c.EmbeddingSize;
        fixed (float* an = L.AttnNorm)
            for (int i = 0; i < n; i++) Ops.RmsNorm(ws.X + (long)i * D, an, ws.H + (long)i * D, D, c.RmsEps);
        _matmul.Multiply(L.Wq, ws.H, n, ws.Q);
        _matmul.Multiply(L.Wk, ws.H, n, ws.K);
        _matmul.Multiply(L.Wv, ws.H, n, ws.V);
        AddBias(L.Bq, ws.Q, n, c.QDim);
        AddBias(L.Bk, ws.K, n, c.KvDim);
        AddBias(L.Bv, ws.V, n, c.KvDim);

        // RoPE, then store this layer's keys and values in each row's scratch slot.
        for (int i = 0; i < n; i++)
        {
            Ops.RopeAngles(batch.Positions[i], c.RopeDimensions, c.RopeBase, ws.Cos, ws.Sin);
            Ops.Rope(ws.Q + (long)i * c.QDim, c.HeadCount, c.HeadDim, c.RopeDimensions, ws.Cos, ws.Sin, c.RopeNeox);
            Ops.Rope(ws.K + (long)i * c.KvDim, c.KvHeadCount, c.HeadDim, c.RopeDimensions, ws.Cos, ws.Sin, c.RopeNeox);
            var cache = batch.Caches[i];
            int slot = cache.Length + batch.LocalIndex[i];
            new ReadOnlySpan<float>(ws.K + (long)i * c.KvDim, c.KvDim).CopyTo(cache.Keys[l].AsSpan(slot * c.KvDim, c.KvDim));
            new ReadOnlySpan<float>(ws.V + (long)i * c.KvDim, c.KvDim).CopyTo(cache.Values[l].AsSpan(slot * c.KvDim, c.KvDim));
        }

        _attention.Run(l, n);
        _matmul.Multiply(L.Wo, ws.Att, n, ws.O);
        AddBias(L.Bo, ws.O, n, D);
        for (int i = 0; i < n; i++) Ops.Add(ws.X + (long)i * D, ws.O + (long)i * D, D);
    }

    void RunFeedForwardBlock(int l, int n)
    {
        var c = Config;
        var L = _layers[l];
        var ws = _ws;
        int D = c.EmbeddingSize;
        fixed (float* fn = L.FfnNorm)
            for (int i = 0; i < n; i++) Ops.RmsNorm(ws.X + (long)i * D, fn, ws.H + (long)i * D, D, c.RmsEps);
        int F = c.FeedForwardSize;
        _matmul.Multiply(L.Gate, ws.H, n, ws.G);
        _matmul.Multiply(L.Up, ws.H, n, ws.U);
        Ops.SwiGlu(ws.G, ws.U, n * F);
        _matmul.Multiply(L.Down, ws.G, n, ws.O);
        for (int i = 0; i < n; i++) Ops.Add(ws.X + (long)i * D, ws.O + (long)i * D, D);
    }

    static void AddBias(float[]? bias, float* y, int n, int width)
    {
        if (bias is null) return;
        fixed (float* b = bias)
            for (int i = 0; i < n; i++) Ops.Add(y + (long)i * width, b, width);
    }

    void EnsureWorkspace(int n)
    {
        if (_ws.Rows >= n) return;
        _ws.Free();
        _ws = Workspace.Allocate(Config, Math.Max(n, Math.Max(16, _ws.Rows * 2)));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _ws.Free();
        _ws = default;
        _matmul.Dispose();
        if (_ownsFile) _file.Dispose();
    }

    struct Workspace
    {
        public int Rows;
        public float* X, H, Q, K, V, Att, O, G, U, Cos, Sin;

        public static Workspace Allocate(ModelConfig c, int rows)
        {
            static float* A(long count) => (float*)NativeMemory.AlignedAlloc((nuint)(Math.Max(count, 8) * 4), 64);
            return new Workspace
            {
                Rows = rows,
                X = A((long)rows * c.EmbeddingSize),
                H = A((long)rows * c.EmbeddingSize),
                Q = A((long)rows * c.QDim),
                K = A((long)rows * c.KvDim),
                V = A((long)rows * c.KvDim),
                Att = A((long)rows * c.QDim),
                O = A((long)rows * c.EmbeddingSize),
                G = A((long)rows * c.FeedForwardSize),
                U = A((long)rows * c.FeedForwardSize),
                Cos = A(c.HeadDim),
                Sin = A(c.HeadDim),
            };
        }

        public void Free()
        {
            if (Rows == 0) return;
            foreach (var p in new[] { (nint)X, (nint)H, (nint)Q, (nint)K, (nint)V, (nint)Att, (nint)O, (nint)G, (nint)U, (nint)Cos, (nint)Sin })
                NativeMemory.AlignedFree((void*)p);
            Rows = 0;
        }
    }
}
