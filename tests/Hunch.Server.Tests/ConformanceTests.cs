using System.Text;
using System.Text.Json;
using OpenAI.Chat;

namespace Hunch.Server.Tests;

/// <summary>Wire conformance with what OpenAI clients rely on, against a real server on loopback.</summary>
public sealed class ConformanceTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    readonly TestServer _s = fixture.Server;

    const string CodePrompt = "import os\nimport sys\n\ndef main():\n";

    static string Json(object o) => JsonSerializer.Serialize(o);

    [Fact]
    public async Task Models_health_and_metrics_answer()
    {
        var models = await _s.OpenAI().GetOpenAIModelClient().GetModelsAsync();
        Assert.Contains(models.Value, m => m.Id == "pycoder");

        var health = await _s.Http.GetStringAsync("health");
        Assert.Equal("ok", JsonDocument.Parse(health).RootElement.GetProperty("status").GetString());

        await _s.PostAsync("v1/completions", Json(new { prompt = CodePrompt, max_tokens = 4, temperature = 0 }));
        string metrics = await _s.Http.GetStringAsync("metrics");
        foreach (var name in new[] { "hunch_requests_total", "hunch_tokens_per_second", "hunch_queue_depth", "hunch_drafter_mean_accepted{drafter=\"none\"}", "hunch_generated_tokens_total" })
            Assert.Contains(name, metrics);
        Assert.Matches(@"(?m)^hunch_requests_total [1-9]", metrics);
    }

    [Fact]
    public async Task Chat_with_the_official_client_streaming_equals_non_streaming()
    {
        var chat = _s.OpenAI().GetChatClient("pycoder");
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 24 };
        ChatMessage[] messages = [new UserChatMessage("write a function that adds two numbers")];
        var full = (await chat.CompleteChatAsync(messages, options)).Value;
        Assert.Equal(ChatMessageRole.Assistant, full.Role);
        Assert.True(full.Usage.InputTokenCount > 5);
        Assert.InRange(full.Usage.OutputTokenCount, 1, 24);
        Assert.Equal(full.Usage.InputTokenCount + full.Usage.OutputTokenCount, full.Usage.TotalTokenCount);
        string text = full.Content.Count == 0 ? "" : full.Content[0].Text;

        var sb = new StringBuilder();
        string? id = null;
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        await foreach (var u in chat.CompleteChatStreamingAsync(messages, options))
        {
            id ??= u.CompletionId;
            Assert.Equal(id, u.CompletionId);
            foreach (var part in u.ContentUpdate) sb.Append(part.Text);
            finish ??= u.FinishReason;
            usage ??= u.Usage;
        }
        Assert.Equal(text, sb.ToString());
        Assert.Equal(full.FinishReason, finish);
        Assert.NotNull(usage);
        Assert.Equal(full.Usage.OutputTokenCount, usage!.OutputTokenCount);
    }

    [Fact]
    public async Task Chat_stream_has_one_id_role_first_usage_chunk_speculation_and_done()
    {
        var events = await _s.StreamAsync("v1/chat/completions", Json(new
        {
            model = "pycoder", messages = new[] { new { role = "user", content = "def add(a, b):" } },
            stream = true, stream_options = new { include_usage = true }, max_tokens = 12, temperature = 0,
            some_unknown_field = new { nested = 1 },
        }));
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.True(chunks.Count >= 3);
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        for (int i = 1; i < chunks.Count; i++)
            foreach (var ch in chunks[i].GetProperty("choices").EnumerateArray())
                Assert.False(ch.GetProperty("delta").TryGetProperty("role", out _));

        var last = chunks[^1];
        Assert.Equal(0, last.GetProperty("choices").GetArrayLength());
        var usage = last.GetProperty("usage");
        int completion = usage.GetProperty("completion_tokens").GetInt32();
        Assert.InRange(completion, 1, 12);
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + completion, usage.GetProperty("total_tokens").GetInt32());
        for (int i = 0; i < chunks.Count - 1; i++) Assert.Equal(JsonValueKind.Null, chunks[i].GetProperty("usage").ValueKind);

        var final = chunks[^2];
        Assert.False(final.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind == JsonValueKind.Null);
        var spec = final.GetProperty("speculation");
        Assert.Equal("none", spec.GetProperty("drafter").GetString());
        Assert.Equal(0, spec.GetProperty("drafted").GetInt64());
        Assert.True(spec.GetProperty("steps").GetInt32() >= 1);
    }

    [Fact]
    public async Task Completions_stream_equals_non_stream_and_max_completion_tokens_is_an_alias()
    {
        var (status, body) = await _s.PostAsync("v1/completions", Json(new { model = "x", prompt = CodePrompt, max_completion_tokens = 20, temperature = 0, ignore_eos = true }));
        Assert.Equal(200, status);
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        var choice = body.GetProperty("choices")[0];
        string text = choice.GetProperty("text").GetString()!;
        int tokens = body.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
        if (choice.GetProperty("finish_reason").GetString() == "length") Assert.Equal(20, tokens);
        Assert.Equal("none", body.GetProperty("speculation").GetProperty("drafter").GetString());

        var events = await _s.StreamAsync("v1/completions", Json(new { prompt = CodePrompt, max_tokens = 20, temperature = 0, stream = true }));
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        string streamed = string.Concat(chunks.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal(text, streamed);
        Assert.Equal(choice.GetProperty("finish_reason").GetString(), chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task Stop_strings_match_across_token_boundaries_and_are_never_partially_streamed()
    {
        // Find the greedy text and its token pieces, then pick a stop string that straddles a token boundary.
        var (_, body) = await _s.PostAsync("v1/completions", Json(new { prompt = CodePrompt, max_tokens = 40, temperature = 0, logprobs = 0 }));
        var choice = body.GetProperty("choices")[0];
        string text = choice.GetProperty("text").GetString()!;
        var pieces = choice.GetProperty("logprobs").GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToList();
        Assert.Equal(text, string.Concat(pieces));
        int boundary = -1, at = 0;
        for (int i = 0; i + 1 < pieces.Count; i++)
        {
            at += pieces[i].Length;
            if (i >= 3 && pieces[i].Length >= 2 && pieces[i + 1].Length >= 2) { boundary = at; break; }
        }
        Assert.True(boundary > 0, "the greedy text has no two-character pieces to straddle");
        string stop = text.Substring(boundary - 2, 4);
        int expectedEnd = text.IndexOf(stop, StringComparison.Ordinal);

        var (status, stopped) = await _s.PostAsync("v1/completions", Json(new { prompt = CodePrompt, max_tokens = 40, temperature = 0, stop = new[] { "@@never@@", stop } }));
        Assert.Equal(200, status);
        Assert.Equal(text[..expectedEnd], stopped.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal("stop", stopped.GetProperty("choices")[0].GetProperty("finish_reason").GetString());

        var events = await _s.StreamAsync("v1/completions", Json(new { prompt = CodePrompt, max_tokens = 40, temperature = 0, stop, stream = true }));
        string streamed = string.Concat(events[..^1].Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal(text[..expectedEnd], streamed);
    }

    [Fact]
    public async Task Seed_reproduces_sampling()
    {
        async Task<string> Sample(long seed)
        {
            var (status, body) = await _s.PostAsync("v1/completions", Json(new { prompt = CodePrompt, max_tokens = 16, temperature = 1.0, seed }));
            Assert.Equal(200, status);
            return body.GetProperty("choices")[0].GetProperty("text").GetString()!;
        }
        string a = await Sample(1234), b = await Sample(1234);
        Assert.Equal(a, b);
        var others = new HashSet<string>();
        for (long seed = 1; seed <= 4; seed++) others.Add(await Sample(seed));
        Assert.True(others.Count > 1, "different seeds all gave the same sample");
    }

    [Fact]
    public async Task N_above_one_is_refused()
    {
        var (status, body) = await _s.PostAsync("v1/chat/completions", Json(new { messages = new[] { new { role = "user", content = "hi" } }, n = 2 }));
        Assert.Equal(400, status);
        Assert.Equal("n", body.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task Logprobs_come_from_the_target_and_match_the_greedy_choice()
    {
        var (status, body) = await _s.PostAsync("v1/chat/completions", Json(new
        {
            messages = new[] { new { role = "user", content = "def add(a, b):" } }, max_tokens = 10, temperature = 0, logprobs = true, top_logprobs = 3,
        }));
        Assert.Equal(200, status);
        var content = body.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content");
        Assert.Equal(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), content.GetArrayLength());
        foreach (var t in content.EnumerateArray())
        {
            float lp = t.GetProperty("logprob").GetSingle();
            Assert.True(lp <= 0);
            var top = t.GetProperty("top_logprobs");
            Assert.Equal(3, top.GetArrayLength());
            // Greedy: the emitted token is the most likely one.
            Assert.Equal(lp, top[0].GetProperty("logprob").GetSingle());
            Assert.True(top[0].GetProperty("logprob").GetSingle() >= top[1].GetProperty("logprob").GetSingle());
            Assert.True(t.GetProperty("bytes").GetArrayLength() > 0 || t.GetProperty("token").GetString()!.Length == 0);
        }
    }

    [Fact]
    public async Task Speculation_option_is_per_request_and_unknown_drafters_are_refused()
    {
        var (status, body) = await _s.PostAsync("v1/completions", Json(new { prompt = CodePrompt, max_tokens = 8, temperature = 0, speculation = new { drafter = "none" } }));
        Assert.Equal(200, status);
        Assert.Equal("none", body.GetProperty("speculation").GetProperty("drafter").GetString());

        (status, body) = await _s.PostAsync("v1/completions", Json(new { prompt = CodePrompt, max_tokens = 8, speculation = new { drafter = "no-such-drafter" } }));
        Assert.Equal(400, status);
        Assert.Equal("speculation", body.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task Chat_turns_reuse_the_cached_prompt_prefix()
    {
        var turn1 = new[] { new { role = "user", content = "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"" } };
        var (_, first) = await _s.PostAsync("v1/chat/completions", Json(new { messages = turn1, max_tokens = 8, temperature = 0 }));
        string reply = first.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        var turn2 = new[] { turn1[0], new { role = "assistant", content = reply }, new { role = "user", content = "and now in C" } };
        var (status, second) = await _s.PostAsync("v1/chat/completions", Json(new { messages = turn2, max_tokens = 8, temperature = 0 }));
        Assert.Equal(200, status);
        int cached = second.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32();
        // Everything up to the end of the first prompt is shared (the "assistant:" label may tokenize differently once followed by text).
        Assert.True(cached >= first.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() - 2, $"only {cached} prompt tokens were reused");
    }
}
