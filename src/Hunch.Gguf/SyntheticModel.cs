namespace Hunch.Gguf;

/// <summary>Shape, weight type and tokenizer of a synthetic (random-weight) model.</summary>
public sealed class SyntheticModelOptions
{
    /// <summary><c>llama</c> (adjacent-pair rope) or <c>qwen2</c> (NeoX rope, q/k/v biases).</summary>
    public string Architecture { get; init; } = "llama";
    /// <summary>Hidden size.</summary>
    public int EmbeddingSize { get; init; } = 256;
    /// <summary>Number of transformer blocks.</summary>
    public int LayerCount { get; init; } = 4;
    /// <summary>Query heads.</summary>
    public int HeadCount { get; init; } = 4;
    /// <summary>Key/value heads (grouped-query attention when fewer than <see cref="HeadCount"/>); 0 means equal.</summary>
    public int KvHeadCount { get; init; }
    /// <summary>Head dimension; 0 means <see cref="EmbeddingSize"/> / <see cref="HeadCount"/>.</summary>
    public int HeadDim { get; init; }
    /// <summary>SwiGLU feed-forward width.</summary>
    public int FeedForwardSize { get; init; } = 704;
    /// <summary>Vocabulary size; 0 means the size of the copied tokenizer (<see cref="TokenizerSource"/>).</summary>
    public int VocabSize { get; init; }
    /// <summary>Training context length recorded in the file.</summary>
    public int ContextLength { get; init; } = 2048;
    /// <summary>RMSNorm epsilon.</summary>
    public float RmsEps { get; init; } = 1e-5f;
    /// <summary>Rope frequency base.</summary>
    public float RopeBase { get; init; } = 10000f;
    /// <summary>Type of the weight matrices (norms and biases stay F32, as llama.cpp's quantizer keeps them).</summary>
    public GgmlType WeightType { get; init; } = GgmlType.F32;
    /// <summary>Quantizer for <see cref="WeightType"/> values other than F32, F16 and BF16.</summary>
    public RowQuantizer? Quantizer { get; init; }
    /// <summary>Seed: the same options and seed give the same file, byte for byte.</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Omit <c>output.weight</c> so the output projection reuses the token embeddings.</summary>
    public bool TiedEmbeddings { get; init; }
    /// <summary>A GGUF file whose <c>tokenizer.*</c> metadata is copied (for example the bundled model); null
    /// builds a byte-level SentencePiece vocabulary of <see cref="VocabSize"/> tokens.</summary>
    public string? TokenizerSource { get; init; }
    /// <summary>Model name recorded as <c>general.name</c>.</summary>
    public string Name { get; init; } = "synthetic";
}

/// <summary>
/// Writes models for measurement without downloading any: random-weight <c>llama</c>/<c>qwen2</c> models of any shape,
/// and inflations of a real model to a larger shape that compute exactly the same function.
/// </summary>
public static partial class SyntheticModel
{
    /// <summary>Smallest synthetic vocabulary: unk, bos, eos, the 256 byte tokens and one piece.</summary>
    public const int MinSyntheticVocab = 3 + 256 + 1;

    /// <summary>Writes a random-weight model to <paramref name="path"/>.</summary>
    /// <exception cref="ArgumentException">The options describe an impossible or unsupported model.</exception>
    public static void Write(string path, SyntheticModelOptions options) => Build(options).Write(path);

    /// <summary>Number of parameters (weights, norms and biases) a model with these options has.</summary>
    public static long ParameterCount(SyntheticModelOptions options)
    {
        var s = Shape.Of(options, options.VocabSize > 0 ? options.VocabSize : 1);
        long d = s.D, q = (long)s.Heads * s.HeadDim, kv = (long)s.KvHeads * s.HeadDim, ff = s.FF;
        long perLayer = 2 * d + d * q + 2 * d * kv + q * d + 3 * d * ff + (s.Qwen ? q + 2 * kv : 0);
        return perLayer * s.Layers + d + (long)s.Vocab * d * (options.TiedEmbeddings ? 1 : 2);
    }

