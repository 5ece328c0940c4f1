using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Hunch.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hunch.Server;

/// <summary>Settings of the HTTP server.</summary>
public sealed record ServerOptions
{
    /// <summary>Address to bind (loopback unless told otherwise).</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>Port (0: any free port; read the bound address with <see cref="HunchServer.Addresses"/>).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>When set, <c>/v1/*</c> requests need <c>Authorization: Bearer KEY</c>.</summary>
    public string? ApiKey { get; init; }
    /// <summary>Model id reported by <c>/v1/models</c> and in responses.</summary>
    public string ModelId { get; init; } = "hunch";
    /// <summary>Largest accepted request body in bytes.</summary>
    public long MaxBodyBytes { get; init; } = 4 << 20;
    /// <summary>Log requests to the console.</summary>
    public bool Verbose { get; init; }
}

/// <summary>
/// An OpenAI-compatible HTTP server over a <see cref="HunchEngine"/>: <c>GET /v1/models</c>,
/// <c>POST /v1/completions</c>, <c>POST /v1/chat/completions</c> (JSON or server-sent events), <c>GET /health</c>
/// and <c>GET /metrics</c> (Prometheus text). Errors use the OpenAI error shape with a 4xx status for the
/// caller's mistakes; the server keeps serving.
/// </summary>
public static class HunchServer
{
    /// <summary>Builds (does not start) the web application.</summary>
    public static WebApplication Create(HunchEngine engine, ServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Port is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(options), $"port {options.Port} must be in 0..65535");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (options.Verbose) builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Information);
        builder.WebHost.ConfigureKestrel(k =>
        {
            // The handlers enforce MaxBodyBytes themselves and drain a little beyond it, so that a client still
            // uploading an oversized body reads a clean 413 instead of a connection reset; Kestrel's limit is the
            // hard stop past that drain allowance.
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes + Endpoints.DrainAllowance;
            k.AddServerHeader = false;
        });
        var app = builder.Build();
        string host = options.Host.Contains(':') && !options.Host.StartsWith('[') ? $"[{options.Host}]" : options.Host;
        app.Urls.Add($"http://{host}:{options.Port}");

        var api = new Endpoints(engine, options);
        app.Use(api.Guard);
        app.MapGet("/health", api.Health);
        app.MapGet("/metrics", api.Metrics);
        app.MapGet("/v1/models", api.Models);
        app.MapPost("/v1/chat/completions", api.Chat);
        app.MapPost("/v1/completions", api.Completions);
        app.MapFallback((Delegate)api.NotFound);
        return app;
    }

    /// <summary>The addresses a started application listens on (with the real port when 0 was asked for).</summary>
    public static IReadOnlyList<string> Addresses(WebApplication app)
    {
        var feature = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>();
        return feature is null ? [.. app.Urls] : [.. feature.Addresses];
    }
}

/// <summary>Handlers of the HTTP endpoints.</summary>
internal sealed class Endpoints(HunchEngine engine, ServerOptions options)
{
    // Text as OpenAI sends it (quotes and non-ASCII unescaped); control characters and newlines are still escaped,
    // so an SSE event stays on one line.
    static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    static readonly long Started = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    readonly byte[]? _apiKey = options.ApiKey is null ? null : Encoding.UTF8.GetBytes("Bearer " + options.ApiKey);
    long _httpRequests, _httpErrors;

    /// <summary>Authentication and the last line of defence: every failure becomes an OpenAI-shaped JSON error.</summary>
    public async Task Guard(HttpContext ctx, RequestDelegate next)
    {
        Interlocked.Increment(ref _httpRequests);
        try
        {
            if (_apiKey is not null && ctx.Request.Path.StartsWithSegments("/v1"))
            {
                byte[] given = Encoding.UTF8.GetBytes(ctx.Request.Headers.Authorization.ToString());
                if (!CryptographicOperations.FixedTimeEquals(given, _apiKey))
                    throw new ApiException(401, "invalid or missing API key (send Authorization: Bearer KEY)", null, "invalid_request_error", "invalid_api_key");
            }
            await next(ctx);
        }
        catch (Exception e) when (!ctx.Response.HasStarted)
        {
            Interlocked.Increment(ref _httpErrors);
            var (status, message, param, type, code) = Classify(e);
            await WriteError(ctx, status, message, param, type, code);
        }
        catch (Exception) when (ctx.Response.HasStarted)
        {
            // Mid-stream failure (client gone, or the engine failed): nothing can be reported in-band any more.
            Interlocked.Increment(ref _httpErrors);
            ctx.Abort();
        }
    }

