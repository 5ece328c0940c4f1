using System.Text;

namespace Hunch.Chat;

/// <summary>A variable scope; lookups walk outwards. Loop iterations and macro calls get child scopes, as in jinja2.</summary>
internal sealed class Scope(Scope? parent)
{
    private readonly Dictionary<string, object?> _vars = new(StringComparer.Ordinal);
    public Scope? Parent { get; } = parent;

    public bool TryGet(string name, out object? value)
    {
        for (var s = this; s is not null; s = s.Parent)
        {
            if (s._vars.TryGetValue(name, out value)) return true;
        }
        value = null;
        return false;
    }

    public void Set(string name, object? value) => _vars[name] = value;
}

/// <summary>jinja2's loop object.</summary>
internal sealed class LoopObject
{
    public required List<object?> Items { get; init; }
    public int Index0 { get; set; }
    public int Depth0 { get; init; }
    public object? LastChanged { get; set; } = new Undefined("no previous value");
    public Func<object?, int, object?>? Recurse { get; init; }

    public object? GetAttr(string name)
    {
        int n = Items.Count;
        return name switch
        {
            "index" => (long)(Index0 + 1),
            "index0" => (long)Index0,
            "revindex" => (long)(n - Index0),
            "revindex0" => (long)(n - Index0 - 1),
            "first" => Index0 == 0,
            "last" => Index0 == n - 1,
            "length" => (long)n,
            "depth" => (long)(Depth0 + 1),
            "depth0" => (long)Depth0,
            "previtem" => Index0 > 0 ? Items[Index0 - 1] : new Undefined("there is no previous item"),
            "nextitem" => Index0 < n - 1 ? Items[Index0 + 1] : new Undefined("there is no next item"),
            "cycle" => new BuiltinFunction("cycle", (_, args, _, line) =>
            {
                if (args.Count == 0) throw new ChatTemplateException("no items for cycling given", line);
                return args[Index0 % args.Count];
            }),
            "changed" => new BuiltinFunction("changed", (_, args, _, _) =>
            {
                var value = new PyTuple(args.ToArray());
                if (LastChanged is PyTuple prev && PyOps.PyEquals(prev, value)) return false;
                LastChanged = value;
                return true;
            }),
            _ => new Undefined($"'LoopContext' object has no attribute '{name}'"),
        };
    }
}

internal sealed class MacroValue(MacroStmt def, Scope closure, Interpreter owner) : Callable
{
    public MacroStmt Def { get; } = def;
    public Scope Closure { get; } = closure;
    public Callable? Caller { get; init; }
    public override string Name => Def.Name;

    public override object? Invoke(Interpreter interp, List<object?> args, List<KeyValuePair<string, object?>> kwargs, int line)
        => owner.CallMacro(this, args, kwargs, line);
}

internal sealed class BreakSignal : Exception { public static readonly BreakSignal Instance = new(); }
internal sealed class ContinueSignal : Exception { public static readonly ContinueSignal Instance = new(); }

/// <summary>Tree-walking evaluator. One instance per render; it carries the safety counters.</summary>
internal sealed partial class Interpreter
{
    private readonly ChatTemplateLimits _limits;
    private long _steps;
    private long _allocated;
    private int _callDepth;

    private readonly Dictionary<List<Stmt>, string[]> _frames;

    public Interpreter(ChatTemplateLimits limits, DateTimeOffset now, Dictionary<List<Stmt>, string[]> frames)
    {
        _limits = limits;
        Now = now;
        _frames = frames;
    }

    /// <summary>Starts a frame: names jinja2 would treat as not-yet-assigned locals start undefined (see FrameAnalysis).</summary>
    private void EnterFrame(List<Stmt> body, Scope scope)
    {
        if (!_frames.TryGetValue(body, out var names)) return;
        foreach (var name in names) scope.Set(name, new Undefined($"'{name}' is undefined"));
    }

    public DateTimeOffset Now { get; }
    public ChatTemplateLimits Limits => _limits;

    public string Render(List<Stmt> body, Scope scope)
    {
        var sb = new StringBuilder();
        EnterFrame(body, scope);
        Exec(body, scope, sb);
        return sb.ToString();
    }

    // ------------------------------------------------------------------ safety