    readonly record struct Shape(string Arch, int D, int Layers, int Heads, int KvHeads, int HeadDim, int FF, int Vocab, bool Qwen)
    {
        public static Shape Of(SyntheticModelOptions o, int vocab)
        {
            if (o.Architecture is not ("llama" or "qwen2")) throw new ArgumentException($"architecture '{o.Architecture}' is not supported (llama, qwen2)");
            int kv = o.KvHeadCount == 0 ? o.HeadCount : o.KvHeadCount;
            if (o.EmbeddingSize <= 0 || o.LayerCount <= 0 || o.HeadCount <= 0 || kv <= 0 || o.FeedForwardSize <= 0 || o.ContextLength <= 0 || o.HeadDim < 0)
                throw new ArgumentException("sizes must be positive");
            if (o.HeadCount % kv != 0) throw new ArgumentException($"head count {o.HeadCount} is not a multiple of the kv head count {kv}");
            int hd = o.HeadDim == 0 ? o.EmbeddingSize / o.HeadCount : o.HeadDim;
            if (o.HeadDim == 0 && o.EmbeddingSize % o.HeadCount != 0) throw new ArgumentException($"embedding size {o.EmbeddingSize} is not a multiple of the head count {o.HeadCount}; give HeadDim");
            if (hd % 2 != 0) throw new ArgumentException($"head dimension {hd} must be even for rope");
            return new Shape(o.Architecture, o.EmbeddingSize, o.LayerCount, o.HeadCount, kv, hd, o.FeedForwardSize, vocab, o.Architecture == "qwen2");
        }
    }

    static GgufWriter Build(SyntheticModelOptions o)
    {
        var w = new GgufWriter();
        var (tokens, vocab) = Tokenizer(o);
        var s = Shape.Of(o, vocab);
        if (!GgmlTypeInfo.IsKnown(o.WeightType)) throw new ArgumentException($"weight type {o.WeightType} is not known");
        if (!WeightEncoding.IsFloat(o.WeightType) && o.Quantizer is null)
            throw new ArgumentException($"weight type {o.WeightType} needs a Quantizer (F32, F16 and BF16 are built in)");
        int block = GgmlTypeInfo.Layout(o.WeightType).BlockSize;
        foreach (var (what, n) in new[] { ("embedding size", s.D), ("feed-forward size", s.FF), ("heads x head dim", s.Heads * s.HeadDim) })
            if (n % block != 0) throw new ArgumentException($"{what} {n} is not a multiple of the {o.WeightType} block size {block}");

        string a = s.Arch;
        w.SetMetadata("general.architecture", a);
        w.SetMetadata("general.name", o.Name);
        if (WeightEncoding.FileType(o.WeightType) is { } ft) w.SetMetadata("general.file_type", ft);
        if (!WeightEncoding.IsFloat(o.WeightType)) w.SetMetadata("general.quantization_version", 2u);
        w.SetMetadata($"{a}.context_length", (uint)o.ContextLength);
        w.SetMetadata($"{a}.embedding_length", (uint)s.D);
        w.SetMetadata($"{a}.block_count", (uint)s.Layers);
        w.SetMetadata($"{a}.feed_forward_length", (uint)s.FF);
        w.SetMetadata($"{a}.attention.head_count", (uint)s.Heads);
        w.SetMetadata($"{a}.attention.head_count_kv", (uint)s.KvHeads);
        w.SetMetadata($"{a}.attention.key_length", (uint)s.HeadDim);
        w.SetMetadata($"{a}.attention.value_length", (uint)s.HeadDim);
        w.SetMetadata($"{a}.rope.dimension_count", (uint)s.HeadDim);
        w.SetMetadata($"{a}.rope.freq_base", o.RopeBase);
        w.SetMetadata($"{a}.attention.layer_norm_rms_epsilon", o.RmsEps);
        w.SetMetadata($"{a}.vocab_size", (uint)vocab);
        foreach (var (k, v) in tokens) w.SetMetadata(k, v);

        int q = s.Heads * s.HeadDim, kv = s.KvHeads * s.HeadDim;
        Matrix(w, o, "token_embd.weight", s.D, vocab, 1f);
        for (int l = 0; l < s.Layers; l++)
        {
            string p = $"blk.{l}.";
            Vector(w, o, p + "attn_norm.weight", s.D, 0.05f, 1f);
            Matrix(w, o, p + "attn_q.weight", s.D, q);
            if (s.Qwen) Vector(w, o, p + "attn_q.bias", q, 0.02f, 0f);
            Matrix(w, o, p + "attn_k.weight", s.D, kv);
            if (s.Qwen) Vector(w, o, p + "attn_k.bias", kv, 0.02f, 0f);
            Matrix(w, o, p + "attn_v.weight", s.D, kv);
            if (s.Qwen) Vector(w, o, p + "attn_v.bias", kv, 0.02f, 0f);
            Matrix(w, o, p + "attn_output.weight", q, s.D);
            Vector(w, o, p + "ffn_norm.weight", s.D, 0.05f, 1f);
            Matrix(w, o, p + "ffn_gate.weight", s.D, s.FF);
            Matrix(w, o, p + "ffn_up.weight", s.D, s.FF);
            Matrix(w, o, p + "ffn_down.weight", s.FF, s.D);
        }
        Vector(w, o, "output_norm.weight", s.D, 0.05f, 1f);
        if (!o.TiedEmbeddings) Matrix(w, o, "output.weight", s.D, vocab);
        return w;
    }

