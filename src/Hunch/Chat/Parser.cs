namespace Hunch.Chat;

/// <summary>Recursive-descent parser following jinja2's grammar (parser.py), producing the AST in Ast.cs.</summary>
internal sealed class Parser
{
    private readonly List<Token> _tokens;
    private readonly int _maxDepth;
    private int _pos;
    private int _depth;

    private Parser(List<Token> tokens, int maxDepth)
    {
        _tokens = tokens;
        _maxDepth = maxDepth;
    }

    public static List<Stmt> Parse(string source, int maxTokens, int maxDepth)
    {
        var parser = new Parser(Lexer.Tokenize(source, maxTokens), maxDepth);
        var body = parser.Subparse(null);
        if (parser.Current.Type != TokenType.Eof) throw parser.Error($"unexpected '{parser.Current.Value}'");
        return body;
    }

    private Token Current => _tokens[_pos];
    private Token Peek(int n = 1) => _tokens[Math.Min(_pos + n, _tokens.Count - 1)];
    private Token Next() => _tokens[_pos < _tokens.Count - 1 ? _pos++ : _pos];

    private ChatTemplateException Error(string message, Token? at = null)
    {
        var t = at ?? Current;
        return new ChatTemplateException(message, t.Line, t.Column, ChatTemplateErrorKind.Syntax);
    }

    private static string Describe(Token t) => t.Type switch
    {
        TokenType.Eof => "end of template",
        TokenType.BlockEnd => "end of statement block",
        TokenType.VariableEnd => "end of print statement",
        _ => $"'{t.Value}'",
    };

    private Token ExpectOp(string op)
    {
        if (!Current.IsOp(op)) throw Error($"expected '{op}', got {Describe(Current)}");
        return Next();
    }

    private Token ExpectName(string? name = null)
    {
        if (Current.Type != TokenType.Name || (name is not null && Current.Value != name))
            throw Error(name is null ? $"expected a name, got {Describe(Current)}" : $"expected '{name}', got {Describe(Current)}");
        return Next();
    }

    private void ExpectBlockEnd()
    {
        if (Current.Type != TokenType.BlockEnd) throw Error($"expected end of statement block, got {Describe(Current)}");
        Next();
    }

    private bool SkipOp(string op)
    {
        if (!Current.IsOp(op)) return false;
        Next();
        return true;
    }

