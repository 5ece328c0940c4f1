using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Hunch.Chat;

/// <summary>jinja2's builtin filters (filters.py) with Hugging Face's tojson.</summary>
internal static partial class Filters
{
    [GeneratedRegex(@"([-\s({\[<]+)")]
    private static partial Regex WordBeginningSplit();

    [GeneratedRegex(@"\w+")]
    private static partial Regex Word();

    public static bool Exists(string name) => name is "abs" or "attr" or "batch" or "capitalize" or "center" or "count"
        or "d" or "default" or "dictsort" or "e" or "escape" or "first" or "float" or "forceescape" or "format" or "groupby" or "indent"
        or "int" or "items" or "join" or "last" or "length" or "list" or "lower" or "map" or "max" or "min" or "pprint"
        or "reject" or "rejectattr" or "replace" or "reverse" or "round" or "safe" or "select" or "selectattr" or "sort"
        or "string" or "sum" or "title" or "tojson" or "trim" or "truncate" or "unique" or "upper" or "wordcount";

    public static object? Apply(Interpreter interp, string name, object? value, List<object?> args, List<KeyValuePair<string, object?>> kwargs, int line)
    {
        if (name is "safe") return value is PyMarkup ? value : new PyMarkup(SoftStr(value, line));
        if (name is "e" or "escape" && value is PyMarkup) return value;
        if (name is "e" or "escape" or "forceescape") return new PyMarkup(interp.Charged(HtmlEscape(SoftStr(value, line)), line));
        if (name is "string" && value is PyMarkup) return value;
        if (name is "pprint") return PyFormat.Repr(value);
        value = PyOps.Plain(value);
        for (int i = 0; i < args.Count; i++) args[i] = PyOps.Plain(args[i]);
        var a = new ArgList(name, args, kwargs, line);
        object? result = ApplyCore(interp, name, value, a);
        if (result is string s) interp.Charge(s.Length, line);
        return result;
    }

    /// <summary>jinja2's soft_str: str(), with Undefined as "" (an unsafe-attribute Undefined raises).</summary>
    private static string SoftStr(object? v, int line) => PyOps.StrForOutput(v, line);