    private void Step(int line)
    {
        // Guards the CLR stack: deeply nested macros and expressions fail with an exception rather than a crash.
        System.Runtime.CompilerServices.RuntimeHelpers.EnsureSufficientExecutionStack();
        if (++_steps > _limits.MaxSteps)
            throw new ChatTemplateException($"template exceeded {_limits.MaxSteps} evaluation steps", line, 0, ChatTemplateErrorKind.LimitExceeded);
    }

    /// <summary>Accounts for a string or collection the template produced; bounds single size and total allocation.</summary>
    public void Charge(long size, int line)
    {
        if (size > _limits.MaxOutputLength)
            throw new ChatTemplateException($"template produced a value of {size} characters/items, over the limit of {_limits.MaxOutputLength}", line, 0, ChatTemplateErrorKind.LimitExceeded);
        _allocated += size;
        if (_allocated > _limits.MaxAllocation)
            throw new ChatTemplateException($"template allocated more than {_limits.MaxAllocation} characters/items in total", line, 0, ChatTemplateErrorKind.LimitExceeded);
    }

    public string Charged(string s, int line)
    {
        Charge(s.Length, line);
        return s;
    }

    private void Append(StringBuilder sb, string s, int line)
    {
        if (sb.Length + (long)s.Length > _limits.MaxOutputLength)
            throw new ChatTemplateException($"template output exceeds the limit of {_limits.MaxOutputLength} characters", line, 0, ChatTemplateErrorKind.LimitExceeded);
        sb.Append(s);
    }

    // ------------------------------------------------------------------ statements

    private void Exec(List<Stmt> body, Scope scope, StringBuilder sb)
    {
        foreach (var stmt in body) Exec(stmt, scope, sb);
    }

    private void Exec(Stmt stmt, Scope scope, StringBuilder sb)
    {
        Step(stmt.Line);
        switch (stmt)
        {
            case TextStmt t:
                Append(sb, t.Text, t.Line);
                break;
            case OutputStmt o:
            {
                Append(sb, PyFormat.Str(Eval(o.Value, scope)), o.Line);
                break;
            }
            case IfStmt i:
            {
                foreach (var (test, branch) in i.Branches)
                {
                    if (PyOps.Truthy(Eval(test, scope)))
                    {
                        Exec(branch, scope, sb);
                        return;
                    }
                }
                if (i.Else is not null) Exec(i.Else, scope, sb);
                break;
            }
            case ForStmt f:
                ExecFor(f, scope, sb);
                break;
            case SetStmt s:
                Assign(s.Target, Eval(s.Value, scope), scope, s.Line);
                break;
            case SetBlockStmt sb2:
            {
                var inner = new StringBuilder();
                Exec(sb2.Body, scope, inner);
                object? value = inner.ToString();
                value = ApplyFilterChain(sb2.Filters, value, scope);
                Assign(sb2.Target, value, scope, sb2.Line);
                break;
            }
            case MacroStmt m:
                scope.Set(m.Name, new MacroValue(m, scope, this));
                break;
            case CallBlockStmt c:
            {
                var callerDef = new MacroStmt("caller", c.Params, c.Defaults, c.Body, c.Line);
                var caller = new MacroValue(callerDef, scope, this);
                var result = EvalCall(c.Call, scope, caller);
                Append(sb, PyFormat.Str(result), c.Line);
                break;
            }
            case FilterBlockStmt fb:
            {
                var inner = new StringBuilder();
                Exec(fb.Body, scope, inner);
                var value = ApplyFilterChain(fb.Filters, inner.ToString(), scope);
                Append(sb, PyFormat.Str(value), fb.Line);
                break;
            }
            case WithStmt w:
            {
                var inner = new Scope(scope);
                var values = new List<object?>();
                foreach (var (_, valueExpr) in w.Assignments) values.Add(Eval(valueExpr, scope));
                for (int k = 0; k < values.Count; k++) Assign(w.Assignments[k].Target, values[k], inner, w.Line);
                EnterFrame(w.Body, inner);
                Exec(w.Body, inner, sb);
                break;
            }
            case BlockBodyStmt b:
                Exec(b.Body, scope, sb);
                break;
            case BreakStmt:
                throw BreakSignal.Instance;
            case ContinueStmt:
                throw ContinueSignal.Instance;
            default:
                throw new ChatTemplateException($"unsupported statement {stmt.GetType().Name}", stmt.Line);
        }
    }

