namespace Hunch.Chat;

/// <summary>
/// Reproduces jinja2's compile-time symbol analysis (idtracking.py) for one observable effect: a name whose first
/// use in a frame (template root, macro body, loop body) is a plain assignment, and which no enclosing frame
/// refers to, starts that frame as undefined rather than falling through to the variables passed in. So a loop or
/// macro that reads the name before the frame assigns it sees undefined, as it does in jinja2. (Assignments inside
/// if-branches do not count: jinja2 resolves those names from the context.)
/// </summary>
internal static class FrameAnalysis
{
    /// <summary>Maps each frame body (by reference) to the names it must start as undefined.</summary>
    public static Dictionary<List<Stmt>, string[]> Analyze(List<Stmt> root)
    {
        var result = new Dictionary<List<Stmt>, string[]>(ReferenceEqualityComparer.Instance);
        AnalyzeFrame(root, new HashSet<string>(StringComparer.Ordinal), [], result);
        return result;
    }

    private sealed class FrameState(HashSet<string> ancestorRefs, HashSet<string> parameters)
    {
        public HashSet<string> AncestorRefs { get; } = ancestorRefs;
        public HashSet<string> Seen { get; } = new(parameters, StringComparer.Ordinal);
        public List<string> UndefinedAtEntry { get; } = new();
        public List<(List<Stmt> Body, string[] Params)> Children { get; } = new();
    }

    private static void AnalyzeFrame(List<Stmt> body, HashSet<string> ancestorRefs, string[] parameters, Dictionary<List<Stmt>, string[]> result)
    {
        if (result.ContainsKey(body)) return;
        var state = new FrameState(ancestorRefs, new HashSet<string>(parameters, StringComparer.Ordinal));
        foreach (var s in body) Visit(s, state, inBranch: false);
        result[body] = state.UndefinedAtEntry.ToArray();
        var inner = new HashSet<string>(ancestorRefs, StringComparer.Ordinal);
        inner.UnionWith(state.Seen);
        foreach (var (child, childParams) in state.Children) AnalyzeFrame(child, inner, childParams, result);
    }

    private static void Store(string name, FrameState f, bool inBranch)
    {
        if (f.Seen.Contains(name)) return;
        if (!inBranch && !f.AncestorRefs.Contains(name)) f.UndefinedAtEntry.Add(name);
        f.Seen.Add(name);
    }

    private static void StoreTarget(Expr target, FrameState f, bool inBranch)
    {
        switch (target)
        {
            case NameExpr n: Store(n.Name, f, inBranch); break;
            case TupleExpr t: foreach (var item in t.Items) StoreTarget(item, f, inBranch); break;
            case GetAttrExpr ga: Load(ga.Target, f); break; // ns.attr = ... reads ns
        }
    }

    private static void Load(Expr? expr, FrameState f)
    {
        if (expr is null) return;
        foreach (var name in ExprNames(expr)) f.Seen.Add(name);
    }

    private static IEnumerable<string> ExprNames(Expr expr)
    {
        var names = new List<string>();
        Collect(expr, names);
        return names;
    }

    private static void Collect(Expr? e, List<string> names)
    {
        switch (e)
        {
            case null: return;
            case NameExpr n: names.Add(n.Name); return;
            case ListExpr l: foreach (var x in l.Items) Collect(x, names); return;
            case TupleExpr t: foreach (var x in t.Items) Collect(x, names); return;
            case DictExpr d: foreach (var (k, v) in d.Items) { Collect(k, names); Collect(v, names); } return;
            case GetAttrExpr ga: Collect(ga.Target, names); return;
            case GetItemExpr gi: Collect(gi.Target, names); Collect(gi.Index, names); return;
            case SliceExpr s: Collect(s.Start, names); Collect(s.Stop, names); Collect(s.Step, names); return;
            case CallExpr c: Collect(c.Callee, names); CollectArgs(c.Args, names); return;
            case FilterExpr fe: Collect(fe.Input, names); CollectArgs(fe.Args, names); return;
            case TestExpr te: Collect(te.Input, names); CollectArgs(te.Args, names); return;
            case UnaryExpr u: Collect(u.Operand, names); return;
            case BinaryExpr b: Collect(b.Left, names); Collect(b.Right, names); return;
            case ConcatExpr cc: foreach (var p in cc.Parts) Collect(p, names); return;
            case CompareExpr cmp: Collect(cmp.First, names); foreach (var (_, r) in cmp.Rest) Collect(r, names); return;
            case AndExpr a: Collect(a.Left, names); Collect(a.Right, names); return;
            case OrExpr o: Collect(o.Left, names); Collect(o.Right, names); return;
            case NotExpr n2: Collect(n2.Operand, names); return;
            case CondExpr ce: Collect(ce.Test, names); Collect(ce.Then, names); Collect(ce.Else, names); return;
        }
    }

    private static void CollectArgs(CallArgs a, List<string> names)
    {
        foreach (var x in a.Args) Collect(x, names);
        foreach (var (_, v) in a.Kwargs) Collect(v, names);
        Collect(a.DynArgs, names);
        Collect(a.DynKwargs, names);
    }

    private static string[] TargetNames(Expr target)
    {
        var names = new List<string>();
        Collect(target, names);
        return names.ToArray();
    }

    private static void Visit(Stmt stmt, FrameState f, bool inBranch)
    {
        switch (stmt)
        {
            case OutputStmt o: Load(o.Value, f); break;
            case SetStmt s:
                Load(s.Value, f);
                StoreTarget(s.Target, f, inBranch);
                break;
            case SetBlockStmt sb:
                foreach (var fl in sb.Filters) { var n = new List<string>(); CollectArgs(fl.Args, n); foreach (var x in n) f.Seen.Add(x); }
                foreach (var s in sb.Body) Visit(s, f, inBranch);
                StoreTarget(sb.Target, f, inBranch);
                break;
            case IfStmt i:
            {
                Load(i.Branches[0].Test, f);
                // Names first assigned inside a branch are resolved from the context, never forced undefined.
                foreach (var (test, branch) in i.Branches)
                {
                    Load(test, f);
                    foreach (var s in branch) Visit(s, f, inBranch: true);
                }
                if (i.Else is not null) foreach (var s in i.Else) Visit(s, f, inBranch: true);
                break;
            }
            case ForStmt fo:
                Load(fo.Iter, f);
                // The loop frame's parameters are its targets and 'loop' (its filter is analysed apart and sees the
                // enclosing values).
                var loopParams = TargetNames(fo.Target).Append("loop").ToArray();
                f.Children.Add((fo.Body, loopParams));
                if (fo.Else is not null) f.Children.Add((fo.Else, []));
                break;
            case MacroStmt m:
                Store(m.Name, f, inBranch);
                f.Children.Add((m.Body, m.Params.Concat(["varargs", "kwargs", "caller"]).ToArray()));
                break;
            case CallBlockStmt c:
                Load(c.Call, f);
                f.Children.Add((c.Body, c.Params.Concat(["varargs", "kwargs"]).ToArray()));
                break;
            case FilterBlockStmt fb:
                foreach (var s in fb.Body) Visit(s, f, inBranch);
                break;
            case WithStmt w:
                foreach (var (_, v) in w.Assignments) Load(v, f);
                f.Children.Add((w.Body, w.Assignments.SelectMany(a => TargetNames(a.Target)).ToArray()));
                break;
            case BlockBodyStmt b:
                foreach (var s in b.Body) Visit(s, f, inBranch);
                break;
        }
    }
}
