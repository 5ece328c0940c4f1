using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Hunch.Chat;

/// <summary>
/// The variables a chat template is rendered with, as Hugging Face's <c>apply_chat_template</c> passes them:
/// <c>messages</c>, <c>add_generation_prompt</c>, <c>bos_token</c>, <c>eos_token</c>, optionally <c>tools</c>, and
/// any extra variables (for example <c>documents</c>, <c>date_string</c>, <c>enable_thinking</c>).
/// A variable that is not set is undefined in the template (which is different from being None).
/// </summary>
public sealed class ChatTemplateContext
{
    /// <summary>The conversation, passed as the list <c>messages</c>.</summary>
    public IList<ChatMessage> Messages { get; init; } = new List<ChatMessage>();

    /// <summary>Passed as <c>add_generation_prompt</c>: whether to end with the header of an assistant turn.</summary>
    public bool AddGenerationPrompt { get; set; }

    /// <summary>Passed as <c>bos_token</c> when not null (the text of the model's beginning-of-sequence token).</summary>
    public string? BosToken { get; set; }

    /// <summary>Passed as <c>eos_token</c> when not null (the text of the model's end-of-sequence token).</summary>
    public string? EosToken { get; set; }

    /// <summary>Passed as <c>tools</c> when not null: the tool (function) definitions, normally a JSON array.</summary>
    public JsonNode? Tools { get; set; }

    /// <summary>
    /// Extra variables by name. Values may be null (None), <see cref="JsonNode"/>, <see cref="JsonElement"/>, string,
    /// bool, integer and floating-point numbers, dictionaries with string keys, and other enumerables (lists).
    /// They override the standard variables above when the names collide.
    /// </summary>
    public IDictionary<string, object?> Variables { get; init; } = new Dictionary<string, object?>(StringComparer.Ordinal);

    /// <summary>The time <c>strftime_now</c> reports; null means the current local time.</summary>
    public DateTimeOffset? Now { get; set; }

    /// <summary>The safety bounds for rendering.</summary>
    public ChatTemplateLimits Limits { get; set; } = ChatTemplateLimits.Default;

    internal Scope BuildScope(Scope globals)
    {
        int maxDepth = Limits.MaxValueDepth;
        var scope = new Scope(globals);
        var messages = new List<object?>(Messages.Count);
        foreach (var m in Messages)
        {
            if (m is null) throw new ChatTemplateException("messages must not contain null");
            var d = new PyDict { ["role"] = m.Role, ["content"] = m.Content };
            if (m.Extra is not null)
            {
                foreach (var kv in m.Extra) d[kv.Key] = ValueConverter.FromNode(kv.Value, 1, maxDepth);
            }
            messages.Add(d);
        }
        scope.Set("messages", messages);
        scope.Set("add_generation_prompt", AddGenerationPrompt);
        if (BosToken is not null) scope.Set("bos_token", BosToken);
        if (EosToken is not null) scope.Set("eos_token", EosToken);
        if (Tools is not null) scope.Set("tools", ValueConverter.FromNode(Tools, 0, maxDepth));
        foreach (var kv in Variables) scope.Set(kv.Key, ValueConverter.FromObject(kv.Value, 0, maxDepth));
        return scope;
    }
}

/// <summary>Converts input data (JSON or plain CLR values) into the interpreter's Python-like values.</summary>
internal static class ValueConverter
{
    public static object? FromNode(JsonNode? node, int depth, int maxDepth)
    {
        if (depth > maxDepth) throw new ChatTemplateException($"input value nested deeper than {maxDepth}", kind: ChatTemplateErrorKind.LimitExceeded);
        switch (node)
        {
            case null: return null;
            case JsonObject obj:
            {
                var d = new PyDict();
                foreach (var kv in obj) d[kv.Key] = FromNode(kv.Value, depth + 1, maxDepth);
                return d;
            }
            case JsonArray arr:
            {
                var l = new List<object?>(arr.Count);
                foreach (var item in arr) l.Add(FromNode(item, depth + 1, maxDepth));
                return l;
            }
            case JsonValue v:
                if (v.TryGetValue(out JsonElement e)) return FromElement(e, depth, maxDepth);
                if (v.TryGetValue(out string? s)) return s;
                if (v.TryGetValue(out bool b)) return b;
                if (v.TryGetValue(out long l2)) return l2;
                if (v.TryGetValue(out int i)) return (long)i;
                if (v.TryGetValue(out double dbl)) return dbl;
                if (v.TryGetValue(out float f)) return (double)f;
                if (v.TryGetValue(out decimal m)) return (double)m;
                return FromElement(JsonSerializer.SerializeToElement(v), depth, maxDepth);
            default:
                throw new ChatTemplateException($"unsupported JSON node {node.GetType().Name}");
        }
    }

    public static object? FromElement(JsonElement e, int depth, int maxDepth)
    {
        if (depth > maxDepth) throw new ChatTemplateException($"input value nested deeper than {maxDepth}", kind: ChatTemplateErrorKind.LimitExceeded);
        switch (e.ValueKind)
        {
            case JsonValueKind.Null:
            case JsonValueKind.Undefined:
                return null;
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            case JsonValueKind.String: return e.GetString();
            case JsonValueKind.Number:
            {
                // Python's json module: a number without fraction or exponent is an int, otherwise a float.
                string raw = e.GetRawText();
                if (raw.IndexOfAny(['.', 'e', 'E']) < 0 && e.TryGetInt64(out long l)) return l;
                return e.GetDouble();
            }
            case JsonValueKind.Array:
            {
                var list = new List<object?>(e.GetArrayLength());
                foreach (var item in e.EnumerateArray()) list.Add(FromElement(item, depth + 1, maxDepth));
                return list;
            }
            case JsonValueKind.Object:
            {
                var d = new PyDict();
                foreach (var p in e.EnumerateObject()) d[p.Name] = FromElement(p.Value, depth + 1, maxDepth);
                return d;
            }
            default:
                throw new ChatTemplateException($"unsupported JSON value kind {e.ValueKind}");
        }
    }

    public static object? FromObject(object? value, int depth, int maxDepth)
    {
        if (depth > maxDepth) throw new ChatTemplateException($"input value nested deeper than {maxDepth}", kind: ChatTemplateErrorKind.LimitExceeded);
        switch (value)
        {
            case null: return null;
            case string s: return s;
            case bool b: return b;
            case int or long or short or sbyte or byte or ushort or uint: return Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
            case ulong ul: return ul <= long.MaxValue ? (long)ul : (double)ul;
            case float f: return (double)f;
            case double d: return d;
            case decimal m: return (double)m;
            case JsonNode node: return FromNode(node, depth, maxDepth);
            case JsonElement e: return FromElement(e, depth, maxDepth);
            case ChatMessage msg:
            {
                var d = new PyDict { ["role"] = msg.Role, ["content"] = msg.Content };
                if (msg.Extra is not null) foreach (var kv in msg.Extra) d[kv.Key] = FromNode(kv.Value, depth + 1, maxDepth);
                return d;
            }
            case IDictionary dict:
            {
                var d = new PyDict();
                foreach (DictionaryEntry kv in dict)
                {
                    if (kv.Key is not string key) throw new ChatTemplateException("dictionary keys of template variables must be strings");
                    d[key] = FromObject(kv.Value, depth + 1, maxDepth);
                }
                return d;
            }
            case IEnumerable seq:
            {
                var l = new List<object?>();
                foreach (var item in seq) l.Add(FromObject(item, depth + 1, maxDepth));
                return l;
            }
            default:
                throw new ChatTemplateException($"unsupported template variable type {value.GetType().Name}");
        }
    }
}
