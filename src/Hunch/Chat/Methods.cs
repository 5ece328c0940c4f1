using System.Globalization;
using System.Text;

namespace Hunch.Chat;

/// <summary>Reads positional and keyword arguments of a builtin the way Python binds them.</summary>
internal readonly struct ArgList(string function, List<object?> args, List<KeyValuePair<string, object?>> kwargs, int line)
{
    public int Count => args.Count;
    public int Line => line;

    public bool Has(int index, string name)
    {
        if (index >= 0 && index < args.Count) return true;
        foreach (var kv in kwargs) if (kv.Key == name) return true;
        return false;
    }

    public object? Get(int index, string name, object? fallback = null)
    {
        if (index >= 0 && index < args.Count) return args[index];
        foreach (var kv in kwargs) if (kv.Key == name) return kv.Value;
        return fallback;
    }

    public object? Required(int index, string name)
    {
        if (!Has(index, name)) throw new ChatTemplateException($"{function}() missing required argument '{name}'", line);
        return Get(index, name);
    }

    public void MaxPositional(int max)
    {
        if (args.Count > max) throw new ChatTemplateException($"{function}() takes at most {max} positional argument(s) ({args.Count} given)", line);
    }

    public List<object?> Positional => args;
    public List<KeyValuePair<string, object?>> Keywords => kwargs;

    public string String(int index, string name, string? fallback = null)
    {
        var v = fallback is null ? Required(index, name) : Get(index, name, fallback);
        if (v is string s) return s;
        throw new ChatTemplateException($"{function}() argument '{name}' must be str, not {PyFormat.TypeName(v)}", line);
    }

    public long Int(int index, string name, long fallback)
    {
        var v = Get(index, name, fallback);
        return v switch
        {
            long l => l,
            bool b => b ? 1 : 0,
            null => fallback,
            _ => throw new ChatTemplateException($"{function}() argument '{name}' must be int, not {PyFormat.TypeName(v)}", line),
        };
    }

    public bool Bool(int index, string name, bool fallback) => PyOps.Truthy(Get(index, name, fallback));
}

/// <summary>The Python methods of str, dict and list that the sandbox allows (mutating ones are refused).</summary>
internal static class Methods
{
    private static readonly HashSet<string> StringMethods = new(StringComparer.Ordinal)
    {
        "startswith", "endswith", "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "upper", "lower",
        "title", "capitalize", "swapcase", "casefold", "replace", "find", "rfind", "index", "rindex", "count", "join",
        "format", "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower", "isnumeric", "isdecimal", "istitle",
        "zfill", "center", "ljust", "rjust", "partition", "rpartition", "removeprefix", "removesuffix",
    };

    private static readonly HashSet<string> DictMethods = new(StringComparer.Ordinal) { "get", "items", "keys", "values", "copy" };
    private static readonly HashSet<string> DictUnsafe = new(StringComparer.Ordinal) { "pop", "popitem", "setdefault", "update", "clear", "fromkeys" };
    private static readonly HashSet<string> ListMethods = new(StringComparer.Ordinal) { "index", "count", "copy" };
    private static readonly HashSet<string> ListUnsafe = new(StringComparer.Ordinal) { "append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear" };

    public static bool IsMethod(object obj, string name, out bool safe)
    {
        safe = true;
        switch (obj)
        {
            case string: return StringMethods.Contains(name);
            case PyDict:
                if (DictMethods.Contains(name)) return true;
                safe = false;
                return DictUnsafe.Contains(name);
            case List<object?>:
                if (ListMethods.Contains(name)) return true;
                safe = false;
                return ListUnsafe.Contains(name);
            case PyTuple: return name is "index" or "count";
            default: return false;
        }
    }

    public static object? Call(Interpreter interp, object target, string name, List<object?> args, List<KeyValuePair<string, object?>> kwargs, int line)
    {
        var a = new ArgList(name, args, kwargs, line);
        if (target is string str)
        {
            var result = StringMethod(interp, str, name, a);
            if (result is string rs) interp.Charge(rs.Length, line);
            return result;
        }
        return target switch
        {
            PyDict d => DictMethod(interp, d, name, a),
            List<object?> l => SequenceMethod(interp, l, name, a),
            PyTuple t => SequenceMethod(interp, t, name, a),
            _ => throw new ChatTemplateException($"'{PyFormat.TypeName(target)}' object has no attribute '{name}'", line),
        };
    }

