using System.Collections;
using System.Globalization;
using System.Text;

namespace Hunch.Chat;

// The interpreter's value model mirrors Python's, because templates are written against Python semantics:
//   null = None, bool, long = int, double = float, string = str, List<object?> = list, PyTuple = tuple,
//   PyDict = dict (insertion ordered), PyNamespace = jinja2 namespace(), Undefined, Callable.

/// <summary>jinja2's default Undefined: prints as empty, iterates as empty, false; most other uses raise.</summary>
internal sealed class Undefined
{
    public Undefined(string message, bool unsafeAccess = false)
    {
        Message = message;
        UnsafeAccess = unsafeAccess;
    }

    /// <summary>The error raised when the undefined value is used in a way that needs a real value.</summary>
    public string Message { get; }

    /// <summary>True when this stands for a sandbox-forbidden attribute (jinja2 raises SecurityError on use).</summary>
    public bool UnsafeAccess { get; }

    public override string ToString() => "";
}

/// <summary>
/// markupsafe's Markup (what the safe and escape filters return): a str that HTML-escapes plain strings added to it.
/// Most operations treat it as its plain text; '+', '*' and '%' keep jinja2's escaping behaviour.
/// </summary>
internal sealed class PyMarkup(string value)
{
    public string Value { get; } = value;
    public override string ToString() => Value;
}

/// <summary>An immutable Python tuple.</summary>
internal sealed class PyTuple(object?[] items, string[]? fieldNames = null) : IReadOnlyList<object?>
{
    public object?[] Items { get; } = items;

    /// <summary>Attribute names of a named tuple (groupby's grouper/list), or null.</summary>
    public string[]? FieldNames { get; } = fieldNames;
    public int Count => Items.Length;
    public object? this[int index] => Items[index];
    public IEnumerator<object?> GetEnumerator() => ((IEnumerable<object?>)Items).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => Items.GetEnumerator();
}

/// <summary>An insertion-ordered dict with Python key equality (1 == 1.0 == True).</summary>
internal sealed class PyDict : IEnumerable<KeyValuePair<object, object?>>
{
    private readonly OrderedDictionary<object, object?> _map = new(PyKeyComparer.Instance);

    public int Count => _map.Count;

    public object? this[object key]
    {
        get => _map[key];
        set => _map[key] = value;
    }

    public bool TryGetValue(object key, out object? value) => _map.TryGetValue(key, out value);
    public bool ContainsKey(object key) => _map.ContainsKey(key);
    public IEnumerable<object> Keys => _map.Keys;
    public IEnumerable<object?> Values => _map.Values;
    public IEnumerator<KeyValuePair<object, object?>> GetEnumerator() => _map.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => _map.GetEnumerator();
}

/// <summary>
/// A Python generator or iterator (what map/select/unique/items... return in jinja2): iterable once, always true,
/// no len(), prints as an object.
/// </summary>
internal sealed class PyGenerator(List<object?> items, string kind)
{
    private List<object?>? _items = items;
    public string Kind { get; } = kind;

    /// <summary>Takes the remaining items; a second iteration sees nothing, as with a Python generator.</summary>
    public List<object?> Consume()
    {
        var r = _items ?? new List<object?>();
        _items = null;
        return r;
    }
}

/// <summary>jinja2's namespace(): the only object whose attributes a template may assign.</summary>
internal sealed class PyNamespace
{
    public PyDict Attributes { get; } = new();
}

/// <summary>Something a template can call: a macro, a global function or a bound method.</summary>
internal abstract class Callable
{
    public abstract string Name { get; }
    public abstract object? Invoke(Interpreter interp, List<object?> args, List<KeyValuePair<string, object?>> kwargs, int line);
}

internal sealed class BuiltinFunction(string name, Func<Interpreter, List<object?>, List<KeyValuePair<string, object?>>, int, object?> body) : Callable
{
    public override string Name { get; } = name;
    public override object? Invoke(Interpreter interp, List<object?> args, List<KeyValuePair<string, object?>> kwargs, int line) => body(interp, args, kwargs, line);
}

