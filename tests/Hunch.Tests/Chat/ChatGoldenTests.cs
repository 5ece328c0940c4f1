using System.Text.Json;
using Hunch.Chat;

namespace Hunch.Tests.Chat;

/// <summary>Locates the shared reference material from the test output directory.</summary>
internal static class ChatTestPaths
{
    public static string Root
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Hunch.slnx"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("repository root (Hunch.slnx) not found");
        }
    }

    public static string ChatTemplates => Path.GetFullPath(Path.Combine(Root, "..", "shared", "reference", "chat-templates"));
}

/// <summary>All 136 renderings made with Python's jinja2 the way Hugging Face does it: byte-identical, or an error where jinja2 raised.</summary>
public class ChatGoldenTests
{
    public static IEnumerable<object[]> Cases()
    {
        var path = Path.Combine(ChatTestPaths.ChatTemplates, "renderings.jsonl");
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            string id = $"{Path.GetFileNameWithoutExtension(r.GetProperty("template").GetString())}|{r.GetProperty("conversation").GetString()}|agp={r.GetProperty("add_generation_prompt").GetBoolean()}";
            yield return [id];
        }
    }

    private static readonly Lazy<Dictionary<string, JsonElement>> Rows = new(() =>
    {
        var rows = new Dictionary<string, JsonElement>();
        foreach (var line in File.ReadLines(Path.Combine(ChatTestPaths.ChatTemplates, "renderings.jsonl")))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            var r = JsonDocument.Parse(line).RootElement.Clone();
            string id = $"{Path.GetFileNameWithoutExtension(r.GetProperty("template").GetString())}|{r.GetProperty("conversation").GetString()}|agp={r.GetProperty("add_generation_prompt").GetBoolean()}";
            rows.Add(id, r);
        }
        return rows;
    });

    private static readonly Dictionary<string, ChatTemplate> Parsed = new();

    private static ChatTemplate Template(string file)
    {
        lock (Parsed)
        {
            if (!Parsed.TryGetValue(file, out var t))
            {
                t = ChatTemplate.Parse(File.ReadAllText(Path.Combine(ChatTestPaths.ChatTemplates, file)));
                Parsed[file] = t;
            }
            return t;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RendersLikeJinja2(string id)
    {
        var row = Rows.Value[id];
        var template = Template(row.GetProperty("template").GetString()!);
        var context = new ChatTemplateContext
        {
            AddGenerationPrompt = row.GetProperty("add_generation_prompt").GetBoolean(),
            BosToken = row.GetProperty("bos_token").GetString(),
            EosToken = row.GetProperty("eos_token").GetString(),
            // The goldens were rendered on this date; no golden template prints the time of day.
            Now = new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero),
        };
        foreach (var m in row.GetProperty("messages").EnumerateArray()) context.Messages.Add(ChatMessage.FromJson(m));

        if (row.TryGetProperty("rendered", out var expected))
        {
            Assert.Equal(expected.GetString(), template.Render(context));
        }
        else
        {
            // The golden holds "ExceptionType: message"; the message must be the same one jinja2 raised.
            string error = row.GetProperty("error").GetString()!;
            var ex = Assert.Throws<ChatTemplateException>(() => template.Render(context));
            Assert.NotEqual(ChatTemplateErrorKind.LimitExceeded, ex.Kind);
            Assert.EndsWith(": " + ex.Reason, error);
            Assert.Equal(error.StartsWith("TemplateError:", StringComparison.Ordinal), ex.Kind == ChatTemplateErrorKind.Raised);
        }
    }

    [Fact]
    public void AllTemplateFilesParse()
    {
        var files = Directory.GetFiles(ChatTestPaths.ChatTemplates, "*.jinja");
        Assert.Equal(17, files.Length);
        foreach (var f in files) ChatTemplate.Parse(File.ReadAllText(f));
    }
}
