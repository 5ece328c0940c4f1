using System.Text;

namespace Hunch.Tokenization;

/// <summary>Helpers shared by all tokenizers.</summary>
public static class TokenizerExtensions
{
    /// <summary>Decodes a sequence of tokens to text (invalid UTF-8 becomes U+FFFD).</summary>
    public static string Decode(this ITokenizer tokenizer, ReadOnlySpan<int> tokens, bool special = false)
    {
        var bytes = new List<byte>(tokens.Length * 4);
        foreach (var t in tokens) bytes.AddRange(tokenizer.TokenBytes(t, special));
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
