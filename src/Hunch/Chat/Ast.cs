namespace Hunch.Chat;

internal abstract record Node(int Line);

// ---- expressions ----
internal abstract record Expr(int Line) : Node(Line);
internal sealed record ConstExpr(object? Value, int Line) : Expr(Line);
internal sealed record NameExpr(string Name, int Line) : Expr(Line);
internal sealed record ListExpr(List<Expr> Items, int Line) : Expr(Line);
internal sealed record TupleExpr(List<Expr> Items, int Line) : Expr(Line);
internal sealed record DictExpr(List<(Expr Key, Expr Value)> Items, int Line) : Expr(Line);
internal sealed record GetAttrExpr(Expr Target, string Attr, int Line) : Expr(Line);
internal sealed record GetItemExpr(Expr Target, Expr Index, int Line) : Expr(Line);
internal sealed record SliceExpr(Expr? Start, Expr? Stop, Expr? Step, int Line) : Expr(Line);
internal sealed record CallArgs(List<Expr> Args, List<(string Name, Expr Value)> Kwargs, Expr? DynArgs, Expr? DynKwargs)
{
    public static readonly CallArgs Empty = new(new(), new(), null, null);
}
internal sealed record CallExpr(Expr Callee, CallArgs Args, int Line) : Expr(Line);
internal sealed record FilterExpr(Expr? Input, string Name, CallArgs Args, int Line) : Expr(Line);
internal sealed record TestExpr(Expr Input, string Name, CallArgs Args, bool Negated, int Line) : Expr(Line);
internal sealed record UnaryExpr(string Op, Expr Operand, int Line) : Expr(Line);
internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Line) : Expr(Line);
internal sealed record ConcatExpr(List<Expr> Parts, int Line) : Expr(Line);
internal sealed record CompareExpr(Expr First, List<(string Op, Expr Right)> Rest, int Line) : Expr(Line);
internal sealed record AndExpr(Expr Left, Expr Right, int Line) : Expr(Line);
internal sealed record OrExpr(Expr Left, Expr Right, int Line) : Expr(Line);
internal sealed record NotExpr(Expr Operand, int Line) : Expr(Line);
internal sealed record CondExpr(Expr Test, Expr Then, Expr? Else, int Line) : Expr(Line);

// ---- statements ----
internal abstract record Stmt(int Line) : Node(Line);
internal sealed record TextStmt(string Text, int Line) : Stmt(Line);
internal sealed record OutputStmt(Expr Value, int Line) : Stmt(Line);
internal sealed record IfStmt(List<(Expr Test, List<Stmt> Body)> Branches, List<Stmt>? Else, int Line) : Stmt(Line);
internal sealed record ForStmt(Expr Target, Expr Iter, Expr? Filter, List<Stmt> Body, List<Stmt>? Else, bool Recursive, int Line) : Stmt(Line);
internal sealed record SetStmt(Expr Target, Expr Value, int Line) : Stmt(Line);
internal sealed record SetBlockStmt(Expr Target, List<FilterExpr> Filters, List<Stmt> Body, int Line) : Stmt(Line);
internal sealed record MacroStmt(string Name, List<string> Params, List<Expr?> Defaults, List<Stmt> Body, int Line) : Stmt(Line)
{
    /// <summary>Which of varargs, kwargs and caller the body uses (decides which extra arguments are accepted).</summary>
    public HashSet<string> SpecialNames { get; } = NameScan.SpecialNames(Body);
}
internal sealed record CallBlockStmt(CallExpr Call, List<string> Params, List<Expr?> Defaults, List<Stmt> Body, int Line) : Stmt(Line);
internal sealed record FilterBlockStmt(List<FilterExpr> Filters, List<Stmt> Body, int Line) : Stmt(Line);
internal sealed record WithStmt(List<(Expr Target, Expr Value)> Assignments, List<Stmt> Body, int Line) : Stmt(Line);
internal sealed record BreakStmt(int Line) : Stmt(Line);
internal sealed record ContinueStmt(int Line) : Stmt(Line);
internal sealed record BlockBodyStmt(List<Stmt> Body, int Line) : Stmt(Line);
