using Hunch.Gguf;

namespace Hunch.Models;

/// <summary>The shape and hyper-parameters of a transformer, read from GGUF metadata.</summary>
public sealed record ModelConfig
{
    /// <summary><c>general.architecture</c>: <c>llama</c> or <c>qwen2</c>.</summary>
    public required string Architecture { get; init; }
    /// <summary>Model width (n_embd).</summary>
    public required int EmbeddingSize { get; init; }
    /// <summary>Number of transformer blocks.</summary>
    public required int LayerCount { get; init; }
    /// <summary>Query heads.</summary>
    public required int HeadCount { get; init; }
    /// <summary>Key/value heads (grouped-query attention when fewer than <see cref="HeadCount"/>).</summary>
    public required int KvHeadCount { get; init; }
    /// <summary>Size of one head.</summary>
    public required int HeadDim { get; init; }
    /// <summary>Feed-forward hidden size.</summary>
    public required int FeedForwardSize { get; init; }
    /// <summary>Vocabulary size (rows of the embedding matrix).</summary>
    public required int VocabSize { get; init; }
    /// <summary>Context length the model was trained for.</summary>
    public required int ContextLength { get; init; }
    /// <summary>RMSNorm epsilon.</summary>
    public required float RmsEps { get; init; }
    /// <summary>RoPE frequency base.</summary>
    public required float RopeBase { get; init; }
    /// <summary>Number of leading dimensions of each head that RoPE rotates.</summary>
    public required int RopeDimensions { get; init; }
    /// <summary>True for NeoX-style rope (rotate i with i + d/2), false for adjacent pairs.</summary>
    public required bool RopeNeox { get; init; }

    /// <summary>Width of the key/value projections.</summary>
    public int KvDim => KvHeadCount * HeadDim;
    /// <summary>Width of the query projection.</summary>
    public int QDim => HeadCount * HeadDim;

    /// <summary>Architectures this engine runs.</summary>
    public static readonly IReadOnlyList<string> SupportedArchitectures = ["llama", "qwen2"];

    /// <summary>Reads the configuration from GGUF metadata, validating every value.</summary>
    /// <exception cref="GgufException">A value is missing, out of range, or the architecture is unknown.</exception>
    public static ModelConfig FromGguf(GgufFile file)
    {
        string arch = file.GetString("general.architecture") ?? throw new GgufException("required metadata key is missing", -1, "general.architecture");
        bool known = false;
        foreach (var a in SupportedArchitectures) known |= a == arch;
        if (!known) throw new GgufException($"unsupported model architecture '{arch}' (supported: {string.Join(", ", SupportedArchitectures)})", -1, "general.architecture");

        int Int(string suffix, long min, long max, long? fallback = null)
        {
            string key = $"{arch}.{suffix}";
            long v = fallback is null ? file.GetRequiredInt(key) : file.GetInt(key, fallback.Value);
            if (v < min || v > max) throw new GgufException($"value {v} is out of range [{min}, {max}]", -1, key);
            return (int)v;
        }

        int embd = Int("embedding_length", 1, 1 << 16);
        int layers = Int("block_count", 1, 1024);
        int heads = Int("attention.head_count", 1, 1024);
        int kvHeads = Int("attention.head_count_kv", 1, 1024, heads);
        if (heads % kvHeads != 0) throw new GgufException($"head count {heads} is not a multiple of kv head count {kvHeads}", -1, $"{arch}.attention.head_count_kv");
        int headDim = Int("attention.key_length", 1, 4096, embd / heads);
        int ff = Int("feed_forward_length", 1, 1 << 20);
        int ctx = Int("context_length", 1, 1 << 24);
        int ropeDims = Int("rope.dimension_count", 2, headDim, headDim);
        double eps = file.GetFloat($"{arch}.attention.layer_norm_rms_epsilon", 1e-5);
        double ropeBase = file.GetFloat($"{arch}.rope.freq_base", 10000.0);
        if (!(eps > 0 && eps < 1)) throw new GgufException($"RMS epsilon {eps} is out of range", -1, $"{arch}.attention.layer_norm_rms_epsilon");
        if (!(ropeBase > 1 && ropeBase < 1e12)) throw new GgufException($"rope base {ropeBase} is out of range", -1, $"{arch}.rope.freq_base");
        var emb = file.GetTensor("token_embd.weight");
        if (emb.Dimensions.Length != 2 || emb.Dimensions[0] != embd)
            throw new GgufException($"token_embd.weight has shape [{string.Join(", ", emb.Dimensions)}], expected [{embd}, vocab]", emb.FileOffset, emb.Name);
        if (emb.Dimensions[1] > 1 << 24) throw new GgufException("vocabulary is too large", emb.FileOffset, emb.Name);

        return new ModelConfig
        {
            Architecture = arch,
            EmbeddingSize = embd,
            LayerCount = layers,
            HeadCount = heads,
            KvHeadCount = kvHeads,
            HeadDim = headDim,
            FeedForwardSize = ff,
            VocabSize = (int)emb.Dimensions[1],
            ContextLength = ctx,
            RmsEps = (float)eps,
            RopeBase = (float)ropeBase,
            RopeDimensions = ropeDims,
            RopeNeox = arch == "qwen2",
        };
    }
}