    private static object? StringMethod(Interpreter interp, string s, string name, ArgList a)
    {
        int line = a.Line;
        switch (name)
        {
            case "startswith":
            case "endswith":
            {
                var arg = a.Required(0, "prefix");
                int start = (int)Math.Clamp(NormIndex(a.Get(1, "start"), s.Length, 0), 0, s.Length);
                int end = (int)Math.Clamp(NormIndex(a.Get(2, "end"), s.Length, s.Length), 0, s.Length);
                if (end < start) return false;
                var span = s.AsSpan(start, end - start);
                IEnumerable<object?> candidates = arg is PyTuple t ? t.Items : [arg];
                foreach (var c in candidates)
                {
                    if (c is not string cs) throw new ChatTemplateException($"{name} first arg must be str or a tuple of str, not {PyFormat.TypeName(c)}", line);
                    if (name == "startswith" ? span.StartsWith(cs, StringComparison.Ordinal) : span.EndsWith(cs, StringComparison.Ordinal)) return true;
                }
                return false;
            }
            case "strip": return Strip(s, a.Get(0, "chars"), true, true, line);
            case "lstrip": return Strip(s, a.Get(0, "chars"), true, false, line);
            case "rstrip": return Strip(s, a.Get(0, "chars"), false, true, line);
            case "split": return Split(interp, s, a.Get(0, "sep"), a.Int(1, "maxsplit", -1), line);
            case "rsplit": return RSplit(interp, s, a.Get(0, "sep"), a.Int(1, "maxsplit", -1), line);
            case "splitlines":
            {
                var r = new List<object?>();
                foreach (var l in SplitLines(s, a.Bool(0, "keepends", false))) r.Add(l);
                interp.Charge(r.Count, line);
                return r;
            }
            case "upper": return PyUpper(s);
            case "lower": return s.ToLowerInvariant();
            case "casefold": return s.ToLowerInvariant();
            case "swapcase":
            {
                var sb = new StringBuilder(s.Length);
                foreach (char c in s) sb.Append(char.IsUpper(c) ? char.ToLowerInvariant(c) : char.IsLower(c) ? char.ToUpperInvariant(c) : c);
                return sb.ToString();
            }
            case "title": return PyTitle(s);
            case "capitalize": return s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
            case "replace": return interp.Charged(Replace(interp, s, a.String(0, "old"), a.String(1, "new"), a.Int(2, "count", -1), line), line);
            case "find":
            case "rfind":
            case "index":
            case "rindex":
            {
                string sub = a.String(0, "sub");
                int start = (int)Math.Clamp(NormIndex(a.Get(1, "start"), s.Length, 0), 0, s.Length);
                int end = (int)Math.Clamp(NormIndex(a.Get(2, "end"), s.Length, s.Length), 0, s.Length);
                int idx = -1;
                if (end >= start)
                {
                    idx = name is "find" or "index"
                        ? s.IndexOf(sub, start, end - start, StringComparison.Ordinal)
                        : s.AsSpan(start, end - start).LastIndexOf(sub, StringComparison.Ordinal) is var li && li >= 0 ? li + start : -1;
                }
                if (idx < 0 && name is "index" or "rindex") throw new ChatTemplateException("substring not found", line);
                return (long)idx;
            }
            case "count":
            {
                string sub = a.String(0, "sub");
                if (sub.Length == 0) return (long)s.Length + 1;
                long n = 0;
                int i = 0;
                while ((i = s.IndexOf(sub, i, StringComparison.Ordinal)) >= 0)
                {
                    n++;
                    i += sub.Length;
                }
                return n;
            }
            case "join":
            {
                var items = PyOps.Iterate(a.Required(0, "iterable"), line);
                var sb = new StringBuilder();
                for (int i = 0; i < items.Count; i++)
                {
                    if (items[i] is not string str)
                        throw new ChatTemplateException($"sequence item {i}: expected str instance, {PyFormat.TypeName(items[i])} found", line);
                    if (i > 0) sb.Append(s);
                    sb.Append(str);
                    if (sb.Length > interp.Limits.MaxOutputLength) interp.Charge(sb.Length, line);
                }
                return interp.Charged(sb.ToString(), line);
            }
            case "format": return interp.Charged(StrFormat(s, a.Positional, a.Keywords, line), line);
            case "isdigit":
            case "isdecimal":
            case "isnumeric":
                return s.Length > 0 && s.All(char.IsDigit);
            case "isalpha": return s.Length > 0 && s.All(char.IsLetter);
            case "isalnum": return s.Length > 0 && s.All(char.IsLetterOrDigit);
            case "isspace": return s.Length > 0 && s.All(Lexer.IsPySpace);
            case "isupper": return s.Any(char.IsLetter) && !s.Any(char.IsLower);
            case "islower": return s.Any(char.IsLetter) && !s.Any(char.IsUpper);
            case "istitle": return s.Length > 0 && PyTitle(s) == s && s.Any(char.IsLetter);
            case "zfill":
            {
                long width = a.Int(0, "width", 0);
                interp.Charge(width, line);
                if (width <= s.Length) return s;
                int signLen = s.Length > 0 && (s[0] == '-' || s[0] == '+') ? 1 : 0;
                return s[..signLen] + new string('0', (int)width - s.Length) + s[signLen..];
            }
            case "center":
            case "ljust":
            case "rjust":
            {
                long width = a.Int(0, "width", 0);
                string fill = a.String(1, "fillchar", " ");
                if (fill.Length != 1) throw new ChatTemplateException("The fill character must be exactly one character long", line);
                interp.Charge(width, line);
                if (width <= s.Length) return s;
                int pad = (int)width - s.Length;
                if (name == "ljust") return s + new string(fill[0], pad);
                if (name == "rjust") return new string(fill[0], pad) + s;
                int left = pad / 2 + (pad & (int)width & 1);
                return new string(fill[0], left) + s + new string(fill[0], pad - left);
            }
            case "partition":
            case "rpartition":
            {
                string sep = a.String(0, "sep");
                if (sep.Length == 0) throw new ChatTemplateException("empty separator", line);
                int idx = name == "partition" ? s.IndexOf(sep, StringComparison.Ordinal) : s.LastIndexOf(sep, StringComparison.Ordinal);
                if (idx < 0) return name == "partition" ? new PyTuple([s, "", ""]) : new PyTuple(["", "", s]);
                return new PyTuple([s[..idx], sep, s[(idx + sep.Length)..]]);
            }
            case "removeprefix":
            {
                string p = a.String(0, "prefix");
                return s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s;
            }
            case "removesuffix":
            {
                string p = a.String(0, "suffix");
                return p.Length > 0 && s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s;
            }
        }
        throw new ChatTemplateException($"'str' object has no attribute '{name}'", line);
    }

