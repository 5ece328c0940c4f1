using System.Globalization;
using System.Text;

namespace Hunch.Chat;

internal enum TokenType { Data, VariableBegin, VariableEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, Eof }

internal readonly record struct Token(TokenType Type, string Value, int Line, int Column, object? Literal = null)
{
    public bool Is(TokenType type, string value) => Type == type && Value == value;
    public bool IsName(string name) => Type == TokenType.Name && Value == name;
    public bool IsOp(string op) => Type == TokenType.Operator && Value == op;
}

/// <summary>
/// Splits template text into tokens the way jinja2's lexer does with Hugging Face's settings:
/// trim_blocks (drop the first newline after a block or comment tag), lstrip_blocks (drop spaces and tabs before a
/// block or comment tag that starts a line), '-' and '+' whitespace control, newline normalisation and removal of
/// a single trailing newline (keep_trailing_newline false).
/// </summary>
internal sealed class Lexer
{
    private static readonly string[] Operators =
    [
        "//", "**", "==", "!=", ">=", "<=",
        "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", "<", ">", "=", ".", ":", "|", ",", ";",
    ];

    private readonly string _src;
    private readonly List<Token> _tokens = new();
    private readonly int _maxTokens;
    private int _pos;
    private bool _lineStarting = true;

    private Lexer(string source, int maxTokens)
    {
        _src = Normalize(source);
        _maxTokens = maxTokens;
    }

    public static List<Token> Tokenize(string source, int maxTokens)
    {
        var lexer = new Lexer(source, maxTokens);
        lexer.Run();
        return lexer._tokens;
    }

    private static string Normalize(string source)
    {
        string s = source.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        if (s.EndsWith('\n')) s = s[..^1];
        return s;
    }

    private void Add(TokenType type, string value, int offset, object? literal = null)
    {
        if (_tokens.Count >= _maxTokens)
            throw new ChatTemplateException($"template has more than {_maxTokens} tokens", kind: ChatTemplateErrorKind.LimitExceeded);
        var (line, col) = Position(offset);
        _tokens.Add(new Token(type, value, line, col, literal));
    }

    // Line/column are computed lazily per token; templates are small so a forward scan cache is enough.
    private int _posCacheOffset;
    private int _posCacheLine = 1;
    private int _posCacheLineStart;

    private (int Line, int Column) Position(int offset)
    {
        if (offset < _posCacheOffset)
        {
            _posCacheOffset = 0;
            _posCacheLine = 1;
            _posCacheLineStart = 0;
        }
        for (int i = _posCacheOffset; i < offset && i < _src.Length; i++)
        {
            if (_src[i] == '\n')
            {
                _posCacheLine++;
                _posCacheLineStart = i + 1;
            }
        }
        _posCacheOffset = offset;
        return (_posCacheLine, offset - _posCacheLineStart + 1);
    }

    private ChatTemplateException Error(string message, int offset)
    {
        var (line, col) = Position(offset);
        return new ChatTemplateException(message, line, col, ChatTemplateErrorKind.Syntax);
    }

    internal static bool IsPySpace(char c) => c is ' ' or '\t' or '\n' or '\r' or '\v' or '\f' || (c >= '\x1c' && c <= '\x1f') || char.IsWhiteSpace(c);

    private void Run()
    {
        while (_pos < _src.Length)
        {
            int tag = FindTagStart(_pos);
            if (tag < 0)
            {
                Add(TokenType.Data, _src[_pos..], _pos);
                _pos = _src.Length;
                break;
            }
            char kind = _src[tag + 1]; // '{', '%' or '#'
            char sign = tag + 2 < _src.Length && (_src[tag + 2] == '-' || _src[tag + 2] == '+') ? _src[tag + 2] : '\0';
            string text = _src[_pos..tag];
            int textStart = _pos;
            if (sign == '-')
            {
                int end = text.Length;
                while (end > 0 && IsPySpace(text[end - 1])) end--;
                text = text[..end];
            }
            else if (sign != '+' && kind != '{')
            {
                int lpos = text.LastIndexOf('\n') + 1;
                if (lpos > 0 || _lineStarting)
                {
                    bool allSpace = true;
                    for (int i = lpos; i < text.Length; i++)
                    {
                        if (!IsPySpace(text[i])) { allSpace = false; break; }
                    }
                    if (allSpace) text = text[..lpos];
                }
            }
            if (text.Length > 0) Add(TokenType.Data, text, textStart);
            int afterBegin = tag + 2 + (sign != '\0' ? 1 : 0);
            if (kind == '#')
            {
                LexComment(tag, afterBegin);
            }
            else if (kind == '%' && TryLexRaw(tag, afterBegin))
            {
                // raw block consumed
            }
            else
            {
                LexTag(kind == '{' ? TokenType.VariableBegin : TokenType.BlockBegin, tag, afterBegin);
            }
        }
        Add(TokenType.Eof, "", _src.Length);
    }

