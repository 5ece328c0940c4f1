using Hunch.Tokenization;

namespace Hunch.Tests.Tokenization;

/// <summary>Special tokens: parsed from text only when asked (control) or always (user-defined), BOS/EOS, end of generation.</summary>
public class SpecialTokenTests
{
    [Fact]
    public void ControlTokenTextIsParsedOnlyWithParseSpecial()
    {
        var tok = TokenizerReference.Load("phi-3");
        int user = Id(tok, "<|user|>"), end = Id(tok, "<|end|>");
        var parsed = tok.Encode("<|user|>\nHello<|end|>", addSpecial: false, parseSpecial: true);
        Assert.Equal(user, parsed[0]);
        Assert.Contains(end, parsed);
        var plain = tok.Encode("<|user|>\nHello<|end|>", addSpecial: false, parseSpecial: false);
        Assert.DoesNotContain(user, plain);
        Assert.DoesNotContain(end, plain);
        Assert.Equal("<|user|>\nHello<|end|>", tok.Decode(plain).TrimStart(' '));
    }

    [Fact]
    public void UserDefinedTokensAreAlwaysSplitOut()
    {
        // Phi-3 marks </s> as user-defined; llama.cpp also strips whitespace after it for Phi-3 models.
        var tok = TokenizerReference.Load("phi-3");
        Assert.Equal(TokenKind.UserDefined, tok.Kind(2));
        var ids = tok.Encode("a</s>  b", addSpecial: false, parseSpecial: false);
        Assert.Contains(2, ids);
        Assert.Equal(ids, tok.Encode("a</s>b", addSpecial: false, parseSpecial: false));
        // The fragment after a special token gets the space prefix again.
        Assert.Equal(tok.Encode("b", addSpecial: false), ids[(Array.IndexOf(ids, 2) + 1)..]);
    }

    [Fact]
    public void UserDefinedSingleCharactersOfDeepSeekAreSplitOut()
    {
        var tok = TokenizerReference.Load("deepseek-coder");
        int o = Id(tok, "õ");
        Assert.Equal(TokenKind.UserDefined, tok.Kind(o));
        var ids = tok.Encode("abõcd", addSpecial: false);
        Assert.Contains(o, ids);
        Assert.Equal("abõcd", tok.Decode(ids));
    }

    [Fact]
    public void BosIsAddedAsTheVocabularyAsks()
    {
        var spm = TokenizerReference.Load("llama-spm");
        Assert.True(spm.AddBos);
        Assert.Equal(1, spm.Encode("Hello")[0]);
        Assert.NotEqual(1, spm.Encode("Hello", addSpecial: false)[0]);

        var gpt2 = TokenizerReference.Load("gpt-2");
        Assert.False(gpt2.AddBos);
        Assert.Equal(gpt2.Encode("Hello", addSpecial: false), gpt2.Encode("Hello", addSpecial: true));

        // The llama-bpe pre-tokenizer makes BOS the default, as in llama.cpp.
        var llama3 = TokenizerReference.Load("gpt2-merges-pre-llama-bpe");
        Assert.True(llama3.AddBos);
        Assert.Equal(llama3.BosId, llama3.Encode("Hello")[0]);

        var deepseek = TokenizerReference.Load("deepseek-coder");
        Assert.Equal(32013, deepseek.Encode("x")[0]);
    }

    [Fact]
    public void EndOfGenerationTokens()
    {
        var spm = TokenizerReference.Load("llama-spm");
        Assert.True(spm.IsEndOfGeneration(spm.EosId));
        Assert.False(spm.IsEndOfGeneration(spm.BosId));

        var phi3 = TokenizerReference.Load("phi-3");
        Assert.True(phi3.IsEndOfGeneration(Id(phi3, "<|end|>")));
        Assert.True(phi3.IsEndOfGeneration(Id(phi3, "<|endoftext|>")));
        Assert.False(phi3.IsEndOfGeneration(Id(phi3, "<|user|>")));

        var gpt2 = TokenizerReference.Load("gpt-2");
        Assert.True(gpt2.IsEndOfGeneration(50256));
        Assert.Equal(TokenKind.Control, gpt2.Kind(50256));
        Assert.False(gpt2.IsEndOfGeneration(gpt2.Encode("hello", false)[0]));
    }

    [Fact]
    public void ControlTokensPrintOnlyWhenAsked()
    {
        var tok = TokenizerReference.Load("gpt-2");
        Assert.Equal(0, tok.TokenBytes(50256).Length);
        Assert.Equal("<|endoftext|>"u8.ToArray(), tok.TokenBytes(50256, special: true).ToArray());
        Assert.Equal(" world", tok.Decode(tok.Encode(" world", false)));
    }

    static int Id(ITokenizer tok, string text) => Enumerable.Range(0, tok.VocabularySize).First(i => tok.TokenText(i) == text);
}
