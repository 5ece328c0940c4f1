using Hunch.Gguf;

namespace Hunch.Chat;

/// <summary>
/// A parsed chat template (the Jinja text a GGUF carries in <c>tokenizer.chat_template</c>), rendered the way
/// Hugging Face's <c>apply_chat_template</c> renders it with Python's jinja2: sandboxed environment,
/// <c>trim_blocks</c> and <c>lstrip_blocks</c> on, <c>keep_trailing_newline</c> off, the loop-controls extension
/// (<c>break</c>/<c>continue</c>), the globals <c>raise_exception(message)</c> and <c>strftime_now(format)</c>, and a
/// <c>tojson</c> filter that does not escape non-ASCII text or HTML.
/// </summary>
/// <remarks>
/// The interpreter supports the Jinja subset chat templates use: <c>if/elif/else</c>, <c>for</c> (with <c>loop.*</c>,
/// an inline <c>if</c> filter, <c>else</c>, <c>recursive</c>), <c>set</c> (also block form and namespace
/// attributes), <c>macro</c>, <c>call</c>, <c>filter</c>, <c>with</c>, <c>raw</c>, whitespace control, Python
/// expression semantics, jinja2's builtin filters and tests, and the safe methods of str, dict and list.
/// Rendering is bounded by <see cref="ChatTemplateLimits"/>. Template inheritance and includes are not supported.
/// An instance is immutable and may be rendered concurrently.
/// </remarks>
public sealed class ChatTemplate
{
    /// <summary>
    /// The template text of <see cref="PlainFallback"/>: each message on its own line as <c>role: content</c>, followed by
    /// <c>assistant:</c> when a generation prompt is asked for. It adds no special tokens (the tokenizer adds BOS).
    /// </summary>
    public const string PlainFallbackSource =
        "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}" +
        "{% if add_generation_prompt %}assistant:{% endif %}";

    private readonly List<Stmt> _body;
    private readonly Dictionary<List<Stmt>, string[]> _frames;

    /// <summary>The GGUF metadata key holding a model's default chat template.</summary>
    public const string MetadataKey = "tokenizer.chat_template";

    private ChatTemplate(string source, List<Stmt> body, bool isFallback = false)
    {
        Source = source;
        _body = body;
        _frames = FrameAnalysis.Analyze(body);
        IsPlainFallback = isFallback;
    }

    /// <summary>
    /// A plain template for base models whose GGUF has no chat template (see <see cref="PlainFallbackSource"/>):
    /// for example "user: Hi\nassistant:".
    /// </summary>
    public static ChatTemplate PlainFallback { get; } =
        new(PlainFallbackSource, Parser.Parse(PlainFallbackSource, ChatTemplateLimits.Default.MaxTokens, ChatTemplateLimits.Default.MaxNestingDepth), isFallback: true);

    /// <summary>True for <see cref="PlainFallback"/>: the model had no chat template of its own.</summary>
    public bool IsPlainFallback { get; }

    /// <summary>
    /// The chat template a GGUF file carries (<c>tokenizer.chat_template</c>, or the named variant
    /// <c>tokenizer.chat_template.NAME</c> such as "tool_use"), or <see cref="PlainFallback"/> when it has none.
    /// </summary>
    /// <param name="file">The model file.</param>
    /// <param name="name">A named template variant, or null for the default template.</param>
    /// <param name="limits">Parsing bounds; null for the defaults.</param>
    /// <exception cref="ChatTemplateException">The file's template is not valid template syntax.</exception>
    public static ChatTemplate FromGguf(GgufFile file, string? name = null, ChatTemplateLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        string key = name is null ? MetadataKey : MetadataKey + "." + name;
        string? source = file.GetString(key);
        return string.IsNullOrEmpty(source) ? PlainFallback : Parse(source, limits);
    }

    /// <summary>The template text this was parsed from.</summary>
    public string Source { get; }

    /// <summary>Parses template text.</summary>
    /// <param name="source">The Jinja template text.</param>
    /// <param name="limits">Bounds on the template's size and nesting; null for <see cref="ChatTemplateLimits.Default"/>.</param>
    /// <exception cref="ChatTemplateException">The text is not a valid template (with the line and column).</exception>
    public static ChatTemplate Parse(string source, ChatTemplateLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        limits ??= ChatTemplateLimits.Default;
        return new ChatTemplate(source, Parser.Parse(source, limits.MaxTokens, limits.MaxNestingDepth));
    }

    /// <summary>Renders the template with the context's variables.</summary>
    /// <returns>The prompt text, exactly as jinja2 would render it.</returns>
    /// <exception cref="ChatTemplateException">
    /// The template raised (for example <c>raise_exception</c> refusing a system message), used an undefined value
    /// where jinja2 raises, made a type error, or exceeded a safety bound.
    /// </exception>
    public string Render(ChatTemplateContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var interp = new Interpreter(context.Limits, context.Now ?? DateTimeOffset.Now, _frames);
        var globals = new Scope(null);
        Globals.Install(globals);
        var vars = context.BuildScope(globals);
        var root = new Scope(vars);
        try
        {
            return interp.Render(_body, root);
        }
        catch (BreakSignal)
        {
            throw new ChatTemplateException("'break' outside of a loop");
        }
        catch (ContinueSignal)
        {
            throw new ChatTemplateException("'continue' outside of a loop");
        }
        catch (InsufficientExecutionStackException)
        {
            throw new ChatTemplateException("template evaluation nested too deeply", kind: ChatTemplateErrorKind.LimitExceeded);
        }
        catch (Exception e) when (e is not ChatTemplateException and not OutOfMemoryException)
        {
            // A template must never take the caller down with an unexpected exception type.
            throw new ChatTemplateException($"internal error while rendering: {e.Message}", e);
        }
    }

    /// <summary>Renders a conversation with the usual variables.</summary>
    /// <param name="messages">The conversation.</param>
    /// <param name="addGenerationPrompt">Whether to end with the start of an assistant turn.</param>
    /// <param name="bosToken">The text of the BOS token, or null to leave <c>bos_token</c> undefined.</param>
    /// <param name="eosToken">The text of the EOS token, or null to leave <c>eos_token</c> undefined.</param>
    /// <exception cref="ChatTemplateException">As for <see cref="Render(ChatTemplateContext)"/>.</exception>
    public string Render(IEnumerable<ChatMessage> messages, bool addGenerationPrompt, string? bosToken = null, string? eosToken = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return Render(new ChatTemplateContext
        {
            Messages = messages.ToList(),
            AddGenerationPrompt = addGenerationPrompt,
            BosToken = bosToken,
            EosToken = eosToken,
        });
    }
}
