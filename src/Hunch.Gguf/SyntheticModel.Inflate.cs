namespace Hunch.Gguf;

/// <summary>Options of <see cref="SyntheticModel.Inflate"/>.</summary>
public sealed class InflateOptions
{
    /// <summary>Type of the weight matrices written; null keeps each source tensor's type. Norms and biases keep
    /// theirs. Quantized types need <see cref="Quantizer"/>.</summary>
    public GgmlType? WeightType { get; init; }
    /// <summary>Quantizer for a quantized <see cref="WeightType"/>.</summary>
    public RowQuantizer? Quantizer { get; init; }
}

public static partial class SyntheticModel
{
    /// <summary>
    /// Writes a copy of the model at <paramref name="sourcePath"/> padded to <paramref name="widthMultiplier"/> times
    /// its width (hidden size, heads, kv heads and feed-forward; head dimension and vocabulary unchanged) and to
    /// <paramref name="layers"/> layers, computing the same function:
    /// <list type="bullet">
    /// <item>real dimensions, heads and rows come first and the padding is zero, so padded heads see zero queries,
    /// keys and values and contribute nothing; heads and kv heads grow by the same factor, so query head i keeps
    /// kv head i / (heads / kv heads);</item>
    /// <item>the residual stream is scaled by s = sqrt(widthMultiplier): token embeddings, attention output and
    /// feed-forward down (the two residual writers) are multiplied by s and every norm weight divided by s, so
    /// RMSNorm over the wide stream equals RMSNorm over the original; <c>output.weight</c> is not scaled (a tied
    /// model gets an explicit, unscaled one). With a perfect-square multiplier (4 gives s = 2) every scaling is by a
    /// power of two and exact in floating point;</item>
    /// <item>layers beyond the source's are copies of real layers with zero attention-output and feed-forward-down
    /// matrices (and biases): identity in function, real in cost.</item>
    /// </list>
    /// Source weights must be F32, F16 or BF16 (quantize the result with <see cref="InflateOptions.WeightType"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Unsupported source model or arguments.</exception>
    public static void Inflate(string sourcePath, string destPath, int widthMultiplier, int layers, InflateOptions? options = null)
    {
        options ??= new InflateOptions();
        using var src = GgufFile.Open(sourcePath);
        var w = PlanInflation(src, widthMultiplier, layers, options);
        w.Write(destPath);
    }

    sealed record InflateRule(int Columns, int Rows, float Factor, bool Zero);

