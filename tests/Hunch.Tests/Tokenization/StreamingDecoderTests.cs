using System.Text;
using Hunch.Tokenization;

namespace Hunch.Tests.Tokenization;

/// <summary>Incremental detokenization never emits half a UTF-8 character.</summary>
public class StreamingDecoderTests
{
    const string Text = "emoji 🦙🚀 and ZWJ 👩‍💻, CJK 日本語のテキスト, Ærøskøbing — done";

    [Theory]
    [InlineData("llama-spm")]
    [InlineData("gpt-2")]
    [InlineData("deepseek-llm")]
    public void ChunksAreWholeCharactersAndConcatenateToTheText(string vocab)
    {
        var tok = TokenizerReference.Load(vocab);
        var ids = tok.Encode(Text, addSpecial: false);
        var expected = tok.Decode(ids);
        Assert.Contains("🦙", expected);

        var decoder = new StreamingDecoder(tok);
        var sb = new StringBuilder();
        int heldBack = 0;
        foreach (var id in ids)
        {
            var chunk = decoder.Append(id);
            Assert.DoesNotContain('\uFFFD', chunk.ToString());
            // A chunk never ends inside a surrogate pair either.
            if (chunk.Length > 0) Assert.False(char.IsHighSurrogate(chunk[^1]));
            if (chunk.IsEmpty && tok.TokenBytes(id).Length > 0) heldBack++;
            sb.Append(chunk);
        }
        sb.Append(decoder.Flush());
        Assert.Equal(expected, sb.ToString());
        // These vocabularies split the emoji over several tokens, so something must have been held back.
        Assert.True(heldBack > 0);
    }

    [Fact]
    public void ByteTokensOfOneCharacterAreHeldUntilComplete()
    {
        var tok = TokenizerReference.Load("llama-spm");
        int Byte(int b) => Enumerable.Range(0, tok.VocabularySize).First(i => tok.TokenText(i) == $"<0x{b:X2}>");
        var decoder = new StreamingDecoder(tok);
        // 🦙 = F0 9F A6 99
        Assert.True(decoder.Append(Byte(0xF0)).IsEmpty);
        Assert.True(decoder.Append(Byte(0x9F)).IsEmpty);
        Assert.True(decoder.Append(Byte(0xA6)).IsEmpty);
        Assert.Equal("🦙", decoder.Append(Byte(0x99)).ToString());
        // An incomplete character at the end becomes one replacement character on flush.
        Assert.True(decoder.Append(Byte(0xE6)).IsEmpty);
        Assert.Equal("\uFFFD", decoder.Flush().ToString());
        Assert.True(decoder.Flush().IsEmpty);
    }

    [Fact]
    public void ControlTokensArePrintedOnlyWhenAsked()
    {
        var tok = TokenizerReference.Load("llama-spm");
        Assert.True(new StreamingDecoder(tok).Append(tok.EosId).IsEmpty);
        Assert.Equal("</s>", new StreamingDecoder(tok, special: true).Append(tok.EosId).ToString());
    }

    [Fact]
    public void AppendDoesNotAllocateAfterWarmUp()
    {
        var tok = TokenizerReference.Load("gpt-2");
        var ids = tok.Encode(Text + Text, addSpecial: false);
        var decoder = new StreamingDecoder(tok);
        foreach (var id in ids) decoder.Append(id);
        decoder.Flush();
        long before = GC.GetAllocatedBytesForCurrentThread();
        int total = 0;
        foreach (var id in ids) total += decoder.Append(id).Length;
        total += decoder.Flush().Length;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(total > 0);
        Assert.Equal(0, allocated);
    }
}
