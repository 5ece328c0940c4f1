using System.Text;

namespace Hunch.Grammar;

/// <summary>Syntax tree of a grammar expression, as written (before lowering to rules of byte sets).</summary>
internal abstract class GNode
{
    internal sealed class Seq(List<GNode> items) : GNode { public readonly List<GNode> Items = items; }
    internal sealed class Alt(List<GNode> options) : GNode { public readonly List<GNode> Options = options; }
    internal sealed class Literal(string text) : GNode { public readonly string Text = text; }
    /// <summary>A set of Unicode code points as sorted, disjoint, inclusive ranges.</summary>
    internal sealed class CharSet(List<(int Lo, int Hi)> ranges) : GNode { public readonly List<(int Lo, int Hi)> Ranges = ranges; }
    internal sealed class Ref(string name, int line) : GNode { public readonly string Name = name; public readonly int Line = line; }
    /// <summary>Repetition; <see cref="Max"/> is -1 when unbounded.</summary>
    internal sealed class Repeat(GNode item, int min, int max) : GNode { public readonly GNode Item = item; public readonly int Min = min; public readonly int Max = max; }
}

/// <summary>
/// Parses llama.cpp's GBNF: <c>name ::= expr</c> rules; alternation <c>|</c>; sequences; <c>( )</c> groups;
/// <c>* + ?</c> and <c>{m}</c>, <c>{m,}</c>, <c>{m,n}</c>; string literals and character classes with escapes
/// (<c>\n \r \t \\ \" \[ \] \- \xHH \uHHHH \UHHHHHHHH</c>); negated classes <c>[^...]</c>; <c>.</c> (any
/// character); <c>#</c> comments. A rule ends where the next <c>name ::=</c> starts, so alternatives may be
/// continued on following lines.
/// </summary>
internal sealed class GbnfParser
{
    readonly string _s;
    readonly GrammarLimits _limits;
    int _pos;
    int _depth;

    GbnfParser(string text, GrammarLimits limits) { _s = text; _limits = limits; }

    internal static List<(string Name, GNode Body, int Line)> Parse(string text, GrammarLimits limits)
    {
        if (text.Length > limits.MaxGrammarChars)
            throw new GrammarException($"grammar is {text.Length} characters long; the limit is {limits.MaxGrammarChars}");
        var p = new GbnfParser(text, limits);
        var rules = new List<(string, GNode, int)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        p.SkipSpace();
        while (p._pos < p._s.Length)
        {
            int line = p.Line();
            string name = p.ParseName();
            p.SkipSpace();
            if (!p.TryConsume("::=")) throw p.Error($"expected '::=' after rule name '{name}'");
            GNode body = p.ParseAlternatives();
            if (!seen.Add(name)) throw new GrammarException($"rule '{name}' is defined twice (line {line})");
            rules.Add((name, body, line));
            p.SkipSpace();
        }
        if (rules.Count == 0) throw new GrammarException("grammar has no rules");
        return rules;
    }

    int Line()
    {
        int n = 1;
        for (int i = 0; i < _pos && i < _s.Length; i++) if (_s[i] == '\n') n++;
        return n;
    }

    GrammarException Error(string what) => new($"grammar syntax error at line {Line()}: {what}");

    void SkipSpace()
    {
        while (_pos < _s.Length)
        {
            char c = _s[_pos];
            if (c == '#') { while (_pos < _s.Length && _s[_pos] != '\n') _pos++; }
            else if (c is ' ' or '\t' or '\r' or '\n') _pos++;
            else break;
        }
    }

    bool TryConsume(string token)
    {
        if (string.CompareOrdinal(_s, _pos, token, 0, token.Length) == 0) { _pos += token.Length; return true; }
        return false;
    }

