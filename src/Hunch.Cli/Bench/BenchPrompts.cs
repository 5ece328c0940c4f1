using Hunch.Cli.Commands;
using System.Text.Json;

namespace Hunch.Cli.Bench;

/// <summary>One benchmark prompt: one turn for our JSONL format, one or more for Spec-Bench's question.jsonl.</summary>
public sealed record BenchPrompt(string Id, string Category, IReadOnlyList<string> Turns, bool Chat);

/// <summary>Reads prompt files: ours (<c>id</c>, <c>category</c>, <c>prompt</c>) and Spec-Bench's
/// (<c>question_id</c>, <c>category</c>, <c>turns</c>).</summary>
public static class BenchPrompts
{
    public static List<BenchPrompt> Load(string path, int limit = 0)
    {
        if (!File.Exists(path)) throw new UserException($"prompt file not found: {path}");
        var list = new List<BenchPrompt>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e) { throw new UserException($"{path}:{lineNo}: not valid JSON ({e.Message})"); }
            using (doc)
            {
                var r = doc.RootElement;
                if (r.ValueKind != JsonValueKind.Object) throw new UserException($"{path}:{lineNo}: expected a JSON object");
                string category = r.TryGetProperty("category", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "default";
                if (r.TryGetProperty("turns", out var turns) && turns.ValueKind == JsonValueKind.Array)
                {
                    string id = r.TryGetProperty("question_id", out var q) ? q.ToString() : $"q{lineNo}";
                    var t = new List<string>();
                    foreach (var e in turns.EnumerateArray())
                        t.Add(e.ValueKind == JsonValueKind.String ? e.GetString()! : throw new UserException($"{path}:{lineNo}: turns must be strings"));
                    if (t.Count == 0) throw new UserException($"{path}:{lineNo}: no turns");
                    list.Add(new BenchPrompt(id, category, t, Chat: true));
                }
                else if (r.TryGetProperty("prompt", out var p) && p.ValueKind == JsonValueKind.String)
                {
                    string id = r.TryGetProperty("id", out var i) ? i.ToString() : $"p{lineNo}";
                    list.Add(new BenchPrompt(id, category, [p.GetString()!], Chat: false));
                }
                else throw new UserException($"{path}:{lineNo}: expected \"prompt\" (our format) or \"turns\" (Spec-Bench)");
            }
            if (limit > 0 && list.Count >= limit) break;
        }
        if (list.Count == 0) throw new UserException($"{path}: no prompts");
        return list;
    }
}