internal sealed class BoundMethod(object target, string method) : Callable
{
    public object Target { get; } = target;
    public string Method { get; } = method;
    public override string Name => Method;
    public override object? Invoke(Interpreter interp, List<object?> args, List<KeyValuePair<string, object?>> kwargs, int line)
        => Methods.Call(interp, Target, Method, args, kwargs, line);
}

/// <summary>Python key equality and hashing for dict keys.</summary>
internal sealed class PyKeyComparer : IEqualityComparer<object>
{
    public static readonly PyKeyComparer Instance = new();

    public new bool Equals(object? x, object? y) => PyOps.PyEquals(x, y);

    public int GetHashCode(object obj)
    {
        switch (obj)
        {
            case string s: return string.GetHashCode(s, StringComparison.Ordinal);
            case PyMarkup m: return string.GetHashCode(m.Value, StringComparison.Ordinal);
            case bool b: return b ? 1 : 0;
            case long l: return l.GetHashCode();
            case double d:
                if (d == Math.Floor(d) && Math.Abs(d) < 9.2e18) return ((long)d).GetHashCode();
                return d.GetHashCode();
            case PyTuple t:
                var h = new HashCode();
                foreach (var item in t.Items) h.Add(item is null ? 0 : GetHashCode(item));
                return h.ToHashCode();
            default: return System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj);
        }
    }
}

