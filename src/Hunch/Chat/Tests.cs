namespace Hunch.Chat;

/// <summary>jinja2's builtin tests (tests.py).</summary>
internal static class Tests
{
    public static bool Exists(string name) => name is "boolean" or "callable" or "defined" or "divisibleby" or "eq" or "equalto"
        or "==" or "escaped" or "even" or "false" or "filter" or "float" or "ge" or ">=" or "gt" or "greaterthan" or ">" or "in"
        or "integer" or "iterable" or "le" or "<=" or "lower" or "lt" or "lessthan" or "<" or "mapping" or "ne" or "!=" or "none"
        or "number" or "odd" or "sameas" or "sequence" or "string" or "test" or "true" or "undefined" or "upper";

    public static bool Apply(Interpreter interp, string name, object? value, List<object?> args, List<KeyValuePair<string, object?>> kwargs, int line)
    {
        if (name == "escaped") return value is PyMarkup;
        if (name == "string" && value is PyMarkup) return true;
        value = PyOps.Plain(value);
        var a = new ArgList(name, args, kwargs, line);
        switch (name)
        {
            case "defined": return value is not Undefined;
            case "undefined": return value is Undefined;
            case "none": return value is null;
            case "boolean": return value is bool;
            case "true": return value is true;
            case "false": return value is false;
            case "integer": return value is long;
            case "float": return value is double;
            case "number": return value is long or double or bool;
            case "string": return value is string;
            case "mapping": return value is PyDict;
            case "iterable": return value is string or List<object?> or PyTuple or PyDict or PyGenerator or Undefined;
            case "sequence": return value is string or List<object?> or PyTuple or PyDict or Undefined;
            case "callable": return value is Callable or Undefined || value is LoopObject { Recurse: not null };
            case "escaped": return false;
            case "lower": return value is string ls ? ls.Any(char.IsLetter) && !ls.Any(char.IsUpper) : PyFormat.Str(value) is var lstr && lstr.Any(char.IsLetter) && !lstr.Any(char.IsUpper);
            case "upper": return PyFormat.Str(value) is var ustr && ustr.Any(char.IsLetter) && !ustr.Any(char.IsLower);
            case "odd":
            case "even":
            {
                if (value is Undefined u) throw PyOps.UndefinedError(u, line);
                // jinja2: value % 2 == 1 (odd) and value % 2 == 0 (even), so 2.5 is neither
                var m = PyOps.Binary(interp, "%", value, 2L, line);
                return PyOps.PyEquals(m, name == "odd" ? 1L : 0L);
            }
            case "divisibleby":
                return !PyOps.Truthy(PyOps.Binary(interp, "%", value, a.Required(0, "num"), line)) ;
            case "eq":
            case "equalto":
            case "==":
                return PyOps.PyEquals(value, a.Required(0, "other"));
            case "ne":
            case "!=":
                return !PyOps.PyEquals(value, a.Required(0, "other"));
            case "lt":
            case "lessthan":
            case "<":
                return PyOps.Order(value, a.Required(0, "other"), line) < 0;
            case "le":
            case "<=":
                return PyOps.Order(value, a.Required(0, "other"), line) <= 0;
            case "gt":
            case "greaterthan":
            case ">":
                return PyOps.Order(value, a.Required(0, "other"), line) > 0;
            case "ge":
            case ">=":
                return PyOps.Order(value, a.Required(0, "other"), line) >= 0;
            case "in":
                return PyOps.Contains(a.Required(0, "seq"), value, line);
            case "sameas":
            {
                var other = a.Required(0, "other");
                if (value is null || other is null) return value is null && other is null;
                if (value is bool vb) return other is bool ob && vb == ob;
                return ReferenceEquals(value, other) || (value is long lv && other is long lo && lv == lo && lv >= -5 && lv <= 256);
            }
            case "filter":
                return value is string fs && Filters.Exists(fs);
            case "test":
                return value is string ts && Exists(ts);
        }
        throw new ChatTemplateException($"No test named '{name}'.", line);
    }
}