    private static long NormIndex(object? v, int length, long fallback)
    {
        if (v is null) return fallback;
        long i = v is bool b ? (b ? 1 : 0) : v is long l ? l : fallback;
        return i < 0 ? i + length : i;
    }

    private static object? DictMethod(Interpreter interp, PyDict d, string name, ArgList a)
    {
        switch (name)
        {
            case "get":
            {
                var key = a.Required(0, "key");
                if (key is List<object?> or PyDict) throw new ChatTemplateException($"unhashable type: '{PyFormat.TypeName(key)}'", a.Line);
                return key is not Undefined && d.TryGetValue(PyOps.HashableKey(key, a.Line), out var v) ? v : a.Get(1, "default");
            }
            case "items":
            {
                var r = new List<object?>(d.Count);
                foreach (var kv in d) r.Add(new PyTuple([PyOps.FromKey(kv.Key), kv.Value]));
                return r;
            }
            case "keys": return PyOps.Iterate(d, a.Line);
            case "values": return new List<object?>(d.Values);
            case "copy":
            {
                var c = new PyDict();
                foreach (var kv in d) c[kv.Key] = kv.Value;
                interp.Charge(c.Count, a.Line);
                return c;
            }
        }
        throw new ChatTemplateException($"access to attribute '{name}' of 'dict' object is unsafe.", a.Line);
    }

