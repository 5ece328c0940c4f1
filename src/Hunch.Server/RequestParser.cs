using System.Text.Json;
using Hunch.Api;
using Hunch.Sampling;

namespace Hunch.Server;

/// <summary>An error answered with the OpenAI error shape.</summary>
internal sealed class ApiException(int status, string message, string? param = null, string type = "invalid_request_error", string? code = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string? Param { get; } = param;
    public string Type { get; } = type;
    public string? Code { get; } = code;
}

/// <summary>What a chat or text completion request asks for, after validation.</summary>
internal sealed class ParsedRequest
{
    public required CompletionRequest Completion { get; init; }
    public bool Stream { get; init; }
    public bool IncludeUsage { get; init; }
    public string Model { get; init; } = "";
    /// <summary>The request's tools (null: none, or tool_choice "none").</summary>
    public ToolRequest? Tools { get; init; }
}

/// <summary>
/// Reads OpenAI request bodies field by field: every known field is type- and range-checked with an error that
/// names it; unknown fields are ignored, as OpenAI clients expect of compatible servers.
/// </summary>
internal static class RequestParser
{
    public static ParsedRequest ParseChat(JsonElement root, HunchEngine engine, string? defaultDrafter)
    {
        RequireObject(root);
        if (!TryGet(root, "messages", out var messages)) throw new ApiException(400, "'messages' is required", "messages");
        if (messages.ValueKind != JsonValueKind.Array) throw WrongType("messages", "an array");
        if (messages.GetArrayLength() == 0) throw new ApiException(400, "'messages' must not be empty", "messages");
        if (messages.GetArrayLength() > 4096) throw new ApiException(400, "'messages' holds too many messages (at most 4096)", "messages");
        var tools = ToolCalls.Parse(root, engine);
        bool plainTranscript = engine.HunchModel is { ChatTemplateSource: null };
        var turns = new List<ChatTurn>();
        int i = 0;
        foreach (var m in messages.EnumerateArray())
        {
            string where = $"messages[{i++}]";
            if (m.ValueKind != JsonValueKind.Object) throw WrongType(where, "an object");
            string role = String(m, "role", where + ".role") ?? throw new ApiException(400, $"'{where}.role' is required", where + ".role");
            if (role is not ("system" or "developer" or "user" or "assistant" or "tool"))
                throw new ApiException(400, $"'{where}.role' must be system, developer, user, assistant or tool (got '{role}')", where + ".role");
            string content = Content(m, where + ".content");
            var extra = ToolCalls.MessageExtra(m, where);
            // The plain transcript of a base model prints only role and content: show the calls as their JSON there.
            if (plainTranscript && extra is not null && content.Length == 0) content = ToolCalls.TranscriptText(extra);
            turns.Add(new ChatTurn(role, content) { Extra = extra });
        }
        var chat = engine.CreateChatRequest(turns, tools?.Tools);
        if (tools is not null && ToolCalls.Grammar(tools) is { } toolGrammar) chat = chat with { Grammar = toolGrammar };
        bool logprobs = Bool(root, "logprobs") ?? false;
        int? top = Int(root, "top_logprobs", 0, 20);
        if (top is not null && !logprobs) throw new ApiException(400, "'top_logprobs' requires 'logprobs' to be true", "top_logprobs");
        var parsed = Common(root, engine, chat, logprobs ? top ?? 0 : null, defaultDrafter);
        return tools is null ? parsed : new ParsedRequest
        {
            Completion = parsed.Completion, Stream = parsed.Stream, IncludeUsage = parsed.IncludeUsage, Model = parsed.Model, Tools = tools,
        };
    }

    public static ParsedRequest ParseCompletion(JsonElement root, HunchEngine engine, string? defaultDrafter)
    {
        RequireObject(root);
        if (!TryGet(root, "prompt", out var prompt)) throw new ApiException(400, "'prompt' is required", "prompt");
        CompletionRequest request;
        if (prompt.ValueKind == JsonValueKind.String) request = new CompletionRequest { Prompt = prompt.GetString() };
        else if (prompt.ValueKind == JsonValueKind.Array)
        {
            int n = prompt.GetArrayLength();
            if (n == 0) throw new ApiException(400, "'prompt' must not be empty", "prompt");
            var first = prompt[0];
            if (first.ValueKind == JsonValueKind.Number) request = new CompletionRequest { PromptTokens = TokenArray(prompt, "prompt") };
            else if (n > 1) throw new ApiException(400, "only one prompt per request is supported (send one request per prompt)", "prompt");
            else if (first.ValueKind == JsonValueKind.String) request = new CompletionRequest { Prompt = first.GetString() };
            else if (first.ValueKind == JsonValueKind.Array) request = new CompletionRequest { PromptTokens = TokenArray(first, "prompt[0]") };
            else throw WrongType("prompt", "a string, an array of token ids, or an array holding one of those");
        }
        else throw WrongType("prompt", "a string, an array of token ids, or an array holding one of those");
        if (Bool(root, "echo") == true) throw new ApiException(400, "'echo' is not supported", "echo");
        Int(root, "best_of", 1, 1);   // best_of > 1 would need several choices: refused like n > 1
        int? logprobs = Int(root, "logprobs", 0, 5);
        return Common(root, engine, request, logprobs, defaultDrafter);
    }