    private object? ApplyFilterChain(List<FilterExpr> chain, object? value, Scope scope)
    {
        foreach (var f in chain) value = ApplyFilter(f, value, scope);
        return value;
    }

    private void ExecFor(ForStmt f, Scope scope, StringBuilder sb)
    {
        var iterable = Eval(f.Iter, scope);
        RunLoop(f, scope, sb, iterable, 0);
    }

    private void RunLoop(ForStmt f, Scope scope, StringBuilder sb, object? iterable, int depth)
    {
        var source = PyOps.Iterate(iterable, f.Line);
        List<object?> items;
        if (f.Filter is null)
        {
            items = source;
        }
        else
        {
            // 'for x in y if cond': the condition sees the loop target but not 'loop'.
            items = new List<object?>();
            foreach (var item in source)
            {
                var probe = new Scope(scope);
                Assign(f.Target, item, probe, f.Line);
                if (PyOps.Truthy(Eval(f.Filter, probe))) items.Add(item);
            }
        }
        if (items.Count == 0)
        {
            if (f.Else is not null)
            {
                var elseScope = new Scope(scope);
                EnterFrame(f.Else, elseScope);
                Exec(f.Else, elseScope, sb);
            }
            return;
        }
        Func<object?, int, object?>? recurse = null;
        if (f.Recursive)
        {
            recurse = (inner, line) =>
            {
                if (depth + 1 > _limits.MaxRecursionDepth)
                    throw new ChatTemplateException($"recursive loop deeper than {_limits.MaxRecursionDepth}", line, 0, ChatTemplateErrorKind.LimitExceeded);
                var innerSb = new StringBuilder();
                RunLoop(f, scope, innerSb, inner, depth + 1);
                return Charged(innerSb.ToString(), line);
            };
        }
        var loop = new LoopObject { Items = items, Depth0 = depth, Recurse = recurse };
        for (int i = 0; i < items.Count; i++)
        {
            Step(f.Line);
            loop.Index0 = i;
            var iterScope = new Scope(scope);
            Assign(f.Target, items[i], iterScope, f.Line);
            iterScope.Set("loop", loop);
            EnterFrame(f.Body, iterScope);
            try
            {
                Exec(f.Body, iterScope, sb);
            }
            catch (BreakSignal)
            {
                break;
            }
            catch (ContinueSignal)
            {
            }
        }
    }

    private void Assign(Expr target, object? value, Scope scope, int line)
    {
        switch (target)
        {
            case NameExpr n:
                scope.Set(n.Name, value);
                break;
            case GetAttrExpr { Target: NameExpr nsName } ga:
            {
                scope.TryGet(nsName.Name, out var ns);
                if (ns is not PyNamespace pyNs)
                    throw new ChatTemplateException("cannot assign attribute on non-namespace object", line);
                pyNs.Attributes[ga.Attr] = value;
                break;
            }
            case TupleExpr t:
            {
                var items = PyOps.Iterate(value, line);
                if (items.Count != t.Items.Count)
                    throw new ChatTemplateException(items.Count > t.Items.Count
                        ? $"too many values to unpack (expected {t.Items.Count})"
                        : $"not enough values to unpack (expected {t.Items.Count}, got {items.Count})", line);
                for (int i = 0; i < items.Count; i++) Assign(t.Items[i], items[i], scope, line);
                break;
            }
            default:
                throw new ChatTemplateException("can't assign to this target", line);
        }
    }

    // ------------------------------------------------------------------ macros

