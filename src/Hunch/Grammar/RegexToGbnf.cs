using System.Text;

namespace Hunch.Grammar;

/// <summary>
/// Translates a JSON Schema <c>pattern</c> (an ECMA regular expression, subset) into a GBNF expression over the
/// JSON-encoded content of a string. Supported: literals, escapes (<c>\d \D \w \W \s \S \t \n \r</c> and escaped
/// punctuation), <c>.</c>, classes with ranges and negation, groups (<c>( )</c>, <c>(?: )</c>), alternation,
/// quantifiers (<c>* + ? {n} {n,} {n,m}</c>, lazy forms), and <c>^</c>/<c>$</c> at the ends of top-level
/// alternatives (an unanchored side allows any characters, as JSON Schema patterns are searches). Rejected:
/// backreferences, lookarounds, word boundaries, anchors elsewhere. Characters that JSON must escape are
/// produced in their escaped form; control characters inside classes are not produced (a valid subset).
/// </summary>
internal sealed class RegexToGbnf
{
    readonly string _p;
    readonly GrammarLimits _limits;
    int _pos;
    int _depth;

    RegexToGbnf(string pattern, GrammarLimits limits) { _p = pattern; _limits = limits; }

    internal static string Translate(string pattern, GrammarLimits limits, out bool needsChar)
    {
        if (pattern.Length > 10_000) throw new GrammarException("JSON schema: pattern longer than 10000 characters");
        var t = new RegexToGbnf(pattern, limits);
        var alts = new List<string>();
        needsChar = false;
        while (true)
        {
            bool start = t.TryConsume('^');
            string body = t.Sequence(topLevel: true, out bool end);
            string anchored = body;
            if (!start) { anchored = "char* " + anchored; needsChar = true; }
            if (!end) { anchored += " char*"; needsChar = true; }
            alts.Add("(" + anchored.Trim() + ")");
            if (t._pos >= t._p.Length) break;
            if (t._p[t._pos] == '|') { t._pos++; continue; }
            throw t.Error($"unexpected '{t._p[t._pos]}'");
        }
        return "(" + string.Join(" | ", alts) + ")";
    }

    GrammarException Error(string what) => new($"JSON schema: pattern '{_p}' at {_pos}: {what}");

    bool TryConsume(char c)
    {
        if (_pos < _p.Length && _p[_pos] == c) { _pos++; return true; }
        return false;
    }

    string Alternation()
    {
        if (++_depth > _limits.MaxNesting) throw Error("groups nest too deeply");
        var parts = new List<string> { Sequence(false, out _) };
        while (TryConsume('|')) parts.Add(Sequence(false, out _));
        _depth--;
        return "(" + string.Join(" | ", parts) + ")";
    }

    string Sequence(bool topLevel, out bool endAnchor)
    {
        endAnchor = false;
        var sb = new StringBuilder();
        while (_pos < _p.Length)
        {
            char c = _p[_pos];
            if (c == '|' || c == ')') break;
            if (c == '$')
            {
                _pos++;
                bool atEnd = _pos >= _p.Length || _p[_pos] == '|';
                if (!topLevel || !atEnd) throw Error("'$' is only supported at the end of the pattern or of a top-level alternative");
                endAnchor = true;
                break;
            }
            if (c == '^') throw Error("'^' is only supported at the start of the pattern or of a top-level alternative");
            string atom = Atom();
            atom = Quantifier(atom);
            sb.Append(atom).Append(' ');
        }
        return sb.Length == 0 ? "\"\"" : sb.ToString().TrimEnd();
    }

