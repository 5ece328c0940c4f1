namespace Hunch.Chat;

/// <summary>
/// Raised when a chat template cannot be parsed or rendered: a syntax error, an error the template raised itself
/// (<c>raise_exception</c>), a runtime error such as an undefined variable used in arithmetic, or a safety bound
/// (output size, recursion depth, step count) that was exceeded.
/// </summary>
public sealed class ChatTemplateException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="line">1-based template line where it went wrong, or 0 when unknown.</param>
    /// <param name="column">1-based column, or 0 when unknown.</param>
    /// <param name="kind">What kind of error it is.</param>
    public ChatTemplateException(string message, int line = 0, int column = 0, ChatTemplateErrorKind kind = ChatTemplateErrorKind.Runtime)
        : base(Format(message, line, column))
    {
        Reason = message;
        Line = line;
        Column = column;
        Kind = kind;
    }

    internal ChatTemplateException(string message, Exception inner)
        : base(message, inner)
    {
        Reason = message;
        Kind = ChatTemplateErrorKind.Runtime;
    }

    /// <summary>The message without the position suffix.</summary>
    public string Reason { get; }

    /// <summary>1-based template line where the error occurred, or 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>1-based column where the error occurred, or 0 when unknown.</summary>
    public int Column { get; }

    /// <summary>What kind of error it is.</summary>
    public ChatTemplateErrorKind Kind { get; }

    private static string Format(string message, int line, int column)
    {
        if (line <= 0) return message;
        return column > 0 ? $"{message} (template line {line}, column {column})" : $"{message} (template line {line})";
    }
}

/// <summary>The kind of a <see cref="ChatTemplateException"/>.</summary>
public enum ChatTemplateErrorKind
{
    /// <summary>The template text is not valid template syntax.</summary>
    Syntax,
    /// <summary>An error while rendering (type error, undefined value used, unsafe operation...).</summary>
    Runtime,
    /// <summary>The template called <c>raise_exception(message)</c>.</summary>
    Raised,
    /// <summary>A safety bound was exceeded (output size, recursion depth, step count, collection size).</summary>
    LimitExceeded,
}
