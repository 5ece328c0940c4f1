using System.Runtime.CompilerServices;
using Hunch.Sampling;
using Microsoft.Extensions.AI;

namespace Hunch.Api;

/// <summary>
/// <see cref="IChatClient"/> over a <see cref="HunchEngine"/>. Thread-safe: concurrent calls become concurrent
/// engine requests that share forwards. Maps <see cref="ChatOptions"/> temperature, top-p, top-k, seed, stop
/// sequences, max output tokens and penalties; a drafter can be chosen with the additional property
/// <c>"speculation"</c> (or <c>"draft"</c>). Responses carry <see cref="UsageDetails"/> and the speculation
/// statistics as additional properties <c>speculation.drafter</c>, <c>speculation.drafted</c>,
/// <c>speculation.accepted</c> and <c>speculation.mean_accepted</c>.
/// </summary>
public sealed class HunchChatClient : IChatClient
{
    readonly HunchEngine _engine;
    readonly string _modelId;

    /// <summary>Creates a client over <paramref name="engine"/> (not owned: dispose the engine yourself).</summary>
    public HunchChatClient(HunchEngine engine, string modelId = "hunch")
    {
        ArgumentNullException.ThrowIfNull(engine);
        _engine = engine;
        _modelId = modelId;
    }

    /// <inheritdoc/>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = BuildRequest(messages, options);
        var result = await _engine.CompleteAsync(request, cancellationToken).ConfigureAwait(false);
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, result.Text))
        {
            ResponseId = NewId(),
            ModelId = _modelId,
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = MapFinish(result.Finish),
            Usage = Usage(result),
            AdditionalProperties = Stats(result),
        };
        return response;
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = BuildRequest(messages, options);
        string id = NewId();
        var created = DateTimeOffset.UtcNow;
        await foreach (var update in _engine.StreamAsync(request, cancellationToken).ConfigureAwait(false))
        {
            var u = new ChatResponseUpdate(ChatRole.Assistant, update.Text)
            {
                ResponseId = id,
                MessageId = id,
                ModelId = _modelId,
                CreatedAt = created,
            };
            if (update.Result is { } result)
            {
                u.FinishReason = MapFinish(result.Finish);
                u.Contents.Add(new UsageContent(Usage(result)));
                u.AdditionalProperties = Stats(result);
            }
            yield return u;
        }
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return new ChatClientMetadata("hunch", null, _modelId);
        if (serviceType.IsInstanceOfType(_engine)) return _engine;
        if (serviceType.IsInstanceOfType(this)) return this;
        return null;
    }

    /// <summary>Does nothing: the engine belongs to the caller.</summary>
    public void Dispose() { }

    CompletionRequest BuildRequest(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var turns = new List<ChatTurn>();
        foreach (var m in messages) turns.Add(new ChatTurn(m.Role.Value, m.Text));
        var request = _engine.CreateChatRequest(turns);
        if (options is null) return request;

        var sampling = new SamplingOptions
        {
            Temperature = options.Temperature ?? 1f,
            TopP = options.TopP ?? 1f,
            TopK = options.TopK ?? 0,
            Seed = options.Seed is long seed ? unchecked((ulong)seed) : (ulong)Random.Shared.NextInt64(),
            FrequencyPenalty = options.FrequencyPenalty ?? 0f,
            PresencePenalty = options.PresencePenalty ?? 0f,
        };
        var stops = new List<string>(request.Stop);
        if (options.StopSequences is { } extra) stops.AddRange(extra);
        string? drafter = null;
        if (options.AdditionalProperties is { } props)
        {
            if (props.TryGetValue("speculation", out var v) && v is string s1) drafter = s1;
            else if (props.TryGetValue("draft", out var d) && d is string s2) drafter = s2;
        }
        return request with { Sampling = sampling, Stop = stops, MaxTokens = options.MaxOutputTokens, Drafter = drafter };
    }

    static ChatFinishReason MapFinish(CompletionFinish finish) => finish == CompletionFinish.Length ? ChatFinishReason.Length : ChatFinishReason.Stop;

    static UsageDetails Usage(CompletionResult r) => new()
    {
        InputTokenCount = r.PromptTokens,
        OutputTokenCount = r.CompletionTokens,
        TotalTokenCount = r.PromptTokens + r.CompletionTokens,
        CachedInputTokenCount = r.CachedPromptTokens,
    };

    static AdditionalPropertiesDictionary Stats(CompletionResult r) => new()
    {
        ["speculation.drafter"] = r.Speculation.Drafter,
        ["speculation.drafted"] = r.Speculation.Drafted,
        ["speculation.accepted"] = r.Speculation.Accepted,
        ["speculation.steps"] = r.Speculation.Steps,
        ["speculation.mean_accepted"] = r.Speculation.MeanAccepted,
    };

    static string NewId() => "chatcmpl-" + Guid.NewGuid().ToString("N")[..24];
}