    string Quantifier(string atom)
    {
        if (_pos >= _p.Length) return atom;
        char c = _p[_pos];
        string? q = null;
        if (c is '*' or '+' or '?') { _pos++; q = c.ToString(); }
        else if (c == '{')
        {
            int close = _p.IndexOf('}', _pos);
            if (close < 0) throw Error("unterminated {");
            string inside = _p[(_pos + 1)..close];
            var parts = inside.Split(',');
            if (parts.Length > 2 || !int.TryParse(parts[0], out int lo) || lo < 0) throw Error($"bad repetition {{{inside}}}");
            int hi = lo;
            if (parts.Length == 2) hi = parts[1].Length == 0 ? -1 : int.TryParse(parts[1], out int h) ? h : throw Error($"bad repetition {{{inside}}}");
            if (lo > _limits.MaxRepeat || hi > _limits.MaxRepeat) throw Error($"repetition above {_limits.MaxRepeat}");
            if (hi >= 0 && hi < lo) throw Error("repetition max below min");
            _pos = close + 1;
            q = hi < 0 ? $"{{{lo},}}" : $"{{{lo},{hi}}}";
        }
        if (q is null) return atom;
        if (_pos < _p.Length && _p[_pos] == '?') _pos++;           // lazy: same language
        else if (_pos < _p.Length && _p[_pos] == '+') throw Error("possessive quantifiers are not supported");
        return "(" + atom + ")" + q;
    }

    string Atom()
    {
        char c = _p[_pos];
        switch (c)
        {
            case '(':
            {
                _pos++;
                if (TryConsume('?'))
                {
                    if (!TryConsume(':')) throw Error("only (?: ) groups are supported (no lookarounds or named groups)");
                }
                string inner = Alternation();
                if (!TryConsume(')')) throw Error("missing ')'");
                return inner;
            }
            case '[': return Class();
            case '.':
                _pos++;
                return Set([(0, '\n' - 1), ('\n' + 1, 0x10FFFF)]);
            case '\\':
            {
                _pos++;
                if (_pos >= _p.Length) throw Error("escape at the end");
                char e = _p[_pos++];
                var set = EscapeSet(e);
                if (set is not null) return Set(set);
                return Char(EscapeChar(e));
            }
            case '*': case '+': case '?': case '{':
                throw Error($"quantifier '{c}' with nothing to repeat");
            default:
                if (char.IsHighSurrogate(c) && _pos + 1 < _p.Length) { int cp = char.ConvertToUtf32(c, _p[_pos + 1]); _pos += 2; return Char(cp); }
                _pos++;
                return Char(c);
        }
    }

    static List<(int, int)>? EscapeSet(char e) => e switch
    {
        'd' => [('0', '9')],
        'D' => CodePointSet.Complement([('0', '9')]),
        'w' => CodePointSet.Normalize([('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')]),
        'W' => CodePointSet.Complement(CodePointSet.Normalize([('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')])),
        's' => CodePointSet.Normalize([('\t', '\r'), (' ', ' ')]),
        'S' => CodePointSet.Complement(CodePointSet.Normalize([('\t', '\r'), (' ', ' ')])),
        _ => null,
    };

    int EscapeChar(char e)
    {
        switch (e)
        {
            case 't': return '\t';
            case 'n': return '\n';
            case 'r': return '\r';
            case 'f': return '\f';
            case 'v': return '\v';
            case '0': return 0;
            case 'u':
                if (_pos + 4 > _p.Length || !int.TryParse(_p.AsSpan(_pos, 4), System.Globalization.NumberStyles.HexNumber, null, out int u)) throw Error("bad \\u escape");
                _pos += 4;
                if (u is >= 0xD800 and <= 0xDFFF) throw Error("surrogate escapes are not supported");
                return u;
            case 'x':
                if (_pos + 2 > _p.Length || !int.TryParse(_p.AsSpan(_pos, 2), System.Globalization.NumberStyles.HexNumber, null, out int x)) throw Error("bad \\x escape");
                _pos += 2;
                return x;
        }
        if (char.IsAsciiLetterOrDigit(e)) throw Error($"escape '\\{e}' is not supported (backreferences, word boundaries and the like)");
        return e;
    }