    internal object? CallMacro(MacroValue macro, List<object?> args, List<KeyValuePair<string, object?>> kwargs, int line)
    {
        if (_callDepth >= _limits.MaxRecursionDepth)
            throw new ChatTemplateException($"macro calls nested deeper than {_limits.MaxRecursionDepth}", line, 0, ChatTemplateErrorKind.LimitExceeded);
        var def = macro.Def;
        var scope = new Scope(macro.Closure);
        var varargs = new List<object?>();
        for (int i = 0; i < args.Count; i++)
        {
            if (i < def.Params.Count) scope.Set(def.Params[i], args[i]);
            else varargs.Add(args[i]);
        }
        if (varargs.Count > 0 && !def.SpecialNames.Contains("varargs"))
            throw new ChatTemplateException($"macro '{def.Name}' takes not more than {def.Params.Count} argument(s)", line);
        var extraKwargs = new PyDict();
        bool callerGiven = macro.Caller is not null;
        var assigned = new bool[def.Params.Count];
        for (int i = 0; i < Math.Min(args.Count, def.Params.Count); i++) assigned[i] = true;
        foreach (var kv in kwargs)
        {
            int idx = def.Params.IndexOf(kv.Key);
            if (idx >= 0 && !assigned[idx])
            {
                assigned[idx] = true;
                scope.Set(kv.Key, kv.Value);
            }
            else if (kv.Key == "caller" && def.SpecialNames.Contains("caller"))
            {
                if (macro.Caller is not null)
                    throw new ChatTemplateException($"macro '{def.Name}' was invoked with two values for the special caller argument", line);
                scope.Set("caller", kv.Value);
                callerGiven = true;
            }
            else if (idx < 0 && def.SpecialNames.Contains("kwargs"))
            {
                extraKwargs[kv.Key] = kv.Value;
            }
            else
            {
                throw new ChatTemplateException($"macro '{def.Name}' takes no keyword argument '{kv.Key}'", line);
            }
        }
        _callDepth++;
        try
        {
            for (int i = 0; i < def.Params.Count; i++)
            {
                if (assigned[i]) continue;
                scope.Set(def.Params[i], def.Defaults[i] is { } d
                    ? Eval(d, scope)
                    : new Undefined($"parameter '{def.Params[i]}' was not provided"));
            }
            scope.Set("varargs", new PyTuple(varargs.ToArray()));
            scope.Set("kwargs", extraKwargs);
            if (macro.Caller is not null) scope.Set("caller", macro.Caller);
            else if (def.SpecialNames.Contains("caller") && !callerGiven) scope.Set("caller", new Undefined("No caller defined"));
            var sb = new StringBuilder();
            EnterFrame(def.Body, scope);
            try
            {
                Exec(def.Body, scope, sb);
            }
            catch (BreakSignal)
            {
                throw new ChatTemplateException("'break' outside of a loop", line);
            }
            catch (ContinueSignal)
            {
                throw new ChatTemplateException("'continue' outside of a loop", line);
            }
            return Charged(sb.ToString(), line);
        }
        finally
        {
            _callDepth--;
        }
    }

    // ------------------------------------------------------------------ expressions

