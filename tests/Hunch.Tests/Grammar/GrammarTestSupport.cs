using System.Text;
using Hunch.Gguf;
using Hunch.Grammar;

namespace Hunch.Tests.Grammar;

/// <summary>Shared material for grammar tests: the bundled model's vocabulary as byte strings.</summary>
internal static class GrammarTestSupport
{
    static TokenVocabulary? s_vocab;
    static readonly object s_lock = new();

    /// <summary>
    /// The bundled model's vocabulary. Until the tokenizer lands on main this reads the SentencePiece pieces of
    /// the GGUF file directly: U+2581 is a space, &lt;0xNN&gt; byte tokens are that byte, control and unknown
    /// tokens print nothing.
    /// </summary>
    internal static TokenVocabulary BundledVocabulary()
    {
        lock (s_lock)
        {
            if (s_vocab is not null) return s_vocab;
            using var gguf = GgufFile.Open(TestPaths.BundledModel);
            var pieces = gguf.GetArray<string>("tokenizer.ggml.tokens")!;
            var types = gguf.GetArray<int>("tokenizer.ggml.token_type");
            int eos = (int)gguf.GetInt("tokenizer.ggml.eos_token_id", -1);
            var bytes = new byte[pieces.Length][];
            for (int i = 0; i < pieces.Length; i++)
            {
                int type = types is null ? 1 : types[i];
                string p = pieces[i];
                if (type == 6 && p.Length == 6 && p.StartsWith("<0x", StringComparison.Ordinal))
                    bytes[i] = [Convert.ToByte(p.Substring(3, 2), 16)];
                else if (type is 2 or 3 or 5) bytes[i] = [];
                else bytes[i] = Encoding.UTF8.GetBytes(p.Replace('\u2581', ' '));
            }
            return s_vocab = new TokenVocabulary(bytes, eos >= 0 ? [eos] : []);
        }
    }

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
