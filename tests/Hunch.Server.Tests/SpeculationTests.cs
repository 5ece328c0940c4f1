using System.Text.Json;
using Hunch.Api;

namespace Hunch.Server.Tests;

/// <summary>Speculation through the server: lossless (same text, same log-probabilities, same seeded samples as plain
/// decoding), per-request choice, statistics, and batching with drafters.</summary>
public sealed class SpeculationTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    readonly TestServer _s = fixture.Server;

    // Repetitive code: prompt lookup and token recycling find drafts that the target accepts.
    const string Repetitive = "def add(a, b):\n    return a + b\n\n\ndef add(a, b):\n    return a + b\n\n\ndef add(a, b):\n    return a + b\n\n\n";

    async Task<JsonElement> Complete(object body)
    {
        var (status, json) = await _s.PostAsync("v1/completions", JsonSerializer.Serialize(body));
        Assert.True(status == 200, json.ToString());
        return json;
    }

    [Theory]
    [InlineData("lookup")]
    [InlineData("recycling")]
    public async Task Logprobs_and_text_are_identical_with_and_without_speculation(string drafter)
    {
        var plain = await Complete(new { prompt = Repetitive, max_tokens = 48, temperature = 0, logprobs = 5, speculation = new { drafter = "none" } });
        // Recycling learns from what it has seen: a second run drafts from the table the first one filled.
        JsonElement spec = default;
        for (int run = 0; run < 2; run++)
            spec = await Complete(new { prompt = Repetitive, max_tokens = 48, temperature = 0, logprobs = 5, speculation = new { drafter } });
        var stats = spec.GetProperty("speculation");
        Assert.Equal(drafter, stats.GetProperty("drafter").GetString());
        Assert.True(stats.GetProperty("accepted").GetInt64() > 0, $"{drafter} had no draft accepted: {stats}");
        Assert.True(stats.GetProperty("mean_accepted").GetDouble() > 1.0);
        Assert.True(stats.GetProperty("steps").GetInt32() < spec.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        var a = plain.GetProperty("choices")[0];
        var b = spec.GetProperty("choices")[0];
        Assert.Equal(a.GetProperty("text").GetString(), b.GetProperty("text").GetString());
        // Bitwise: the same target rows produce every log-probability, drafted or not.
        Assert.Equal(a.GetProperty("logprobs").GetRawText(), b.GetProperty("logprobs").GetRawText());
    }

    [Fact]
    public async Task Seeded_sampling_is_identical_with_and_without_speculation()
    {
        var plain = await Complete(new { prompt = Repetitive, max_tokens = 40, temperature = 0.7, seed = 99, speculation = "none" });
        var spec = await Complete(new { prompt = Repetitive, max_tokens = 40, temperature = 0.7, seed = 99, speculation = "lookup" });
        Assert.Equal(plain.GetProperty("choices")[0].GetProperty("text").GetString(), spec.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.True(spec.GetProperty("speculation").GetProperty("drafted").GetInt64() > 0);
    }

    [Fact]
    public async Task Drafters_that_name_files_are_refused_per_request()
    {
        foreach (var d in new[] { "model:/etc/passwd", "heads:/tmp/x", "recycling:table=/tmp/evil.bin", "lookup:ngram=3" })
        {
            var (status, body) = await _s.PostAsync("v1/completions", JsonSerializer.Serialize(new { prompt = "x", max_tokens = 2, speculation = new { drafter = d } }));
            Assert.Equal(400, status);
            Assert.Equal("speculation", body.GetProperty("error").GetProperty("param").GetString());
        }
    }

    [Fact]
    public async Task Eight_parallel_streams_with_a_drafter_each_equal_the_solo_text()
    {
        string[] prompts = [Repetitive, "import os\nimport sys\nimport os\nimport sys\n", "x = 1\ny = 2\nx = 1\ny = 2\n", "def f():\n    pass\n\ndef f():\n    pass\n",
            "class A:\n    pass\n\nclass A:\n    pass\n", "for i in range(3):\n    print(i)\nfor i in range(3):\n    print(i)\n", "a = [1, 2, 3]\na = [1, 2, 3]\n", "import re\n"];
        var solo = new string[prompts.Length];
        for (int i = 0; i < prompts.Length; i++)
            solo[i] = (await Complete(new { prompt = prompts[i], max_tokens = 32, temperature = 0, speculation = "none" })).GetProperty("choices")[0].GetProperty("text").GetString()!;
        var results = await Task.WhenAll(prompts.Select(async p =>
        {
            var events = await _s.StreamAsync("v1/completions", JsonSerializer.Serialize(new { prompt = p, max_tokens = 32, temperature = 0, stream = true, speculation = "lookup" }));
            var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
            Assert.Equal("lookup", chunks[^1].GetProperty("speculation").GetProperty("drafter").GetString());
            return string.Concat(chunks.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()));
        }));
        for (int i = 0; i < prompts.Length; i++) Assert.Equal(solo[i], results[i]);
    }

    [Theory]
    [InlineData("lookup")]
    [InlineData("auto")]
    public async Task Draft_trees_of_eight_streams_share_forwards_and_each_equals_the_solo_text(string drafter)
    {
        // A flat cost curve (extra rows nearly free, as on a GPU or a memory-bound model) makes goodput let every
        // stream draft, so each shared forward holds several sequences' draft trees at once.
        await using var server = await TestServer.StartAsync(new EngineOptions { Parallel = 8, QueueLimit = 64 });
        Hunch.Models.ForwardCostCurve.Set(server.Engine.Model, new Hunch.Models.ForwardCostCurve([1, 64], [10.0, 10.5]));
        string[] prompts = [Repetitive, "import os\nimport sys\nimport os\nimport sys\n", "x = 1\ny = 2\nx = 1\ny = 2\n", "def f():\n    pass\n\ndef f():\n    pass\n",
            "class A:\n    pass\n\nclass A:\n    pass\n", "for i in range(3):\n    print(i)\nfor i in range(3):\n    print(i)\n", "a = [1, 2, 3]\na = [1, 2, 3]\n", "import re\n"];
        async Task<JsonElement> Post(object body)
        {
            var (status, json) = await server.PostAsync("v1/completions", JsonSerializer.Serialize(body));
            Assert.True(status == 200, json.ToString());
            return json;
        }
        var solo = new string[prompts.Length];
        for (int i = 0; i < prompts.Length; i++)
            solo[i] = (await Post(new { prompt = prompts[i], max_tokens = 32, temperature = 0, speculation = "none" })).GetProperty("choices")[0].GetProperty("text").GetString()!;
        var results = await Task.WhenAll(prompts.Select(p => Post(new { prompt = p, max_tokens = 32, temperature = 0, ignore_eos = true, speculation = drafter })));
        long drafted = 0, accepted = 0;
        for (int i = 0; i < prompts.Length; i++)
        {
            // ignore_eos only lengthens a solo text that ended early; the common part must be identical.
            string text = results[i].GetProperty("choices")[0].GetProperty("text").GetString()!;
            Assert.StartsWith(solo[i], text);
            drafted += results[i].GetProperty("speculation").GetProperty("drafted").GetInt64();
            accepted += results[i].GetProperty("speculation").GetProperty("accepted").GetInt64();
        }
        Assert.True(drafted > 0 && accepted > 0, $"drafted {drafted}, accepted {accepted}");
    }

    [Fact]
    public async Task Metrics_report_mean_accepted_per_drafter()
    {
        await Complete(new { prompt = Repetitive, max_tokens = 24, temperature = 0, speculation = "lookup" });
        string metrics = await _s.Http.GetStringAsync("metrics");
        var line = metrics.Split('\n').Single(l => l.StartsWith("hunch_drafter_mean_accepted{drafter=\"lookup\"}", StringComparison.Ordinal));
        Assert.True(double.Parse(line.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) > 1.0, line);
    }
}