    /// <summary>A matrix of <paramref name="rows"/> rows of <paramref name="columns"/>, uniform with standard deviation
    /// 1/sqrt(columns) (times <paramref name="stdScale"/>), so activations keep unit scale at any width.</summary>
    static void Matrix(GgufWriter w, SyntheticModelOptions o, string name, int columns, int rows, float stdScale = 1f)
    {
        var type = o.WeightType;
        var quantizer = o.Quantizer;
        ulong seed = o.Seed;
        w.AddTensor(name, type, [columns, rows], dst =>
        {
            var rng = WeightRandom.For(seed, name);
            var row = new float[columns];
            var bytes = new byte[GgmlTypeInfo.RowBytes(type, columns)];
            float std = stdScale / MathF.Sqrt(columns);
            for (int r = 0; r < rows; r++)
            {
                rng.Fill(row, std);
                WeightEncoding.Encode(type, row, bytes, quantizer);
                dst.Write(bytes);
            }
        });
    }

    static void Vector(GgufWriter w, SyntheticModelOptions o, string name, int n, float std, float mean)
    {
        var rng = WeightRandom.For(o.Seed, name);
        var v = new float[n];
        rng.Fill(v, std, mean);
        var bytes = new byte[n * 4];
        WeightEncoding.Encode(GgmlType.F32, v, bytes, null);
        w.AddTensor(name, GgmlType.F32, [n], bytes);
    }

    /// <summary>The <c>tokenizer.*</c> metadata and the vocabulary size.</summary>
    static (List<(string Key, GgufValue Value)> Keys, int Vocab) Tokenizer(SyntheticModelOptions o)
    {
        var keys = new List<(string, GgufValue)>();
        if (o.TokenizerSource is { } src)
        {
            using var f = GgufFile.Open(src);
            var tokens = f.GetArray<string>("tokenizer.ggml.tokens") ?? throw new GgufException("the tokenizer source has no tokenizer.ggml.tokens", -1, "tokenizer.ggml.tokens");
            int n = tokens.Length;
            int vocab = o.VocabSize == 0 ? n : o.VocabSize;
            if (vocab < n) throw new ArgumentException($"vocabulary size {vocab} is smaller than the copied tokenizer's {n} tokens");
            foreach (var k in f.MetadataKeys)
            {
                if (!k.StartsWith("tokenizer.", StringComparison.Ordinal)) continue;
                var v = f.Metadata[k];
                if (vocab > n) v = PadTokenArray(k, v, n, vocab);
                keys.Add((k, v));
            }
            return (keys, vocab);
        }
        if (o.VocabSize < MinSyntheticVocab) throw new ArgumentException($"a synthetic vocabulary needs at least {MinSyntheticVocab} tokens (VocabSize is {o.VocabSize})");
        var (pieces, scores, types) = SyntheticVocabulary(o.VocabSize);
        keys.Add(("tokenizer.ggml.model", GgufValue.From("llama")));
        keys.Add(("tokenizer.ggml.tokens", GgufValue.From(pieces)));
        keys.Add(("tokenizer.ggml.scores", GgufValue.From(scores)));
        keys.Add(("tokenizer.ggml.token_type", GgufValue.From(types)));
        keys.Add(("tokenizer.ggml.unknown_token_id", GgufValue.From(0u)));
        keys.Add(("tokenizer.ggml.bos_token_id", GgufValue.From(1u)));
        keys.Add(("tokenizer.ggml.eos_token_id", GgufValue.From(2u)));
        keys.Add(("tokenizer.ggml.add_bos_token", GgufValue.From(true)));
        keys.Add(("tokenizer.ggml.add_eos_token", GgufValue.From(false)));
        keys.Add(("tokenizer.ggml.add_space_prefix", GgufValue.From(true)));
        return (keys, o.VocabSize);
    }