    static (int, string, string?, string, string?) Classify(Exception e) => e switch
    {
        ApiException a => (a.Status, a.Message, a.Param, a.Type, a.Code),
        InvalidRequestException i => (400, i.Message, i.Param, "invalid_request_error", null),
        QueueFullException q => (429, q.Message, null, "rate_limit_error", "rate_limit_exceeded"),
        BadHttpRequestException b when b.StatusCode == 413 => (413, "the request body is too large", null, "invalid_request_error", "request_too_large"),
        BadHttpRequestException b => (b.StatusCode, b.Message, null, "invalid_request_error", null),
        JsonException j => (400, "the request body is not valid JSON: " + j.Message, null, "invalid_request_error", "invalid_json"),
        OperationCanceledException => (499, "the request was cancelled", null, "invalid_request_error", null),
        _ => (500, "internal error: " + e.Message, null, "server_error", null),
    };

    public Task NotFound(HttpContext ctx)
        => WriteError(ctx, 404, $"no route for {ctx.Request.Method} {ctx.Request.Path}", null, "invalid_request_error", "not_found");

    public Task Health(HttpContext ctx) => WriteJson(ctx, 200, w =>
    {
        w.WriteStartObject();
        w.WriteString("status", "ok");
        w.WriteString("model", options.ModelId);
        w.WriteEndObject();
    });

    public Task Models(HttpContext ctx) => WriteJson(ctx, 200, w =>
    {
        w.WriteStartObject();
        w.WriteString("object", "list");
        w.WriteStartArray("data");
        w.WriteStartObject();
        w.WriteString("id", options.ModelId);
        w.WriteString("object", "model");
        w.WriteNumber("created", Started);
        w.WriteString("owned_by", "hunch");
        w.WriteNumber("context_length", engine.ContextSize);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
    });

