using Hunch.Gguf;
using Hunch.Tokenization;

namespace Hunch.Tests.Tokenization;

/// <summary>Hostile or inconsistent vocabulary metadata gives a clear typed error, never a crash.</summary>
public class VocabularyValidationTests
{
    static GgufException Fails(VocabularyImage image)
    {
        using var file = image.ToFile();
        return Assert.Throws<GgufException>(() => TokenizerFactory.FromGguf(file, _ => { }));
    }

    [Fact]
    public void ValidSmallVocabularyLoads()
    {
        var (t, s, y) = VocabularyImage.SmallSpm(("▁a", -1), ("b", -2));
        using var file = VocabularyImage.Spm(t, s, y).ToFile();
        var tok = TokenizerFactory.FromGguf(file);
        Assert.Equal(t.Count, tok.VocabularySize);
        Assert.Equal(1, tok.BosId);
        Assert.Equal(2, tok.EosId);
        Assert.True(tok.AddBos);
    }

    [Theory]
    [InlineData("<0x-1>")]
    [InlineData("<0xZZ>")]
    [InlineData("<0x1>")]
    [InlineData("0x41")]
    [InlineData("<0x411>")]
    public void MalformedByteTokenNameIsRejected(string name)
    {
        var (t, s, y) = VocabularyImage.SmallSpm();
        t[3 + 0x41] = name;
        var ex = Fails(VocabularyImage.Spm(t, s, y));
        Assert.Contains(name, ex.Message);
        Assert.Contains("byte token", ex.Message);
    }

    [Fact]
    public void ScoreCountMismatchIsRejected()
    {
        var (t, s, y) = VocabularyImage.SmallSpm(("a", 0));
        s.RemoveAt(s.Count - 1);
        var ex = Fails(VocabularyImage.Spm(t, s, y));
        Assert.Equal("tokenizer.ggml.scores", ex.Item);
    }

    [Fact]
    public void TypeCountMismatchIsRejected()
    {
        var (t, s, y) = VocabularyImage.SmallSpm(("a", 0));
        y.Add(1);
        var ex = Fails(VocabularyImage.Spm(t, s, y));
        Assert.Equal("tokenizer.ggml.token_type", ex.Item);
    }

    [Theory]
    [InlineData("tokenizer.ggml.bos_token_id")]
    [InlineData("tokenizer.ggml.eos_token_id")]
    [InlineData("tokenizer.ggml.unknown_token_id")]
    public void SpecialIdOutsideVocabularyIsRejected(string key)
    {
        var (t, s, y) = VocabularyImage.SmallSpm();
        var ex = Fails(VocabularyImage.Spm(t, s, y).UInt32(key, (uint)t.Count));
        Assert.Equal(key, ex.Item);
        Assert.Contains("outside the vocabulary", ex.Message);
    }

    [Fact]
    public void HugeSpecialIdIsRejected()
    {
        var (t, s, y) = VocabularyImage.SmallSpm();
        Assert.Equal("tokenizer.ggml.bos_token_id", Fails(VocabularyImage.Spm(t, s, y).UInt32("tokenizer.ggml.bos_token_id", uint.MaxValue)).Item);
    }

    [Fact]
    public void MissingTokenListIsRejected()
    {
        var ex = Fails(new VocabularyImage().String("tokenizer.ggml.model", "llama"));
        Assert.Equal("tokenizer.ggml.tokens", ex.Item);
    }

    [Fact]
    public void EmptyTokenListIsRejected()
    {
        var ex = Fails(new VocabularyImage().String("tokenizer.ggml.model", "llama").Strings("tokenizer.ggml.tokens", []));
        Assert.Equal("tokenizer.ggml.tokens", ex.Item);
    }

    [Fact]
    public void TokenListOfWrongTypeIsRejected()
    {
        var ex = Fails(new VocabularyImage().String("tokenizer.ggml.model", "llama").Ints("tokenizer.ggml.tokens", [1, 2, 3]));
        Assert.Equal("tokenizer.ggml.tokens", ex.Item);
    }

    [Fact]
    public void DuplicateTokenIsReportedAndTheLaterIdWins()
    {
        var (t, s, y) = VocabularyImage.SmallSpm(("ab", 0), ("ab", 0));
        using var file = VocabularyImage.Spm(t, s, y).ToFile();
        var warnings = new List<string>();
        var tok = TokenizerFactory.FromGguf(file, warnings.Add);
        Assert.Contains(warnings, w => w.Contains("twice"));
        Assert.Equal(t.Count - 1, tok.Encode("ab", addSpecial: false).Last());
    }

    [Theory]
    [InlineData("bert")]
    [InlineData("t5")]
    [InlineData("")]
    public void UnsupportedModelIsRejected(string model)
    {
        var ex = Fails(new VocabularyImage().String("tokenizer.ggml.model", model).Strings("tokenizer.ggml.tokens", ["a"]));
        Assert.Equal("tokenizer.ggml.model", ex.Item);
        Assert.Contains("not supported", ex.Message);
    }

    [Fact]
    public void MissingModelIsRejected()
    {
        Assert.Equal("tokenizer.ggml.model", Fails(new VocabularyImage().Strings("tokenizer.ggml.tokens", ["a"])).Item);
    }

    [Fact]
    public void BpeWithoutMergesIsRejected()
    {
        var ex = Fails(new VocabularyImage().String("tokenizer.ggml.model", "gpt2").Strings("tokenizer.ggml.tokens", ["a", "b"]));
        Assert.Equal("tokenizer.ggml.merges", ex.Item);
    }

    [Fact]
    public void OutOfRangeTokenIdsAreArgumentErrors()
    {
        var (t, s, y) = VocabularyImage.SmallSpm();
        using var file = VocabularyImage.Spm(t, s, y).ToFile();
        var tok = TokenizerFactory.FromGguf(file);
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.TokenBytes(t.Count).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.TokenBytes(-1).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.TokenText(t.Count));
        Assert.False(tok.IsEndOfGeneration(t.Count));
    }

    [Fact]
    public void ScoresOfWrongTypeAreRejected()
    {
        var (t, _, y) = VocabularyImage.SmallSpm(("a", 0));
        var image = new VocabularyImage().String("tokenizer.ggml.model", "llama").Strings("tokenizer.ggml.tokens", t)
            .Strings("tokenizer.ggml.scores", t).Ints("tokenizer.ggml.token_type", y);
        Assert.Equal("tokenizer.ggml.scores", Fails(image).Item);
    }

    [Fact]
    public void ConcurrentEncodingGivesTheSameIds()
    {
        var tok = TokenizerReference.Load("gpt2-merges-pre-qwen2");
        var texts = TokenizerReference.Texts;
        var expected = texts.Select(t => tok.Encode(t.Text, false)).ToArray();
        var results = new int[texts.Length * 4][];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => results[i] = tok.Encode(texts[i % texts.Length].Text, false));
        for (int i = 0; i < results.Length; i++) Assert.Equal(expected[i % texts.Length], results[i]);
    }
}