    static ParsedRequest Common(JsonElement root, HunchEngine engine, CompletionRequest request, int? topLogprobs, string? defaultDrafter)
    {
        string model = String(root, "model") ?? "";
        int? n = Int(root, "n", 1, int.MaxValue);
        if (n is > 1) throw new ApiException(400, $"'n' = {n} is not supported: this server returns one choice per request", "n");

        int ctx = engine.ContextSize;
        int? maxTokens = Int(root, "max_completion_tokens", 1, ctx) ?? Int(root, "max_tokens", 1, ctx);

        var defaults = new SamplingOptions();
        var sampling = new SamplingOptions
        {
            Temperature = (float)(Number(root, "temperature", 0, 2) ?? 1.0),
            TopP = (float)(Number(root, "top_p", 0, 1) ?? 1.0),
            TopK = Int(root, "top_k", 0, 1 << 20) ?? 0,
            MinP = (float)(Number(root, "min_p", 0, 1) ?? 0),
            PresencePenalty = (float)(Number(root, "presence_penalty", -2, 2) ?? 0),
            FrequencyPenalty = (float)(Number(root, "frequency_penalty", -2, 2) ?? 0),
            RepeatPenalty = (float)(Number(root, "repeat_penalty", 0, 10) ?? defaults.RepeatPenalty),
            Seed = Seed(root),
        };
        if (sampling.TopP <= 0) throw new ApiException(400, "'top_p' must be greater than 0", "top_p");
        if (sampling.RepeatPenalty <= 0) throw new ApiException(400, "'repeat_penalty' must be greater than 0", "repeat_penalty");

        var stops = new List<string>(request.Stop);
        if (TryGet(root, "stop", out var stop))
        {
            if (stop.ValueKind == JsonValueKind.String) stops.Add(stop.GetString()!);
            else if (stop.ValueKind == JsonValueKind.Array)
            {
                if (stop.GetArrayLength() > 16) throw new ApiException(400, "'stop' holds more than 16 strings", "stop");
                foreach (var s in stop.EnumerateArray())
                {
                    if (s.ValueKind != JsonValueKind.String) throw WrongType("stop", "a string or an array of strings");
                    stops.Add(s.GetString()!);
                }
            }
            else throw WrongType("stop", "a string or an array of strings");
        }
        foreach (var s in stops)
            if (s.Length > 1024) throw new ApiException(400, "stop strings must be at most 1024 characters", "stop");

        bool stream = Bool(root, "stream") ?? false;
        bool includeUsage = false;
        if (TryGet(root, "stream_options", out var so))
        {
            if (so.ValueKind != JsonValueKind.Object) throw WrongType("stream_options", "an object");
            includeUsage = Bool(so, "include_usage", "stream_options.include_usage") ?? false;
        }

        string? drafter = defaultDrafter;
        if (TryGet(root, "speculation", out var spec))
        {
            if (spec.ValueKind == JsonValueKind.String) drafter = spec.GetString();
            else if (spec.ValueKind == JsonValueKind.Object) drafter = String(spec, "drafter", "speculation.drafter") ?? drafter;
            else throw WrongType("speculation", "an object like {\"drafter\": \"none\"} or a drafter name");
        }
        else if (String(root, "draft") is { } d) drafter = d;

        return new ParsedRequest
        {
            Completion = request with
            {
                MaxTokens = maxTokens, Sampling = sampling, Stop = stops, TopLogprobs = topLogprobs, Drafter = drafter,
                IgnoreEndOfGeneration = Bool(root, "ignore_eos") ?? false,   // llama.cpp's extension
                // grammar: response_format json_object / json_schema; a required tool call's grammar comes first
                Grammar = ResponseFormat(root) is { } format ? (request.Grammar is null ? format
                    : throw new ApiException(400, "'response_format' cannot be combined with a required tool call", "response_format")) : request.Grammar,
            },
            Stream = stream,
            IncludeUsage = includeUsage,
            Model = model,
        };
    }

    static readonly Lazy<Hunch.Grammar.GbnfGrammar> s_anyJsonObject = new(() => Hunch.Grammar.JsonSchemaGrammar.AnyJson());