    string Class()
    {
        _pos++; // [
        bool negated = TryConsume('^');
        var ranges = new List<(int Lo, int Hi)>();
        bool first = true;
        while (true)
        {
            if (_pos >= _p.Length) throw Error("unterminated class");
            char c = _p[_pos];
            if (c == ']' && !first) { _pos++; break; }
            first = false;
            int lo;
            if (c == '\\')
            {
                _pos++;
                if (_pos >= _p.Length) throw Error("escape at the end");
                char e = _p[_pos++];
                var set = EscapeSet(e);
                if (set is not null) { ranges.AddRange(set); continue; }
                lo = EscapeChar(e);
            }
            else { lo = c; _pos++; }
            int hi = lo;
            if (_pos + 1 < _p.Length && _p[_pos] == '-' && _p[_pos + 1] != ']')
            {
                _pos++;
                char h = _p[_pos];
                if (h == '\\') { _pos++; if (_pos >= _p.Length) throw Error("escape at the end"); char e = _p[_pos++]; if (EscapeSet(e) is not null) throw Error("a class escape cannot end a range"); hi = EscapeChar(e); }
                else { hi = h; _pos++; }
                if (hi < lo) throw Error("reversed range");
            }
            ranges.Add((lo, hi));
        }
        var norm = CodePointSet.Normalize(ranges);
        return Set(negated ? CodePointSet.Complement(norm) : norm);
    }

    /// <summary>A literal character in its JSON-encoded form.</summary>
    static string Char(int cp)
    {
        switch (cp)
        {
            case '"': return "\"\\\\\\\"\"";      // JSON \" as the GBNF literal "\\\""
            case '\\': return "\"\\\\\\\\\"";     // JSON \\ as the GBNF literal "\\\\"
            case '\n': return "\"\\\\n\"";
            case '\r': return "\"\\\\r\"";
            case '\t': return "\"\\\\t\"";
        }
        if (cp < 0x20) return $"\"\\\\u00{cp:x2}\"";
        return JsonSchemaGrammar.GbnfLiteral(char.ConvertFromUtf32(cp));
    }

    /// <summary>A set of characters: plain ones as a class, quote and backslash in escaped form; control
    /// characters are left out.</summary>
    static string Set(List<(int Lo, int Hi)> set)
    {
        var plain = new List<(int, int)>();
        bool quote = false, backslash = false;
        foreach (var (lo, hi) in set)
        {
            if (lo <= '"' && '"' <= hi) quote = true;
            if (lo <= '\\' && '\\' <= hi) backslash = true;
            plain.Add((Math.Max(lo, 0x20), hi));
        }
        var cleaned = new List<(int Lo, int Hi)>();
        foreach (var (lo, hi) in plain)
        {
            if (lo > hi) continue;
            foreach (var (a, b) in Subtract(lo, hi, '"'))
                foreach (var (c, d) in Subtract(a, b, '\\'))
                    cleaned.Add((c, d));
        }
        var parts = new List<string>();
        if (cleaned.Count > 0)
        {
            var sb = new StringBuilder("[");
            foreach (var (lo, hi) in cleaned)
            {
                sb.Append(ClassChar(lo));
                if (hi > lo) sb.Append('-').Append(ClassChar(hi));
            }
            parts.Add(sb.Append(']').ToString());
        }
        if (quote) parts.Add(Char('"'));
        if (backslash) parts.Add(Char('\\'));
        if (parts.Count == 0) throw new GrammarException("JSON schema: a pattern class contains only control characters, which are not generated");
        return parts.Count == 1 ? parts[0] : "(" + string.Join(" | ", parts) + ")";
    }

    static IEnumerable<(int, int)> Subtract(int lo, int hi, int x)
    {
        if (x < lo || x > hi) { yield return (lo, hi); yield break; }
        if (lo < x) yield return (lo, x - 1);
        if (x < hi) yield return (x + 1, hi);
    }

    static string ClassChar(int cp) => cp < 0x80 && char.IsAsciiLetterOrDigit((char)cp) ? ((char)cp).ToString() : $"\\U{cp:X8}";
}
