using System.Text;
using Hunch.Gguf;
using Hunch.Grammar;
using Hunch.Tokenization;

namespace Hunch.Tests.Grammar;

/// <summary>Shared material for grammar tests: the bundled model's vocabulary as byte strings.</summary>
internal static class GrammarTestSupport
{
    static TokenVocabulary? s_vocab;
    static readonly object s_lock = new();

    /// <summary>The bundled model's vocabulary through its tokenizer.</summary>
    internal static TokenVocabulary BundledVocabulary()
    {
        lock (s_lock)
        {
            if (s_vocab is not null) return s_vocab;
            using var gguf = GgufFile.Open(TestPaths.BundledModel);
            Tokenizer = TokenizerFactory.FromGguf(gguf);
            return s_vocab = TokenVocabulary.For(Tokenizer);
        }
    }

    /// <summary>The bundled model's tokenizer (after <see cref="BundledVocabulary"/>).</summary>
    internal static ITokenizer? Tokenizer { get; private set; }

    /// <summary>A small vocabulary from strings; the last token is the end-of-generation token (no bytes).</summary>
    internal static TokenVocabulary Small(params string[] tokens)
    {
        var bytes = new List<byte[]>();
        foreach (var t in tokens) bytes.Add(Encoding.UTF8.GetBytes(t));
        bytes.Add([]);
        return new TokenVocabulary(bytes, [tokens.Length]);
    }

    /// <summary>Whether the whole text is a sentence of the grammar.</summary>
    internal static bool Matches(GbnfGrammar g, string text)
    {
        var m = new GrammarMatcher(g, Small("x"));
        var s = m.AdvanceBytes(m.Initial, Encoding.UTF8.GetBytes(text));
        return s is not null && s.IsAccepting;
    }

    /// <summary>Whether the text is a prefix of some sentence.</summary>
    internal static bool IsPrefix(GbnfGrammar g, string text)
    {
        var m = new GrammarMatcher(g, Small("x"));
        return m.AdvanceBytes(m.Initial, Encoding.UTF8.GetBytes(text)) is not null;
    }

    internal static string Decode(TokenVocabulary v, ReadOnlySpan<int> tokens)
    {
        var bytes = new List<byte>();
        foreach (int t in tokens) bytes.AddRange(v.Bytes(t).ToArray());
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
