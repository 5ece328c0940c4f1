namespace Hunch.Gguf;

/// <summary>
/// The exact value types llama.cpp's loader demands for the standard keys (it rejects a key of any other type with
/// "key ... has wrong type"). <see cref="GgufWriter"/> enforces them so every file we write loads in llama.cpp.
/// </summary>
static class GgufKeyTypes
{
    // Keys under "{architecture}." are matched by suffix.
    static readonly Dictionary<string, GgufValueType> ArchScalars = new(StringComparer.Ordinal)
    {
        ["context_length"] = GgufValueType.UInt32,
        ["embedding_length"] = GgufValueType.UInt32,
        ["block_count"] = GgufValueType.UInt32,
        ["vocab_size"] = GgufValueType.UInt32,
        ["expert_count"] = GgufValueType.UInt32,
        ["expert_used_count"] = GgufValueType.UInt32,
        ["attention.key_length"] = GgufValueType.UInt32,
        ["attention.value_length"] = GgufValueType.UInt32,
        ["rope.dimension_count"] = GgufValueType.UInt32,
        ["rope.scaling.original_context_length"] = GgufValueType.UInt32,
        ["attention.layer_norm_rms_epsilon"] = GgufValueType.Float32,
        ["attention.layer_norm_epsilon"] = GgufValueType.Float32,
        ["rope.freq_base"] = GgufValueType.Float32,
        ["rope.scaling.factor"] = GgufValueType.Float32,
        ["rope.scaling.type"] = GgufValueType.String,
    };

    // These may also be per-layer arrays (llama.cpp's get_key_or_arr accepts UInt32 or Int32 elements).
    static readonly HashSet<string> ArchScalarOrLayerArray = new(StringComparer.Ordinal)
    {
        "feed_forward_length", "attention.head_count", "attention.head_count_kv",
    };

    static readonly Dictionary<string, (GgufValueType Type, GgufValueType Element)> Exact = new(StringComparer.Ordinal)
    {
        ["general.architecture"] = (GgufValueType.String, GgufValueType.String),
        ["general.name"] = (GgufValueType.String, GgufValueType.String),
        ["general.alignment"] = (GgufValueType.UInt32, GgufValueType.UInt32),
        ["general.file_type"] = (GgufValueType.UInt32, GgufValueType.UInt32),
        ["general.quantization_version"] = (GgufValueType.UInt32, GgufValueType.UInt32),
        ["tokenizer.ggml.model"] = (GgufValueType.String, GgufValueType.String),
        ["tokenizer.ggml.pre"] = (GgufValueType.String, GgufValueType.String),
        ["tokenizer.ggml.tokens"] = (GgufValueType.Array, GgufValueType.String),
        ["tokenizer.ggml.scores"] = (GgufValueType.Array, GgufValueType.Float32),
        ["tokenizer.ggml.token_type"] = (GgufValueType.Array, GgufValueType.Int32),
        ["tokenizer.ggml.merges"] = (GgufValueType.Array, GgufValueType.String),
        ["tokenizer.ggml.add_bos_token"] = (GgufValueType.Bool, GgufValueType.Bool),
        ["tokenizer.ggml.add_eos_token"] = (GgufValueType.Bool, GgufValueType.Bool),
        ["tokenizer.ggml.add_space_prefix"] = (GgufValueType.Bool, GgufValueType.Bool),
        ["tokenizer.ggml.remove_extra_whitespaces"] = (GgufValueType.Bool, GgufValueType.Bool),
        ["tokenizer.chat_template"] = (GgufValueType.String, GgufValueType.String),
    };

    /// <summary>
    /// Checks <paramref name="value"/> against the type llama.cpp requires for <paramref name="key"/>; returns null
    /// when it is acceptable (or the key is not a standard one), otherwise a description of the required type.
    /// </summary>
    public static string? Check(string key, GgufValue value)
    {
        if (Exact.TryGetValue(key, out var e))
            return value.Type == e.Type && value.ElementType == e.Element ? null : Describe(e.Type, e.Element);
        if (key.StartsWith("tokenizer.ggml.", StringComparison.Ordinal) && key.EndsWith("_token_id", StringComparison.Ordinal))
            return value.Type == GgufValueType.UInt32 ? null : "UInt32";
        if (key.StartsWith("general.", StringComparison.Ordinal) || key.StartsWith("tokenizer.", StringComparison.Ordinal)) return null;
        int dot = key.IndexOf('.');
        if (dot <= 0) return null;
        string suffix = key[(dot + 1)..];
        if (ArchScalars.TryGetValue(suffix, out var t))
            return value.Type == t ? null : t.ToString();
        if (ArchScalarOrLayerArray.Contains(suffix))
            return value.Type == GgufValueType.UInt32
                || (value.Type == GgufValueType.Array && value.ElementType is GgufValueType.UInt32 or GgufValueType.Int32)
                ? null : "UInt32 (or a per-layer array of UInt32/Int32)";
        return null;
    }

    static string Describe(GgufValueType type, GgufValueType element) =>
        type == GgufValueType.Array ? $"Array of {element}" : type.ToString();
}
