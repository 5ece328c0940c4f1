namespace Hunch.Chat;

/// <summary>
/// Finds which of the special names varargs, kwargs and caller a macro body refers to: as in jinja2, a macro only
/// accepts extra positional or keyword arguments (or a caller) when its body uses the corresponding name.
/// </summary>
internal static class NameScan
{
    public static HashSet<string> SpecialNames(List<Stmt> body)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in body) Visit(s, found);
        return found;
    }

    private static void Visit(List<Stmt>? body, HashSet<string> found)
    {
        if (body is null) return;
        foreach (var s in body) Visit(s, found);
    }

    private static void Visit(Stmt stmt, HashSet<string> found)
    {
        switch (stmt)
        {
            case OutputStmt o: Visit(o.Value, found); break;
            case IfStmt i:
                foreach (var (test, branch) in i.Branches)
                {
                    Visit(test, found);
                    Visit(branch, found);
                }
                Visit(i.Else, found);
                break;
            case ForStmt f:
                Visit(f.Iter, found);
                if (f.Filter is not null) Visit(f.Filter, found);
                Visit(f.Body, found);
                Visit(f.Else, found);
                break;
            case SetStmt s: Visit(s.Value, found); break;
            case SetBlockStmt sb:
                Visit(sb.Body, found);
                foreach (var f in sb.Filters) Visit(f.Args, found);
                break;
            case CallBlockStmt c: Visit(c.Call, found); break; // the call body is the caller's own macro
            case FilterBlockStmt fb:
                Visit(fb.Body, found);
                foreach (var f in fb.Filters) Visit(f.Args, found);
                break;
            case WithStmt w:
                foreach (var (_, value) in w.Assignments) Visit(value, found);
                Visit(w.Body, found);
                break;
            case BlockBodyStmt b: Visit(b.Body, found); break;
            case MacroStmt m:
                // jinja2's symbol analysis also counts uses inside nested macros.
                foreach (var d in m.Defaults) if (d is not null) Visit(d, found);
                Visit(m.Body, found);
                break;
        }
    }

    private static void Visit(CallArgs args, HashSet<string> found)
    {
        foreach (var a in args.Args) Visit(a, found);
        foreach (var (_, v) in args.Kwargs) Visit(v, found);
        if (args.DynArgs is not null) Visit(args.DynArgs, found);
        if (args.DynKwargs is not null) Visit(args.DynKwargs, found);
    }

    private static void Visit(Expr expr, HashSet<string> found)
    {
        switch (expr)
        {
            case NameExpr n:
                if (n.Name is "varargs" or "kwargs" or "caller") found.Add(n.Name);
                break;
            case ListExpr l: foreach (var e in l.Items) Visit(e, found); break;
            case TupleExpr t: foreach (var e in t.Items) Visit(e, found); break;
            case DictExpr d:
                foreach (var (k, v) in d.Items)
                {
                    Visit(k, found);
                    Visit(v, found);
                }
                break;
            case GetAttrExpr ga: Visit(ga.Target, found); break;
            case GetItemExpr gi:
                Visit(gi.Target, found);
                Visit(gi.Index, found);
                break;
            case SliceExpr s:
                if (s.Start is not null) Visit(s.Start, found);
                if (s.Stop is not null) Visit(s.Stop, found);
                if (s.Step is not null) Visit(s.Step, found);
                break;
            case CallExpr c:
                Visit(c.Callee, found);
                Visit(c.Args, found);
                break;
            case FilterExpr f:
                if (f.Input is not null) Visit(f.Input, found);
                Visit(f.Args, found);
                break;
            case TestExpr t:
                Visit(t.Input, found);
                Visit(t.Args, found);
                break;
            case UnaryExpr u: Visit(u.Operand, found); break;
            case BinaryExpr b:
                Visit(b.Left, found);
                Visit(b.Right, found);
                break;
            case ConcatExpr cc: foreach (var p in cc.Parts) Visit(p, found); break;
            case CompareExpr cmp:
                Visit(cmp.First, found);
                foreach (var (_, r) in cmp.Rest) Visit(r, found);
                break;
            case AndExpr a:
                Visit(a.Left, found);
                Visit(a.Right, found);
                break;
            case OrExpr o:
                Visit(o.Left, found);
                Visit(o.Right, found);
                break;
            case NotExpr n: Visit(n.Operand, found); break;
            case CondExpr c:
                Visit(c.Test, found);
                Visit(c.Then, found);
                if (c.Else is not null) Visit(c.Else, found);
                break;
        }
    }
}
