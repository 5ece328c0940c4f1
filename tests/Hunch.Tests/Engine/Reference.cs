using System.Text.Json;

namespace Hunch.Tests.Engine;

/// <summary>One line of shared/reference/pycoder/pycoder-TYPE.jsonl: what llama.cpp produced for a prompt.</summary>
public sealed record ReferenceCase(string Id, int[] PromptIds, (int Token, float Logit)[] Top20, int[] Greedy, float[] Margins, string Prompt)
{
    public override string ToString() => Id;

    static readonly Dictionary<string, ReferenceCase[]> s_cache = [];

    public static ReferenceCase[] Load(string type = "F32")
    {
        lock (s_cache)
        {
            if (s_cache.TryGetValue(type, out var c)) return c;
            var prompts = new Dictionary<string, string>();
            foreach (var line in File.ReadLines(Path.Combine(TestPaths.Shared, "bench", "code-prompts.jsonl")))
            {
                using var d = JsonDocument.Parse(line);
                prompts[d.RootElement.GetProperty("id").GetString()!] = d.RootElement.GetProperty("prompt").GetString()!;
            }
            var list = new List<ReferenceCase>();
            foreach (var line in File.ReadLines(Path.Combine(TestPaths.Shared, "reference", "pycoder", $"pycoder-{type}.jsonl")))
            {
                using var d = JsonDocument.Parse(line);
                var r = d.RootElement;
                var id = r.GetProperty("id").GetString()!;
                var top = new List<(int, float)>();
                foreach (var e in r.GetProperty("last_logits_top20").EnumerateArray()) top.Add((e[0].GetInt32(), e[1].GetSingle()));
                list.Add(new ReferenceCase(id,
                    r.GetProperty("prompt_token_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
                    top.ToArray(),
                    r.GetProperty("greedy_token_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
                    r.GetProperty("greedy_top2_margins").EnumerateArray().Select(x => x.GetSingle()).ToArray(),
                    prompts[id]));
            }
            return s_cache[type] = list.ToArray();
        }
    }
}