    static bool IsNameChar(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '_';

    string ParseName()
    {
        int start = _pos;
        while (_pos < _s.Length && IsNameChar(_s[_pos])) _pos++;
        if (_pos == start) throw Error(_pos < _s.Length ? $"expected a rule name, found '{_s[_pos]}'" : "expected a rule name, found the end");
        return _s[start.._pos];
    }

    /// <summary>True when a rule definition (<c>name ::=</c>) starts at the current position.</summary>
    bool AtRuleStart()
    {
        int p = _pos;
        while (p < _s.Length && IsNameChar(_s[p])) p++;
        if (p == _pos) return false;
        while (p < _s.Length && _s[p] is ' ' or '\t' or '\r' or '\n') p++;
        return string.CompareOrdinal(_s, p, "::=", 0, 3) == 0;
    }

    GNode ParseAlternatives()
    {
        if (++_depth > _limits.MaxNesting) throw Error($"groups nest deeper than {_limits.MaxNesting}");
        var options = new List<GNode> { ParseSequence() };
        while (true)
        {
            SkipSpace();
            if (_pos < _s.Length && _s[_pos] == '|') { _pos++; options.Add(ParseSequence()); }
            else break;
        }
        _depth--;
        return options.Count == 1 ? options[0] : new GNode.Alt(options);
    }

    GNode ParseSequence()
    {
        var items = new List<GNode>();
        while (true)
        {
            SkipSpace();
            if (_pos >= _s.Length) break;
            char c = _s[_pos];
            if (c is '|' or ')') break;
            GNode atom;
            if (c == '"') atom = new GNode.Literal(ParseLiteral());
            else if (c == '[') atom = ParseClass();
            else if (c == '.') { _pos++; atom = new GNode.CharSet([(0, 0xD7FF), (0xE000, 0x10FFFF)]); }
            else if (c == '(')
            {
                _pos++;
                atom = ParseAlternatives();
                SkipSpace();
                if (_pos >= _s.Length || _s[_pos] != ')') throw Error("expected ')'");
                _pos++;
            }
            else if (IsNameChar(c))
            {
                if (AtRuleStart()) break;
                int line = Line();
                atom = new GNode.Ref(ParseName(), line);
            }
            else throw Error($"unexpected character '{c}'");
            atom = ParseQuantifiers(atom);
            items.Add(atom);
        }
        return items.Count == 1 ? items[0] : new GNode.Seq(items);
    }

    GNode ParseQuantifiers(GNode atom)
    {
        while (_pos < _s.Length)
        {
            char c = _s[_pos];
            if (c == '*') { _pos++; atom = new GNode.Repeat(atom, 0, -1); }
            else if (c == '+') { _pos++; atom = new GNode.Repeat(atom, 1, -1); }
            else if (c == '?') { _pos++; atom = new GNode.Repeat(atom, 0, 1); }
            else if (c == '{')
            {
                _pos++;
                SkipSpace();
                int min = ParseInt();
                int max = min;
                SkipSpace();
                if (_pos < _s.Length && _s[_pos] == ',')
                {
                    _pos++;
                    SkipSpace();
                    max = _pos < _s.Length && char.IsAsciiDigit(_s[_pos]) ? ParseInt() : -1;
                    SkipSpace();
                }
                if (_pos >= _s.Length || _s[_pos] != '}') throw Error("expected '}' to close a repetition");
                _pos++;
                if (max >= 0 && max < min) throw Error($"repetition {{{min},{max}}} has max below min");
                atom = new GNode.Repeat(atom, min, max);
            }
            else break;
        }
        return atom;
    }

    int ParseInt()
    {
        int start = _pos;
        long v = 0;
        while (_pos < _s.Length && char.IsAsciiDigit(_s[_pos]))
        {
            v = v * 10 + (_s[_pos] - '0');
            if (v > _limits.MaxRepeat) throw Error($"repetition count above the limit of {_limits.MaxRepeat}");
            _pos++;
        }
        if (_pos == start) throw Error("expected a number in a repetition");
        return (int)v;
    }

    string ParseLiteral()
    {
        _pos++; // opening quote
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _s.Length) throw Error("unterminated string literal");
            char c = _s[_pos];
            if (c == '"') { _pos++; break; }
            if (c is '\n' or '\r') throw Error("newline inside a string literal");
            int cp = ParseChar();
            sb.Append(char.ConvertFromUtf32(cp));
        }
        return sb.ToString();
    }

    /// <summary>Reads one (possibly escaped) character and returns its code point.</summary>
    int ParseChar()
    {
        char c = _s[_pos];
        if (c != '\\')
        {
            if (char.IsHighSurrogate(c) && _pos + 1 < _s.Length && char.IsLowSurrogate(_s[_pos + 1]))
            {
                int cp = char.ConvertToUtf32(c, _s[_pos + 1]);
                _pos += 2;
                return cp;
            }
            if (char.IsSurrogate(c)) throw Error("unpaired surrogate in the grammar text");
            _pos++;
            return c;
        }
        if (_pos + 1 >= _s.Length) throw Error("escape at the end of the grammar");
        char e = _s[_pos + 1];
        _pos += 2;
        switch (e)
        {
            case 'n': return '\n';
            case 'r': return '\r';
            case 't': return '\t';
            case '0': return 0;
            case '\\': case '"': case '[': case ']': case '-': case '^': case '/': case '\'': case '.': case '|': case '(': case ')': return e;
            case 'x': return ParseHex(2);
            case 'u': return ParseHex(4);
            case 'U': return ParseHex(8);
            default: throw Error($"unknown escape '\\{e}'");
        }
    }

    int ParseHex(int digits)
    {
        if (_pos + digits > _s.Length) throw Error("truncated hex escape");
        long v = 0;
        for (int i = 0; i < digits; i++)
        {
            char h = _s[_pos + i];
            int d = h is >= '0' and <= '9' ? h - '0' : h is >= 'a' and <= 'f' ? h - 'a' + 10 : h is >= 'A' and <= 'F' ? h - 'A' + 10 : -1;
            if (d < 0) throw Error($"bad hex digit '{h}' in an escape");
            v = v * 16 + d;
        }
        _pos += digits;
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) throw Error($"escape U+{v:X} is not a Unicode scalar value");
        return (int)v;
    }

    GNode ParseClass()
    {
        _pos++; // '['
        bool negated = false;
        if (_pos < _s.Length && _s[_pos] == '^') { negated = true; _pos++; }
        var ranges = new List<(int, int)>();
        while (true)
        {
            if (_pos >= _s.Length) throw Error("unterminated character class");
            if (_s[_pos] == ']') { _pos++; break; }
            int lo = ParseChar();
            int hi = lo;
            if (_pos + 1 < _s.Length && _s[_pos] == '-' && _s[_pos + 1] != ']')
            {
                _pos++;
                hi = ParseChar();
                if (hi < lo) throw Error($"character range U+{lo:X}-U+{hi:X} is reversed");
            }
            ranges.Add((lo, hi));
        }
        var set = CodePointSet.Normalize(ranges);
        if (negated) set = CodePointSet.Complement(set);
        return new GNode.CharSet(set);
    }
}

