using Hunch.Tokenization;

namespace Hunch.Tests.Tokenization;

/// <summary>The SentencePiece merge rules on tiny vocabularies where the right answer can be worked out by hand.</summary>
public class SpmAlgorithmTests
{
    static ITokenizer Build(bool? spacePrefix, params (string Piece, float Score)[] pieces)
    {
        var (t, s, y) = VocabularyImage.SmallSpm(pieces);
        var image = VocabularyImage.Spm(t, s, y);
        if (spacePrefix is { } p) image.Bool("tokenizer.ggml.add_space_prefix", p);
        using var file = image.ToFile();
        return TokenizerFactory.FromGguf(file);
    }

    static string[] Pieces(ITokenizer tok, string text) => tok.Encode(text, addSpecial: false).Select(tok.TokenText).ToArray();

    [Fact]
    public void HigherScoreMergesFirst()
    {
        var leftWins = Build(null, ("▁a", -1), ("ab", -2));
        Assert.Equal(["▁a", "<0x62>"], Pieces(leftWins, "ab"));

        var rightWins = Build(null, ("▁a", -2), ("ab", -1));
        Assert.Equal(["<0xE2>", "<0x96>", "<0x81>", "ab"], Pieces(rightWins, "ab"));
    }

    [Fact]
    public void EqualScoresMergeLeftmostFirst()
    {
        var tok = Build(null, ("▁a", -1), ("ab", -1));
        Assert.Equal(["▁a", "<0x62>"], Pieces(tok, "ab"));
        var tok2 = Build(false, ("xy", -1), ("yz", -1));
        Assert.Equal(["xy", "<0x7A>"], Pieces(tok2, "xyz"));
    }

    [Fact]
    public void MergesChainThroughIntermediatePieces()
    {
        var tok = Build(false, ("ab", -1), ("abc", -3), ("bc", -2), ("abcd", -4), ("c", -9), ("d", -9));
        Assert.Equal(["abcd"], Pieces(tok, "abcd"));
        Assert.Equal(["abc"], Pieces(tok, "abc"));
        // The better-scored right pair wins and blocks the left one.
        var blocked = Build(false, ("bc", -1), ("ab", -2));
        Assert.Equal(["<0x61>", "bc"], Pieces(blocked, "abc"));
    }

    [Fact]
    public void SpacePrefixFollowsMetadata()
    {
        var withPrefix = Build(true, ("▁h", -2), ("▁hi", -1));
        Assert.Equal(["▁hi"], Pieces(withPrefix, "hi"));
        var without = Build(false, ("▁h", -3), ("▁hi", -1), ("hi", -2));
        Assert.Equal(["hi"], Pieces(without, "hi"));
        Assert.Equal(["▁hi"], Pieces(without, " hi"));
    }

    [Fact]
    public void UnknownCharactersFallBackToBytes()
    {
        var tok = Build(false);
        Assert.Equal(["<0xC3>", "<0xA9>"], Pieces(tok, "é"));
        Assert.Equal("é", tok.Decode(tok.Encode("é", false)));
    }

    [Fact]
    public void EmptyTextGivesOnlyBos()
    {
        var tok = Build(null);
        Assert.Empty(tok.Encode("", addSpecial: false));
        Assert.Equal([1], tok.Encode("", addSpecial: true));
    }
}
