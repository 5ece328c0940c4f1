using System.Text;

namespace Hunch.Tokenization;

/// <summary>
/// Turns a stream of token ids into text without ever cutting a UTF-8 character: bytes of a character that a
/// later token completes are held back until it arrives. Invalid byte sequences become U+FFFD.
/// </summary>
/// <remarks>Not thread-safe; one instance per output stream. After warm-up, <see cref="Append"/> allocates nothing.</remarks>
public sealed class StreamingDecoder
{
    readonly ITokenizer _tokenizer;
    readonly bool _special;
    readonly Decoder _decoder = new UTF8Encoding(false, false).GetDecoder();
    char[] _chars = new char[64];

    /// <summary>Creates a decoder.</summary>
    /// <param name="tokenizer">The tokenizer whose ids will be decoded.</param>
    /// <param name="special">Whether control tokens are printed (as their text).</param>
    public StreamingDecoder(ITokenizer tokenizer, bool special = false)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        _special = special;
    }

    /// <summary>Adds a token; returns the text that is now complete (valid until the next call).</summary>
    public ReadOnlySpan<char> Append(int token) => Decode(_tokenizer.TokenBytes(token, _special), flush: false);

    /// <summary>Ends the stream: returns whatever is pending (an incomplete character becomes U+FFFD) and resets.</summary>
    public ReadOnlySpan<char> Flush() => Decode(default, flush: true);

    /// <summary>Discards pending bytes.</summary>
    public void Reset() => _decoder.Reset();

    /// <summary>Adds a token and returns the completed text as a string (allocates; for convenience).</summary>
    public string AppendString(int token) => new(Append(token));

    ReadOnlySpan<char> Decode(ReadOnlySpan<byte> bytes, bool flush)
    {
        // Pending bytes are at most 3, each can yield at most one U+FFFD on flush.
        int max = bytes.Length + 4;
        if (_chars.Length < max) _chars = new char[Math.Max(max, _chars.Length * 2)];
        int n = _decoder.GetChars(bytes, _chars, flush);
        return _chars.AsSpan(0, n);
    }
}