    public object? Eval(Expr expr, Scope scope)
    {
        Step(expr.Line);
        switch (expr)
        {
            case ConstExpr c:
                return c.Value;
            case NameExpr n:
                return scope.TryGet(n.Name, out var v) ? v : new Undefined($"'{n.Name}' is undefined");
            case ListExpr l:
            {
                var list = new List<object?>(l.Items.Count);
                foreach (var item in l.Items) list.Add(Eval(item, scope));
                Charge(list.Count, l.Line);
                return list;
            }
            case TupleExpr t:
            {
                var arr = new object?[t.Items.Count];
                for (int i = 0; i < arr.Length; i++) arr[i] = Eval(t.Items[i], scope);
                return new PyTuple(arr);
            }
            case DictExpr d:
            {
                var dict = new PyDict();
                foreach (var (k, valueExpr) in d.Items)
                {
                    var key = Eval(k, scope);
                    var value = Eval(valueExpr, scope);
                    dict[PyOps.HashableKey(key, d.Line)] = value;
                }
                Charge(dict.Count, d.Line);
                return dict;
            }
            case GetAttrExpr ga:
                return PyOps.GetAttr(Eval(ga.Target, scope), ga.Attr, ga.Line);
            case GetItemExpr gi:
            {
                var target = Eval(gi.Target, scope);
                if (gi.Index is SliceExpr s)
                {
                    if (target is Undefined u) throw new ChatTemplateException(u.Message, gi.Line);
                    var start = s.Start is null ? null : Eval(s.Start, scope);
                    var stop = s.Stop is null ? null : Eval(s.Stop, scope);
                    var step = s.Step is null ? null : Eval(s.Step, scope);
                    return PyOps.Slice(this, target, start, stop, step, gi.Line);
                }
                return PyOps.GetItem(target, Eval(gi.Index, scope), gi.Line);
            }
            case CallExpr call:
                return EvalCall(call, scope, null);
            case FilterExpr f:
                return ApplyFilter(f, f.Input is null ? null : Eval(f.Input, scope), scope);
            case TestExpr t:
            {
                var (args, kwargs) = EvalArgs(t.Args, scope, t.Line);
                bool r = Tests.Apply(this, t.Name, Eval(t.Input, scope), args, kwargs, t.Line);
                return t.Negated ? !r : r;
            }
            case UnaryExpr u:
                return PyOps.Unary(u.Op, Eval(u.Operand, scope), u.Line);
            case BinaryExpr b:
                return PyOps.Binary(this, b.Op, Eval(b.Left, scope), Eval(b.Right, scope), b.Line);
            case ConcatExpr cc:
            {
                var sb = new StringBuilder();
                foreach (var part in cc.Parts)
                {
                    sb.Append(PyOps.StrForOutput(Eval(part, scope), cc.Line));
                    if (sb.Length > _limits.MaxOutputLength) Charge(sb.Length, cc.Line);
                }
                return Charged(sb.ToString(), cc.Line);
            }
            case CompareExpr cmp:
            {
                var left = Eval(cmp.First, scope);
                foreach (var (op, rightExpr) in cmp.Rest)
                {
                    var right = Eval(rightExpr, scope);
                    if (!PyOps.Compare(op, left, right, cmp.Line)) return false;
                    left = right;
                }
                return true;
            }
            case AndExpr a:
            {
                var left = Eval(a.Left, scope);
                return PyOps.Truthy(left) ? Eval(a.Right, scope) : left;
            }
            case OrExpr o:
            {
                var left = Eval(o.Left, scope);
                return PyOps.Truthy(left) ? left : Eval(o.Right, scope);
            }
            case NotExpr n:
                return !PyOps.Truthy(Eval(n.Operand, scope));
            case CondExpr c:
                if (PyOps.Truthy(Eval(c.Test, scope))) return Eval(c.Then, scope);
                return c.Else is null ? new Undefined("the inline if-expression evaluated to false and no else section was defined") : Eval(c.Else, scope);
            default:
                throw new ChatTemplateException($"unsupported expression {expr.GetType().Name}", expr.Line);
        }
    }

    private (List<object?> Args, List<KeyValuePair<string, object?>> Kwargs) EvalArgs(CallArgs ca, Scope scope, int line)
    {
        var args = new List<object?>(ca.Args.Count);
        foreach (var a in ca.Args) args.Add(Eval(a, scope));
        if (ca.DynArgs is not null) args.AddRange(PyOps.Iterate(Eval(ca.DynArgs, scope), line));
        var kwargs = new List<KeyValuePair<string, object?>>(ca.Kwargs.Count);
        foreach (var (name, value) in ca.Kwargs) kwargs.Add(new(name, Eval(value, scope)));
        if (ca.DynKwargs is not null)
        {
            if (Eval(ca.DynKwargs, scope) is not PyDict d) throw new ChatTemplateException("argument after ** must be a mapping", line);
            foreach (var kv in d)
            {
                if (kv.Key is not string k) throw new ChatTemplateException("keywords must be strings", line);
                kwargs.Add(new(k, kv.Value));
            }
        }
        return (args, kwargs);
    }

    private object? EvalCall(CallExpr call, Scope scope, MacroValue? caller)
    {
        var callee = Eval(call.Callee, scope);
        var (args, kwargs) = EvalArgs(call.Args, scope, call.Line);
        switch (callee)
        {
            case MacroValue m:
                if (caller is not null) m = new MacroValue(m.Def, m.Closure, this) { Caller = caller };
                return CallMacro(m, args, kwargs, call.Line);
            case Callable c:
                return c.Invoke(this, args, kwargs, call.Line);
            case LoopObject loop when loop.Recurse is not null:
                if (args.Count != 1) throw new ChatTemplateException("loop() takes exactly one argument", call.Line);
                return loop.Recurse(args[0], call.Line);
            case Undefined u:
                throw new ChatTemplateException(u.Message, call.Line);
            default:
                throw new ChatTemplateException($"'{PyFormat.TypeName(callee)}' object is not callable", call.Line);
        }
    }

    private object? ApplyFilter(FilterExpr f, object? input, Scope scope)
    {
        var (args, kwargs) = EvalArgs(f.Args, scope, f.Line);
        return Filters.Apply(this, f.Name, input, args, kwargs, f.Line);
    }
}
