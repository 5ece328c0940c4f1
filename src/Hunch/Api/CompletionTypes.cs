using Hunch.Generation;
using Hunch.Sampling;
using Hunch.Speculative;

namespace Hunch.Api;

/// <summary>Settings of a <see cref="HunchEngine"/>.</summary>
public sealed record EngineOptions
{
    /// <summary>Requests generating at once (each holds a sequence slot: a KV cache and its cached prefix).</summary>
    public int Parallel { get; init; } = 8;
    /// <summary>Requests waiting for a slot before new ones are refused with <see cref="QueueFullException"/>.</summary>
    public int QueueLimit { get; init; } = 64;
    /// <summary>Context size per request in tokens (0: the model's context length).</summary>
    public int ContextSize { get; init; }
    /// <summary>Drafter used when a request names none ("none": plain decoding).</summary>
    public string DefaultDrafter { get; init; } = "none";
    /// <summary>Creates a drafter by name for one request, or returns null for an unknown name
    /// (null factory: only "none" is known).</summary>
    public Func<string, IDrafter?>? DrafterFactory { get; init; }
    /// <summary>Most draft nodes per request and step, root included.</summary>
    public int MaxDraftNodes { get; init; } = 16;
    /// <summary>Most rows in one shared forward; prompt chunks fill what decoding rows leave.</summary>
    public int MaxBatchRows { get; init; } = 64;
    /// <summary>From this many requests decoding at once, speculation is switched off whatever the cost curve says.
    /// Below it, each request drafts only the rows whose expected tokens pay for their measured cost in the shared
    /// forward (goodput).</summary>
    public int SpeculationBatchLimit { get; init; } = 16;
    /// <summary>Formats chat messages into a prompt (null: the model's template when it has one, else a plain transcript).</summary>
    public Func<IReadOnlyList<ChatTurn>, string>? ChatFormatter { get; init; }
}

/// <summary>One chat message.</summary>
/// <param name="Role">system, user, assistant or tool.</param>
/// <param name="Content">The message text.</param>
public sealed record ChatTurn(string Role, string Content)
{
    /// <summary>Further message fields the chat template sees (for example <c>tool_calls</c> of an assistant
    /// message, <c>tool_call_id</c> of a tool result); null for none.</summary>
    public System.Text.Json.Nodes.JsonObject? Extra { get; init; }
}

/// <summary>A text or token completion request.</summary>
public sealed record CompletionRequest
{
    /// <summary>Prompt text (tokenized with the model's special tokens); ignored when <see cref="PromptTokens"/> is set.</summary>
    public string? Prompt { get; init; }
    /// <summary>Prompt as token ids.</summary>
    public int[]? PromptTokens { get; init; }
    /// <summary>Most tokens to generate (null: fill the context).</summary>
    public int? MaxTokens { get; init; }
    /// <summary>How tokens are chosen (seeded; greedy by default).</summary>
    public SamplingOptions Sampling { get; init; } = SamplingOptions.Greedy;
    /// <summary>Stop strings: generation ends where one appears in the output, which then ends before it.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];
    /// <summary>Alternatives per token to report with log-probabilities (null: no log-probabilities).</summary>
    public int? TopLogprobs { get; init; }
    /// <summary>Drafter for this request (null: the engine's default).</summary>
    public string? Drafter { get; init; }
    /// <summary>Keep generating after an end-of-generation token (it is then emitted like any token).</summary>
    public bool IgnoreEndOfGeneration { get; init; }
    /// <summary>Constrain the output to this grammar (JSON mode, JSON schema, tool calls; see
    /// <see cref="Hunch.Grammar.JsonSchemaGrammar"/>). Composes with speculation: the output equals plain constrained decoding.</summary>
    public Hunch.Grammar.GbnfGrammar? Grammar { get; init; }
}

/// <summary>The log-probability of one generated token under the target model (identical with and without speculation).</summary>
public sealed record TokenLogprob
{
    /// <summary>Token id.</summary>
    public required int TokenId { get; init; }
    /// <summary>The token's text (invalid UTF-8 pieces shown as U+FFFD).</summary>
    public required string Token { get; init; }
    /// <summary>The token's raw bytes.</summary>
    public required byte[] Bytes { get; init; }
    /// <summary>Natural log of its probability.</summary>
    public required float Logprob { get; init; }
    /// <summary>The most likely tokens at this position, most likely first.</summary>
    public required IReadOnlyList<TokenLogprob> Top { get; init; }
}