    private int FindTagStart(int from)
    {
        int i = from;
        while (true)
        {
            i = _src.IndexOf('{', i);
            if (i < 0 || i + 1 >= _src.Length) return -1;
            char n = _src[i + 1];
            if (n == '{' || n == '%' || n == '#') return i;
            i++;
        }
    }

    private void LexComment(int tag, int afterBegin)
    {
        int end = _src.IndexOf("#}", afterBegin, StringComparison.Ordinal);
        if (end < 0) throw Error("missing end of comment tag", tag);
        char sign = end - 1 >= afterBegin ? _src[end - 1] : '\0';
        _pos = end + 2;
        FinishTagEnd(sign, trimNewline: true);
    }

    /// <summary>After a tag end marker: '-' eats all whitespace, '+' nothing, otherwise trim_blocks eats one newline.</summary>
    private void FinishTagEnd(char sign, bool trimNewline)
    {
        if (sign == '-')
        {
            int start = _pos;
            while (_pos < _src.Length && IsPySpace(_src[_pos])) _pos++;
            _lineStarting = _pos > start && _src[_pos - 1] == '\n';
        }
        else if (sign != '+' && trimNewline && _pos < _src.Length && _src[_pos] == '\n')
        {
            _pos++;
            _lineStarting = true;
        }
        else
        {
            _lineStarting = false;
        }
    }

    private bool TryLexRaw(int tag, int afterBegin)
    {
        int i = afterBegin;
        while (i < _src.Length && IsPySpace(_src[i])) i++;
        if (string.CompareOrdinal(_src, i, "raw", 0, 3) != 0) return false;
        i += 3;
        if (i < _src.Length && (char.IsLetterOrDigit(_src[i]) || _src[i] == '_')) return false;
        while (i < _src.Length && IsPySpace(_src[i])) i++;
        char beginSign = '\0';
        if (i < _src.Length && (_src[i] == '-' || _src[i] == '+')) beginSign = _src[i++];
        if (string.CompareOrdinal(_src, i, "%}", 0, 2) != 0) throw Error("expected '%}' after 'raw'", i);
        i += 2;
        if (beginSign == '-') while (i < _src.Length && IsPySpace(_src[i])) i++;
        // Find {% endraw %}
        int search = i;
        while (true)
        {
            int t = _src.IndexOf("{%", search, StringComparison.Ordinal);
            if (t < 0) throw Error("missing end of raw directive", tag);
            int j = t + 2;
            char endBeginSign = '\0';
            if (j < _src.Length && (_src[j] == '-' || _src[j] == '+')) endBeginSign = _src[j++];
            while (j < _src.Length && IsPySpace(_src[j])) j++;
            if (string.CompareOrdinal(_src, j, "endraw", 0, 6) == 0)
            {
                j += 6;
                while (j < _src.Length && IsPySpace(_src[j])) j++;
                char endSign = '\0';
                if (j < _src.Length && (_src[j] == '-' || _src[j] == '+')) endSign = _src[j++];
                if (string.CompareOrdinal(_src, j, "%}", 0, 2) == 0)
                {
                    string body = _src[i..t];
                    if (endBeginSign == '-') body = body.TrimEnd();
                    else if (endBeginSign != '+')
                    {
                        // lstrip_blocks applies to the {% endraw %} tag too.
                        int lpos = body.LastIndexOf('\n') + 1;
                        if (lpos > 0 && body.AsSpan(lpos).TrimStart(" \t\v\f\r").Length == 0) body = body[..lpos];
                    }
                    if (body.Length > 0) Add(TokenType.Data, body, i);
                    _pos = j + 2;
                    FinishTagEnd(endSign, trimNewline: true);
                    return true;
                }
            }
            search = t + 2;
        }
    }