    private bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        Next();
        return true;
    }

    private void Enter()
    {
        if (++_depth > _maxDepth)
            throw Error($"template nesting deeper than {_maxDepth}");
    }

    private void Leave() => _depth--;

    // ------------------------------------------------------------------ statements

    /// <summary>Parses statements until a block tag whose name is in <paramref name="endNames"/> (left unconsumed, after '{%').</summary>
    private List<Stmt> Subparse(string[]? endNames)
    {
        Enter();
        var body = new List<Stmt>();
        while (true)
        {
            var t = Current;
            switch (t.Type)
            {
                case TokenType.Eof:
                    if (endNames is not null)
                        throw Error($"unexpected end of template, expected '{string.Join("' or '", endNames)}'");
                    Leave();
                    return body;
                case TokenType.Data:
                    body.Add(new TextStmt(t.Value, t.Line));
                    Next();
                    break;
                case TokenType.VariableBegin:
                    Next();
                    var expr = ParseTuple(withCondExpr: true, explicitParens: false);
                    if (Current.Type != TokenType.VariableEnd) throw Error($"expected end of print statement, got {Describe(Current)}");
                    Next();
                    body.Add(new OutputStmt(expr, t.Line));
                    break;
                case TokenType.BlockBegin:
                    Next();
                    if (endNames is not null && Current.Type == TokenType.Name && Array.IndexOf(endNames, Current.Value) >= 0)
                    {
                        Leave();
                        return body;
                    }
                    body.Add(ParseStatement());
                    break;
                default:
                    throw Error($"unexpected {Describe(t)}");
            }
        }
    }

    private Stmt ParseStatement()
    {
        var t = Current;
        if (t.Type != TokenType.Name) throw Error("tag name expected");
        switch (t.Value)
        {
            case "if": return ParseIf();
            case "for": return ParseFor();
            case "set": return ParseSet();
            case "macro": return ParseMacro();
            case "call": return ParseCallBlock();
            case "filter": return ParseFilterBlock();
            case "with": return ParseWith();
            case "generation": return ParseSimpleBlock("endgeneration");
            case "break":
                Next();
                ExpectBlockEnd();
                return new BreakStmt(t.Line);
            case "continue":
                Next();
                ExpectBlockEnd();
                return new ContinueStmt(t.Line);
            default:
                throw Error($"unknown or unsupported tag '{t.Value}'");
        }
    }

    private void ExpectEnd(string name)
    {
        ExpectName(name);
        ExpectBlockEnd();
    }

    private Stmt ParseSimpleBlock(string endName)
    {
        var t = Next();
        ExpectBlockEnd();
        var body = Subparse([endName]);
        ExpectEnd(endName);
        return new BlockBodyStmt(body, t.Line);
    }

    private Stmt ParseIf()
    {
        var t = Next();
        var branches = new List<(Expr, List<Stmt>)>();
        List<Stmt>? elseBody = null;
        var test = ParseTuple(withCondExpr: false, explicitParens: false);
        ExpectBlockEnd();
        var body = Subparse(["elif", "else", "endif"]);
        branches.Add((test, body));
        while (true)
        {
            var kw = Next();
            if (kw.Value == "elif")
            {
                test = ParseTuple(withCondExpr: false, explicitParens: false);
                ExpectBlockEnd();
                branches.Add((test, Subparse(["elif", "else", "endif"])));
            }
            else if (kw.Value == "else")
            {
                ExpectBlockEnd();
                elseBody = Subparse(["endif"]);
                ExpectEnd("endif");
                break;
            }
            else
            {
                ExpectBlockEnd();
                break;
            }
        }
        return new IfStmt(branches, elseBody, t.Line);
    }

    private Stmt ParseFor()
    {
        var t = Next();
        var target = ParseAssignTarget(withTuple: true, withNamespace: false, extraEnd: "in");
        ExpectName("in");
        var iter = ParseTuple(withCondExpr: false, explicitParens: false, extraEnd: "recursive");
        Expr? filter = null;
        if (SkipName("if")) filter = ParseExpression(withCondExpr: true);
        bool recursive = SkipName("recursive");
        ExpectBlockEnd();
        var body = Subparse(["endfor", "else"]);
        List<Stmt>? elseBody = null;
        if (Next().Value == "else")
        {
            ExpectBlockEnd();
            elseBody = Subparse(["endfor"]);
            ExpectEnd("endfor");
        }
        else
        {
            ExpectBlockEnd();
        }
        return new ForStmt(target, iter, filter, body, elseBody, recursive, t.Line);
    }

    private Stmt ParseSet()
    {
        var t = Next();
        var target = ParseAssignTarget(withTuple: true, withNamespace: true, extraEnd: null);
        if (SkipOp("="))
        {
            var value = ParseTuple(withCondExpr: true, explicitParens: false);
            ExpectBlockEnd();
            return new SetStmt(target, value, t.Line);
        }
        var filters = Current.IsOp("|") ? ParseFilterChain(startInline: false) : new List<FilterExpr>();
        ExpectBlockEnd();
        var body = Subparse(["endset"]);
        ExpectEnd("endset");
        return new SetBlockStmt(target, filters, body, t.Line);
    }

    private (List<string> Names, List<Expr?> Defaults) ParseSignature()
    {
        var names = new List<string>();
        var defaults = new List<Expr?>();
        ExpectOp("(");
        while (!Current.IsOp(")"))
        {
            if (names.Count > 0) ExpectOp(",");
            if (Current.IsOp(")")) break;
            var name = ExpectName();
            names.Add(name.Value);
            defaults.Add(SkipOp("=") ? ParseExpression(withCondExpr: true) : null);
        }
        Next();
        return (names, defaults);
    }

    private Stmt ParseMacro()
    {
        var t = Next();
        var name = ExpectName().Value;
        var (names, defaults) = ParseSignature();
        ExpectBlockEnd();
        var body = Subparse(["endmacro"]);
        Next();
        if (Current.Type == TokenType.Name) Next(); // {% endmacro name %}
        ExpectBlockEnd();
        return new MacroStmt(name, names, defaults, body, t.Line);
    }

    private Stmt ParseCallBlock()
    {
        var t = Next();
        List<string> names = new();
        List<Expr?> defaults = new();
        if (Current.IsOp("(")) (names, defaults) = ParseSignature();
        var call = ParseExpression(withCondExpr: true);
        if (call is not CallExpr callExpr) throw Error("expected call", t);
        ExpectBlockEnd();
        var body = Subparse(["endcall"]);
        ExpectEnd("endcall");
        return new CallBlockStmt(callExpr, names, defaults, body, t.Line);
    }

    private Stmt ParseFilterBlock()
    {
        var t = Next();
        var filters = ParseFilterChain(startInline: true);
        ExpectBlockEnd();
        var body = Subparse(["endfilter"]);
        ExpectEnd("endfilter");
        return new FilterBlockStmt(filters, body, t.Line);
    }

    private Stmt ParseWith()
    {
        var t = Next();
        var assigns = new List<(Expr, Expr)>();
        while (Current.Type != TokenType.BlockEnd)
        {
            if (assigns.Count > 0) ExpectOp(",");
            var target = ParseAssignTarget(withTuple: false, withNamespace: false, extraEnd: null);
            ExpectOp("=");
            assigns.Add((target, ParseExpression(withCondExpr: true)));
        }
        ExpectBlockEnd();
        var body = Subparse(["endwith"]);
        ExpectEnd("endwith");
        return new WithStmt(assigns, body, t.Line);
    }

    private Expr ParseAssignTarget(bool withTuple, bool withNamespace, string? extraEnd)
    {
        var t = Current;
        if (withNamespace && t.Type == TokenType.Name && Peek().IsOp("."))
        {
            Next();
            Next();
            var attr = ExpectName();
            return new GetAttrExpr(new NameExpr(t.Value, t.Line), attr.Value, t.Line);
        }
        if (withTuple)
        {
            var target = ParseTuple(withCondExpr: true, explicitParens: false, extraEnd: extraEnd, simplified: true);
            ValidateTarget(target);
            return target;
        }
        var name = ExpectName();
        return new NameExpr(name.Value, name.Line);
    }

    private void ValidateTarget(Expr target)
    {
        switch (target)
        {
            case NameExpr n:
                if (n.Name is "true" or "false" or "none" or "True" or "False" or "None")
                    throw Error($"can't assign to '{n.Name}'");
                return;
            case TupleExpr tup:
                foreach (var item in tup.Items) ValidateTarget(item);
                return;
            default:
                throw Error("can't assign to this expression");
        }
    }

    // ------------------------------------------------------------------ expressions

    private Expr ParseExpression(bool withCondExpr)
    {
        Enter();
        var e = withCondExpr ? ParseCondExpr() : ParseOr();
        Leave();
        return e;
    }

    private Expr ParseCondExpr()
    {
        var line = Current.Line;
        var expr1 = ParseOr();
        while (SkipName("if"))
        {
            var test = ParseOr();
            Expr? elseExpr = SkipName("else") ? ParseCondExpr() : null;
            expr1 = new CondExpr(test, expr1, elseExpr, line);
        }
        return expr1;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            var t = Next();
            left = new OrExpr(left, ParseAnd(), t.Line);
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            var t = Next();
            left = new AndExpr(left, ParseNot(), t.Line);
        }
        return left;
    }

    private Expr ParseNot()
    {
        if (Current.IsName("not"))
        {
            var t = Next();
            Enter();
            var operand = ParseNot();
            Leave();
            return new NotExpr(operand, t.Line);
        }
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        var line = Current.Line;
        var expr = ParseMath1();
        List<(string, Expr)>? ops = null;
        while (true)
        {
            var t = Current;
            if (t.Type == TokenType.Operator && t.Value is "==" or "!=" or "<" or "<=" or ">" or ">=")
            {
                Next();
                (ops ??= new()).Add((t.Value, ParseMath1()));
            }
            else if (t.IsName("in"))
            {
                Next();
                (ops ??= new()).Add(("in", ParseMath1()));
            }
            else if (t.IsName("not") && Peek().IsName("in"))
            {
                Next();
                Next();
                (ops ??= new()).Add(("notin", ParseMath1()));
            }
            else break;
        }
        return ops is null ? expr : new CompareExpr(expr, ops, line);
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.Type == TokenType.Operator && Current.Value is "+" or "-")
        {
            var t = Next();
            left = new BinaryExpr(t.Value, left, ParseConcat(), t.Line);
        }
        return left;
    }

    private Expr ParseConcat()
    {
        var line = Current.Line;
        var first = ParseMath2();
        if (!Current.IsOp("~")) return first;
        var parts = new List<Expr> { first };
        while (SkipOp("~")) parts.Add(ParseMath2());
        return new ConcatExpr(parts, line);
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        while (Current.Type == TokenType.Operator && Current.Value is "*" or "/" or "//" or "%")
        {
            var t = Next();
            left = new BinaryExpr(t.Value, left, ParsePow(), t.Line);
        }
        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary(withFilter: true);
        while (Current.IsOp("**"))
        {
            var t = Next();
            left = new BinaryExpr("**", left, ParseUnary(withFilter: true), t.Line);
        }
        return left;
    }

    private Expr ParseUnary(bool withFilter)
    {
        Enter();
        var t = Current;
        Expr node;
        if (t.IsOp("-") || t.IsOp("+"))
        {
            Next();
            node = new UnaryExpr(t.Value, ParseUnary(withFilter: false), t.Line);
        }
        else
        {
            node = ParsePrimary();
        }
        node = ParsePostfix(node);
        if (withFilter) node = ParseFilterExpr(node);
        Leave();
        return node;
    }

    private Expr ParsePrimary()
    {
        var t = Current;
        switch (t.Type)
        {
            case TokenType.Name:
                Next();
                return t.Value switch
                {
                    "true" or "True" => new ConstExpr(true, t.Line),
                    "false" or "False" => new ConstExpr(false, t.Line),
                    "none" or "None" => new ConstExpr(null, t.Line),
                    _ => new NameExpr(t.Value, t.Line),
                };
            case TokenType.String:
            {
                Next();
                string s = (string)t.Literal!;
                if (Current.Type == TokenType.String)
                {
                    var sb = new System.Text.StringBuilder(s);
                    while (Current.Type == TokenType.String) sb.Append((string)Next().Literal!);
                    s = sb.ToString();
                }
                return new ConstExpr(s, t.Line);
            }
            case TokenType.Integer:
            case TokenType.Float:
                Next();
                return new ConstExpr(t.Literal, t.Line);
            case TokenType.Operator when t.Value == "(":
            {
                Next();
                var e = ParseTuple(withCondExpr: true, explicitParens: true);
                ExpectOp(")");
                return e;
            }
            case TokenType.Operator when t.Value == "[":
            {
                Next();
                var items = new List<Expr>();
                while (!Current.IsOp("]"))
                {
                    if (items.Count > 0) ExpectOp(",");
                    if (Current.IsOp("]")) break;
                    items.Add(ParseExpression(withCondExpr: true));
                }
                Next();
                return new ListExpr(items, t.Line);
            }
            case TokenType.Operator when t.Value == "{":
            {
                Next();
                var items = new List<(Expr, Expr)>();
                while (!Current.IsOp("}"))
                {
                    if (items.Count > 0) ExpectOp(",");
                    if (Current.IsOp("}")) break;
                    var key = ParseExpression(withCondExpr: true);
                    ExpectOp(":");
                    items.Add((key, ParseExpression(withCondExpr: true)));
                }
                Next();
                return new DictExpr(items, t.Line);
            }
            default:
                throw Error($"unexpected {Describe(t)}");
        }
    }

    private bool IsTupleEnd(string? extraEnd)
    {
        var t = Current;
        if (t.Type is TokenType.VariableEnd or TokenType.BlockEnd or TokenType.Eof) return true;
        if (t.IsOp(")")) return true;
        return extraEnd is not null && t.IsName(extraEnd);
    }

    private Expr ParseTuple(bool withCondExpr, bool explicitParens, string? extraEnd = null, bool simplified = false)
    {
        var line = Current.Line;
        var items = new List<Expr>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0) ExpectOp(",");
            if (IsTupleEnd(extraEnd)) break;
            items.Add(simplified ? ParsePrimary() : ParseExpression(withCondExpr));
            if (Current.IsOp(",")) isTuple = true;
            else break;
        }
        if (!isTuple)
        {
            if (items.Count > 0) return items[0];
            if (!explicitParens) throw Error($"expected an expression, got {Describe(Current)}");
        }
        return new TupleExpr(items, line);
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var t = Current;
            if (t.IsOp(".") || t.IsOp("[")) node = ParseSubscript(node);
            else if (t.IsOp("(")) node = new CallExpr(node, ParseCallArgs(), t.Line);
            else return node;
        }
    }

    private Expr ParseFilterExpr(Expr node)
    {
        while (true)
        {
            var t = Current;
            if (t.IsOp("|")) node = ParseFilterChain(startInline: false, node)[^1];
            else if (t.IsName("is")) node = ParseTest(node);
            else if (t.IsOp("(")) node = new CallExpr(node, ParseCallArgs(), t.Line);
            else return node;
        }
    }

    private Expr ParseSubscript(Expr node)
    {
        var t = Next();
        if (t.Value == ".")
        {
            var attr = Next();
            if (attr.Type == TokenType.Name) return new GetAttrExpr(node, attr.Value, t.Line);
            if (attr.Type == TokenType.Integer) return new GetItemExpr(node, new ConstExpr(attr.Literal, attr.Line), t.Line);
            throw Error("expected name or number", attr);
        }
        var args = new List<Expr>();
        while (!Current.IsOp("]"))
        {
            if (args.Count > 0)
            {
                ExpectOp(",");
                if (Current.IsOp("]")) break;
            }
            args.Add(ParseSubscribed());
        }
        ExpectOp("]");
        if (args.Count == 0) throw Error("expected subscript", t);
        var index = args.Count == 1 ? args[0] : new TupleExpr(args, t.Line);
        return new GetItemExpr(node, index, t.Line);
    }

    private Expr ParseSubscribed()
    {
        var line = Current.Line;
        Expr? start = null;
        if (!Current.IsOp(":"))
        {
            var e = ParseExpression(withCondExpr: true);
            if (!Current.IsOp(":")) return e;
            start = e;
        }
        Next(); // ':'
        Expr? stop = null, step = null;
        if (!Current.IsOp("]") && !Current.IsOp(",") && !Current.IsOp(":")) stop = ParseExpression(withCondExpr: true);
        if (SkipOp(":"))
        {
            if (!Current.IsOp("]") && !Current.IsOp(",")) step = ParseExpression(withCondExpr: true);
        }
        return new SliceExpr(start, stop, step, line);
    }

    private CallArgs ParseCallArgs()
    {
        ExpectOp("(");
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        Expr? dynArgs = null, dynKwargs = null;
        bool first = true;
        while (!Current.IsOp(")"))
        {
            if (!first)
            {
                ExpectOp(",");
                if (Current.IsOp(")")) break;
            }
            first = false;
            if (SkipOp("*")) dynArgs = ParseExpression(withCondExpr: true);
            else if (SkipOp("**")) dynKwargs = ParseExpression(withCondExpr: true);
            else if (Current.Type == TokenType.Name && Peek().IsOp("="))
            {
                var key = Next().Value;
                Next();
                kwargs.Add((key, ParseExpression(withCondExpr: true)));
            }
            else
            {
                if (kwargs.Count > 0 || dynArgs is not null || dynKwargs is not null)
                    throw Error("positional argument after keyword argument");
                args.Add(ParseExpression(withCondExpr: true));
            }
        }
        Next();
        return new CallArgs(args, kwargs, dynArgs, dynKwargs);
    }

    /// <summary>Parses '|name(args)|name2...' (or 'name|name2' when <paramref name="startInline"/>).</summary>
    private List<FilterExpr> ParseFilterChain(bool startInline, Expr? input = null)
    {
        var chain = new List<FilterExpr>();
        Expr? current = input;
        while (Current.IsOp("|") || startInline)
        {
            if (!startInline) Next();
            startInline = false;
            var nameTok = ExpectName();
            string name = nameTok.Value;
            while (Current.IsOp(".") && Peek().Type == TokenType.Name)
            {
                Next();
                name += "." + Next().Value;
            }
            var args = Current.IsOp("(") ? ParseCallArgs() : CallArgs.Empty;
            var f = new FilterExpr(current, name, args, nameTok.Line);
            chain.Add(f);
            current = f;
            if (input is not null) break; // inside an expression, ParseFilterExpr loops (tests may follow)
        }
        return chain;
    }

    private Expr ParseTest(Expr node)
    {
        var t = Next(); // 'is'
        bool negated = SkipName("not");
        var nameTok = ExpectName();
        string name = nameTok.Value;
        while (Current.IsOp(".") && Peek().Type == TokenType.Name)
        {
            Next();
            name += "." + Next().Value;
        }
        CallArgs args = CallArgs.Empty;
        var c = Current;
        if (c.IsOp("("))
        {
            args = ParseCallArgs();
        }
        else if ((c.Type is TokenType.Name or TokenType.String or TokenType.Integer or TokenType.Float
                  || c.IsOp("(") || c.IsOp("[") || c.IsOp("{"))
                 && !c.IsName("else") && !c.IsName("or") && !c.IsName("and"))
        {
            if (c.IsName("is")) throw Error("You cannot chain multiple tests with is");
            var arg = ParsePostfix(ParsePrimary());
            args = new CallArgs(new List<Expr> { arg }, new(), null, null);
        }
        return new TestExpr(node, name, args, negated, t.Line);
    }
}