    static GgufWriter PlanInflation(GgufFile src, int m, int layers, InflateOptions options)
    {
        string arch = src.GetString("general.architecture") ?? throw new ArgumentException("source has no general.architecture");
        if (arch is not ("llama" or "qwen2")) throw new ArgumentException($"inflating architecture '{arch}' is not supported (llama, qwen2)");
        if (m < 1) throw new ArgumentException($"width multiplier {m} must be at least 1");
        int Scalar(string suffix, int? fallback = null)
        {
            string key = $"{arch}.{suffix}";
            var v = src.Find(key);
            if (v is null) return fallback ?? throw new ArgumentException($"source has no {key}");
            if (!v.TryGetInt64(out long x) || x <= 0 || x > int.MaxValue) throw new ArgumentException($"{key} must be a positive integer (per-layer arrays are not supported), found {v}");
            return (int)x;
        }
        int d = Scalar("embedding_length"), h = Scalar("attention.head_count"), hk = Scalar("attention.head_count_kv", h);
        int ff = Scalar("feed_forward_length"), sourceLayers = Scalar("block_count");
        int hd = Scalar("attention.key_length", d / h);
        if (Scalar("attention.value_length", hd) != hd) throw new ArgumentException("key and value head dimensions differ");
        if (layers < sourceLayers) throw new ArgumentException($"layers {layers} is fewer than the source's {sourceLayers}");
        int D = checked(m * d), H = checked(m * h), HK = checked(m * hk), FF = checked(m * ff);
        float s = MathF.Sqrt(m);

        var writer = new GgufWriter(src.Alignment);
        foreach (var key in src.MetadataKeys)
        {
            var v = src.Metadata[key];
            if (key == $"{arch}.embedding_length") v = GgufValue.From((uint)D);
            else if (key == $"{arch}.attention.head_count") v = GgufValue.From((uint)H);
            else if (key == $"{arch}.attention.head_count_kv") v = GgufValue.From((uint)HK);
            else if (key == $"{arch}.feed_forward_length") v = GgufValue.From((uint)FF);
            else if (key == $"{arch}.block_count") v = GgufValue.From((uint)layers);
            else if (key == "general.name" && v.Value is string name) v = GgufValue.From($"{name} (inflated x{m} wide, {layers} layers)");
            else if (key == "general.file_type" && options.WeightType is { } wt)
            {
                if (WeightEncoding.FileType(wt) is not { } ft) continue;
                v = GgufValue.From(ft);
            }
            writer.SetMetadata(key, v);
        }
        if (options.WeightType is { } quantType && !WeightEncoding.IsFloat(quantType))
        {
            if (options.Quantizer is null) throw new ArgumentException($"weight type {quantType} needs a Quantizer");
            writer.SetMetadata("general.quantization_version", 2u);
        }

        int q = h * hd, kv = hk * hd, Q = H * hd, KV = HK * hd;
        InflateRule LayerRule(string part, bool identity) => part switch
        {
            "attn_norm.weight" or "ffn_norm.weight" => new(D, 1, 1 / s, false),
            "attn_q.weight" => new(D, Q, 1, false),
            "attn_k.weight" or "attn_v.weight" => new(D, KV, 1, false),
            "attn_output.weight" => new(Q, D, s, identity),
            "ffn_gate.weight" or "ffn_up.weight" => new(D, FF, 1, false),
            "ffn_down.weight" => new(FF, D, s, identity),
            "attn_q.bias" => new(Q, 1, 1, false),
            "attn_k.bias" or "attn_v.bias" => new(KV, 1, 1, false),
            "attn_output.bias" or "ffn_down.bias" => new(D, 1, s, identity),
            "ffn_gate.bias" or "ffn_up.bias" => new(FF, 1, 1, false),
            _ => throw new ArgumentException($"don't know how to inflate tensor blk.N.{part}"),
        };
        InflateRule Rule(string name) => name switch
        {
            "token_embd.weight" => new(D, -1, s, false),
            "output.weight" => new(D, -1, 1, false),
            "output_norm.weight" => new(D, 1, 1 / s, false),
            "rope_freqs.weight" => new(-1, -1, 1, false),
            _ when name.StartsWith("blk.", StringComparison.Ordinal) && name.IndexOf('.', 4) is int dot and > 4
                => LayerRule(name[(dot + 1)..], false),
            _ => throw new ArgumentException($"don't know how to inflate tensor {name}"),
        };

        var plan = new List<(string Name, GgufTensorInfo Source, InflateRule Rule)>();
        foreach (var t in src.Tensors) plan.Add((t.Name, t, Rule(t.Name)));
        var emb = src.GetTensor("token_embd.weight");
        if (src.FindTensor("output.weight") is null) plan.Add(("output.weight", emb, new(D, -1, 1, false)));
        for (int l = sourceLayers; l < layers; l++)
        {
            string from = $"blk.{l % sourceLayers}.";
            foreach (var t in src.Tensors)
                if (t.Name.StartsWith(from, StringComparison.Ordinal))
                {
                    string part = t.Name[from.Length..];
                    plan.Add(($"blk.{l}.{part}", t, LayerRule(part, identity: true)));
                }
        }

        foreach (var (name, t, rule) in plan)
        {
            if (!WeightEncoding.IsFloat(t.Type))
                throw new ArgumentException($"tensor {t.Name} is {t.Type}; inflate from an F32, F16 or BF16 model and quantize the result with WeightType");
            if (t.Dimensions.Length > 2) throw new ArgumentException($"tensor {t.Name} has {t.Dimensions.Length} dimensions");
            int cols = (int)t.Dimensions[0], rows = t.Dimensions.Length > 1 ? (int)t.Dimensions[1] : 1;
            int outCols = rule.Columns < 0 ? cols : rule.Columns, outRows = rule.Rows < 0 ? rows : rule.Rows;
            // The source must have the shape the rule assumes; the padding factor is exactly m on every grown axis.
            if ((rule.Columns >= 0 && (long)cols * m != outCols) || (rule.Rows > 1 && (long)rows * m != outRows) || (rule.Rows == 1 && rows != 1))
                throw new ArgumentException($"tensor {t.Name} has shape [{string.Join(", ", t.Dimensions)}], which does not match the model's hyperparameters");
            var outType = t.Dimensions.Length == 2 && options.WeightType is { } wt ? wt : t.Type;
            long[] dims = t.Dimensions.Length == 1 ? [outCols] : [outCols, outRows];
            var source = t;
            var quantizer = options.Quantizer;
            writer.AddTensor(name, outType, dims, dst => WriteInflated(src, source, cols, rows, outCols, outRows, outType, rule, quantizer, dst));
        }
        return writer;
    }

    static void WriteInflated(GgufFile src, GgufTensorInfo t, int cols, int rows, int outCols, int outRows, GgmlType outType,
        InflateRule rule, RowQuantizer? quantizer, Stream dst)
    {
        var input = new float[cols];
        var row = new float[outCols];
        var bytes = new byte[GgmlTypeInfo.RowBytes(outType, outCols)];
        long srcRowBytes = GgmlTypeInfo.RowBytes(t.Type, cols);
        var data = src.GetTensorBytes(t);
        for (int r = 0; r < outRows; r++)
        {
            Array.Clear(row);
            if (r < rows && !rule.Zero)
            {
                WeightEncoding.Decode(t.Type, data.Slice((int)(r * srcRowBytes), (int)srcRowBytes), input);
                for (int c = 0; c < cols; c++) row[c] = input[c] * rule.Factor;
            }
            WeightEncoding.Encode(outType, row, bytes, quantizer);
            dst.Write(bytes);
        }
    }
}
