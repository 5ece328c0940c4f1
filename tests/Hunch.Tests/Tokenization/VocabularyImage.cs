using System.Text;
using Hunch.Gguf;

namespace Hunch.Tests.Tokenization;

/// <summary>Builds small vocabulary-only GGUF images in memory (GGUF v3, no tensors) for hostile-metadata tests.</summary>
internal sealed class VocabularyImage
{
    readonly List<(string Key, Action<BinaryWriter> Write)> _entries = [];

    public VocabularyImage String(string key, string value) { _entries.Add((key, w => { w.Write(8u); WriteString(w, value); })); return this; }
    public VocabularyImage UInt32(string key, uint value) { _entries.Add((key, w => { w.Write(4u); w.Write(value); })); return this; }
    public VocabularyImage Bool(string key, bool value) { _entries.Add((key, w => { w.Write(7u); w.Write(value); })); return this; }

    public VocabularyImage Strings(string key, IReadOnlyList<string> values)
    {
        _entries.Add((key, w => { w.Write(9u); w.Write(8u); w.Write((ulong)values.Count); foreach (var v in values) WriteString(w, v); }));
        return this;
    }

    public VocabularyImage Floats(string key, IReadOnlyList<float> values)
    {
        _entries.Add((key, w => { w.Write(9u); w.Write(6u); w.Write((ulong)values.Count); foreach (var v in values) w.Write(v); }));
        return this;
    }

    public VocabularyImage Ints(string key, IReadOnlyList<int> values)
    {
        _entries.Add((key, w => { w.Write(9u); w.Write(5u); w.Write((ulong)values.Count); foreach (var v in values) w.Write(v); }));
        return this;
    }

    static void WriteString(BinaryWriter w, string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)b.Length);
        w.Write(b);
    }

    public byte[] ToBytes()
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        w.Write(GgufFile.Magic);
        w.Write(3u);
        w.Write(0UL);
        w.Write((ulong)_entries.Count);
        foreach (var (key, write) in _entries) { WriteString(w, key); write(w); }
        while (ms.Length % GgufFile.DefaultAlignment != 0) w.Write((byte)0);
        w.Flush();
        return ms.ToArray();
    }

    public GgufFile ToFile() => GgufFile.FromBytes(ToBytes());

    /// <summary>A small valid SentencePiece vocabulary: control tokens, 256 byte tokens and a few pieces.</summary>
    public static (List<string> Tokens, List<float> Scores, List<int> Types) SmallSpm(params (string Piece, float Score)[] pieces)
    {
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        var scores = new List<float> { 0, 0, 0 };
        var types = new List<int> { 2, 3, 3 };
        for (int b = 0; b < 256; b++) { tokens.Add($"<0x{b:X2}>"); scores.Add(0); types.Add(6); }
        foreach (var (p, s) in pieces) { tokens.Add(p); scores.Add(s); types.Add(1); }
        return (tokens, scores, types);
    }

    public static VocabularyImage Spm(List<string> tokens, List<float> scores, List<int> types) =>
        new VocabularyImage().String("general.architecture", "llama").String("tokenizer.ggml.model", "llama")
            .Strings("tokenizer.ggml.tokens", tokens).Floats("tokenizer.ggml.scores", scores).Ints("tokenizer.ggml.token_type", types);
}