    public async Task Metrics(HttpContext ctx)
    {
        var m = engine.GetMetrics();
        var sb = new StringBuilder();
        void Metric(string name, string type, string help, double value, string labels = "")
        {
            sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            sb.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
            sb.Append(name).Append(labels).Append(' ').Append(value.ToString("R", System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
        }
        Metric("hunch_http_requests_total", "counter", "HTTP requests received.", Interlocked.Read(ref _httpRequests));
        Metric("hunch_http_errors_total", "counter", "HTTP requests answered with an error.", Interlocked.Read(ref _httpErrors));
        Metric("hunch_requests_total", "counter", "Generation requests accepted.", m.RequestsTotal);
        Metric("hunch_requests_rejected_total", "counter", "Generation requests refused because the queue was full.", m.RequestsRejected);
        Metric("hunch_requests_active", "gauge", "Requests generating now.", m.Active);
        Metric("hunch_queue_depth", "gauge", "Requests waiting for a slot.", m.QueueDepth);
        Metric("hunch_generated_tokens_total", "counter", "Tokens generated.", m.GeneratedTokens);
        Metric("hunch_prompt_tokens_total", "counter", "Prompt tokens computed.", m.PromptTokensProcessed);
        Metric("hunch_prompt_tokens_cached_total", "counter", "Prompt tokens served from a cached prefix.", m.PromptTokensCached);
        Metric("hunch_tokens_per_second", "gauge", "Generated tokens per second over the last 10 s.", m.TokensPerSecond);
        Metric("hunch_forwards_total", "counter", "Shared model forwards run.", m.Forwards);
        if (m.Drafters.Count > 0)
        {
            sb.Append("# HELP hunch_drafter_mean_accepted Tokens emitted per step (MAT) per drafter.\n# TYPE hunch_drafter_mean_accepted gauge\n");
            foreach (var (name, s) in m.Drafters)
                sb.Append("hunch_drafter_mean_accepted{drafter=\"").Append(Escape(name)).Append("\"} ").Append(s.MeanAccepted.ToString("R", System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
            sb.Append("# HELP hunch_drafter_drafted_tokens_total Draft tokens proposed per drafter.\n# TYPE hunch_drafter_drafted_tokens_total counter\n");
            foreach (var (name, s) in m.Drafters)
                sb.Append("hunch_drafter_drafted_tokens_total{drafter=\"").Append(Escape(name)).Append("\"} ").Append(s.Drafted).Append('\n');
            sb.Append("# HELP hunch_drafter_accepted_tokens_total Draft tokens accepted per drafter.\n# TYPE hunch_drafter_accepted_tokens_total counter\n");
            foreach (var (name, s) in m.Drafters)
                sb.Append("hunch_drafter_accepted_tokens_total{drafter=\"").Append(Escape(name)).Append("\"} ").Append(s.Accepted).Append('\n');
        }
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await ctx.Response.WriteAsync(sb.ToString());
    }

    static string Escape(string label) => label.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    public async Task Chat(HttpContext ctx)
    {
        using var doc = await ReadBody(ctx);
        var req = RequestParser.ParseChat(doc.RootElement, engine, null);
        await Run(ctx, req, chat: true);
    }

    public async Task Completions(HttpContext ctx)
    {
        using var doc = await ReadBody(ctx);
        var req = RequestParser.ParseCompletion(doc.RootElement, engine, null);
        await Run(ctx, req, chat: false);
    }

    /// <summary>Bytes of an oversized body read and discarded before answering 413.</summary>
    internal const long DrainAllowance = 16 << 20;

    async Task<JsonDocument> ReadBody(HttpContext ctx)
    {
        if (ctx.Request.ContentLength is long declared && declared > options.MaxBodyBytes)
        {
            if (declared <= options.MaxBodyBytes + DrainAllowance) await Drain(ctx.Request.Body, ctx.RequestAborted);
            throw TooLarge($"{declared} bytes");
        }
        // Read at most MaxBodyBytes (+1 to detect more) without trusting any declared length.
        var buffer = new ArrayBufferWriter<byte>((int)Math.Min(options.MaxBodyBytes + 1, 64 * 1024));
        var body = ctx.Request.Body;
        while (true)
        {
            var span = buffer.GetMemory(8192);
            int n = await body.ReadAsync(span, ctx.RequestAborted);
            if (n == 0) break;
            buffer.Advance(n);
            if (buffer.WrittenCount > options.MaxBodyBytes)
            {
                await Drain(body, ctx.RequestAborted);
                throw TooLarge("more than that");
            }
        }
        try
        {
            return JsonDocument.Parse(buffer.WrittenMemory, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new ApiException(400, $"the request body is not valid JSON ({e.Message})", null, "invalid_request_error", "invalid_json");
        }
    }

    ApiException TooLarge(string got) => new(413, $"the request body is too large ({got}; at most {options.MaxBodyBytes} bytes)", null, "invalid_request_error", "request_too_large");

    static async Task Drain(Stream body, CancellationToken ct)
    {
        var scratch = new byte[16384];
        long left = DrainAllowance;
        try
        {
            while (left > 0)
            {
                int n = await body.ReadAsync(scratch.AsMemory(0, (int)Math.Min(scratch.Length, left)), ct);
                if (n == 0) return;
                left -= n;
            }
        }
        catch (BadHttpRequestException) { /* past Kestrel's hard limit: the connection will be closed */ }
    }

    async Task Run(HttpContext ctx, ParsedRequest req, bool chat)
    {
        // A request may pick a built-in drafter by plain name, or the server's own default; specs with options could
        // name files to read or write (model:PATH, heads:PATH, table=PATH), which only the operator may choose.
        if (req.Completion.Drafter is { } d && d != engine.Options.DefaultDrafter && !Hunch.Speculative.Drafters.Names.Contains(d))
            throw new ApiException(400, $"drafter '{d}' is not available per request; choose one of: {string.Join(", ", Hunch.Speculative.Drafters.Names)} (or the server default '{engine.Options.DefaultDrafter}')", "speculation");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
        // Validation errors and a full queue are thrown here, before any byte of the response is sent.
        var stream = engine.Start(req.Completion, cts.Token);
        string id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N")[..24];
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        try
        {
            if (!req.Stream)
            {
                var result = await stream.Completion.WaitAsync(ctx.RequestAborted);
                var calls = req.Tools is { } t ? ToolCalls.ParseOutput(result.Text, t) : null;
                await WriteJson(ctx, 200, w => WriteFull(w, id, created, chat, result, calls));
                return;
            }
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = "text/event-stream; charset=utf-8";
            ctx.Response.Headers.CacheControl = "no-cache";
            ctx.Response.Headers["X-Accel-Buffering"] = "no";
            var writer = new ArrayBufferWriter<byte>(1024);
            if (chat)
                await SendEvent(ctx, writer, w => ChunkStart(w, id, created, chat, req.IncludeUsage, role: true, text: "", logprobs: null, finish: null), cts.Token);
            if (req.Tools is { } tools)
            {
                await StreamWithTools(ctx, writer, stream, tools, id, created, req.IncludeUsage, cts.Token);
                return;
            }
            int offset = 0;
            await foreach (var update in stream.ReadAllAsync(cts.Token))
            {
                if (update.Text.Length > 0 || update.Logprobs is { Count: > 0 })
                {
                    await SendEvent(ctx, writer, w => ChunkStart(w, id, created, chat, req.IncludeUsage, role: false, update.Text, update.Logprobs, finish: null, textOffset: offset), cts.Token);
                    offset += update.Text.Length;
                }
                if (update.Result is { } result)
                {
                    await SendEvent(ctx, writer, w => ChunkStart(w, id, created, chat, req.IncludeUsage, role: false, "", null, result), cts.Token);
                    if (req.IncludeUsage)
                        await SendEvent(ctx, writer, w =>
                        {
                            w.WriteStartObject();
                            Header(w, id, created, chat ? "chat.completion.chunk" : "text_completion");
                            w.WriteStartArray("choices");
                            w.WriteEndArray();
                            Usage(w, result);
                            w.WriteEndObject();
                        }, cts.Token);
                }
            }
            await ctx.Response.WriteAsync("data: [DONE]\n\n", cts.Token);
            await ctx.Response.Body.FlushAsync(cts.Token);
        }
        finally
        {
            // Whatever ended this call (client gone, write failure), stop generating and free the slot.
            await cts.CancelAsync();
        }
    }

    /// <summary>
    /// Streams a chat answer that may be a tool call. Whether text is a call is known only once it is complete, so the
    /// text is held back to the end; then either <c>delta.tool_calls</c> chunks follow (per call: index, id, type and
    /// the function name first, then the arguments text) with finish_reason "tool_calls", or the text as content.
    /// </summary>
    async Task StreamWithTools(HttpContext ctx, ArrayBufferWriter<byte> writer, CompletionStream stream, ToolRequest tools,
        string id, long created, bool includeUsage, CancellationToken ct)
    {
        var text = new StringBuilder();
        List<TokenLogprob>? logprobs = null;
        CompletionResult? result = null;
        await foreach (var update in stream.ReadAllAsync(ct))
        {
            text.Append(update.Text);
            if (update.Logprobs is { Count: > 0 }) (logprobs ??= []).AddRange(update.Logprobs);
            if (update.Result is { } r) result = r;
        }
        if (result is null) throw new InvalidOperationException("the completion ended without a result");
        var calls = ToolCalls.ParseOutput(text.ToString(), tools);
        if (calls is null)
        {
            if (text.Length > 0 || logprobs is not null)
                await SendEvent(ctx, writer, w => ChunkStart(w, id, created, true, includeUsage, role: false, text.ToString(), logprobs, finish: null), ct);
        }
        else
        {
            for (int i = 0; i < calls.Count; i++)
            {
                var call = calls[i];
                int index = i;
                await SendEvent(ctx, writer, w => ToolCallChunk(w, id, created, includeUsage, index, call, head: true), ct);
                await SendEvent(ctx, writer, w => ToolCallChunk(w, id, created, includeUsage, index, call, head: false), ct);
            }
        }
        await SendEvent(ctx, writer, w => ChunkStart(w, id, created, true, includeUsage, role: false, "", null, result, toolCalls: calls is not null), ct);
        if (includeUsage)
            await SendEvent(ctx, writer, w =>
            {
                w.WriteStartObject();
                Header(w, id, created, "chat.completion.chunk");
                w.WriteStartArray("choices");
                w.WriteEndArray();
                Usage(w, result);
                w.WriteEndObject();
            }, ct);
        await ctx.Response.WriteAsync("data: [DONE]\n\n", ct);
        await ctx.Response.Body.FlushAsync(ct);
    }

    /// <summary>A <c>delta.tool_calls</c> chunk: the head (id, type, name, empty arguments) or the arguments text.</summary>
    void ToolCallChunk(Utf8JsonWriter w, string id, long created, bool includeUsage, int index, ParsedToolCall call, bool head)
    {
        w.WriteStartObject();
        Header(w, id, created, "chat.completion.chunk");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("delta");
        w.WriteStartArray("tool_calls");
        w.WriteStartObject();
        w.WriteNumber("index", index);
        if (head)
        {
            w.WriteString("id", call.Id);
            w.WriteString("type", "function");
        }
        w.WriteStartObject("function");
        if (head) w.WriteString("name", call.Name);
        w.WriteString("arguments", head ? "" : call.Arguments);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteNull("logprobs");
        w.WriteNull("finish_reason");
        w.WriteEndObject();
        w.WriteEndArray();
        if (includeUsage) w.WriteNull("usage");
        w.WriteEndObject();
    }

    static void ToolCallsArray(Utf8JsonWriter w, List<ParsedToolCall> calls)
    {
        w.WriteStartArray("tool_calls");
        foreach (var c in calls)
        {
            w.WriteStartObject();
            w.WriteString("id", c.Id);
            w.WriteString("type", "function");
            w.WriteStartObject("function");
            w.WriteString("name", c.Name);
            w.WriteString("arguments", c.Arguments);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    static async Task SendEvent(HttpContext ctx, ArrayBufferWriter<byte> buffer, Action<Utf8JsonWriter> body, CancellationToken ct)
    {
        buffer.ResetWrittenCount();
        buffer.Write("data: "u8);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions)) { body(w); }
        buffer.Write("\n\n"u8);
        await ctx.Response.Body.WriteAsync(buffer.WrittenMemory, ct);
        await ctx.Response.Body.FlushAsync(ct);
    }

    void Header(Utf8JsonWriter w, string id, long created, string obj)
    {
        w.WriteString("id", id);
        w.WriteString("object", obj);
        w.WriteNumber("created", created);
        w.WriteString("model", options.ModelId);
        w.WriteString("system_fingerprint", "hunch");
    }

    /// <summary>One streamed chunk; the final one (with <paramref name="finish"/>) carries the finish reason and speculation statistics.</summary>
    void ChunkStart(Utf8JsonWriter w, string id, long created, bool chat, bool includeUsage, bool role, string text,
        IReadOnlyList<TokenLogprob>? logprobs, CompletionResult? finish, int textOffset = 0, bool toolCalls = false)
    {
        w.WriteStartObject();
        Header(w, id, created, chat ? "chat.completion.chunk" : "text_completion");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        if (chat)
        {
            w.WriteStartObject("delta");
            if (role) w.WriteString("role", "assistant");
            if (role || text.Length > 0) w.WriteString("content", text);
            w.WriteEndObject();
            if (logprobs is not null) ChatLogprobs(w, logprobs); else w.WriteNull("logprobs");
        }
        else
        {
            w.WriteString("text", text);
            if (logprobs is not null) CompletionLogprobs(w, logprobs, textOffset); else w.WriteNull("logprobs");
        }
        if (finish is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", toolCalls ? "tool_calls" : FinishName(finish.Finish));
        w.WriteEndObject();
        w.WriteEndArray();
        if (finish is not null) Speculation(w, finish);
        if (includeUsage) w.WriteNull("usage");
        w.WriteEndObject();
    }

    void WriteFull(Utf8JsonWriter w, string id, long created, bool chat, CompletionResult r, List<ParsedToolCall>? calls = null)
    {
        w.WriteStartObject();
        Header(w, id, created, chat ? "chat.completion" : "text_completion");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        if (chat)
        {
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            if (calls is null) w.WriteString("content", r.Text);
            else
            {
                w.WriteNull("content");
                ToolCallsArray(w, calls);
            }
            w.WriteEndObject();
            if (r.Logprobs is not null) ChatLogprobs(w, r.Logprobs); else w.WriteNull("logprobs");
        }
        else
        {
            w.WriteString("text", r.Text);
            if (r.Logprobs is not null) CompletionLogprobs(w, r.Logprobs, 0); else w.WriteNull("logprobs");
        }
        w.WriteString("finish_reason", calls is not null ? "tool_calls" : FinishName(r.Finish));
        w.WriteEndObject();
        w.WriteEndArray();
        Usage(w, r);
        Speculation(w, r);
        w.WriteEndObject();
    }

    static string FinishName(CompletionFinish f) => f == CompletionFinish.Length ? "length" : "stop";

    static void Usage(Utf8JsonWriter w, CompletionResult r)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", r.PromptTokens);
        w.WriteNumber("completion_tokens", r.CompletionTokens);
        w.WriteNumber("total_tokens", r.PromptTokens + r.CompletionTokens);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", r.CachedPromptTokens);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>Extension field: how speculation went for this response.</summary>
    static void Speculation(Utf8JsonWriter w, CompletionResult r)
    {
        w.WriteStartObject("speculation");
        w.WriteString("drafter", r.Speculation.Drafter);
        w.WriteNumber("drafted", r.Speculation.Drafted);
        w.WriteNumber("accepted", r.Speculation.Accepted);
        w.WriteNumber("steps", r.Speculation.Steps);
        w.WriteNumber("mean_accepted", Math.Round(r.Speculation.MeanAccepted, 4));
        w.WriteEndObject();
    }

    static void ChatLogprobs(Utf8JsonWriter w, IReadOnlyList<TokenLogprob> logprobs)
    {
        w.WriteStartObject("logprobs");
        w.WriteStartArray("content");
        foreach (var lp in logprobs)
        {
            w.WriteStartObject();
            TokenFields(w, lp);
            w.WriteStartArray("top_logprobs");
            foreach (var t in lp.Top)
            {
                w.WriteStartObject();
                TokenFields(w, t);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    static void TokenFields(Utf8JsonWriter w, TokenLogprob t)
    {
        w.WriteString("token", t.Token);
        w.WriteNumber("logprob", t.Logprob);
        w.WriteStartArray("bytes");
        foreach (byte b in t.Bytes) w.WriteNumberValue(b);
        w.WriteEndArray();
    }

    static void CompletionLogprobs(Utf8JsonWriter w, IReadOnlyList<TokenLogprob> logprobs, int textOffset)
    {
        w.WriteStartObject("logprobs");
        w.WriteStartArray("tokens");
        foreach (var lp in logprobs) w.WriteStringValue(lp.Token);
        w.WriteEndArray();
        w.WriteStartArray("token_logprobs");
        foreach (var lp in logprobs) w.WriteNumberValue(lp.Logprob);
        w.WriteEndArray();
        w.WriteStartArray("top_logprobs");
        foreach (var lp in logprobs)
        {
            w.WriteStartObject();
            foreach (var t in lp.Top)
                if (!HasEarlier(lp.Top, t)) w.WriteNumber(t.Token, t.Logprob);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("text_offset");
        int offset = textOffset;
        foreach (var lp in logprobs) { w.WriteNumberValue(offset); offset += lp.Token.Length; }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>Two tokens may decode to the same text (e.g. invalid UTF-8 pieces); a JSON object keeps the first.</summary>
    static bool HasEarlier(IReadOnlyList<TokenLogprob> top, TokenLogprob t)
    {
        foreach (var o in top)
        {
            if (ReferenceEquals(o, t)) return false;
            if (o.Token == t.Token) return true;
        }
        return false;
    }

    static async Task WriteJson(HttpContext ctx, int status, Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions)) body(w);
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.WriteAsync(buffer.WrittenMemory, ctx.RequestAborted);
    }

    static Task WriteError(HttpContext ctx, int status, string message, string? param, string type, string? code)
    {
        if (status == 429) ctx.Response.Headers.RetryAfter = "1";
        return WriteJson(ctx, status, w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("error");
            w.WriteString("message", message);
            w.WriteString("type", type);
            if (param is null) w.WriteNull("param"); else w.WriteString("param", param);
            if (code is null) w.WriteNull("code"); else w.WriteString("code", code);
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }
}