/// <summary>Python-compatible conversions of values to text (str, repr, json).</summary>
internal static class PyFormat
{
    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        PyMarkup => "Markup",
        List<object?> => "list",
        PyTuple => "tuple",
        PyDict => "dict",
        PyNamespace => "Namespace",
        LoopObject => "LoopContext",
        PyGenerator => "generator",
        Callable => "function",
        _ => v.GetType().Name,
    };

    /// <summary>Python str(v), with Undefined printing as empty (jinja2's default Undefined).</summary>
    public static string Str(object? v)
    {
        switch (v)
        {
            case string s: return s;
            case PyMarkup m: return m.Value;
            case null: return "None";
            case Undefined: return "";
            case PyOps.NoneKey: return "None";
            case bool b: return b ? "True" : "False";
            case long l: return l.ToString(CultureInfo.InvariantCulture);
            case double d: return FloatRepr(d);
            default:
                var sb = new StringBuilder();
                AppendRepr(sb, v, 0);
                return sb.ToString();
        }
    }

    public static string Repr(object? v)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, v, 0);
        return sb.ToString();
    }

    private static void AppendRepr(StringBuilder sb, object? v, int depth)
    {
        if (depth > 200) throw new ChatTemplateException("value nested too deeply to print", kind: ChatTemplateErrorKind.LimitExceeded);
        switch (v)
        {
            case string s: AppendStringRepr(sb, s); break;
            case PyMarkup m: sb.Append("Markup("); AppendStringRepr(sb, m.Value); sb.Append(')'); break;
            case Undefined: sb.Append("Undefined"); break;
            case List<object?> list:
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    AppendRepr(sb, list[i], depth + 1);
                }
                sb.Append(']');
                break;
            case PyTuple t:
                sb.Append('(');
                for (int i = 0; i < t.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    AppendRepr(sb, t[i], depth + 1);
                }
                if (t.Count == 1) sb.Append(',');
                sb.Append(')');
                break;
            case PyDict d:
                sb.Append('{');
                bool first = true;
                foreach (var kv in d)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    AppendRepr(sb, kv.Key, depth + 1);
                    sb.Append(": ");
                    AppendRepr(sb, kv.Value, depth + 1);
                }
                sb.Append('}');
                break;
            case PyNamespace ns:
                sb.Append("<Namespace {");
                bool f = true;
                foreach (var kv in ns.Attributes)
                {
                    if (!f) sb.Append(", ");
                    f = false;
                    AppendRepr(sb, kv.Key, depth + 1);
                    sb.Append(": ");
                    AppendRepr(sb, kv.Value, depth + 1);
                }
                sb.Append("}>");
                break;
            case LoopObject: sb.Append("<LoopContext>"); break;
            case PyGenerator g: sb.Append('<').Append(g.Kind).Append(" object>"); break;
            case Callable c: sb.Append("<function ").Append(c.Name).Append('>'); break;
            default: sb.Append(Str(v)); break;
        }
    }

    /// <summary>Python's repr of a str: single quotes unless the text has ' and no ".</summary>
    public static void AppendStringRepr(StringBuilder sb, string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(quote);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == quote || c == '\\') { sb.Append('\\').Append(c); continue; }
            switch (c)
            {
                case '\n': sb.Append("\\n"); continue;
                case '\r': sb.Append("\\r"); continue;
                case '\t': sb.Append("\\t"); continue;
            }
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                int cp = char.ConvertToUtf32(c, s[i + 1]);
                if (IsPrintable(cp)) sb.Append(c).Append(s[i + 1]);
                else sb.Append("\\U").Append(cp.ToString("x8", CultureInfo.InvariantCulture));
                i++;
                continue;
            }
            if (IsPrintable(c)) sb.Append(c);
            else if (c < 0x100) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            else sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
        }
        sb.Append(quote);
    }

    // Python's str.isprintable: everything except "Other" and "Separator" categories, but the space is printable.
    private static bool IsPrintable(int cp)
    {
        if (cp == ' ') return true;
        var cat = cp <= 0xFFFF ? CharUnicodeInfo.GetUnicodeCategory((char)cp) : CharUnicodeInfo.GetUnicodeCategory(cp);
        switch (cat)
        {
            case UnicodeCategory.Control:
            case UnicodeCategory.Format:
            case UnicodeCategory.Surrogate:
            case UnicodeCategory.PrivateUse:
            case UnicodeCategory.OtherNotAssigned:
            case UnicodeCategory.LineSeparator:
            case UnicodeCategory.ParagraphSeparator:
            case UnicodeCategory.SpaceSeparator:
                return false;
            default:
                return true;
        }
    }

    /// <summary>Python's repr(float): shortest round-trip digits, fixed notation for 1e-4 &lt;= |x| &lt; 1e16.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        // Use the shortest round-trip form ("R") to get the digits, then lay them out like Python does.
        string shortest = d.ToString("R", CultureInfo.InvariantCulture);
        bool negative = shortest[0] == '-';
        if (negative) shortest = shortest[1..];
        int ePos = shortest.IndexOfAny(['E', 'e']);
        int exp = 0;
        string mant = shortest;
        if (ePos >= 0)
        {
            exp = int.Parse(shortest.AsSpan(ePos + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            mant = shortest[..ePos];
        }
        int dot = mant.IndexOf('.');
        string digits;
        int intDigits;
        if (dot >= 0)
        {
            digits = string.Concat(mant.AsSpan(0, dot), mant.AsSpan(dot + 1));
            intDigits = dot;
        }
        else
        {
            digits = mant;
            intDigits = mant.Length;
        }
        // Normalise: strip leading zeros (adjusting the decimal point) and trailing zeros.
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0') lead++;
        digits = digits[lead..];
        intDigits -= lead;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        int exp10 = intDigits - 1 + exp; // value = d.ddd x 10^exp10
        var sb = new StringBuilder();
        if (negative) sb.Append('-');
        if (exp10 >= 16 || exp10 < -4)
        {
            sb.Append(digits[0]);
            if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
            sb.Append('e').Append(exp10 < 0 ? '-' : '+');
            sb.Append(Math.Abs(exp10).ToString("00", CultureInfo.InvariantCulture));
        }
        else if (exp10 >= 0)
        {
            if (digits.Length <= exp10 + 1)
            {
                sb.Append(digits).Append('0', exp10 + 1 - digits.Length).Append(".0");
            }
            else
            {
                sb.Append(digits, 0, exp10 + 1).Append('.').Append(digits, exp10 + 1, digits.Length - exp10 - 1);
            }
        }
        else
        {
            sb.Append("0.").Append('0', -exp10 - 1).Append(digits);
        }
        return sb.ToString();
    }

    /// <summary>json.dumps(v, ensure_ascii, indent, separators, sort_keys) as Hugging Face's tojson calls it.</summary>
    public static string Json(object? v, string? indent, string itemSep, string keySep, bool sortKeys, bool ensureAscii, int maxLength)
    {
        var sb = new StringBuilder();
        AppendJson(sb, v, indent, itemSep, keySep, sortKeys, ensureAscii, 0, maxLength);
        return sb.ToString();
    }

    private static void AppendJson(StringBuilder sb, object? v, string? indent, string itemSep, string keySep, bool sortKeys, bool ensureAscii, int level, int maxLength)
    {
        if (level > 200) throw new ChatTemplateException("value nested too deeply for tojson", kind: ChatTemplateErrorKind.LimitExceeded);
        if (sb.Length > maxLength) throw new ChatTemplateException($"tojson output exceeds the output limit of {maxLength} characters", kind: ChatTemplateErrorKind.LimitExceeded);
        switch (v)
        {
            case null: sb.Append("null"); return;
            case bool b: sb.Append(b ? "true" : "false"); return;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); return;
            case double d:
                if (double.IsNaN(d)) sb.Append("NaN");
                else if (double.IsPositiveInfinity(d)) sb.Append("Infinity");
                else if (double.IsNegativeInfinity(d)) sb.Append("-Infinity");
                else sb.Append(FloatRepr(d));
                return;
            case string s: AppendJsonString(sb, s, ensureAscii); return;
            case PyMarkup m: AppendJsonString(sb, m.Value, ensureAscii); return;
            case List<object?> or PyTuple:
            {
                var items = (IReadOnlyList<object?>)v;
                if (items.Count == 0) { sb.Append("[]"); return; }
                sb.Append('[');
                for (int i = 0; i < items.Count; i++)
                {
                    if (i > 0) sb.Append(itemSep);
                    NewLine(sb, indent, level + 1);
                    AppendJson(sb, items[i], indent, itemSep, keySep, sortKeys, ensureAscii, level + 1, maxLength);
                }
                NewLine(sb, indent, level);
                sb.Append(']');
                return;
            }
            case PyDict dict:
            {
                if (dict.Count == 0) { sb.Append("{}"); return; }
                var entries = new List<KeyValuePair<string, object?>>(dict.Count);
                foreach (var kv in dict) entries.Add(new(JsonKey(kv.Key), kv.Value));
                if (sortKeys) entries.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
                sb.Append('{');
                for (int i = 0; i < entries.Count; i++)
                {
                    if (i > 0) sb.Append(itemSep);
                    NewLine(sb, indent, level + 1);
                    AppendJsonString(sb, entries[i].Key, ensureAscii);
                    sb.Append(keySep);
                    AppendJson(sb, entries[i].Value, indent, itemSep, keySep, sortKeys, ensureAscii, level + 1, maxLength);
                }
                NewLine(sb, indent, level);
                sb.Append('}');
                return;
            }
            default:
                throw new ChatTemplateException($"Object of type {TypeName(v)} is not JSON serializable");
        }
    }

    private static string JsonKey(object key) => key switch
    {
        string s => s,
        PyMarkup m => m.Value,
        PyOps.NoneKey => "null",
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FloatRepr(d),
        _ => throw new ChatTemplateException($"keys must be str, int, float, bool or None, not {TypeName(key)}"),
    };

    private static void NewLine(StringBuilder sb, string? indent, int level)
    {
        if (indent is null) return;
        sb.Append('\n');
        for (int i = 0; i < level; i++) sb.Append(indent);
    }

    private static void AppendJsonString(StringBuilder sb, string s, bool ensureAscii)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20 || (ensureAscii && c > 0x7F))
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
