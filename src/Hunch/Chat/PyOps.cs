using System.Text;

namespace Hunch.Chat;

/// <summary>Python semantics of the operators and protocols templates rely on.</summary>
internal static class PyOps
{
    public static ChatTemplateException UndefinedError(Undefined u, int line) => new(u.Message, line);

    /// <summary>Markup as its plain text; everything else unchanged.</summary>
    public static object? Plain(object? v) => v is PyMarkup m ? m.Value : v;

    public static bool Truthy(object? v) => v switch
    {
        PyMarkup m => m.Value.Length > 0,
        null => false,
        Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        PyTuple t => t.Count > 0,
        PyDict d => d.Count > 0,
        _ => true,
    };

    public static bool IsNumber(object? v) => v is long or double or bool;

    public static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidOperationException(),
    };

    /// <summary>Python's iter(): lists, tuples, dict keys, string characters; Undefined iterates as empty.</summary>
    public static List<object?> Iterate(object? v, int line)
    {
        switch (Plain(v))
        {
            case List<object?> l: return new List<object?>(l);
            case PyTuple t: return new List<object?>(t.Items);
            case PyGenerator g: return g.Consume();
            case PyDict d:
            {
                var keys = new List<object?>(d.Count);
                foreach (var k in d.Keys) keys.Add(FromKey(k));
                return keys;
            }
            case string s:
            {
                var chars = new List<object?>(s.Length);
                for (int i = 0; i < s.Length; i++)
                {
                    if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                    {
                        chars.Add(s.Substring(i, 2));
                        i++;
                    }
                    else chars.Add(s[i].ToString());
                }
                return chars;
            }
            case Undefined:
                return new List<object?>();
            default:
                throw new ChatTemplateException($"'{PyFormat.TypeName(v)}' object is not iterable", line);
        }
    }

    public static bool HasSurrogate(string s)
    {
        foreach (char c in s) if (char.IsSurrogate(c)) return true;
        return false;
    }

    public static int CodePointCount(string s)
    {
        if (!HasSurrogate(s)) return s.Length;
        int n = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
            n++;
        }
        return n;
    }

    /// <summary>The string as a list of one-code-point strings (a surrogate pair stays together).</summary>
    public static List<object?> CodePoints(string s) => Iterate(s, 0);

    public static object HashableKey(object? key, int line) => Plain(key) switch
    {
        null => NoneKey.Instance,
        List<object?> or PyDict or PyNamespace => throw new ChatTemplateException($"unhashable type: '{PyFormat.TypeName(key)}'", line),
        Undefined u => throw UndefinedError(u, line),
        var k => k,
    };

    /// <summary>Stand-in for None as a dict key (dictionary keys cannot be null).</summary>
    internal sealed class NoneKey
    {
        public static readonly NoneKey Instance = new();
        public override string ToString() => "None";
    }

    public static object? FromKey(object key) => key is NoneKey ? null : key;

    // ------------------------------------------------------------------ attribute and item access

    /// <summary>jinja2 sandbox getattr: Python attribute first (methods), then item; missing gives Undefined.</summary>
    public static object? GetAttr(object? obj, string name, int line)
    {
        obj = Plain(obj);
        switch (obj)
        {
            case Undefined u:
                throw UndefinedError(u, line);
            case LoopObject loop:
                return loop.GetAttr(name);
            case PyNamespace ns:
                return ns.Attributes.TryGetValue(name, out var nv) ? nv : new Undefined($"'Namespace' object has no attribute '{name}'");
            case PyTuple { FieldNames: { } names } named when Array.IndexOf(names, name) >= 0:
                return named[Array.IndexOf(names, name)];
        }
        if (obj is not null && Methods.IsMethod(obj, name, out bool safe))
        {
            return safe ? new BoundMethod(obj, name)
                : new Undefined($"access to attribute '{name}' of '{PyFormat.TypeName(obj)}' object is unsafe.", unsafeAccess: true);
        }
        if (obj is PyDict d && d.TryGetValue(name, out var dv)) return dv;
        return new Undefined($"'{DescribeObject(obj)}' has no attribute {PyFormat.Repr(name)}");
    }

    private static string DescribeObject(object? obj) => obj is null ? "None" : $"{PyFormat.TypeName(obj)} object";

    /// <summary>jinja2 sandbox getitem: item first, then attribute for string keys; missing gives Undefined.</summary>
    public static object? GetItem(object? obj, object? key, int line)
    {
        obj = Plain(obj);
        key = Plain(key);
        switch (obj)
        {
            case Undefined u:
                throw UndefinedError(u, line);
            case PyDict d:
                if (key is not (List<object?> or PyDict or Undefined) && d.TryGetValue(HashableKey(key, line), out var v)) return v;
                break;
            case string str when str.Length > 0 && HasSurrogate(str) && key is long or bool:
            {
                var cps = CodePoints(str);
                long idx = key is bool b ? (b ? 1 : 0) : (long)key!;
                if (idx < 0) idx += cps.Count;
                return idx >= 0 && idx < cps.Count ? cps[(int)idx] : new Undefined($"str object has no element {PyFormat.Repr(key)}");
            }
            case List<object?> or PyTuple or string:
                if (key is long or bool)
                {
                    long idx = key is bool b ? (b ? 1 : 0) : (long)key;
                    int count = obj is string s ? s.Length : ((IReadOnlyList<object?>)obj).Count;
                    if (idx < 0) idx += count;
                    if (idx >= 0 && idx < count)
                        return obj is string str ? str[(int)idx].ToString() : ((IReadOnlyList<object?>)obj)[(int)idx];
                    return new Undefined($"{PyFormat.TypeName(obj)} object has no element {PyFormat.Repr(key)}");
                }
                break;
            case LoopObject loop when key is string ls:
                return loop.GetAttr(ls);
        }
        if (key is string name && obj is not null && obj is not PyNamespace)
        {
            if (Methods.IsMethod(obj, name, out bool safe))
                return safe ? new BoundMethod(obj, name)
                    : new Undefined($"access to attribute '{name}' of '{PyFormat.TypeName(obj)}' object is unsafe.", unsafeAccess: true);
        }
        return key is string ks
            ? new Undefined($"'{DescribeObject(obj)}' has no attribute {PyFormat.Repr(ks)}")
            : new Undefined($"{DescribeObject(obj)} has no element {PyFormat.Repr(key)}");
    }

    public static object? Slice(Interpreter interp, object? target, object? start, object? stop, object? step, int line)
    {
        target = Plain(target);
        if (target is string surrogateText && HasSurrogate(surrogateText))
        {
            // Python indexes code points; slice the list of code points and join.
            var sliced = (List<object?>)Slice(interp, CodePoints(surrogateText), start, stop, step, line)!;
            return string.Concat(sliced.Cast<string>());
        }
        int count;
        switch (target)
        {
            case string s: count = s.Length; break;
            case List<object?> l: count = l.Count; break;
            case PyTuple t: count = t.Count; break;
            default:
                // jinja2 compiles slices to native Python subscripts (bypassing its getitem), so this raises
                throw new ChatTemplateException(target is PyDict ? "unhashable type: 'slice'" : $"'{PyFormat.TypeName(target)}' object is not subscriptable", line);
        }
        long stepV = step is null ? 1 : ToIndex(step, line);
        if (stepV == 0) throw new ChatTemplateException("slice step cannot be zero", line);
        long lower = stepV < 0 ? -1 : 0;
        long upper = stepV < 0 ? count - 1 : count;
        long Clamp(object? bound, long def)
        {
            if (bound is null) return def;
            long b = ToIndex(bound, line);
            if (b < 0)
            {
                b += count;
                if (b < lower) b = lower;
            }
            else if (b > upper) b = upper;
            return b;
        }
        long startV = Clamp(start, stepV < 0 ? upper : lower);
        long stopV = Clamp(stop, stepV < 0 ? lower : upper);
        var indices = new List<int>();
        if (stepV > 0)
        {
            for (long i = startV; i < stopV; i += stepV) indices.Add((int)i);
        }
        else
        {
            for (long i = startV; i > stopV; i += stepV) indices.Add((int)i);
        }
        interp.Charge(indices.Count, line);
        switch (target)
        {
            case string s:
            {
                var sb = new StringBuilder(indices.Count);
                foreach (var i in indices) sb.Append(s[i]);
                return sb.ToString();
            }
            case List<object?> l:
            {
                var r = new List<object?>(indices.Count);
                foreach (var i in indices) r.Add(l[i]);
                return r;
            }
            default:
            {
                var t = (PyTuple)target!;
                var r = new object?[indices.Count];
                for (int k = 0; k < r.Length; k++) r[k] = t[indices[k]];
                return new PyTuple(r);
            }
        }
    }

    private static long ToIndex(object? v, int line) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new ChatTemplateException("slice indices must be integers or None", line),
    };

    // ------------------------------------------------------------------ operators

    public static string StrForOutput(object? v, int line) => PyFormat.Str(v);

    public static object? Unary(string op, object? v, int line)
    {
        switch (v)
        {
            case Undefined u: throw UndefinedError(u, line);
            case long l: return op == "-" ? checked(-l) : l;
            case double d: return op == "-" ? -d : d;
            case bool b: return op == "-" ? -(b ? 1L : 0L) : (b ? 1L : 0L);
            default: throw new ChatTemplateException($"bad operand type for unary {op}: '{PyFormat.TypeName(v)}'", line);
        }
    }

    public static object? Binary(Interpreter interp, string op, object? a, object? b, int line)
    {
        if (a is Undefined ua) throw UndefinedError(ua, line);
        if (b is Undefined ub) throw UndefinedError(ub, line);
        try
        {
            return BinaryCore(interp, op, a, b, line);
        }
        catch (OverflowException)
        {
            throw new ChatTemplateException("integer overflow", line);
        }
    }

    private static object? BinaryCore(Interpreter interp, string op, object? a, object? b, int line)
    {
        if (a is PyMarkup || b is PyMarkup) return MarkupBinary(interp, op, a, b, line);
        if (IsNumber(a) && IsNumber(b))
        {
            bool bothInt = a is long or bool && b is long or bool;
            if (bothInt)
            {
                long x = a is bool ab ? (ab ? 1 : 0) : (long)a!;
                long y = b is bool bb ? (bb ? 1 : 0) : (long)b!;
                switch (op)
                {
                    case "+": return checked(x + y);
                    case "-": return checked(x - y);
                    case "*": return checked(x * y);
                    case "/":
                        if (y == 0) throw new ChatTemplateException("division by zero", line);
                        return (double)x / y;
                    case "//":
                        if (y == 0) throw new ChatTemplateException("integer division or modulo by zero", line);
                        return FloorDiv(x, y);
                    case "%":
                        if (y == 0) throw new ChatTemplateException("integer modulo by zero", line);
                        return x - FloorDiv(x, y) * y;
                    case "**":
                        if (y < 0) return Math.Pow(x, y);
                        long r = 1;
                        for (long i = 0; i < y; i++)
                        {
                            r = checked(r * x);
                            if (r == 0 || r == 1 && x == 1) break;
                        }
                        if (x == -1) return y % 2 == 0 ? 1L : -1L;
                        return r;
                }
            }
            else
            {
                double x = ToDouble(a), y = ToDouble(b);
                switch (op)
                {
                    case "+": return x + y;
                    case "-": return x - y;
                    case "*": return x * y;
                    case "/":
                        if (y == 0) throw new ChatTemplateException("float division by zero", line);
                        return x / y;
                    case "//":
                        if (y == 0) throw new ChatTemplateException("float floor division by zero", line);
                        return Math.Floor(x / y);
                    case "%":
                    {
                        if (y == 0) throw new ChatTemplateException("float modulo", line);
                        double m = x % y;
                        if (m != 0 && (m < 0) != (y < 0)) m += y;
                        return m;
                    }
                    case "**": return Math.Pow(x, y);
                }
            }
        }
        switch (op)
        {
            case "+":
                if (a is string sa && b is string sb)
                {
                    interp.Charge((long)sa.Length + sb.Length, line);
                    return string.Concat(sa, sb);
                }
                if (a is List<object?> la && b is List<object?> lb)
                {
                    interp.Charge((long)la.Count + lb.Count, line);
                    var r = new List<object?>(la.Count + lb.Count);
                    r.AddRange(la);
                    r.AddRange(lb);
                    return r;
                }
                if (a is PyTuple ta && b is PyTuple tb)
                {
                    interp.Charge((long)ta.Count + tb.Count, line);
                    return new PyTuple([.. ta.Items, .. tb.Items]);
                }
                if (a is string) throw new ChatTemplateException($"can only concatenate str (not \"{PyFormat.TypeName(b)}\") to str", line);
                if (a is List<object?>) throw new ChatTemplateException($"can only concatenate list (not \"{PyFormat.TypeName(b)}\") to list", line);
                break;
            case "*":
            {
                object? seq = a is long or bool ? b : a;
                object? count = a is long or bool ? a : b;
                if (count is long or bool && seq is PyTuple tupleSeq)
                {
                    long n = count is bool tupleBool ? (tupleBool ? 1 : 0) : (long)count!;
                    if (n < 0) n = 0;
                    interp.Charge(tupleSeq.Count * n, line);
                    var items = new List<object?>();
                    for (long i = 0; i < n; i++) items.AddRange(tupleSeq.Items);
                    return new PyTuple(items.ToArray());
                }
                if (count is long or bool && seq is string or List<object?>)
                {
                    long n = count is bool cb ? (cb ? 1 : 0) : (long)count!;
                    if (n < 0) n = 0;
                    long len = seq is string ss ? ss.Length : ((List<object?>)seq!).Count;
                    interp.Charge(len * n, line);
                    if (seq is string str)
                    {
                        var sbuilder = new StringBuilder((int)(len * n));
                        for (long i = 0; i < n; i++) sbuilder.Append(str);
                        return sbuilder.ToString();
                    }
                    var list = (List<object?>)seq!;
                    var r = new List<object?>((int)(len * n));
                    for (long i = 0; i < n; i++) r.AddRange(list);
                    return r;
                }
                break;
            }
            case "%":
                if (a is string fmt) return interp.Charged(Methods.PercentFormat(fmt, b, line), line);
                break;
        }
        throw new ChatTemplateException($"unsupported operand type(s) for {op}: '{PyFormat.TypeName(a)}' and '{PyFormat.TypeName(b)}'", line);
    }

    /// <summary>markupsafe: Markup + str escapes the str; Markup * n repeats; Markup % args escapes the arguments.</summary>
    private static object? MarkupBinary(Interpreter interp, string op, object? a, object? b, int line)
    {
        static string Escaped(object? v) => v is PyMarkup m ? m.Value : Filters.HtmlEscape((string)v!);
        switch (op)
        {
            case "+" when a is string or PyMarkup && b is string or PyMarkup:
            {
                string r = Escaped(a) + Escaped(b);
                interp.Charge(r.Length, line);
                return new PyMarkup(r);
            }
            case "*" when a is PyMarkup ma && b is long or bool:
                return new PyMarkup((string)BinaryCore(interp, "*", ma.Value, b, line)!);
            case "*" when b is PyMarkup mb && a is long or bool:
                return new PyMarkup((string)BinaryCore(interp, "*", a, mb.Value, line)!);
            case "%" when a is PyMarkup fmt:
            {
                static object? EscapeArg(object? v) => v is string s ? new PyMarkup(Filters.HtmlEscape(s)) : v;
                object? args = b switch
                {
                    PyTuple t => new PyTuple(Array.ConvertAll(t.Items, EscapeArg)),
                    PyDict d => EscapeDict(d),
                    _ => EscapeArg(b),
                };
                return new PyMarkup(interp.Charged(Methods.PercentFormat(fmt.Value, args, line), line));

                static PyDict EscapeDict(PyDict d)
                {
                    var r = new PyDict();
                    foreach (var kv in d) r[kv.Key] = EscapeArg(kv.Value);
                    return r;
                }
            }
        }
        if (op == "+" && a is PyMarkup)
            throw new ChatTemplateException($"can only concatenate str (not \"{PyFormat.TypeName(b)}\") to str", line);
        return BinaryCore(interp, op, Plain(a), Plain(b), line);
    }

    private static long FloorDiv(long x, long y)
    {
        long q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) q--;
        return q;
    }

    // ------------------------------------------------------------------ comparison

    public static bool PyEquals(object? a, object? b)
    {
        a = Plain(a);
        b = Plain(b);
        if (a is PyOps.NoneKey) a = null;
        if (b is PyOps.NoneKey) b = null;
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a) == ToDouble(b);
            long x = a is bool ab ? (ab ? 1 : 0) : (long)a;
            long y = b is bool bb ? (bb ? 1 : 0) : (long)b;
            return x == y;
        }
        switch (a)
        {
            case string sa: return b is string sb && string.Equals(sa, sb, StringComparison.Ordinal);
            case Undefined: return b is Undefined;
            case List<object?> la:
                return b is List<object?> lb && SequenceEquals(la, lb);
            case PyTuple ta:
                return b is PyTuple tb && SequenceEquals(ta, tb);
            case PyDict da:
            {
                if (b is not PyDict db || da.Count != db.Count) return false;
                foreach (var kv in da)
                {
                    if (!db.TryGetValue(kv.Key, out var other) || !PyEquals(kv.Value, other)) return false;
                }
                return true;
            }
            default:
                return ReferenceEquals(a, b);
        }
    }

    private static bool SequenceEquals(IReadOnlyList<object?> a, IReadOnlyList<object?> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++)
        {
            if (!PyEquals(a[i], b[i])) return false;
        }
        return true;
    }

    /// <summary>Python ordering (&lt;); raises for types Python cannot order.</summary>
    public static int Order(object? a, object? b, int line)
    {
        a = Plain(a);
        b = Plain(b);
        if (a is Undefined ua) throw UndefinedError(ua, line);
        if (b is Undefined ub) throw UndefinedError(ub, line);
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a).CompareTo(ToDouble(b));
            long x = a is bool ab ? (ab ? 1 : 0) : (long)a!;
            long y = b is bool bb ? (bb ? 1 : 0) : (long)b!;
            return x.CompareTo(y);
        }
        if (a is string sa && b is string sb) return Math.Sign(string.CompareOrdinal(sa, sb));
        if (a is IReadOnlyList<object?> la && b is IReadOnlyList<object?> lb && a.GetType() == b.GetType())
        {
            int n = Math.Min(la.Count, lb.Count);
            for (int i = 0; i < n; i++)
            {
                if (!PyEquals(la[i], lb[i])) return Order(la[i], lb[i], line);
            }
            return la.Count.CompareTo(lb.Count);
        }
        throw new ChatTemplateException($"'<' not supported between instances of '{PyFormat.TypeName(a)}' and '{PyFormat.TypeName(b)}'", line);
    }

    public static bool Compare(string op, object? a, object? b, int line)
    {
        switch (op)
        {
            case "==": return PyEquals(a, b);
            case "!=": return !PyEquals(a, b);
            case "<": return Order(a, b, line) < 0;
            case "<=": return Order(a, b, line) <= 0;
            case ">": return Order(a, b, line) > 0;
            case ">=": return Order(a, b, line) >= 0;
            case "in": return Contains(b, a, line);
            case "notin": return !Contains(b, a, line);
            default: throw new ChatTemplateException($"unknown comparison {op}", line);
        }
    }

    public static bool Contains(object? container, object? item, int line)
    {
        container = Plain(container);
        item = Plain(item);
        switch (container)
        {
            case string s:
                if (item is not string sub)
                    throw new ChatTemplateException($"'in <string>' requires string as left operand, not {PyFormat.TypeName(item)}", line);
                return s.Contains(sub, StringComparison.Ordinal);
            case List<object?> or PyTuple:
                foreach (var x in (IReadOnlyList<object?>)container)
                {
                    if (PyEquals(x, item)) return true;
                }
                return false;
            case PyDict d:
                if (item is List<object?> or PyDict) throw new ChatTemplateException($"unhashable type: '{PyFormat.TypeName(item)}'", line);
                return item is not Undefined && d.ContainsKey(HashableKey(item, line));
            case Undefined:
                return false;
            case PyGenerator g:
                foreach (var x in g.Consume())
                {
                    if (PyEquals(x, item)) return true;
                }
                return false;
            default:
                throw new ChatTemplateException($"argument of type '{PyFormat.TypeName(container)}' is not iterable", line);
        }
    }
}
