using System.Text;
using Hunch.Gguf;
using Hunch.Kernels;
using Hunch.Models;
using Hunch.Tokenization;

namespace Hunch.Training;

/// <summary>Which kind of draft heads.</summary>
public enum HeadVariant
{
    /// <summary>Medusa-1: head k maps the last hidden state h to h + SiLU(W h + b) and reads token t+k+1 through the
    /// target's frozen output matrix; heads are independent of each other.</summary>
    Medusa,
    /// <summary>Hydra-style sequentially dependent heads: head k also reads the embedding of the token just before
    /// the one it predicts (the root for head 1, its parent draft after that): h + SiLU(W [h; e] + b).</summary>
    Hydra,
}

/// <summary>
/// Small draft heads trained for one target model (docs/draft-heads.md): K zero-initialised residual SiLU blocks on
/// the target's final normalised hidden state, sharing the target's frozen output matrix (Medusa-1 trains a copy per
/// head; on a CPU sharing it is the default). Head k (1-based) predicts the token k+1 positions after the hidden
/// state's own position. Forward and backward are written by hand for exactly these modules.
/// </summary>
public sealed class DraftHeads
{
    /// <summary>Metadata key prefix of drafter files.</summary>
    public const string KeyPrefix = "hunch.drafter.";

    /// <summary>Number of heads.</summary>
    public int HeadCount { get; }
    /// <summary>Hidden size of the target.</summary>
    public int Hidden { get; }
    /// <summary>Head variant.</summary>
    public HeadVariant Variant { get; }
    /// <summary>Input width of each head's matrix (hidden, or hidden plus an embedding for Hydra).</summary>
    public int InputWidth => Variant == HeadVariant.Hydra ? 2 * Hidden : Hidden;

    /// <summary>Per head: weights [Hidden x InputWidth] row-major, then bias [Hidden].</summary>
    internal readonly float[][] Weights;
    internal readonly float[][] Biases;

    /// <summary>Creates zero-initialised heads (each head starts as the identity, i.e. predicts like the base model).</summary>
    public DraftHeads(int headCount, int hidden, HeadVariant variant)
    {
        if (headCount is < 1 or > 16) throw new ArgumentOutOfRangeException(nameof(headCount), "1..16 heads");
        if (hidden is < 1 or > 1 << 16) throw new ArgumentOutOfRangeException(nameof(hidden));
        HeadCount = headCount;
        Hidden = hidden;
        Variant = variant;
        Weights = new float[headCount][];
        Biases = new float[headCount][];
        for (int k = 0; k < headCount; k++) { Weights[k] = new float[hidden * InputWidth]; Biases[k] = new float[hidden]; }
    }

    /// <summary>Total trainable parameters.</summary>
    public long ParameterCount => (long)HeadCount * (Hidden * InputWidth + Hidden);

