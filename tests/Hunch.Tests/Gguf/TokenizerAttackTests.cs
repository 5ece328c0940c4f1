using Hunch.Gguf;
using Hunch.Tokenization;

namespace Hunch.Tests.Gguf;

/// <summary>Hostile vocabularies: files that parse as GGUF but whose tokenizer metadata lies. Each must end in a
/// <see cref="GgufException"/> naming the key when the tokenizer is built, never in a crash later.</summary>
public class TokenizerAttackTests
{
    /// <summary>A valid SentencePiece vocabulary of 300 tokens, with <paramref name="edit"/> applied to its keys.</summary>
    static GgufFile Vocabulary(Action<string[], float[], int[], GgufWriter>? edit = null)
    {
        var (tokens, scores, types) = SyntheticModel.SyntheticVocabulary(300);
        var w = new GgufWriter();
        w.SetMetadata("general.architecture", "llama");
        w.SetMetadata("tokenizer.ggml.model", "llama");
        edit?.Invoke(tokens, scores, types, w);
        if (!w.Keys.Contains("tokenizer.ggml.tokens")) w.SetMetadata("tokenizer.ggml.tokens", tokens);
        if (!w.Keys.Contains("tokenizer.ggml.scores")) w.SetMetadata("tokenizer.ggml.scores", scores);
        if (!w.Keys.Contains("tokenizer.ggml.token_type")) w.SetMetadata("tokenizer.ggml.token_type", types);
        return GgufFile.FromBytes(GgufWriterTests.ToBytes(w));
    }

    static GgufException Rejected(GgufFile f, string key)
    {
        using (f)
        {
            var e = Assert.Throws<GgufException>(() => TokenizerFactory.FromGguf(f, _ => { }));
            Assert.Equal(key, e.Item);
            return e;
        }
    }

    [Fact]
    public void ValidVocabularyLoads()
    {
        using var f = Vocabulary();
        var tok = TokenizerFactory.FromGguf(f, _ => { });
        Assert.Equal(300, tok.VocabularySize);
        // "é" has no piece, so it falls back to its two UTF-8 byte tokens <0xC3> <0xA9> (ids 3 + byte).
        Assert.Equal([3 + 0xC3, 3 + 0xA9], tok.Encode("é", addSpecial: false)[^2..]);
    }

    [Theory]
    [InlineData("<0x-1>")]
    [InlineData("<0xZZ>")]
    [InlineData("<0x1>")]
    [InlineData("<0x100>")]
    public void ByteTokenWithBadName(string name)
    {
        var e = Rejected(Vocabulary((tokens, _, _, _) => tokens[3 + 0x41] = name), "tokenizer.ggml.tokens");
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void ScoresFarBeyondTokenList()
    {
        var e = Rejected(Vocabulary((_, _, _, w) => w.SetMetadata("tokenizer.ggml.scores", new float[1 << 20])), "tokenizer.ggml.scores");
        Assert.Contains("1048576", e.Message);
    }

    [Fact]
    public void TokenTypesFarBeyondTokenList()
    {
        var e = Rejected(Vocabulary((_, _, _, w) => w.SetMetadata("tokenizer.ggml.token_type", new int[1 << 20])), "tokenizer.ggml.token_type");
        Assert.Contains("1048576", e.Message);
    }

    [Theory]
    [InlineData("tokenizer.ggml.bos_token_id", 300u)]
    [InlineData("tokenizer.ggml.eos_token_id", uint.MaxValue)]
    [InlineData("tokenizer.ggml.unknown_token_id", 1u << 31)]
    public void SpecialTokenIdFarBeyondTokenList(string key, uint id)
    {
        var e = Rejected(Vocabulary((_, _, _, w) => w.SetMetadata(key, id)), key);
        Assert.Contains(id.ToString(), e.Message);
    }

    [Fact]
    public void TokenTypeDeclaredNarrowerThanInt32()
    {
        // The published bug class: a reader that trusts its own idea of the element type reads a UInt8 array as
        // Int32 and runs four times past its end. Here the reader refuses the reinterpretation (GetArray<int>), and
        // the tokenizer, which chose to accept any integer width, converts element by element. The file is built
        // field by field because the writer would refuse to produce it.
        var (tokens, _, types) = SyntheticModel.SyntheticVocabulary(300);
        var raw = new RawGguf().Header(0, 3).KvString("tokenizer.ggml.model", "llama")
            .Key("tokenizer.ggml.tokens", GgufValueType.Array).U32((uint)GgufValueType.String).U64((ulong)tokens.Length);
        foreach (var t in tokens) raw.Str(t);
        raw.Key("tokenizer.ggml.token_type", GgufValueType.Array).U32((uint)GgufValueType.UInt8).U64((ulong)types.Length);
        foreach (var t in types) raw.U8((byte)t);
        using var f = GgufFile.FromBytes(raw.ToArray());
        var e = Assert.Throws<GgufException>(() => f.GetArray<int>("tokenizer.ggml.token_type"));
        Assert.Contains("Array of UInt8", e.Message);
        Assert.True(e.Offset > 0);
        var tok = TokenizerFactory.FromGguf(f, _ => { });
        Assert.Equal(300, tok.VocabularySize);
        Assert.Equal(TokenKind.Unknown, tok.Kind(0));
        Assert.Equal(TokenKind.Control, tok.Kind(1));
        Assert.Equal(TokenKind.Byte, tok.Kind(3 + 0x41));
        Assert.Equal(TokenKind.Normal, tok.Kind(299));
    }

    [Fact]
    public void DuplicateTokensLoadWithAWarning()
    {
        // llama.cpp's lookup keeps the later id; the reader maps invalid UTF-8 to U+FFFD, so two distinct entries can
        // look identical: a warning, not an error.
        using var f = Vocabulary((tokens, _, _, _) => tokens[299] = tokens[298]);
        var warnings = new List<string>();
        var tok = TokenizerFactory.FromGguf(f, warnings.Add);
        Assert.Contains(warnings, w => w.Contains("299") || w.Contains("298") || w.Contains("duplicate", StringComparison.OrdinalIgnoreCase) || w.Contains("repeated", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(300, tok.VocabularySize);
    }
}
