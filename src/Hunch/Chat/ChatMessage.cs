using System.Text.Json;
using System.Text.Json.Nodes;

namespace Hunch.Chat;

/// <summary>
/// One message of a conversation. The template sees it as a dict with <c>role</c> and <c>content</c> (a null
/// <see cref="Content"/> is Python None), followed by the entries of <see cref="Extra"/> (for example
/// <c>tool_calls</c>, <c>name</c>, <c>tool_call_id</c>, or a list-valued <c>content</c>, which replaces the string one).
/// </summary>
/// <param name="Role">The speaker: "system", "user", "assistant", "tool"...</param>
/// <param name="Content">The text of the message, or null for none.</param>
public sealed record ChatMessage(string Role, string? Content)
{
    /// <summary>Further fields of the message as JSON, in the order the template should see them.</summary>
    public JsonObject? Extra { get; init; }

    /// <summary>
    /// Builds a message from its JSON form: an object with a string "role", a string or null "content" (absent is
    /// taken as null), and any other properties, which go to <see cref="Extra"/> in their order (as does a
    /// non-string "content", such as a list of parts).
    /// </summary>
    /// <exception cref="ChatTemplateException">The JSON is not an object with a string "role".</exception>
    public static ChatMessage FromJson(JsonElement message) => FromJson(JsonNode.Parse(message.GetRawText()));

    /// <inheritdoc cref="FromJson(JsonElement)"/>
    public static ChatMessage FromJson(JsonNode? message)
    {
        if (message is not JsonObject obj)
            throw new ChatTemplateException("a chat message must be a JSON object");
        if (obj["role"] is not JsonValue roleValue || !roleValue.TryGetValue(out string? role))
            throw new ChatTemplateException("a chat message needs a string \"role\"");
        string? content = obj["content"] is JsonValue cv && cv.TryGetValue(out string? text) ? text : null;
        JsonObject? extra = null;
        foreach (var kv in obj)
        {
            if (kv.Key == "role") continue;
            if (kv.Key == "content" && (kv.Value is null || content is not null)) continue;
            (extra ??= new JsonObject())[kv.Key] = kv.Value?.DeepClone();
        }
        return new ChatMessage(role, content) { Extra = extra };
    }
}
