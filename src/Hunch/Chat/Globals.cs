using System.Globalization;
using System.Text;

namespace Hunch.Chat;

/// <summary>The global functions a chat template sees: jinja2's defaults plus Hugging Face's additions.</summary>
internal static class Globals
{
    /// <summary>jinja2's sandbox refuses ranges longer than this (MAX_RANGE).</summary>
    private const long MaxRange = 100_000;

    public static void Install(Scope scope)
    {
        scope.Set("raise_exception", new BuiltinFunction("raise_exception", (_, args, kwargs, line) =>
        {
            var a = new ArgList("raise_exception", args, kwargs, line);
            throw new ChatTemplateException(PyFormat.Str(a.Get(0, "message", "")), line, 0, ChatTemplateErrorKind.Raised);
        }));
        scope.Set("strftime_now", new BuiltinFunction("strftime_now", (interp, args, kwargs, line) =>
        {
            var a = new ArgList("strftime_now", args, kwargs, line);
            return interp.Charged(Strftime(interp.Now, a.String(0, "format"), line), line);
        }));
        scope.Set("range", new BuiltinFunction("range", (interp, args, _, line) => Range(interp, args, line)));
        scope.Set("namespace", new BuiltinFunction("namespace", (_, args, kwargs, line) =>
        {
            var ns = new PyNamespace();
            foreach (var arg in args)
            {
                if (arg is not PyDict d) throw new ChatTemplateException("namespace() positional argument must be a mapping", line);
                foreach (var kv in d) ns.Attributes[kv.Key] = kv.Value;
            }
            foreach (var kv in kwargs) ns.Attributes[kv.Key] = kv.Value;
            return ns;
        }));
        scope.Set("dict", new BuiltinFunction("dict", (_, args, kwargs, line) =>
        {
            var d = new PyDict();
            foreach (var arg in args)
            {
                if (arg is PyDict src)
                {
                    foreach (var kv in src) d[kv.Key] = kv.Value;
                }
                else
                {
                    foreach (var pair in PyOps.Iterate(arg, line))
                    {
                        var kv = PyOps.Iterate(pair, line);
                        if (kv.Count != 2) throw new ChatTemplateException("dictionary update sequence element has wrong length", line);
                        d[PyOps.HashableKey(kv[0], line)] = kv[1];
                    }
                }
            }
            foreach (var kv in kwargs) d[kv.Key] = kv.Value;
            return d;
        }));
        scope.Set("joiner", new BuiltinFunction("joiner", (_, args, _, _) =>
        {
            string sep = args.Count > 0 ? PyFormat.Str(args[0]) : ", ";
            bool used = false;
            return new BuiltinFunction("joiner", (_, _, _, _) =>
            {
                if (!used) { used = true; return ""; }
                return sep;
            });
        }));
    }

