using System.Text;
using Hunch.Tokenization;

namespace Hunch.Api;

/// <summary>
/// Turns generated tokens into text deltas. Bytes of a UTF-8 character split across tokens are held until the
/// character is complete; text that could be the start of a stop string is held until it is known not to be
/// one, so a stop string is matched across token boundaries and never partially streamed.
/// </summary>
internal sealed class TextAssembler
{
    readonly ITokenizer _tokenizer;
    readonly string[] _stops;
    readonly Decoder _utf8 = new UTF8Encoding(false, false).GetDecoder();
    readonly StringBuilder _text = new();
    char[] _chars = new char[64];
    string _pending = "";

    public TextAssembler(ITokenizer tokenizer, IReadOnlyList<string> stops)
    {
        _tokenizer = tokenizer;
        var list = new List<string>(stops.Count);
        foreach (var s in stops) if (!string.IsNullOrEmpty(s)) list.Add(s);
        _stops = [.. list];
    }

    /// <summary>Text released so far.</summary>
    public string Text => _text.ToString();

    /// <summary>True once a stop string matched.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds a token; returns the text that may be released now (empty when held back).</summary>
    public string Add(int token)
    {
        if (Stopped) return "";
        var bytes = _tokenizer.TokenBytes(token);
        int max = _utf8.GetCharCount(bytes, flush: false);
        if (_chars.Length < max) _chars = new char[Math.Max(max, _chars.Length * 2)];
        int n = _utf8.GetChars(bytes, _chars, flush: false);
        if (n == 0) return "";
        string pending = _pending + new string(_chars, 0, n);
        return Release(pending);
    }

    /// <summary>Releases whatever is held (end of generation without a stop match).</summary>
    public string Flush()
    {
        if (Stopped) return "";
        int n = _utf8.GetChars([], _chars, flush: true);
        string rest = _pending + new string(_chars, 0, n);
        _pending = "";
        _text.Append(rest);
        return rest;
    }

    string Release(string pending)
    {
        if (_stops.Length == 0) { _text.Append(pending); return pending; }
        int first = -1;
        foreach (var stop in _stops)
        {
            int at = pending.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        if (first >= 0)
        {
            Stopped = true;
            _pending = "";
            string head = pending[..first];
            _text.Append(head);
            return head;
        }
        // Hold the longest tail that is a proper prefix of some stop string.
        int hold = 0;
        foreach (var stop in _stops)
            for (int k = Math.Min(stop.Length - 1, pending.Length); k > hold; k--)
                if (pending.AsSpan(pending.Length - k).SequenceEqual(stop.AsSpan(0, k))) { hold = k; break; }
        _pending = pending[^hold..];
        string released = pending[..^hold];
        _text.Append(released);
        return released;
    }
}