    /// <summary>
    /// Head <paramref name="head"/> (0-based) on one input: writes h' = h + SiLU(W x + b) where x = h (Medusa) or
    /// [h; e] (Hydra); <paramref name="preActivation"/> receives z = W x + b (kept for the backward pass).
    /// </summary>
    public unsafe void Forward(int head, ReadOnlySpan<float> h, ReadOnlySpan<float> e, Span<float> output, Span<float> preActivation)
    {
        int d = Hidden, din = InputWidth;
        var w = Weights[head];
        var b = Biases[head];
        fixed (float* pw = w, ph = h, pe = e)
        {
            for (int r = 0; r < d; r++)
            {
                float z = RowKernels.DotF32(pw + (long)r * din, ph, d);
                if (Variant == HeadVariant.Hydra) z += RowKernels.DotF32(pw + (long)r * din + d, pe, d);
                z += b[r];
                preActivation[r] = z;
                output[r] = h[r] + Silu(z);
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="Forward"/>: given dL/dh' (<paramref name="gradOutput"/>) accumulates dL/dW and dL/db into
    /// the gradient buffers (same shapes as the parameters).
    /// </summary>
    public void Backward(int head, ReadOnlySpan<float> h, ReadOnlySpan<float> e, ReadOnlySpan<float> preActivation,
        ReadOnlySpan<float> gradOutput, float[] gradWeights, float[] gradBias)
    {
        int d = Hidden, din = InputWidth;
        for (int r = 0; r < d; r++)
        {
            float dz = gradOutput[r] * SiluDerivative(preActivation[r]);
            if (dz == 0) continue;
            gradBias[r] += dz;
            var row = gradWeights.AsSpan(r * din, din);
            for (int c = 0; c < d; c++) row[c] += dz * h[c];
            if (Variant == HeadVariant.Hydra)
                for (int c = 0; c < d; c++) row[d + c] += dz * e[c];
        }
    }

    internal static float Silu(float z) => z / (1f + MathF.Exp(-z));

    internal static float SiluDerivative(float z)
    {
        float s = 1f / (1f + MathF.Exp(-z));
        return s * (1f + z * (1f - s));
    }

    /// <summary>A hash of the vocabulary's token texts, tying a drafter file to its target's vocabulary.</summary>
    public static ulong VocabularyHash(ITokenizer tokenizer)
    {
        ulong hash = 14695981039346656037UL;
        for (int i = 0; i < tokenizer.VocabularySize; i++)
        {
            foreach (byte c in Encoding.UTF8.GetBytes(tokenizer.TokenText(i))) { hash ^= c; hash *= 1099511628211UL; }
            hash ^= 0xFF; hash *= 1099511628211UL;
        }
        return hash;
    }

    /// <summary>Writes the heads as a GGUF drafter file tied to its target (architecture, hidden size, vocabulary).</summary>
    public void Save(string path, TransformerModel target, ITokenizer tokenizer, IReadOnlyDictionary<string, object>? extra = null)
    {
        var w = new GgufWriter();
        w.SetMetadata("general.architecture", "hunch-drafter");
        w.SetMetadata(KeyPrefix + "kind", "heads");
        w.SetMetadata(KeyPrefix + "variant", Variant.ToString().ToLowerInvariant());
        w.SetMetadata(KeyPrefix + "head_count", (uint)HeadCount);
        w.SetMetadata(KeyPrefix + "target.architecture", target.Config.Architecture);
        w.SetMetadata(KeyPrefix + "target.hidden_size", (uint)Hidden);
        w.SetMetadata(KeyPrefix + "target.vocab_size", (uint)target.Config.VocabSize);
        w.SetMetadata(KeyPrefix + "target.vocab_hash", VocabularyHash(tokenizer));
        if (extra is not null) foreach (var (k, v) in extra) w.SetMetadata(KeyPrefix + k, v);
        for (int k = 0; k < HeadCount; k++)
        {
            w.AddTensor($"head.{k}.weight", GgmlType.F32, [InputWidth, Hidden], FloatBytes(Weights[k]));
            w.AddTensor($"head.{k}.bias", GgmlType.F32, [Hidden], FloatBytes(Biases[k]));
        }
        string tmp = path + ".tmp";
        w.Write(tmp);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Loads heads from a drafter file, checking that it was trained for <paramref name="target"/>.</summary>
    /// <exception cref="GgufException">Not a heads file, or made for another model (the message says what differs).</exception>
    public static DraftHeads Load(string path, TransformerModel target, ITokenizer tokenizer)
    {
        using var f = GgufFile.Open(path);
        return Load(f, target, tokenizer);
    }

    internal static DraftHeads Load(GgufFile f, TransformerModel target, ITokenizer tokenizer)
    {
        if (f.GetString(KeyPrefix + "kind") != "heads") throw new GgufException("not a draft-heads file (hunch.drafter.kind is not 'heads')", -1, KeyPrefix + "kind");
        var variant = f.GetString(KeyPrefix + "variant") switch
        {
            "medusa" => HeadVariant.Medusa,
            "hydra" => HeadVariant.Hydra,
            var v => throw new GgufException($"unknown head variant '{v}'", -1, KeyPrefix + "variant"),
        };
        long heads = f.GetRequiredInt(KeyPrefix + "head_count");
        long hidden = f.GetRequiredInt(KeyPrefix + "target.hidden_size");
        string arch = f.GetString(KeyPrefix + "target.architecture") ?? "";
        if (arch != target.Config.Architecture) throw new GgufException($"the heads were trained for a '{arch}' model, not '{target.Config.Architecture}'", -1, KeyPrefix + "target.architecture");
        if (hidden != target.Config.EmbeddingSize) throw new GgufException($"the heads expect hidden size {hidden}, the model has {target.Config.EmbeddingSize}", -1, KeyPrefix + "target.hidden_size");
        if (f.GetInt(KeyPrefix + "target.vocab_size", -1) != target.Config.VocabSize) throw new GgufException("the heads were trained for another vocabulary size", -1, KeyPrefix + "target.vocab_size");
        var hashValue = f.Find(KeyPrefix + "target.vocab_hash");
        if (hashValue?.Value is not ulong hash || hash != VocabularyHash(tokenizer)) throw new GgufException("the heads were trained for another vocabulary (token texts differ)", -1, KeyPrefix + "target.vocab_hash");
        if (heads is < 1 or > 16) throw new GgufException($"head count {heads} is out of range", -1, KeyPrefix + "head_count");
        var result = new DraftHeads((int)heads, (int)hidden, variant);
        for (int k = 0; k < heads; k++)
        {
            ReadInto(f, $"head.{k}.weight", result.Weights[k], [result.InputWidth, result.Hidden]);
            ReadInto(f, $"head.{k}.bias", result.Biases[k], [result.Hidden]);
        }
        return result;
    }

    static void ReadInto(GgufFile f, string name, float[] destination, long[] shape)
    {
        var t = f.GetTensor(name);
        if (t.Type != GgmlType.F32 || !t.Dimensions.AsSpan().SequenceEqual(shape))
            throw new GgufException($"tensor must be F32 [{string.Join(", ", shape)}], found {t.Type} [{string.Join(", ", t.Dimensions)}]", t.FileOffset, name);
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(f.GetTensorBytes(t)).CopyTo(destination);
    }

    static byte[] FloatBytes(float[] v) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()).ToArray();
}