    private static object? SequenceMethod(Interpreter interp, IReadOnlyList<object?> l, string name, ArgList a)
    {
        switch (name)
        {
            case "index":
            {
                var x = a.Required(0, "value");
                for (int i = 0; i < l.Count; i++) if (PyOps.PyEquals(l[i], x)) return (long)i;
                throw new ChatTemplateException($"{PyFormat.Repr(x)} is not in list", a.Line);
            }
            case "count":
            {
                var x = a.Required(0, "value");
                long n = 0;
                foreach (var item in l) if (PyOps.PyEquals(item, x)) n++;
                return n;
            }
            case "copy":
                interp.Charge(l.Count, a.Line);
                return new List<object?>(l);
        }
        throw new ChatTemplateException($"access to attribute '{name}' of '{PyFormat.TypeName(l)}' object is unsafe.", a.Line);
    }

    // ------------------------------------------------------------------ helpers shared with filters

    public static string Strip(string s, object? chars, bool left, bool right, int line)
    {
        Func<char, bool> strip;
        if (chars is null) strip = Lexer.IsPySpace;
        else if (chars is string cs) strip = c => cs.Contains(c);
        else throw new ChatTemplateException($"strip arg must be None or str, not {PyFormat.TypeName(chars)}", line);
        int start = 0, end = s.Length;
        if (left) while (start < end && strip(s[start])) start++;
        if (right) while (end > start && strip(s[end - 1])) end--;
        return s[start..end];
    }