/// <summary>Operations on sets of Unicode scalar values kept as sorted, disjoint, inclusive ranges.</summary>
internal static class CodePointSet
{
    internal static List<(int Lo, int Hi)> Normalize(List<(int Lo, int Hi)> ranges)
    {
        var sorted = new List<(int Lo, int Hi)>(ranges);
        sorted.Sort((a, b) => a.Lo.CompareTo(b.Lo));
        var result = new List<(int Lo, int Hi)>();
        foreach (var r in sorted)
        {
            if (result.Count > 0 && r.Lo <= result[^1].Hi + 1)
                result[^1] = (result[^1].Lo, Math.Max(result[^1].Hi, r.Hi));
            else result.Add(r);
        }
        return RemoveSurrogates(result);
    }

    /// <summary>Scalar values (surrogates excluded) not in the set.</summary>
    internal static List<(int Lo, int Hi)> Complement(List<(int Lo, int Hi)> set)
    {
        var result = new List<(int Lo, int Hi)>();
        int next = 0;
        foreach (var (lo, hi) in set)
        {
            if (lo > next) result.Add((next, lo - 1));
            next = hi + 1;
        }
        if (next <= 0x10FFFF) result.Add((next, 0x10FFFF));
        return RemoveSurrogates(result);
    }

    static List<(int Lo, int Hi)> RemoveSurrogates(List<(int Lo, int Hi)> set)
    {
        var result = new List<(int Lo, int Hi)>(set.Count + 1);
        foreach (var (lo, hi) in set)
        {
            if (hi < 0xD800 || lo > 0xDFFF) { result.Add((lo, hi)); continue; }
            if (lo < 0xD800) result.Add((lo, 0xD7FF));
            if (hi > 0xDFFF) result.Add((0xE000, hi));
        }
        return result;
    }
}
