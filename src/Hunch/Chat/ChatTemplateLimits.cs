namespace Hunch.Chat;

/// <summary>
/// Safety bounds for parsing and rendering a chat template, so that a hostile template (templates come from
/// downloaded model files) cannot hang the process or exhaust its memory. Exceeding a bound raises
/// <see cref="ChatTemplateException"/> with <see cref="ChatTemplateErrorKind.LimitExceeded"/>.
/// </summary>
public sealed record ChatTemplateLimits
{
    /// <summary>The defaults: 1 Mi characters of output, 64 nested macro calls, 2 million evaluation steps.</summary>
    public static ChatTemplateLimits Default { get; } = new();

    /// <summary>Maximum length (UTF-16 characters) of the rendered text, and of any single string or collection built while rendering.</summary>
    public int MaxOutputLength { get; init; } = 1 << 20;

    /// <summary>Maximum total characters and collection items allocated while rendering (bounds memory, not just output).</summary>
    public long MaxAllocation { get; init; } = 256L << 20;

    /// <summary>Maximum nesting of macro calls and recursive loops.</summary>
    public int MaxRecursionDepth { get; init; } = 64;

    /// <summary>Maximum number of evaluation steps (statements, expressions and loop iterations).</summary>
    public long MaxSteps { get; init; } = 2_000_000;

    /// <summary>Maximum syntactic nesting depth of the template (blocks and expressions).</summary>
    public int MaxNestingDepth { get; init; } = 200;

    /// <summary>Maximum number of tokens in the template source.</summary>
    public int MaxTokens { get; init; } = 1_000_000;

    /// <summary>Maximum nesting depth of input values (messages, tools, extra variables).</summary>
    public int MaxValueDepth { get; init; } = 128;
}
