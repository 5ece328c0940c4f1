using System.Text;
using System.Text.Json;

namespace Hunch.Grammar;

/// <summary>
/// Grammars for function (tool) calls: the model must write <c>{"name": NAME, "arguments": ARGS}</c> where NAME
/// is one of the tools and ARGS satisfies that tool's <c>parameters</c> schema, optionally wrapped in the
/// markers a chat template expects (for example <c>&lt;tool_call&gt;\n</c> ... <c>\n&lt;/tool_call&gt;</c>).
/// Use it for OpenAI <c>tool_choice: "required"</c> or a named function; with <c>"auto"</c> the model may also
/// answer in text, which a grammar would forbid, so leave generation unconstrained and parse the output.
/// </summary>
public static class ToolCallGrammar
{
    /// <summary>
    /// Builds the grammar from OpenAI's <c>tools</c> array (JSON text: <c>[{"type":"function","function":
    /// {"name":..., "parameters":{...}}}]</c>). <paramref name="onlyTool"/> restricts it to one function;
    /// <paramref name="maxCalls"/> &gt; 1 allows that many calls in a JSON array (parallel tool calls).
    /// Throws <see cref="GrammarException"/> for malformed tools or unsupported parameter schemas.
    /// </summary>
    public static GbnfGrammar Compile(string toolsJson, string? onlyTool = null, string prefix = "", string suffix = "",
        int maxCalls = 1, JsonSchemaOptions? options = null)
    {
        options ??= new JsonSchemaOptions();
        return GbnfGrammar.Parse(ToGbnf(toolsJson, onlyTool, prefix, suffix, maxCalls, options), "root", options.GrammarLimits);
    }

    /// <summary>The GBNF text of <see cref="Compile"/>.</summary>
    public static string ToGbnf(string toolsJson, string? onlyTool = null, string prefix = "", string suffix = "",
        int maxCalls = 1, JsonSchemaOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(toolsJson);
        options ??= new JsonSchemaOptions();
        if (maxCalls is < 1 or > 64) throw new GrammarException($"tool calls: maxCalls {maxCalls} must be between 1 and 64");
        if (toolsJson.Length > options.MaxSchemaChars) throw new GrammarException($"tools are {toolsJson.Length} characters long; the limit is {options.MaxSchemaChars}");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(toolsJson); }
        catch (JsonException e) { throw new GrammarException($"tools are not valid JSON: {e.Message}"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new GrammarException("tools must be an array");
            var alternatives = new List<string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var tool in doc.RootElement.EnumerateArray())
            {
                var fn = tool.ValueKind == JsonValueKind.Object && tool.TryGetProperty("function", out var f) ? f : tool;
                if (fn.ValueKind != JsonValueKind.Object || !fn.TryGetProperty("name", out var nameEl) || nameEl.ValueKind != JsonValueKind.String)
                    throw new GrammarException("each tool needs a function with a string 'name'");
                string name = nameEl.GetString()!;
                if (!seen.Add(name)) throw new GrammarException($"tool '{name}' is declared twice");
                if (onlyTool is not null && name != onlyTool) continue;
                string parameters = fn.TryGetProperty("parameters", out var p) ? p.GetRawText() : """{"type":"object"}""";
                // Each call as a schema of its own: {"name": const, "arguments": parameters}, both required, in this order.
                alternatives.Add($$"""{"type":"object","properties":{"name":{"const":{{JsonSerializer.Serialize(name)}}},"arguments":{{parameters}}},"required":["name","arguments"],"additionalProperties":false}""");
            }
            if (alternatives.Count == 0)
                throw new GrammarException(onlyTool is null ? "tools is empty" : $"tool '{onlyTool}' is not among the tools");
            string call = alternatives.Count == 1 ? alternatives[0] : "{\"anyOf\":[" + string.Join(",", alternatives) + "]}";
            string schema = maxCalls == 1 ? call : $$"""{"type":"array","items":{{call}},"minItems":1,"maxItems":{{maxCalls}}}""";
            string body = JsonSchemaGrammar.ToGbnf(schema, options);
            const string head = "root ::= ";
            if (!body.StartsWith(head, StringComparison.Ordinal)) throw new InvalidOperationException("schema grammar without a root rule");
            var sb = new StringBuilder();
            sb.Append("root ::= ");
            if (prefix.Length > 0) sb.Append(JsonSchemaGrammar.GbnfLiteral(prefix)).Append(' ');
            sb.Append("tool-calls");
            if (suffix.Length > 0) sb.Append(' ').Append(JsonSchemaGrammar.GbnfLiteral(suffix));
            sb.Append('\n').Append("tool-calls ::= ").Append(body.AsSpan(head.Length));
            return sb.ToString();
        }
    }
}