    private static object? Range(Interpreter interp, List<object?> args, int line)
    {
        long Arg(int i) => args[i] switch
        {
            long l => l,
            bool b => b ? 1 : 0,
            Undefined u => throw PyOps.UndefinedError(u, line),
            var v => throw new ChatTemplateException($"'{PyFormat.TypeName(v)}' object cannot be interpreted as an integer", line),
        };
        long start = 0, stop, step = 1;
        switch (args.Count)
        {
            case 1: stop = Arg(0); break;
            case 2: start = Arg(0); stop = Arg(1); break;
            case 3: start = Arg(0); stop = Arg(1); step = Arg(2); break;
            default: throw new ChatTemplateException($"range expected 1 to 3 arguments, got {args.Count}", line);
        }
        if (step == 0) throw new ChatTemplateException("range() arg 3 must not be zero", line);
        long count = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0) : (start > stop ? (start - stop - step - 1) / -step : 0);
        if (count > MaxRange) throw new ChatTemplateException($"Range too big. The sandbox blocks ranges larger than MAX_RANGE ({MaxRange}).", line);
        interp.Charge(count, line);
        var r = new List<object?>((int)count);
        for (long i = 0, v = start; i < count; i++, v += step) r.Add(v);
        return r;
    }

    private static readonly string[] DayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
    private static readonly string[] MonthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

    /// <summary>Python's datetime.strftime in the C locale, including glibc's '-' (no padding) flag.</summary>
    public static string Strftime(DateTimeOffset t, string format, int line)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%' || i + 1 >= format.Length)
            {
                sb.Append(c);
                continue;
            }
            char f = format[++i];
            bool noPad = false;
            if (f == '-' && i + 1 < format.Length)
            {
                noPad = true;
                f = format[++i];
            }
            string Num(int v, int width) => noPad ? v.ToString(CultureInfo.InvariantCulture) : v.ToString(new string('0', width), CultureInfo.InvariantCulture);
            int hour12 = t.Hour % 12 == 0 ? 12 : t.Hour % 12;
            switch (f)
            {
                case 'a': sb.Append(DayNames[(int)t.DayOfWeek][..3]); break;
                case 'A': sb.Append(DayNames[(int)t.DayOfWeek]); break;
                case 'b':
                case 'h': sb.Append(MonthNames[t.Month - 1][..3]); break;
                case 'B': sb.Append(MonthNames[t.Month - 1]); break;
                case 'd': sb.Append(Num(t.Day, 2)); break;
                case 'e': sb.Append(noPad ? t.Day.ToString(CultureInfo.InvariantCulture) : t.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2)); break;
                case 'm': sb.Append(Num(t.Month, 2)); break;
                case 'y': sb.Append(Num(t.Year % 100, 2)); break;
                case 'Y': sb.Append(t.Year.ToString(CultureInfo.InvariantCulture)); break;
                case 'H': sb.Append(Num(t.Hour, 2)); break;
                case 'I': sb.Append(Num(hour12, 2)); break;
                case 'M': sb.Append(Num(t.Minute, 2)); break;
                case 'S': sb.Append(Num(t.Second, 2)); break;
                case 'p': sb.Append(t.Hour < 12 ? "AM" : "PM"); break;
                case 'f': sb.Append(((t.Ticks % TimeSpan.TicksPerSecond) / 10).ToString("000000", CultureInfo.InvariantCulture)); break;
                case 'j': sb.Append(Num(t.DayOfYear, 3)); break;
                case 'w': sb.Append((int)t.DayOfWeek); break;
                case 'u': sb.Append(t.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)t.DayOfWeek); break;
                case 'U': sb.Append(Num((t.DayOfYear + 6 - (int)t.DayOfWeek) / 7, 2)); break;
                case 'W': sb.Append(Num((t.DayOfYear + 6 - ((int)t.DayOfWeek + 6) % 7) / 7, 2)); break;
                case 'V': sb.Append(Num(ISOWeek.GetWeekOfYear(t.DateTime), 2)); break;
                case 'G': sb.Append(ISOWeek.GetYear(t.DateTime).ToString(CultureInfo.InvariantCulture)); break;
                case 'z': break; // Hugging Face passes a naive datetime.now(): no UTC offset
                case 'Z': break; // naive datetime (datetime.now()) has no zone name
                case 'c': sb.Append(Strftime(t, "%a %b %e %H:%M:%S %Y", line)); break;
                case 'x': sb.Append(Strftime(t, "%m/%d/%y", line)); break;
                case 'X': sb.Append(Strftime(t, "%H:%M:%S", line)); break;
                case 'D': sb.Append(Strftime(t, "%m/%d/%y", line)); break;
                case 'F': sb.Append(Strftime(t, "%Y-%m-%d", line)); break;
                case 'T': sb.Append(Strftime(t, "%H:%M:%S", line)); break;
                case 'R': sb.Append(Strftime(t, "%H:%M", line)); break;
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case '%': sb.Append('%'); break;
                default: sb.Append('%').Append(noPad ? "-" : "").Append(f); break;
            }
        }
        return sb.ToString();
    }
}