    private static object? ApplyCore(Interpreter interp, string name, object? value, ArgList a)
    {
        int line = a.Line;
        switch (name)
        {
            case "abs":
                return value switch
                {
                    long l => (object)checked(Math.Abs(l)),
                    double d => (object)Math.Abs(d),
                    bool b => (object)(b ? 1L : 0L),
                    Undefined u => throw PyOps.UndefinedError(u, line),
                    _ => throw new ChatTemplateException($"bad operand type for abs(): '{PyFormat.TypeName(value)}'", line),
                };
            case "attr":
            {
                // jinja2's attr filter looks up Python attributes only (no item fallback).
                string attrName = a.String(0, "name");
                if (value is PyNamespace or LoopObject) return PyOps.GetAttr(value, attrName, line);
                if (value is Undefined u) throw PyOps.UndefinedError(u, line);
                if (value is not null && Methods.IsMethod(value, attrName, out _)) return PyOps.GetAttr(value, attrName, line);
                return new Undefined($"'{PyFormat.TypeName(value)} object' has no attribute '{attrName}'");
            }
            case "batch":
            {
                long size = a.Int(0, "linecount", 1);
                if (size <= 0) throw new ChatTemplateException("batch size must be positive", line);
                bool fill = a.Has(1, "fill_with");
                var fillWith = a.Get(1, "fill_with");
                var items = PyOps.Iterate(value, line);
                var batches = new List<object?>();
                for (int i = 0; i < items.Count; i += (int)Math.Min(size, int.MaxValue))
                {
                    var batch = items.GetRange(i, (int)Math.Min(size, items.Count - i));
                    if (fill) while (batch.Count < size) batch.Add(fillWith);
                    batches.Add(batch);
                }
                return new PyGenerator(batches, "generator");
            }
            case "capitalize":
            {
                string s = SoftStr(value, line);
                return s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
            }
            case "center":
            {
                string s = SoftStr(value, line);
                long width = a.Int(0, "width", 80);
                interp.Charge(width, line);
                if (width <= s.Length) return s;
                int pad = (int)width - s.Length;
                int left = pad / 2 + (pad & (int)width & 1);
                return new string(' ', left) + s + new string(' ', pad - left);
            }
            case "count":
            case "length":
                return Length(value, line);
            case "d":
            case "default":
            {
                var fallback = a.Get(0, "default_value", "");
                bool boolean = a.Bool(1, "boolean", false);
                if (value is Undefined || (boolean && !PyOps.Truthy(value))) return fallback;
                return value;
            }
            case "dictsort":
            {
                if (value is Undefined u) throw PyOps.UndefinedError(u, line);
                if (value is not PyDict d) throw new ChatTemplateException($"'{PyFormat.TypeName(value)}' object has no attribute 'items'", line);
                bool caseSensitive = a.Bool(0, "case_sensitive", false);
                string by = a.String(1, "by", "key");
                bool reverse = a.Bool(2, "reverse", false);
                int pos = by == "key" ? 0 : by == "value" ? 1 : throw new ChatTemplateException("You can only sort by either 'key' or 'value'", line);
                var pairs = new List<object?>();
                foreach (var kv in d) pairs.Add(new PyTuple([PyOps.FromKey(kv.Key), kv.Value]));
                return SortBy(pairs, item => Fold(((PyTuple)item!)[pos], caseSensitive), reverse, line);
            }
            case "e":
            case "escape":
            case "forceescape":
                return HtmlEscape(SoftStr(value, line));
            case "first":
            {
                if (value is string s) return s.Length > 0 ? s[..1] : new Undefined("No first item, sequence was empty.");
                var items = PyOps.Iterate(value, line);
                return items.Count > 0 ? items[0] : new Undefined("No first item, sequence was empty.");
            }
            case "last":
            {
                if (value is PyGenerator) throw new ChatTemplateException("'generator' object is not reversible", line);
                if (value is string s) return s.Length > 0 ? s[^1..] : new Undefined("No last item, sequence was empty.");
                var items = PyOps.Iterate(value, line);
                return items.Count > 0 ? items[^1] : new Undefined("No last item, sequence was empty.");
            }
            case "float":
                return ToFloat(value, a.Get(0, "default", 0.0), line);
            case "int":
                return ToInt(value, a.Get(0, "default", 0L), a.Int(1, "base", 10), line);
            case "format":
            {
                string fmt = SoftStr(value, line);
                if (a.Count > 0 && a.Keywords.Count > 0) throw new ChatTemplateException("can't handle positional and keyword arguments at the same time", line);
                if (a.Keywords.Count > 0)
                {
                    var map = new PyDict();
                    foreach (var kv in a.Keywords) map[kv.Key] = kv.Value;
                    return Methods.PercentFormat(fmt, map, line);
                }
                return Methods.PercentFormat(fmt, new PyTuple(a.Positional.ToArray()), line);
            }
            case "indent":
                return Indent(interp, value, a, line);
            case "groupby":
            {
                var attribute = a.Required(0, "attribute");
                var fallback = a.Get(1, "default");
                bool caseSensitive = a.Bool(2, "case_sensitive", false);
                var items = PyOps.Iterate(value, line);
                var sorted = SortBy(items, item => Fold(AttrGetter(item, attribute, fallback, line), caseSensitive), false, line);
                var groups = new List<object?>();
                object? currentKey = null;
                List<object?>? current = null;
                foreach (var item in sorted)
                {
                    var key = Fold(AttrGetter(item, attribute, fallback, line), caseSensitive);
                    if (current is null || !PyOps.PyEquals(key, currentKey))
                    {
                        current = new List<object?>();
                        currentKey = key;
                        // jinja2 reports the grouper of the first item as it is (not case-folded)
                        groups.Add(new PyTuple([AttrGetter(item, attribute, fallback, line), current], ["grouper", "list"]));
                    }
                    current.Add(item);
                }
                return groups;
            }
            case "items":
            {
                if (value is Undefined) return new PyGenerator(new List<object?>(), "generator");
                if (value is not PyDict d) throw new ChatTemplateException("Can only get item pairs from a mapping.", line);
                var pairs = new List<object?>(d.Count);
                foreach (var kv in d) pairs.Add(new PyTuple([PyOps.FromKey(kv.Key), kv.Value]));
                return new PyGenerator(pairs, "generator");
            }
            case "join":
            {
                string sep = SoftStr(a.Get(0, "d", ""), line);
                var items = PyOps.Iterate(value, line);
                var attribute = a.Get(1, "attribute");
                var sb = new StringBuilder();
                for (int i = 0; i < items.Count; i++)
                {
                    if (i > 0) sb.Append(sep);
                    var item = attribute is null ? items[i] : AttrGetter(items[i], attribute, null, line);
                    sb.Append(SoftStr(item, line));
                    if (sb.Length > interp.Limits.MaxOutputLength) interp.Charge(sb.Length, line);
                }
                return sb.ToString();
            }
            case "list":
            {
                var items = PyOps.Iterate(value, line);
                interp.Charge(items.Count, line);
                return items;
            }
            case "lower":
                return SoftStr(value, line).ToLowerInvariant();
            case "upper":
                return Methods.PyUpper(SoftStr(value, line));
            case "map":
                return Map(interp, value, a, line);
            case "max":
            case "min":
            {
                var items = PyOps.Iterate(value, line);
                if (items.Count == 0) return new Undefined("No aggregated item, sequence was empty.");
                bool caseSensitive = a.Bool(0, "case_sensitive", false);
                var attribute = a.Get(1, "attribute");
                object? best = items[0];
                object? bestKey = Fold(attribute is null ? best : AttrGetter(best, attribute, null, line), caseSensitive);
                for (int i = 1; i < items.Count; i++)
                {
                    var key = Fold(attribute is null ? items[i] : AttrGetter(items[i], attribute, null, line), caseSensitive);
                    int c = PyOps.Order(key, bestKey, line);
                    if (name == "max" ? c > 0 : c < 0)
                    {
                        best = items[i];
                        bestKey = key;
                    }
                }
                return best;
            }
            case "pprint":
                return PyFormat.Repr(value);
            case "reject":
            case "select":
            case "rejectattr":
            case "selectattr":
                return SelectOrReject(interp, value, a, lookupAttr: name.EndsWith("attr", StringComparison.Ordinal), keep: name.StartsWith("select", StringComparison.Ordinal), line);
            case "replace":
            {
                string s = SoftStr(value, line);
                var count = a.Get(2, "count");
                long n = count is null ? -1 : count is long l ? l : count is bool b ? (b ? 1 : 0) : throw new ChatTemplateException("replace() count must be an integer", line);
                return Methods.Replace(interp, s, SoftStr(a.Required(0, "old"), line), SoftStr(a.Required(1, "new"), line), n, line);
            }
            case "reverse":
            {
                if (value is string s)
                {
                    var chars = s.ToCharArray();
                    Array.Reverse(chars);
                    return new string(chars);
                }
                var items = PyOps.Iterate(value, line);
                items.Reverse();
                return new PyGenerator(items, "list_reverseiterator");
            }
            case "round":
                return Round(value, a.Int(0, "precision", 0), a.String(1, "method", "common"), line);
            case "safe":
            case "string":
                return SoftStr(value, line);
            case "sort":
            {
                bool reverse = a.Bool(0, "reverse", false);
                bool caseSensitive = a.Bool(1, "case_sensitive", false);
                var attribute = a.Get(2, "attribute");
                var items = PyOps.Iterate(value, line);
                return SortBy(items, item => Fold(attribute is null ? item : AttrGetter(item, attribute, null, line), caseSensitive), reverse, line);
            }
            case "sum":
            {
                var attribute = a.Get(0, "attribute");
                object? total = a.Get(1, "start", 0L);
                foreach (var item in PyOps.Iterate(value, line))
                    total = PyOps.Binary(interp, "+", total, attribute is null ? item : AttrGetter(item, attribute, null, line), line);
                return total;
            }
            case "title":
            {
                var sb = new StringBuilder();
                foreach (var part in WordBeginningSplit().Split(SoftStr(value, line)))
                {
                    if (part.Length == 0) continue;
                    sb.Append(char.ToUpperInvariant(part[0])).Append(part[1..].ToLowerInvariant());
                }
                return sb.ToString();
            }
            case "tojson":
                return ToJson(interp, value, a, line);
            case "trim":
                return Methods.Strip(SoftStr(value, line), a.Get(0, "chars"), true, true, line);
            case "truncate":
            {
                string s = SoftStr(value, line);
                long length = a.Int(0, "length", 255);
                bool killwords = a.Bool(1, "killwords", false);
                string end = a.String(2, "end", "...");
                long leeway = a.Int(3, "leeway", 5);
                if (length < end.Length) throw new ChatTemplateException("expected length >= len(end)", line);
                if (s.Length <= length + leeway) return s;
                string head = s[..(int)(length - end.Length)];
                if (killwords) return head + end;
                int sp = head.LastIndexOf(' ');
                return (sp >= 0 ? head[..sp] : head) + end;
            }
            case "unique":
            {
                bool caseSensitive = a.Bool(0, "case_sensitive", false);
                var attribute = a.Get(1, "attribute");
                var seen = new List<object?>();
                var result = new List<object?>();
                foreach (var item in PyOps.Iterate(value, line))
                {
                    var key = Fold(attribute is null ? item : AttrGetter(item, attribute, null, line), caseSensitive);
                    PyOps.HashableKey(key, line); // Python keeps the seen keys in a set
                    bool dup = false;
                    foreach (var s in seen) if (PyOps.PyEquals(s, key)) { dup = true; break; }
                    if (dup) continue;
                    seen.Add(key);
                    result.Add(item);
                }
                return new PyGenerator(result, "generator");
            }
            case "wordcount":
                return (long)Word().Matches(SoftStr(value, line)).Count;
        }
        throw new ChatTemplateException($"No filter named '{name}'.", line);
    }