    /// <summary>OpenAI <c>response_format</c>: text (no constraint), json_object, or json_schema (with strict).</summary>
    static Hunch.Grammar.GbnfGrammar? ResponseFormat(JsonElement root)
    {
        if (!TryGet(root, "response_format", out var rf) || rf.ValueKind == JsonValueKind.Null) return null;
        if (rf.ValueKind != JsonValueKind.Object) throw WrongType("response_format", "an object");
        string type = String(rf, "type", "response_format.type") ?? throw new ApiException(400, "'response_format.type' is required", "response_format.type");
        try
        {
            switch (type)
            {
                case "text": return null;
                case "json_object": return s_anyJsonObject.Value;
                case "json_schema":
                    if (!TryGet(rf, "json_schema", out var js) || js.ValueKind != JsonValueKind.Object)
                        throw new ApiException(400, "'response_format.json_schema' must be an object with a 'schema'", "response_format.json_schema");
                    if (!TryGet(js, "schema", out var schema) || schema.ValueKind == JsonValueKind.Null) return s_anyJsonObject.Value;
                    bool strict = Bool(js, "strict", "response_format.json_schema.strict") ?? false;
                    return Hunch.Grammar.JsonSchemaGrammar.Compile(schema.GetRawText(), new Hunch.Grammar.JsonSchemaOptions { Strict = strict });
                default:
                    throw new ApiException(400, $"'response_format.type' must be text, json_object or json_schema (got '{type}')", "response_format.type");
            }
        }
        catch (Hunch.Grammar.GrammarException e)
        {
            throw new ApiException(400, e.Message, "response_format.json_schema.schema");
        }
    }

    static ulong Seed(JsonElement root)
    {
        if (!TryGet(root, "seed", out var v)) return (ulong)Random.Shared.NextInt64();
        if (v.ValueKind != JsonValueKind.Number) throw WrongType("seed", "an integer");
        if (v.TryGetInt64(out long s)) return unchecked((ulong)s);
        if (v.TryGetUInt64(out ulong u)) return u;
        throw new ApiException(400, "'seed' must be a 64-bit integer", "seed");
    }

    static string Content(JsonElement m, string where)
    {
        if (!m.TryGetProperty("content", out var c) || c.ValueKind == JsonValueKind.Null) return "";
        if (c.ValueKind == JsonValueKind.String) return c.GetString()!;
        if (c.ValueKind != JsonValueKind.Array) throw WrongType(where, "a string or an array of content parts");
        var sb = new System.Text.StringBuilder();
        int i = 0;
        foreach (var part in c.EnumerateArray())
        {
            string pw = $"{where}[{i++}]";
            if (part.ValueKind != JsonValueKind.Object) throw WrongType(pw, "an object");
            string type = String(part, "type", pw + ".type") ?? "text";
            if (type != "text") throw new ApiException(400, $"content part type '{type}' is not supported (only text)", pw + ".type");
            sb.Append(String(part, "text", pw + ".text") ?? "");
        }
        return sb.ToString();
    }

    static int[] TokenArray(JsonElement array, string name)
    {
        if (array.GetArrayLength() > 1_000_000) throw new ApiException(400, $"'{name}' is too long", name);
        var tokens = new int[array.GetArrayLength()];
        int i = 0;
        foreach (var t in array.EnumerateArray())
        {
            if (t.ValueKind != JsonValueKind.Number || !t.TryGetInt32(out int id)) throw WrongType(name, "an array of integer token ids");
            tokens[i++] = id;
        }
        return tokens;
    }

    static void RequireObject(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new ApiException(400, "the request body must be a JSON object");
    }

    static bool TryGet(JsonElement obj, string name, out JsonElement value)
        => obj.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    static ApiException WrongType(string name, string expected) => new(400, $"'{name}' must be {expected}", name);

    static string? String(JsonElement obj, string name, string? param = null)
    {
        if (!TryGet(obj, name, out var v)) return null;
        if (v.ValueKind != JsonValueKind.String) throw WrongType(param ?? name, "a string");
        return v.GetString();
    }

    static bool? Bool(JsonElement obj, string name, string? param = null)
    {
        if (!TryGet(obj, name, out var v)) return null;
        if (v.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) throw WrongType(param ?? name, "a boolean");
        return v.GetBoolean();
    }

    static int? Int(JsonElement obj, string name, int min, int max)
    {
        if (!TryGet(obj, name, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Number) throw WrongType(name, "an integer");
        if (!v.TryGetInt64(out long x))
        {
            // 5.0 is an integer to most clients; 5.5 is not.
            double d = v.GetDouble();
            if (d != Math.Floor(d) || double.IsInfinity(d)) throw WrongType(name, "an integer");
            x = d > long.MaxValue ? long.MaxValue : d < long.MinValue ? long.MinValue : (long)d;
        }
        if (x < min || x > max) throw new ApiException(400, $"'{name}' = {x} is out of range ({min}..{max})", name);
        return (int)x;
    }

    static double? Number(JsonElement obj, string name, double min, double max)
    {
        if (!TryGet(obj, name, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Number) throw WrongType(name, "a number");
        double x = v.GetDouble();
        if (!(x >= min && x <= max)) throw new ApiException(400, $"'{name}' = {x} is out of range ({min}..{max})", name);
        return x;
    }
}
