namespace Hunch.Grammar;

/// <summary>A grammar or JSON schema that is malformed, unsupported, too large, or that the matcher cannot
/// follow within its bounds (for example left recursion or an explosion of ambiguous parses).</summary>
public sealed class GrammarException : Exception
{
    /// <summary>Creates the exception with a message that says what is wrong and where.</summary>
    public GrammarException(string message) : base(message) { }
}

/// <summary>Bounds that keep hostile grammars and schemas from exhausting memory or time.</summary>
public sealed record GrammarLimits
{
    /// <summary>Longest grammar text in characters.</summary>
    public int MaxGrammarChars { get; init; } = 1 << 20;
    /// <summary>Most rules after lowering (auxiliary rules included).</summary>
    public int MaxRules { get; init; } = 20_000;
    /// <summary>Most elements after lowering (repetitions expanded).</summary>
    public int MaxElements { get; init; } = 500_000;
    /// <summary>Largest bound of a <c>{m,n}</c> repetition.</summary>
    public int MaxRepeat { get; init; } = 1_000;
    /// <summary>Deepest nesting of groups in the grammar text.</summary>
    public int MaxNesting { get; init; } = 200;
    /// <summary>Most parse stacks a matcher state may hold (a guard against exponentially ambiguous grammars).</summary>
    public int MaxStacks { get; init; } = 1_024;
    /// <summary>Most expansion steps while advancing one byte.</summary>
    public int MaxExpansionSteps { get; init; } = 200_000;

    /// <summary>The defaults.</summary>
    public static GrammarLimits Default { get; } = new();
}