    public static List<object?> Split(Interpreter interp, string s, object? sep, long maxSplit, int line)
    {
        var r = new List<object?>();
        if (sep is null)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && Lexer.IsPySpace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxSplit >= 0 && r.Count >= maxSplit)
                {
                    r.Add(s[i..]); // Python keeps the remainder's trailing whitespace
                    break;
                }
                int j = i;
                while (j < s.Length && !Lexer.IsPySpace(s[j])) j++;
                r.Add(s[i..j]);
                i = j;
            }
        }
        else
        {
            if (sep is not string sepStr) throw new ChatTemplateException($"must be str or None, not {PyFormat.TypeName(sep)}", line);
            if (sepStr.Length == 0) throw new ChatTemplateException("empty separator", line);
            int i = 0;
            while (true)
            {
                int j = maxSplit >= 0 && r.Count >= maxSplit ? -1 : s.IndexOf(sepStr, i, StringComparison.Ordinal);
                if (j < 0)
                {
                    r.Add(s[i..]);
                    break;
                }
                r.Add(s[i..j]);
                i = j + sepStr.Length;
            }
        }
        interp.Charge(r.Count, line);
        return r;
    }

    private static List<object?> RSplit(Interpreter interp, string s, object? sep, long maxSplit, int line)
    {
        if (maxSplit < 0) return Split(interp, s, sep, maxSplit, line);
        var r = new List<object?>();
        if (sep is null)
        {
            int i = s.Length;
            while (true)
            {
                while (i > 0 && Lexer.IsPySpace(s[i - 1])) i--;
                if (i <= 0) break;
                if (r.Count >= maxSplit)
                {
                    r.Add(s[..i]); // Python keeps the remainder's leading whitespace
                    break;
                }
                int j = i;
                while (j > 0 && !Lexer.IsPySpace(s[j - 1])) j--;
                r.Add(s[j..i]);
                i = j;
            }
        }
        else
        {
            if (sep is not string sepStr) throw new ChatTemplateException($"must be str or None, not {PyFormat.TypeName(sep)}", line);
            if (sepStr.Length == 0) throw new ChatTemplateException("empty separator", line);
            int end = s.Length;
            while (true)
            {
                int j = r.Count >= maxSplit || end == 0 ? -1 : s.LastIndexOf(sepStr, end - 1, end, StringComparison.Ordinal);
                if (j < 0 || j + sepStr.Length > end)
                {
                    r.Add(s[..end]);
                    break;
                }
                r.Add(s[(j + sepStr.Length)..end]);
                end = j;
            }
        }
        r.Reverse();
        interp.Charge(r.Count, line);
        return r;
    }

    /// <summary>Python str.splitlines line boundaries.</summary>
    public static List<string> SplitLines(string s, bool keepEnds)
    {
        var r = new List<string>();
        int i = 0, start = 0;
        while (i < s.Length)
        {
            char c = s[i];
            int brk = 0;
            if (c == '\r') brk = i + 1 < s.Length && s[i + 1] == '\n' ? 2 : 1;
            else if (c is '\n' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029') brk = 1;
            if (brk > 0)
            {
                r.Add(keepEnds ? s[start..(i + brk)] : s[start..i]);
                i += brk;
                start = i;
            }
            else i++;
        }
        if (start < s.Length) r.Add(s[start..]);
        return r;
    }

    /// <summary>str.upper with the one full case mapping that matters in practice (ß to SS).</summary>
    public static string PyUpper(string s)
    {
        string u = s.ToUpperInvariant();
        return u.Contains('ß') ? u.Replace("ß", "SS", StringComparison.Ordinal) : u;
    }

    public static string PyTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool prevCased = false;
        foreach (char c in s)
        {
            sb.Append(prevCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            prevCased = char.IsLetter(c);
        }
        return sb.ToString();
    }

    public static string Replace(Interpreter interp, string s, string oldValue, string newValue, long count, int line)
    {
        if (count < 0) count = long.MaxValue;
        var sb = new StringBuilder();
        if (oldValue.Length == 0)
        {
            long n = 0;
            for (int k = 0; k <= s.Length; k++)
            {
                if (n < count) { sb.Append(newValue); n++; }
                if (k < s.Length) sb.Append(s[k]);
                if (sb.Length > interp.Limits.MaxOutputLength) interp.Charge(sb.Length, line);
            }
            return sb.ToString();
        }
        int i = 0;
        long done = 0;
        while (done < count)
        {
            int j = s.IndexOf(oldValue, i, StringComparison.Ordinal);
            if (j < 0) break;
            sb.Append(s, i, j - i).Append(newValue);
            if (sb.Length > interp.Limits.MaxOutputLength) interp.Charge(sb.Length, line);
            i = j + oldValue.Length;
            done++;
        }
        sb.Append(s, i, s.Length - i);
        return sb.ToString();
    }

    // ------------------------------------------------------------------ printf-style and str.format

    public static string PercentFormat(string fmt, object? values, int line)
    {
        IReadOnlyList<object?> args = values is PyTuple t ? t : [values];
        var mapping = values as PyDict;
        int argi = 0;
        var sb = new StringBuilder();
        int i = 0;
        object? NextArg()
        {
            if (argi >= args.Count) throw new ChatTemplateException("not enough arguments for format string", line);
            return args[argi++];
        }
        while (i < fmt.Length)
        {
            char c = fmt[i];
            if (c != '%') { sb.Append(c); i++; continue; }
            i++;
            if (i >= fmt.Length) throw new ChatTemplateException("incomplete format", line);
            object? value = null;
            bool haveValue = false;
            if (fmt[i] == '(')
            {
                int close = fmt.IndexOf(')', i);
                if (close < 0 || mapping is null) throw new ChatTemplateException("format requires a mapping", line);
                string key = fmt[(i + 1)..close];
                if (!mapping.TryGetValue(key, out value)) throw new ChatTemplateException($"KeyError: '{key}'", line);
                haveValue = true;
                i = close + 1;
            }
            string flags = "";
            while (i < fmt.Length && "-+ #0".Contains(fmt[i])) flags += fmt[i++];
            int width = -1;
            if (i < fmt.Length && fmt[i] == '*') { width = (int)(long)NextArg()!; i++; }
            else
            {
                int ws = i;
                while (i < fmt.Length && char.IsAsciiDigit(fmt[i])) i++;
                if (i > ws) width = int.Parse(fmt.AsSpan(ws, i - ws), CultureInfo.InvariantCulture);
            }
            int precision = -1;
            if (i < fmt.Length && fmt[i] == '.')
            {
                i++;
                int ps = i;
                while (i < fmt.Length && char.IsAsciiDigit(fmt[i])) i++;
                precision = i > ps ? int.Parse(fmt.AsSpan(ps, i - ps), CultureInfo.InvariantCulture) : 0;
            }
            if (i >= fmt.Length) throw new ChatTemplateException("incomplete format", line);
            char type = fmt[i++];
            if (type == '%') { sb.Append('%'); continue; }
            if (!haveValue) value = NextArg();
            if (value is Undefined u) throw PyOps.UndefinedError(u, line);
            string text = type switch
            {
                's' => PyFormat.Str(value),
                'r' or 'a' => PyFormat.Repr(value),
                'd' or 'i' or 'u' => FormatInt(value, line),
                'f' or 'F' => FormatFixed(value, precision < 0 ? 6 : precision, line),
                'e' or 'E' => FormatExp(value, precision < 0 ? 6 : precision, type == 'E', line),
                'g' or 'G' => FormatGeneral(value, precision < 0 ? 6 : precision, line),
                'x' or 'X' or 'o' => FormatRadix(value, type, line),
                'c' => value is string cs ? cs : char.ConvertFromUtf32((int)(long)value!),
                _ => throw new ChatTemplateException($"unsupported format character '{type}'", line),
            };
            if (type == 's' && precision >= 0 && text.Length > precision) text = text[..precision];
            if (flags.Contains('+') && type is 'd' or 'i' or 'f' or 'F' or 'e' or 'g' && !text.StartsWith('-')) text = "+" + text;
            if (width > text.Length)
            {
                if (flags.Contains('-')) text = text.PadRight(width);
                else if (flags.Contains('0') && type != 's')
                {
                    bool neg = text.StartsWith('-') || text.StartsWith('+');
                    text = neg ? text[0] + text[1..].PadLeft(width - 1, '0') : text.PadLeft(width, '0');
                }
                else text = text.PadLeft(width);
            }
            sb.Append(text);
        }
        // Python: leftover arguments are an error, except for a single argument that is a mapping or sequence
        // (other than str), which Python treats as a mapping and does not count.
        bool exempt = values is PyDict || (values is not PyTuple && values is List<object?>);
        if (argi < args.Count && !exempt)
            throw new ChatTemplateException("not all arguments converted during string formatting", line);
        return sb.ToString();
    }

    private static string FormatInt(object? v, int line) => v switch
    {
        long l => l.ToString(CultureInfo.InvariantCulture),
        bool b => b ? "1" : "0",
        double d => Math.Truncate(d).ToString("F0", CultureInfo.InvariantCulture),
        _ => throw new ChatTemplateException($"%d format: a real number is required, not {PyFormat.TypeName(v)}", line),
    };

    private static double Real(object? v, int line) => PyOps.IsNumber(v)
        ? PyOps.ToDouble(v)
        : throw new ChatTemplateException($"must be real number, not {PyFormat.TypeName(v)}", line);

    private static string FormatFixed(object? v, int precision, int line) => Real(v, line).ToString("F" + precision, CultureInfo.InvariantCulture);

    private static string FormatExp(object? v, int precision, bool upper, int line)
    {
        string s = Real(v, line).ToString((upper ? "E" : "e") + precision, CultureInfo.InvariantCulture);
        // .NET writes three exponent digits (e+005); Python writes at least two.
        int e = s.IndexOfAny(['e', 'E']);
        string exp = s[(e + 2)..].TrimStart('0');
        if (exp.Length < 2) exp = exp.PadLeft(2, '0');
        return s[..(e + 2)] + exp;
    }

    private static string FormatGeneral(object? v, int precision, int line)
    {
        double d = Real(v, line);
        if (precision == 0) precision = 1;
        if (d == 0) return "0";
        int exp = (int)Math.Floor(Math.Log10(Math.Abs(d)));
        if (exp < -4 || exp >= precision)
        {
            string s = FormatExp(d, precision - 1, false, line);
            int e = s.IndexOf('e');
            string mant = s[..e];
            if (mant.Contains('.')) mant = mant.TrimEnd('0').TrimEnd('.');
            return mant + s[e..];
        }
        string f = d.ToString("F" + Math.Max(0, precision - 1 - exp), CultureInfo.InvariantCulture);
        if (f.Contains('.')) f = f.TrimEnd('0').TrimEnd('.');
        return f;
    }

    private static string FormatRadix(object? v, char type, int line)
    {
        long l = v switch
        {
            long x => x,
            bool b => b ? 1 : 0,
            _ => throw new ChatTemplateException($"%{type} format: an integer is required, not {PyFormat.TypeName(v)}", line),
        };
        string sign = l < 0 ? "-" : "";
        ulong mag = l < 0 ? (ulong)(-(l + 1)) + 1 : (ulong)l;
        string digits = type switch
        {
            'x' => mag.ToString("x", CultureInfo.InvariantCulture),
            'X' => mag.ToString("X", CultureInfo.InvariantCulture),
            _ => Convert.ToString((long)mag, 8),
        };
        return sign + digits;
    }

    /// <summary>Python str.format with positional/keyword fields, attribute/index lookups, !r/!s and a basic format spec.</summary>
    public static string StrFormat(string fmt, List<object?> args, List<KeyValuePair<string, object?>> kwargs, int line)
    {
        var sb = new StringBuilder();
        int auto = 0;
        int i = 0;
        while (i < fmt.Length)
        {
            char c = fmt[i];
            if (c == '{')
            {
                if (i + 1 < fmt.Length && fmt[i + 1] == '{') { sb.Append('{'); i += 2; continue; }
                int close = fmt.IndexOf('}', i);
                if (close < 0) throw new ChatTemplateException("Single '{' encountered in format string", line);
                string field = fmt[(i + 1)..close];
                i = close + 1;
                string spec = "";
                char conv = '\0';
                int colon = field.IndexOf(':');
                if (colon >= 0) { spec = field[(colon + 1)..]; field = field[..colon]; }
                int bang = field.IndexOf('!');
                if (bang >= 0) { conv = bang + 1 < field.Length ? field[bang + 1] : '\0'; field = field[..bang]; }
                int end = 0;
                while (end < field.Length && field[end] != '.' && field[end] != '[') end++;
                string head = field[..end];
                object? value;
                if (head.Length == 0)
                {
                    if (auto >= args.Count) throw new ChatTemplateException($"Replacement index {auto} out of range for positional args tuple", line);
                    value = args[auto++];
                }
                else if (int.TryParse(head, NumberStyles.None, CultureInfo.InvariantCulture, out int idx))
                {
                    if (idx >= args.Count) throw new ChatTemplateException($"Replacement index {idx} out of range for positional args tuple", line);
                    value = args[idx];
                }
                else
                {
                    value = null;
                    bool found = false;
                    foreach (var kv in kwargs) if (kv.Key == head) { value = kv.Value; found = true; }
                    if (!found) throw new ChatTemplateException($"KeyError: '{head}'", line);
                }
                // .attr and [key] accessors
                int p = end;
                while (p < field.Length)
                {
                    if (field[p] == '.')
                    {
                        int q = p + 1;
                        while (q < field.Length && field[q] != '.' && field[q] != '[') q++;
                        value = PyOps.GetAttr(value, field[(p + 1)..q], line);
                        p = q;
                    }
                    else
                    {
                        int q = field.IndexOf(']', p);
                        if (q < 0) throw new ChatTemplateException("Missing ']' in format string", line);
                        string key = field[(p + 1)..q];
                        value = PyOps.GetItem(value, long.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out long k) ? k : key, line);
                        p = q + 1;
                    }
                }
                if (value is Undefined u) throw PyOps.UndefinedError(u, line);
                if (conv == 'r' || conv == 'a') value = PyFormat.Repr(value);
                else if (conv == 's') value = PyFormat.Str(value);
                sb.Append(FormatSpec(value, spec, line));
            }
            else if (c == '}')
            {
                if (i + 1 < fmt.Length && fmt[i + 1] == '}') { sb.Append('}'); i += 2; continue; }
                throw new ChatTemplateException("Single '}' encountered in format string", line);
            }
            else
            {
                sb.Append(c);
                i++;
            }
        }
        return sb.ToString();
    }

    private static string FormatSpec(object? value, string spec, int line)
    {
        if (spec.Length == 0) return PyFormat.Str(value);
        int i = 0;
        char fill = ' ', align = '\0';
        if (spec.Length >= 2 && spec[1] is '<' or '>' or '^' or '=') { fill = spec[0]; align = spec[1]; i = 2; }
        else if (spec[0] is '<' or '>' or '^' or '=') { align = spec[0]; i = 1; }
        char sign = '\0';
        if (i < spec.Length && spec[i] is '+' or '-' or ' ') sign = spec[i++];
        if (i < spec.Length && spec[i] == '0' && align == '\0') { fill = '0'; align = '='; i++; }
        int ws = i;
        while (i < spec.Length && char.IsAsciiDigit(spec[i])) i++;
        int width = i > ws ? int.Parse(spec.AsSpan(ws, i - ws), CultureInfo.InvariantCulture) : 0;
        bool comma = false;
        if (i < spec.Length && spec[i] == ',') { comma = true; i++; }
        int precision = -1;
        if (i < spec.Length && spec[i] == '.')
        {
            i++;
            int ps = i;
            while (i < spec.Length && char.IsAsciiDigit(spec[i])) i++;
            precision = int.Parse(spec.AsSpan(ps, i - ps), CultureInfo.InvariantCulture);
        }
        char type = i < spec.Length ? spec[i] : '\0';
        string text;
        bool numeric = PyOps.IsNumber(value);
        switch (type)
        {
            case 'f' or 'F': text = FormatFixed(value, precision < 0 ? 6 : precision, line); break;
            case 'e' or 'E': text = FormatExp(value, precision < 0 ? 6 : precision, type == 'E', line); break;
            case 'g' or 'G': text = FormatGeneral(value, precision < 0 ? 6 : precision, line); break;
            case 'd': text = FormatInt(value is double ? throw new ChatTemplateException("Unknown format code 'd' for object of type 'float'", line) : value, line); break;
            case 'x' or 'X' or 'o': text = FormatRadix(value, type, line); break;
            case '%': text = (Real(value, line) * 100).ToString("F" + (precision < 0 ? 6 : precision), CultureInfo.InvariantCulture) + "%"; break;
            default:
                text = numeric && precision >= 0 && value is double ? FormatGeneral(value, precision, line) : PyFormat.Str(value);
                if (!numeric && precision >= 0 && text.Length > precision) text = text[..precision];
                break;
        }
        if (comma && numeric)
        {
            int dot = text.IndexOf('.');
            string intPart = dot >= 0 ? text[..dot] : text;
            string rest = dot >= 0 ? text[dot..] : "";
            bool neg = intPart.StartsWith('-');
            if (neg) intPart = intPart[1..];
            var grouped = new StringBuilder();
            for (int k = 0; k < intPart.Length; k++)
            {
                if (k > 0 && (intPart.Length - k) % 3 == 0) grouped.Append(',');
                grouped.Append(intPart[k]);
            }
            text = (neg ? "-" : "") + grouped + rest;
        }
        if (numeric && sign is '+' or ' ' && !text.StartsWith('-')) text = sign + text;
        if (align == '\0') align = numeric ? '>' : '<';
        if (text.Length >= width) return text;
        int pad = width - text.Length;
        return align switch
        {
            '<' => text + new string(fill, pad),
            '>' => new string(fill, pad) + text,
            '^' => new string(fill, pad / 2) + text + new string(fill, pad - pad / 2),
            _ => text.Length > 0 && text[0] is '-' or '+' or ' ' ? text[0] + new string(fill, pad) + text[1..] : new string(fill, pad) + text,
        };
    }
}