    private static object? Length(object? value, int line) => value switch
    {
        string s => (long)PyOps.CodePointCount(s),
        List<object?> l => (long)l.Count,
        PyTuple t => (long)t.Count,
        PyDict d => (long)d.Count,
        PyNamespace => throw new ChatTemplateException("object of type 'Namespace' has no len()", line),
        Undefined => 0L,
        _ => throw new ChatTemplateException($"object of type '{PyFormat.TypeName(value)}' has no len()", line),
    };

    private static object? Fold(object? v, bool caseSensitive) => !caseSensitive && v is string s ? s.ToLowerInvariant() : v;

    private static List<object?> SortBy(List<object?> items, Func<object?, object?> key, bool reverse, int line)
    {
        var keys = new object?[items.Count];
        for (int i = 0; i < keys.Length; i++) keys[i] = key(items[i]);
        var order = new int[items.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        // Python's sort is stable, also when reversed (equal items keep their order).
        List<int> sorted;
        try
        {
            sorted = order.OrderBy(i => i, Comparer<int>.Create((x, y) =>
            {
                int c = PyOps.Order(keys[x], keys[y], line);
                return reverse ? -c : c;
            })).ToList();
        }
        catch (InvalidOperationException e) when (e.InnerException is ChatTemplateException inner)
        {
            throw inner; // the sort wraps comparer exceptions; report the template's type error itself
        }
        var result = new List<object?>(items.Count);
        foreach (var i in sorted) result.Add(items[i]);
        return result;
    }

    public static string HtmlEscape(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
        {
            switch (c)
            {
                case '&': sb.Append("&amp;"); break;
                case '<': sb.Append("&lt;"); break;
                case '>': sb.Append("&gt;"); break;
                case '"': sb.Append("&#34;"); break;
                case '\'': sb.Append("&#39;"); break;
                default: sb.Append(c); break;
            }
        }
        return sb.ToString();
    }

    /// <summary>jinja2's make_attrgetter: dotted path, integer parts index, each step via getitem; default for Undefined.</summary>
    public static object? AttrGetter(object? item, object? attribute, object? fallback, int line)
    {
        if (attribute is long idx) return PyOps.GetItem(item, idx, line);
        string path = attribute as string ?? throw new ChatTemplateException("attribute must be a string or integer", line);
        foreach (var part in path.Split('.'))
        {
            object key = long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : part;
            item = PyOps.GetItem(item, key, line);
        }
        if (fallback is not null && item is Undefined) return fallback;
        return item;
    }

    private static object? Map(Interpreter interp, object? value, ArgList a, int line)
    {
        var items = PyOps.Truthy(value) || value is PyGenerator ? PyOps.Iterate(value, line) : new List<object?>();
        var result = new List<object?>(items.Count);
        if (a.Count == 0 && a.Has(-1, "attribute"))
        {
            var attribute = a.Get(-1, "attribute");
            var fallback = a.Get(-1, "default");
            foreach (var item in items) result.Add(AttrGetter(item, attribute, fallback, line));
        }
        else
        {
            if (a.Count == 0) throw new ChatTemplateException("map requires a filter argument", line);
            if (a.Positional[0] is not string filter) throw new ChatTemplateException("map filter name must be a string", line);
            var rest = a.Positional.GetRange(1, a.Count - 1);
            foreach (var item in items) result.Add(Apply(interp, filter, item, rest, a.Keywords, line));
        }
        return new PyGenerator(result, "generator");
    }

    private static object? SelectOrReject(Interpreter interp, object? value, ArgList a, bool lookupAttr, bool keep, int line)
    {
        var items = PyOps.Truthy(value) || value is PyGenerator ? PyOps.Iterate(value, line) : new List<object?>();
        int off = 0;
        object? attribute = null;
        if (lookupAttr)
        {
            if (a.Count == 0) throw new ChatTemplateException("Missing parameter for attribute name", line);
            attribute = a.Positional[0];
            off = 1;
        }
        string? test = null;
        List<object?> testArgs = new();
        if (a.Count > off)
        {
            test = a.Positional[off] as string ?? throw new ChatTemplateException("test name must be a string", line);
            testArgs = a.Positional.GetRange(off + 1, a.Count - off - 1);
        }
        var result = new List<object?>();
        foreach (var item in items)
        {
            var probe = lookupAttr ? AttrGetter(item, attribute, null, line) : item;
            bool ok = test is null ? PyOps.Truthy(probe) : Tests.Apply(interp, test, probe, testArgs, a.Keywords, line);
            if (ok == keep) result.Add(item);
        }
        return new PyGenerator(result, "generator");
    }

    private static object? Indent(Interpreter interp, object? value, ArgList a, int line)
    {
        if (value is Undefined u) throw PyOps.UndefinedError(u, line);
        if (value is not string s) throw new ChatTemplateException($"can only indent strings, not {PyFormat.TypeName(value)}", line);
        var width = a.Get(0, "width", 4L);
        string indentation = width switch
        {
            string w => w,
            long n => new string(' ', (int)Math.Clamp(n, 0, interp.Limits.MaxOutputLength)),
            bool b => b ? " " : "",
            _ => throw new ChatTemplateException("indent width must be an integer or a string", line),
        };
        bool first = a.Bool(1, "first", false);
        bool blank = a.Bool(2, "blank", false);
        s += "\n"; // jinja2 appends a newline so that splitlines drops a trailing empty line consistently
        var lines = Methods.SplitLines(s, keepEnds: false);
        var sb = new StringBuilder();
        if (blank)
        {
            for (int i = 0; i < lines.Count; i++)
            {
                if (i > 0) sb.Append('\n').Append(indentation);
                sb.Append(lines[i]);
                if (sb.Length > interp.Limits.MaxOutputLength) interp.Charge(sb.Length, line);
            }
        }
        else
        {
            sb.Append(lines[0]);
            for (int i = 1; i < lines.Count; i++)
            {
                sb.Append('\n');
                if (lines[i].Length > 0) sb.Append(indentation);
                sb.Append(lines[i]);
                if (sb.Length > interp.Limits.MaxOutputLength) interp.Charge(sb.Length, line);
            }
        }
        if (first) sb.Insert(0, indentation);
        return sb.ToString();
    }

    private static object? Round(object? value, long precision, string method, int line)
    {
        if (method is not ("common" or "ceil" or "floor")) throw new ChatTemplateException("method must be common, ceil or floor", line);
        if (value is Undefined u) throw PyOps.UndefinedError(u, line);
        if (!PyOps.IsNumber(value)) throw new ChatTemplateException($"type {PyFormat.TypeName(value)} doesn't define __round__ method", line);
        if (method == "common")
        {
            if (value is long or bool) return value is bool b ? (b ? 1L : 0L) : value;
            double d = (double)value!;
            if (precision > 15) return d;
            return RoundHalfEven(d, (int)Math.Max(precision, -400));
        }
        double scale = Math.Pow(10, precision);
        double x = PyOps.ToDouble(value) * scale;
        return (method == "ceil" ? Math.Ceiling(x) : Math.Floor(x)) / scale;
    }

    /// <summary>
    /// Python's round(float, n): half-to-even on the exact binary value (not on a scaled approximation), so that
    /// round(2.675, 2) is 2.67 as in Python.
    /// </summary>
    private static double RoundHalfEven(double d, int ndigits)
    {
        if (double.IsNaN(d) || double.IsInfinity(d) || d == 0) return d;
        long bits = BitConverter.DoubleToInt64Bits(d);
        bool negative = bits < 0;
        int exp = (int)((bits >> 52) & 0x7FF);
        long frac = bits & 0xFFFFFFFFFFFFFL;
        long mant = exp == 0 ? frac : frac | (1L << 52);
        int e2 = (exp == 0 ? 1 : exp) - 1075; // |d| = mant * 2^e2 exactly
        // scaled = mant * 2^e2 * 10^ndigits as a fraction num/den
        var num = new System.Numerics.BigInteger(mant);
        var den = System.Numerics.BigInteger.One;
        if (e2 >= 0) num <<= e2; else den <<= -e2;
        if (ndigits >= 0) num *= System.Numerics.BigInteger.Pow(10, ndigits); else den *= System.Numerics.BigInteger.Pow(10, -ndigits);
        var q = System.Numerics.BigInteger.DivRem(num, den, out var rem);
        int cmp = (rem * 2).CompareTo(den);
        if (cmp > 0 || (cmp == 0 && !q.IsEven)) q += 1;
        string text = q.ToString(CultureInfo.InvariantCulture) + "e" + (-ndigits).ToString(CultureInfo.InvariantCulture);
        double r = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        return negative ? -r : r;
    }

    private static object? ToInt(object? value, object? fallback, long numberBase, int line)
    {
        switch (value)
        {
            case Undefined u: throw PyOps.UndefinedError(u, line);
            case long: return value;
            case bool b: return b ? 1L : 0L;
            case double d:
                if (double.IsNaN(d) || double.IsInfinity(d)) return fallback;
                return (long)Math.Truncate(d);
            case string s:
            {
                string t = s.Trim().Replace("_", "", StringComparison.Ordinal);
                if (numberBase == 10 && long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
                if (numberBase != 10)
                {
                    try
                    {
                        string digits = t;
                        if (numberBase == 16 && digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) digits = digits[2..];
                        if (numberBase == 8 && digits.StartsWith("0o", StringComparison.OrdinalIgnoreCase)) digits = digits[2..];
                        if (numberBase == 2 && digits.StartsWith("0b", StringComparison.OrdinalIgnoreCase)) digits = digits[2..];
                        if (numberBase is 2 or 8 or 16) return Convert.ToInt64(digits, (int)numberBase);
                    }
                    catch (FormatException) { }
                    catch (OverflowException) { }
                    catch (ArgumentException) { }
                }
                if (TryParsePyFloat(s, out double f) && !double.IsNaN(f) && !double.IsInfinity(f) && Math.Abs(f) < 9.2e18) return (long)Math.Truncate(f);
                return fallback;
            }
            default: return fallback;
        }
    }

    private static object? ToFloat(object? value, object? fallback, int line) => value switch
    {
        Undefined u => throw PyOps.UndefinedError(u, line),
        double => value,
        long l => (double)l,
        bool b => b ? 1.0 : 0.0,
        string s => TryParsePyFloat(s, out double d) ? d : fallback,
        _ => fallback,
    };

    private static bool TryParsePyFloat(string s, out double d)
    {
        string t = s.Trim().Replace("_", "", StringComparison.Ordinal);
        switch (t.ToLowerInvariant())
        {
            case "nan" or "+nan" or "-nan": d = double.NaN; return true;
            case "inf" or "+inf" or "infinity" or "+infinity": d = double.PositiveInfinity; return true;
            case "-inf" or "-infinity": d = double.NegativeInfinity; return true;
        }
        return double.TryParse(t, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out d);
    }

    /// <summary>Hugging Face's tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).</summary>
    private static object? ToJson(Interpreter interp, object? value, ArgList a, int line)
    {
        bool ensureAscii = a.Bool(0, "ensure_ascii", false);
        var indentArg = a.Get(1, "indent");
        string? indent = indentArg switch
        {
            null => null,
            string s => s,
            long n => new string(' ', (int)Math.Clamp(n, 0, 1024)),
            bool b => b ? " " : "",
            _ => throw new ChatTemplateException("tojson indent must be an integer or a string", line),
        };
        string itemSep = indent is null ? ", " : ",";
        string keySep = ": ";
        var separators = a.Get(2, "separators");
        if (separators is not null)
        {
            var seps = PyOps.Iterate(separators, line);
            if (seps.Count != 2 || seps[0] is not string s0 || seps[1] is not string s1)
                throw new ChatTemplateException("tojson separators must be a pair of strings", line);
            itemSep = s0;
            keySep = s1;
        }
        bool sortKeys = a.Bool(3, "sort_keys", false);
        try
        {
            return PyFormat.Json(value, indent, itemSep, keySep, sortKeys, ensureAscii, interp.Limits.MaxOutputLength);
        }
        catch (ChatTemplateException e) when (e.Line == 0)
        {
            throw new ChatTemplateException(e.Reason, line, 0, e.Kind);
        }
    }
}
