using System.Text.Json;
using System.Text.Json.Nodes;
using Hunch.Api;

namespace Hunch.Server;

/// <summary>How a request lets the model call tools (OpenAI <c>tool_choice</c>).</summary>
internal enum ToolMode { Auto, Required, Named }

/// <summary>One function call the model wrote.</summary>
internal sealed record ParsedToolCall(string Id, string Name, string Arguments);

/// <summary>The tools of a chat request and how the answer is read back.</summary>
internal sealed class ToolRequest
{
    public required JsonNode Tools { get; init; }
    public required ToolMode Mode { get; init; }
    public string? Function { get; init; }
    /// <summary>Markers around a call in the model's chat format ("" when the template has none).</summary>
    public string Prefix { get; init; } = "";
    public string Suffix { get; init; } = "";
    public required HashSet<string> Names { get; init; }
}

/// <summary>
/// OpenAI tool calling over a chat template: reads <c>tools</c>/<c>tool_choice</c>, builds the grammar that forces a
/// call when one is required, and parses the generated text back into <c>tool_calls</c>.
/// </summary>
internal static class ToolCalls
{
    const int MaxTools = 128;
    const int MaxCallsPerMessage = 64;

    /// <summary>Reads <c>tools</c> and <c>tool_choice</c>; null when the request has no tools or <c>tool_choice</c> is "none".</summary>
    public static ToolRequest? Parse(JsonElement root, HunchEngine engine)
    {
        bool hasTools = root.TryGetProperty("tools", out var tools) && tools.ValueKind != JsonValueKind.Null;
        JsonElement choice = default;
        bool hasChoice = root.TryGetProperty("tool_choice", out choice) && choice.ValueKind != JsonValueKind.Null;
        if (!hasTools)
        {
            if (hasChoice && !(choice.ValueKind == JsonValueKind.String && choice.GetString() is "none" or "auto"))
                throw new ApiException(400, "'tool_choice' needs 'tools'", "tool_choice");
            return null;
        }
        if (tools.ValueKind != JsonValueKind.Array) throw new ApiException(400, "'tools' must be an array", "tools");
        if (tools.GetArrayLength() == 0) throw new ApiException(400, "'tools' must not be empty (leave it out for no tools)", "tools");
        if (tools.GetArrayLength() > MaxTools) throw new ApiException(400, $"'tools' holds more than {MaxTools} tools", "tools");
        var names = new HashSet<string>(StringComparer.Ordinal);
        int i = 0;
        foreach (var t in tools.EnumerateArray())
        {
            string where = $"tools[{i++}]";
            if (t.ValueKind != JsonValueKind.Object) throw new ApiException(400, $"'{where}' must be an object", where);
            if (t.TryGetProperty("type", out var type) && !(type.ValueKind == JsonValueKind.String && type.GetString() == "function"))
                throw new ApiException(400, $"'{where}.type' must be \"function\"", where + ".type");
            if (!t.TryGetProperty("function", out var fn) || fn.ValueKind != JsonValueKind.Object)
                throw new ApiException(400, $"'{where}.function' must be an object", where + ".function");
            if (!fn.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || name.GetString()!.Length == 0)
                throw new ApiException(400, $"'{where}.function.name' must be a non-empty string", where + ".function.name");
            if (!names.Add(name.GetString()!)) throw new ApiException(400, $"tool '{name.GetString()}' is declared twice", where + ".function.name");
            if (fn.TryGetProperty("parameters", out var p) && p.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
                throw new ApiException(400, $"'{where}.function.parameters' must be a JSON schema object", where + ".function.parameters");
        }

        var mode = ToolMode.Auto;
        string? function = null;
        if (hasChoice)
        {
            if (choice.ValueKind == JsonValueKind.String)
            {
                switch (choice.GetString())
                {
                    case "none": return null;
                    case "auto": break;
                    case "required": mode = ToolMode.Required; break;
                    default: throw new ApiException(400, $"'tool_choice' must be none, auto, required or {{\"type\":\"function\",\"function\":{{\"name\":...}}}} (got '{choice.GetString()}')", "tool_choice");
                }
            }
            else if (choice.ValueKind == JsonValueKind.Object
                && choice.TryGetProperty("function", out var cf) && cf.ValueKind == JsonValueKind.Object
                && cf.TryGetProperty("name", out var cn) && cn.ValueKind == JsonValueKind.String)
            {
                function = cn.GetString()!;
                if (!names.Contains(function)) throw new ApiException(400, $"'tool_choice' names function '{function}', which is not among the tools", "tool_choice");
                mode = ToolMode.Named;
            }
            else throw new ApiException(400, "'tool_choice' must be none, auto, required or {\"type\":\"function\",\"function\":{\"name\":...}}", "tool_choice");
        }
        if (root.TryGetProperty("parallel_tool_calls", out var ptc) && ptc.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
            throw new ApiException(400, "'parallel_tool_calls' must be a boolean", "parallel_tool_calls");

        // Templates trained on Hermes-style calls (Qwen 2.5 and others) wrap each call in <tool_call> tags; a
        // template without them (or the plain transcript of a base model) gets the bare JSON call.
        string? source = engine.HunchModel?.ChatTemplateSource;
        bool tagged = source is not null && source.Contains("<tool_call>", StringComparison.Ordinal);
        return new ToolRequest
        {
            Tools = JsonNode.Parse(tools.GetRawText())!,
            Mode = mode,
            Function = function,
            Prefix = tagged ? "<tool_call>\n" : "",
            Suffix = tagged ? "\n</tool_call>" : "",
            Names = names,
        };
    }

    /// <summary>The grammar forcing one call (required or named), or null for auto.</summary>
    public static Hunch.Grammar.GbnfGrammar? Grammar(ToolRequest tools)
    {
        if (tools.Mode == ToolMode.Auto) return null;
        try
        {
            return Hunch.Grammar.ToolCallGrammar.Compile(tools.Tools.ToJsonString(), tools.Function, tools.Prefix, tools.Suffix);
        }
        catch (Hunch.Grammar.GrammarException e)
        {
            throw new ApiException(400, "tools: " + e.Message, "tools");
        }
    }

    /// <summary>
    /// The extra fields of a request message the template should see: <c>tool_calls</c> (with each
    /// <c>function.arguments</c> string turned into JSON, as templates print it with <c>tojson</c>),
    /// <c>tool_call_id</c> and <c>name</c>.
    /// </summary>
    public static JsonObject? MessageExtra(JsonElement m, string where)
    {
        JsonObject? extra = null;
        if (m.TryGetProperty("tool_calls", out var calls) && calls.ValueKind != JsonValueKind.Null)
        {
            if (calls.ValueKind != JsonValueKind.Array) throw new ApiException(400, $"'{where}.tool_calls' must be an array", where + ".tool_calls");
            if (calls.GetArrayLength() > MaxCallsPerMessage) throw new ApiException(400, $"'{where}.tool_calls' holds more than {MaxCallsPerMessage} calls", where + ".tool_calls");
            var list = new JsonArray();
            int i = 0;
            foreach (var c in calls.EnumerateArray())
            {
                string cw = $"{where}.tool_calls[{i++}]";
                if (c.ValueKind != JsonValueKind.Object || !c.TryGetProperty("function", out var fn) || fn.ValueKind != JsonValueKind.Object
                    || !fn.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
                    throw new ApiException(400, $"'{cw}' must be an object with function.name", cw);
                JsonNode? args = null;
                if (fn.TryGetProperty("arguments", out var a))
                {
                    if (a.ValueKind == JsonValueKind.String)
                    {
                        try { args = JsonNode.Parse(a.GetString()!); }
                        catch (JsonException) { args = JsonValue.Create(a.GetString()); }
                    }
                    else if (a.ValueKind != JsonValueKind.Null) args = JsonNode.Parse(a.GetRawText());
                }
                var call = new JsonObject();
                if (c.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String) call["id"] = id.GetString();
                call["type"] = "function";
                call["function"] = new JsonObject { ["name"] = name.GetString(), ["arguments"] = args ?? new JsonObject() };
                list.Add(call);
            }
            (extra ??= new JsonObject())["tool_calls"] = list;
        }
        foreach (string field in (ReadOnlySpan<string>)["tool_call_id", "name"])
        {
            if (!m.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) continue;
            if (v.ValueKind != JsonValueKind.String) throw new ApiException(400, $"'{where}.{field}' must be a string", $"{where}.{field}");
            (extra ??= new JsonObject())[field] = v.GetString();
        }
        return extra;
    }

    /// <summary>The calls as the plain transcript shows them (it has no place for tool_calls of its own).</summary>
    public static string TranscriptText(JsonObject extra)
    {
        if (extra["tool_calls"] is not JsonArray calls) return "";
        var parts = new List<string>(calls.Count);
        foreach (var c in calls)
        {
            var fn = c?["function"];
            parts.Add(new JsonObject { ["name"] = fn?["name"]?.DeepClone(), ["arguments"] = fn?["arguments"]?.DeepClone() }.ToJsonString());
        }
        return string.Join("\n", parts);
    }

    /// <summary>
    /// Reads the calls out of generated text: one JSON call <c>{"name":..., "arguments":...}</c> (or an array of them),
    /// each optionally wrapped in the template's markers. Null when the text is not (only) tool calls or names an
    /// unknown function: it is then an ordinary answer.
    /// </summary>
    public static List<ParsedToolCall>? ParseOutput(string text, ToolRequest tools)
    {
        var span = text.AsSpan().Trim();
        if (span.Length == 0) return null;
        var calls = new List<ParsedToolCall>();
        if (tools.Prefix.Length > 0 && span.StartsWith(tools.Prefix.AsSpan().Trim(), StringComparison.Ordinal))
        {
            string open = tools.Prefix.Trim(), close = tools.Suffix.Trim();
            while (span.Length > 0)
            {
                if (!span.StartsWith(open, StringComparison.Ordinal)) return null;
                span = span[open.Length..];
                int end = close.Length > 0 ? span.IndexOf(close, StringComparison.Ordinal) : span.Length;
                if (end < 0) return null;
                if (!AddCalls(span[..end].ToString(), tools, calls)) return null;
                span = span[(end + close.Length)..].TrimStart();
            }
        }
        else if (!AddCalls(span.ToString(), tools, calls)) return null;
        return calls.Count == 0 ? null : calls;
    }

    static bool AddCalls(string json, ToolRequest tools, List<ParsedToolCall> calls)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 64 }); }
        catch (JsonException) { return false; }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Array)
            {
                foreach (var c in root.EnumerateArray())
                    if (!AddCall(c, tools, calls)) return false;
                return true;
            }
            return AddCall(root, tools, calls);
        }
    }

    static bool AddCall(JsonElement c, ToolRequest tools, List<ParsedToolCall> calls)
    {
        if (calls.Count >= MaxCallsPerMessage || c.ValueKind != JsonValueKind.Object) return false;
        if (!c.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || !tools.Names.Contains(name.GetString()!)) return false;
        string args = "{}";
        if (c.TryGetProperty("arguments", out var a))
            args = a.ValueKind == JsonValueKind.String ? a.GetString()! : a.GetRawText();
        calls.Add(new ParsedToolCall("call_" + Guid.NewGuid().ToString("N")[..24], name.GetString()!, args));
        return true;
    }
}
