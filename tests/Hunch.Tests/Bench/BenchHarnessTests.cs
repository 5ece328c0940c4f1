using System.Text.Json;
using System.Xml.Linq;
using Hunch.Cli.Bench;

namespace Hunch.Tests.Bench;

public class BenchHarnessTests
{
    static string WritePrompts(string dir, bool specBench)
    {
        var path = Path.Combine(dir, specBench ? "question.jsonl" : "prompts.jsonl");
        var lines = new List<string>();
        var source = File.ReadLines(Path.Combine(TestPaths.Shared, "bench", "code-prompts.jsonl")).Take(3).ToList();
        for (int i = 0; i < source.Count; i++)
        {
            using var d = JsonDocument.Parse(source[i]);
            var prompt = d.RootElement.GetProperty("prompt").GetString()!;
            lines.Add(specBench
                ? JsonSerializer.Serialize(new { question_id = 80 + i, category = i % 2 == 0 ? "coding" : "writing", turns = new[] { prompt, "Go on." } })
                : JsonSerializer.Serialize(new { id = $"p{i}", category = i % 2 == 0 ? "a" : "b", prompt }));
        }
        File.WriteAllLines(path, lines);
        return path;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void HarnessWritesAllThreeFilesForEveryMethod(bool specBench)
    {
        var dir = Directory.CreateTempSubdirectory("hunch-bench-").FullName;
        try
        {
            // A tiny synthetic llama with the bundled model's tokenizer: the harness end to end, cheaply.
            var modelPath = Path.Combine(dir, "tiny.gguf");
            Hunch.Gguf.SyntheticModel.Write(modelPath, new Hunch.Gguf.SyntheticModelOptions
            {
                EmbeddingSize = 64, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, FeedForwardSize = 160, ContextLength = 512,
                TokenizerSource = TestPaths.BundledModel, Seed = 3,
            });
            var methods = Hunch.Cli.Commands.DrafterRegistry.Names;
            var o = new BenchOptions
            {
                ModelPath = modelPath, PromptsPath = WritePrompts(dir, specBench), Methods = methods,
                MaxNewTokens = 12, Warmup = 0, Repeats = 1, OutDir = Path.Combine(dir, "out"), MeasureMachine = false,
            };
            var report = BenchRunner.Run(o);
            ReportWriter.WriteAll(report, o.OutDir);

            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(o.OutDir, "results.json")));
            var aggregates = json.RootElement.GetProperty("aggregates").EnumerateArray().ToList();
            foreach (var m in methods)
            {
                var all = aggregates.Single(a => a.GetProperty("method").GetString() == m && a.GetProperty("category").GetString() == "all");
                Assert.Equal(3, all.GetProperty("prompts").GetInt32());
                Assert.True(all.GetProperty("tokens_per_s").GetDouble() > 0);
                Assert.Equal(0, all.GetProperty("lossless_mismatches").GetArrayLength());
            }
            Assert.Equal(3 * methods.Count, json.RootElement.GetProperty("records").GetArrayLength());

            var md = File.ReadAllText(Path.Combine(o.OutDir, "report.md"));
            Assert.Contains("| method | category |", md);
            foreach (var m in methods) Assert.Contains($"| {m} | all |", md);

            var svg = XDocument.Load(Path.Combine(o.OutDir, "chart.svg"));
            XNamespace ns = "http://www.w3.org/2000/svg";
            var texts = svg.Descendants(ns + "text").Select(t => t.Value).ToList();
            foreach (var m in methods) Assert.Contains(m, texts);
            Assert.True(svg.Descendants(ns + "rect").Count() >= methods.Count * 2);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void RepetitionIndexCountsRepeatedFourGrams()
    {
        Assert.Equal(0, BenchRunner.RepetitionIndex([1, 2, 3], [4, 5, 6, 7, 8]));
        // Output repeats the prompt's 4-gram 1 2 3 4 exactly once among its 4-grams.
        Assert.Equal(1.0 / 4, BenchRunner.RepetitionIndex([1, 2, 3, 4, 9], [1, 2, 3, 4]), 6);
    }
}