/// <summary>How speculation went for one request.</summary>
/// <param name="Drafter">Drafter name ("none" for plain decoding).</param>
/// <param name="Drafted">Draft tokens proposed.</param>
/// <param name="Accepted">Draft tokens accepted.</param>
/// <param name="Steps">Target forward steps while decoding.</param>
/// <param name="MeanAccepted">Tokens emitted per step (accepted drafts plus one), the MAT of Spec-Bench.</param>
public sealed record SpeculationStats(string Drafter, long Drafted, long Accepted, int Steps, double MeanAccepted);

/// <summary>Why a completion ended.</summary>
public enum CompletionFinish
{
    /// <summary>End of generation token or stop string.</summary>
    Stop,
    /// <summary>The token budget was reached.</summary>
    Length,
    /// <summary>The caller cancelled.</summary>
    Cancelled,
}

/// <summary>The outcome of a request.</summary>
public sealed record CompletionResult
{
    /// <summary>Generated text (ending before a matched stop string).</summary>
    public required string Text { get; init; }
    /// <summary>Generated token ids.</summary>
    public required int[] Tokens { get; init; }
    /// <summary>Why it ended.</summary>
    public required CompletionFinish Finish { get; init; }
    /// <summary>Prompt tokens.</summary>
    public required int PromptTokens { get; init; }
    /// <summary>Prompt tokens served from a cached prefix.</summary>
    public required int CachedPromptTokens { get; init; }
    /// <summary>Generated tokens.</summary>
    public int CompletionTokens => Tokens.Length;
    /// <summary>Log-probabilities per generated token (when asked for).</summary>
    public IReadOnlyList<TokenLogprob>? Logprobs { get; init; }
    /// <summary>Speculation statistics.</summary>
    public required SpeculationStats Speculation { get; init; }
    /// <summary>Engine measurements.</summary>
    public required GenerationStats Stats { get; init; }
}

/// <summary>One piece of a streamed completion.</summary>
public sealed record CompletionUpdate
{
    /// <summary>New text (may be empty while text is held back because it could begin a stop string or a UTF-8 character).</summary>
    public required string Text { get; init; }
    /// <summary>Log-probabilities of the tokens of this update (when asked for).</summary>
    public IReadOnlyList<TokenLogprob>? Logprobs { get; init; }
    /// <summary>Set on the last update only.</summary>
    public CompletionResult? Result { get; init; }
}

/// <summary>The engine's queue is full; retry later (HTTP 429).</summary>
public sealed class QueueFullException(string message) : InvalidOperationException(message);

/// <summary>A request is invalid (HTTP 400); <see cref="Param"/> names the offending field when known.</summary>
public sealed class InvalidRequestException(string message, string? param = null) : ArgumentException(message)
{
    /// <summary>The request field at fault.</summary>
    public string? Param { get; } = param;
}

/// <summary>Engine counters, read at one moment.</summary>
public sealed record EngineMetrics
{
    /// <summary>Requests accepted since start.</summary>
    public required long RequestsTotal { get; init; }
    /// <summary>Requests refused because the queue was full.</summary>
    public required long RequestsRejected { get; init; }
    /// <summary>Requests generating now.</summary>
    public required int Active { get; init; }
    /// <summary>Requests waiting for a slot.</summary>
    public required int QueueDepth { get; init; }
    /// <summary>Tokens generated since start.</summary>
    public required long GeneratedTokens { get; init; }
    /// <summary>Prompt tokens processed since start (cached ones excluded).</summary>
    public required long PromptTokensProcessed { get; init; }
    /// <summary>Prompt tokens served from cached prefixes.</summary>
    public required long PromptTokensCached { get; init; }
    /// <summary>Generated tokens per second over the last ten seconds.</summary>
    public required double TokensPerSecond { get; init; }
    /// <summary>Shared forwards run.</summary>
    public required long Forwards { get; init; }
    /// <summary>Per drafter: speculation counters of finished requests.</summary>
    public required IReadOnlyDictionary<string, SpeculationStats> Drafters { get; init; }
}
