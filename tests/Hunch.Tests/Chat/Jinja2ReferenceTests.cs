using System.Text.Json;
using Hunch.Chat;

namespace Hunch.Tests.Chat;

/// <summary>
/// Differential tests against Python's jinja2 (configured as Hugging Face does): expected outputs in Data/*.jsonl were
/// produced by Data/generate.py. Expressions and statements one by one, and the 17 real templates with richer
/// conversations than the goldens (tools, tool calls, tool results, documents, multimodal content, reasoning,
/// extra variables, unicode), plus Data/mixed-constructs.jinja (constructs from other model families' templates).
/// </summary>
public class Jinja2ReferenceTests
{
    private static string DataFile(string name) => Path.Combine(ChatTestPaths.Root, "tests", "Hunch.Tests", "Chat", "Data", name);

    private static readonly Lazy<List<JsonElement>> ExpressionRows = new(() => Load("jinja2-expressions.jsonl"));
    private static readonly Lazy<Dictionary<string, JsonElement>> ConversationRows =
        new(() => Load("jinja2-conversations.jsonl").ToDictionary(ConversationId));

    private static string ConversationId(JsonElement r) =>
        $"{Path.GetFileNameWithoutExtension(r.GetProperty("template").GetString())}|{r.GetProperty("conversation").GetString()}|agp={r.GetProperty("vars").GetProperty("add_generation_prompt").GetBoolean()}";

    private static List<JsonElement> Load(string file)
    {
        var rows = new List<JsonElement>();
        foreach (var line in File.ReadLines(DataFile(file)))
        {
            if (!string.IsNullOrWhiteSpace(line)) rows.Add(JsonDocument.Parse(line).RootElement.Clone());
        }
        return rows;
    }

    public static IEnumerable<object[]> ExpressionCases()
    {
        int n = File.ReadLines(DataFile("jinja2-expressions.jsonl")).Count(l => !string.IsNullOrWhiteSpace(l));
        for (int i = 0; i < n; i++) yield return [i];
    }

    public static IEnumerable<object[]> ConversationCases()
    {
        foreach (var r in Load("jinja2-conversations.jsonl")) yield return [ConversationId(r)];
    }

    private static void Check(string source, JsonElement row)
    {
        var context = new ChatTemplateContext { Now = new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero) };
        foreach (var p in row.GetProperty("vars").EnumerateObject()) context.Variables[p.Name] = p.Value;
        if (row.TryGetProperty("expected", out var expected))
        {
            Assert.Equal(expected.GetString(), ChatTemplate.Parse(source).Render(context));
        }
        else
        {
            // jinja2 raised (syntax error, type error, undefined, or Python's own recursion limit): so must we.
            Assert.ThrowsAny<ChatTemplateException>(() => ChatTemplate.Parse(source).Render(context));
        }
    }

    [Theory]
    [MemberData(nameof(ExpressionCases))]
    public void ExpressionMatchesJinja2(int index)
    {
        var row = ExpressionRows.Value[index];
        Check(row.GetProperty("template").GetString()!, row);
    }

    [Theory]
    [MemberData(nameof(ConversationCases))]
    public void RealTemplateConversationMatchesJinja2(string id)
    {
        var row = ConversationRows.Value[id];
        string file = row.GetProperty("template").GetString()!;
        string path = Path.Combine(ChatTestPaths.ChatTemplates, file);
        if (!File.Exists(path)) path = DataFile(file); // mixed-constructs.jinja lives next to the data
        string source = File.ReadAllText(path);
        Check(source, row);
    }
}
