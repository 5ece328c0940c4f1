using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Hunch.Api;
using Microsoft.Extensions.AI;

namespace Hunch.Server.Tests;

/// <summary>Requests in flight at once: batched results equal solo results, fairness, disconnects, the queue bound.</summary>
public sealed class ConcurrencyTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    readonly TestServer _s = fixture.Server;

    static readonly string[] Prompts =
    [
        "import os\n", "def main():\n", "class Parser:\n", "import sys\nimport re\n", "for i in range(10):\n", "def __init__(self, name):\n",
        "    return self.", "if __name__ == '__main__':\n", "from collections import", "try:\n    import", "def read_file(path):\n",
        "# Copyright", "    def __repr__(self):\n", "with open(", "    raise ValueError(", "import json\n\ndef load(",
    ];

    static string Body(string prompt, bool stream, int maxTokens = 24) =>
        JsonSerializer.Serialize(new { prompt, max_tokens = maxTokens, temperature = 0, stream });

    [Fact]
    public async Task Sixteen_parallel_greedy_streams_each_equal_the_solo_text()
    {
        // Solo: one request at a time.
        var solo = new string[Prompts.Length];
        for (int i = 0; i < Prompts.Length; i++)
        {
            var (status, body) = await _s.PostAsync("v1/completions", Body(Prompts[i], stream: false));
            Assert.Equal(200, status);
            solo[i] = body.GetProperty("choices")[0].GetProperty("text").GetString()!;
        }
        long forwardsBefore = _s.Engine.GetMetrics().Forwards;

        // All at once, streaming: they share forwards, and each must still get exactly its solo text.
        var tasks = Prompts.Select(async p =>
        {
            var events = await _s.StreamAsync("v1/completions", Body(p, stream: true));
            Assert.Equal("[DONE]", events[^1]);
            return string.Concat(events[..^1].Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()));
        }).ToArray();
        var parallel = await Task.WhenAll(tasks);
        for (int i = 0; i < Prompts.Length; i++) Assert.Equal(solo[i], parallel[i]);
        Assert.Contains(solo, t => t.Length > 0);

        // Sharing happened: far fewer forwards than the sum of the requests' steps.
        long forwards = _s.Engine.GetMetrics().Forwards - forwardsBefore;
        Assert.True(forwards < Prompts.Length * 24 / 2, $"{forwards} forwards for {Prompts.Length} parallel requests: they were not batched");
    }

    [Fact]
    public async Task Sixteen_parallel_streaming_calls_on_one_chat_client()
    {
        IChatClient client = new HunchChatClient(_s.Engine, "pycoder");
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 16 };
        var solo = new string[Prompts.Length];
        for (int i = 0; i < Prompts.Length; i++)
        {
            var r = await client.GetResponseAsync([new ChatMessage(ChatRole.User, Prompts[i])], options);
            solo[i] = r.Text;
            Assert.NotNull(r.Usage);
            Assert.Equal(r.Usage!.InputTokenCount + r.Usage.OutputTokenCount, r.Usage.TotalTokenCount);
            Assert.Equal("none", r.AdditionalProperties!["speculation.drafter"]);
        }
        var tasks = Prompts.Select(async p =>
        {
            var sb = new StringBuilder();
            UsageDetails? usage = null;
            ChatFinishReason? finish = null;
            await foreach (var u in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, p)], options))
            {
                sb.Append(u.Text);
                foreach (var c in u.Contents) if (c is UsageContent uc) usage = uc.Details;
                finish ??= u.FinishReason;
            }
            Assert.NotNull(usage);
            Assert.True(usage!.OutputTokenCount is > 0 and <= 16);
            Assert.NotNull(finish);
            return sb.ToString();
        }).ToArray();
        var parallel = await Task.WhenAll(tasks);
        for (int i = 0; i < Prompts.Length; i++) Assert.Equal(solo[i], parallel[i]);
    }

    [Fact]
    public async Task Chat_client_maps_options_and_reports_metadata()
    {
        IChatClient client = new HunchChatClient(_s.Engine, "pycoder");
        var meta = client.GetService<ChatClientMetadata>();
        Assert.Equal("pycoder", meta!.DefaultModelId);
        var options = new ChatOptions { Temperature = 0.9f, TopP = 0.9f, Seed = 77, MaxOutputTokens = 12 };
        var a = await client.GetResponseAsync("def add(a, b):", options);
        var b = await client.GetResponseAsync("def add(a, b):", options);
        Assert.Equal(a.Text, b.Text);                       // seeded
        Assert.True(a.Usage!.OutputTokenCount <= 12);       // max tokens

        // A stop sequence taken from the greedy reply cuts it there.
        var greedy = await client.GetResponseAsync("import os\n", new ChatOptions { Temperature = 0, MaxOutputTokens = 30 });
        string text = greedy.Text;
        Assert.True(text.Length > 6, $"reply too short to cut: '{text}'");
        string stop = text.Substring(3, 3);
        var cut = await client.GetResponseAsync("import os\n", new ChatOptions { Temperature = 0, MaxOutputTokens = 30, StopSequences = [stop] });
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], cut.Text);
        Assert.Equal(ChatFinishReason.Stop, cut.FinishReason);
    }

    [Fact]
    public async Task Client_disconnect_cancels_generation_and_frees_the_slot_within_a_second()
    {
        await using var one = await TestServer.StartAsync(new EngineOptions { Parallel = 1, QueueLimit = 4 });
        var engine = one.Engine;
        long generatedBefore = engine.GetMetrics().GeneratedTokens;
        using var cts = new CancellationTokenSource();
        using var client = one.HangingUpClient();
        using (var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { prompt = "import os\n", max_tokens = 370, temperature = 1.0, seed = 3, stream = true, ignore_eos = true }), Encoding.UTF8, "application/json"),
        })
        {
            var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
            Assert.StartsWith("data: ", await reader.ReadLineAsync(cts.Token));
            Assert.Equal(1, engine.GetMetrics().Active);
            // Hang up mid-stream.
            cts.Cancel();
            response.Dispose();
        }
        var sw = Stopwatch.StartNew();
        while (engine.GetMetrics().Active != 0 && sw.ElapsedMilliseconds < 1000) await Task.Delay(10);
        Assert.Equal(0, engine.GetMetrics().Active);
        Assert.True(engine.GetMetrics().GeneratedTokens - generatedBefore < 370, "the request ran to its end instead of being cancelled");

        // The freed slot serves the next request.
        var (status, _) = await one.PostAsync("v1/completions", Body("def f():", stream: false, maxTokens: 4));
        Assert.Equal(200, status);
    }

    [Fact]
    public async Task A_full_queue_answers_429_and_the_server_recovers()
    {
        await using var one = await TestServer.StartAsync(new EngineOptions { Parallel = 1, QueueLimit = 0 });
        using var cts = new CancellationTokenSource();
        using var client = one.HangingUpClient();
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { prompt = "import os\n", max_tokens = 370, temperature = 1.0, seed = 5, stream = true, ignore_eos = true }), Encoding.UTF8, "application/json"),
        };
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        await reader.ReadLineAsync(cts.Token);
        Assert.Equal(1, one.Engine.GetMetrics().Active);

        // The only slot is busy and no request may wait.
        var (status, body) = await one.PostAsync("v1/completions", Body("def f():", stream: false, maxTokens: 4));
        Assert.Equal(429, status);
        Assert.Equal("rate_limit_exceeded", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(1, one.Engine.GetMetrics().RequestsRejected);
        cts.Cancel();
        response.Dispose();
        request.Dispose();
        var sw = Stopwatch.StartNew();
        while (one.Engine.GetMetrics().Active != 0 && sw.ElapsedMilliseconds < 1000) await Task.Delay(10);
        (status, _) = await one.PostAsync("v1/completions", Body("def f():", stream: false, maxTokens: 4));
        Assert.Equal(200, status);
    }
}