    /// <summary>Extends the per-token arrays of a copied tokenizer with unused tokens up to <paramref name="vocab"/>.</summary>
    static GgufValue PadTokenArray(string key, GgufValue v, int n, int vocab)
    {
        switch (key)
        {
            case "tokenizer.ggml.tokens" when v.Value is string[] t:
                {
                    var a = new string[vocab];
                    t.CopyTo(a, 0);
                    var existing = new HashSet<string>(t, StringComparer.Ordinal);
                    int serial = 0;
                    for (int i = n; i < vocab; i++)
                    {
                        string name;
                        do name = $"<unused{serial++}>"; while (existing.Contains(name));
                        a[i] = name;
                    }
                    return GgufValue.From(a);
                }
            case "tokenizer.ggml.scores" when v.Value is float[] s:
                {
                    var a = new float[vocab];
                    s.CopyTo(a, 0);
                    return GgufValue.From(a);
                }
            case "tokenizer.ggml.token_type" when v.Value is int[] s:
                {
                    var a = new int[vocab];
                    s.CopyTo(a, 0);
                    Array.Fill(a, 5, n, vocab - n); // unused
                    return GgufValue.From(a);
                }
            default: return v;
        }
    }

    /// <summary>
    /// A byte-level SentencePiece (BPE-mode) vocabulary: <c>&lt;unk&gt;</c>, <c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>, the 256
    /// byte tokens <c>&lt;0x00&gt;</c>..<c>&lt;0xFF&gt;</c>, then text pieces built up from single characters so that
    /// every piece can be reached by merges, with scores falling in order (earlier pieces merge first).
    /// </summary>
    internal static (string[] Tokens, float[] Scores, int[] Types) SyntheticVocabulary(int size)
    {
        var tokens = new List<string>(size) { "<unk>", "<s>", "</s>" };
        var types = new List<int>(size) { 2, 3, 3 };
        for (int b = 0; b < 256; b++)
        {
            tokens.Add($"<0x{b:X2}>");
            types.Add(6);
        }
        var seen = new HashSet<string>(tokens, StringComparer.Ordinal);
        // Level 1: the space marker and printable ASCII; later levels append one unit to earlier pieces.
        var units = new List<string> { "\u2581" };
        for (char c = 'a'; c <= 'z'; c++) units.Add(c.ToString());
        for (char c = 'A'; c <= 'Z'; c++) units.Add(c.ToString());
        for (char c = '0'; c <= '9'; c++) units.Add(c.ToString());
        foreach (char c in "_.,:;()[]{}=+-*/'\"#!?<>%&|@\\^`~$") units.Add(c.ToString());
        var level = new List<string>();
        foreach (var u in units)
            if (tokens.Count < size && seen.Add(u)) { tokens.Add(u); types.Add(1); level.Add(u); }
        while (tokens.Count < size)
        {
            var next = new List<string>();
            foreach (var prefix in level)
            {
                foreach (var u in units)
                {
                    if (tokens.Count >= size) break;
                    string piece = prefix + u;
                    if (seen.Add(piece)) { tokens.Add(piece); types.Add(1); next.Add(piece); }
                }
                if (tokens.Count >= size) break;
            }
            level = next;
        }
        var scores = new float[size];
        for (int i = 3 + 256; i < size; i++) scores[i] = -(i - 259);
        return (tokens.ToArray(), scores, types.ToArray());
    }
}