    private void LexTag(TokenType beginType, int tag, int afterBegin)
    {
        Add(beginType, beginType == TokenType.VariableBegin ? "{{" : "{%", tag);
        bool isVar = beginType == TokenType.VariableBegin;
        string endMarker = isVar ? "}}" : "%}";
        var balance = new Stack<char>();
        int i = afterBegin;
        while (true)
        {
            while (i < _src.Length && IsPySpace(_src[i])) i++;
            if (i >= _src.Length) throw Error(isVar ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'", tag);
            if (balance.Count == 0)
            {
                // End marker, optionally preceded by a whitespace-control sign.
                if ((_src[i] == '-' || _src[i] == '+') && string.CompareOrdinal(_src, i + 1, endMarker, 0, 2) == 0)
                {
                    Add(isVar ? TokenType.VariableEnd : TokenType.BlockEnd, endMarker, i);
                    _pos = i + 3;
                    FinishTagEnd(_src[i], trimNewline: !isVar);
                    return;
                }
                if (string.CompareOrdinal(_src, i, endMarker, 0, 2) == 0)
                {
                    Add(isVar ? TokenType.VariableEnd : TokenType.BlockEnd, endMarker, i);
                    _pos = i + 2;
                    FinishTagEnd('\0', trimNewline: !isVar);
                    return;
                }
            }
            char c = _src[i];
            if (char.IsLetter(c) || c == '_')
            {
                int s = i;
                while (i < _src.Length && (char.IsLetterOrDigit(_src[i]) || _src[i] == '_')) i++;
                Add(TokenType.Name, _src[s..i], s);
                continue;
            }
            if (char.IsAsciiDigit(c))
            {
                i = LexNumber(i);
                continue;
            }
            if (c == '\'' || c == '"')
            {
                i = LexString(i);
                continue;
            }
            string? op = null;
            foreach (var candidate in Operators)
            {
                if (string.CompareOrdinal(_src, i, candidate, 0, candidate.Length) == 0) { op = candidate; break; }
            }
            if (op is null) throw Error($"unexpected char '{c}'", i);
            if (op is "(" or "[" or "{") balance.Push(op[0]);
            else if (op is ")" or "]" or "}")
            {
                char expected = op == ")" ? '(' : op == "]" ? '[' : '{';
                if (balance.Count == 0) throw Error($"unexpected '{op}'", i);
                if (balance.Pop() != expected) throw Error($"unexpected '{op}'", i);
            }
            Add(TokenType.Operator, op, i);
            i += op.Length;
        }
    }

    private int LexNumber(int start)
    {
        int i = start;
        static bool Digits(string s, ref int i)
        {
            int b = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || (s[i] == '_' && i + 1 < s.Length && char.IsAsciiDigit(s[i + 1]) && i > b))) i++;
            return i > b;
        }
        Digits(_src, ref i);
        bool isFloat = false;
        if (i + 1 < _src.Length && _src[i] == '.' && char.IsAsciiDigit(_src[i + 1]))
        {
            i++;
            Digits(_src, ref i);
            isFloat = true;
        }
        if (i < _src.Length && (_src[i] == 'e' || _src[i] == 'E'))
        {
            int j = i + 1;
            if (j < _src.Length && (_src[j] == '+' || _src[j] == '-')) j++;
            if (j < _src.Length && char.IsAsciiDigit(_src[j]))
            {
                i = j;
                Digits(_src, ref i);
                isFloat = true;
            }
        }
        string text = _src[start..i].Replace("_", "", StringComparison.Ordinal);
        if (isFloat)
        {
            double d = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            Add(TokenType.Float, _src[start..i], start, d);
        }
        else
        {
            if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long l))
                throw Error("integer literal too large", start);
            Add(TokenType.Integer, _src[start..i], start, l);
        }
        return i;
    }

    private int LexString(int start)
    {
        char quote = _src[start];
        int i = start + 1;
        var sb = new StringBuilder();
        while (true)
        {
            if (i >= _src.Length) throw Error("unterminated string literal", start);
            char c = _src[i];
            if (c == quote) { i++; break; }
            if (c != '\\') { sb.Append(c); i++; continue; }
            if (i + 1 >= _src.Length) throw Error("unterminated string literal", start);
            char e = _src[i + 1];
            i += 2;
            switch (e)
            {
                case '\n': break; // line continuation
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'v': sb.Append('\v'); break;
                case 'x': i = AppendHexEscape(sb, i, 2, start); break;
                case 'u': i = AppendHexEscape(sb, i, 4, start); break;
                case 'U': i = AppendHexEscape(sb, i, 8, start); break;
                case >= '0' and <= '7':
                {
                    int v = e - '0';
                    int n = 1;
                    while (n < 3 && i < _src.Length && _src[i] >= '0' && _src[i] <= '7')
                    {
                        v = v * 8 + (_src[i] - '0');
                        i++;
                        n++;
                    }
                    sb.Append((char)v);
                    break;
                }
                default:
                    // Python keeps unknown escapes verbatim.
                    sb.Append('\\').Append(e);
                    break;
            }
        }
        Add(TokenType.String, _src[start..i], start, sb.ToString());
        return i;
    }

    private int AppendHexEscape(StringBuilder sb, int i, int digits, int start)
    {
        if (i + digits > _src.Length) throw Error("truncated escape in string literal", start);
        if (!int.TryParse(_src.AsSpan(i, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int cp)
            || cp > 0x10FFFF)
            throw Error("invalid escape in string literal", start);
        if (cp >= 0x10000) sb.Append(char.ConvertFromUtf32(cp));
        else sb.Append((char)cp);
        return i + digits;
    }
}
