using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Hunch.Server.Tests;

/// <summary>Every kind of bad request gets a clear OpenAI-shaped JSON error with the right 4xx status, and the
/// server keeps serving.</summary>
public sealed class BadInputTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    readonly TestServer _s = fixture.Server;

    async Task<JsonElement> Expect(int status, string path, string body, string? param = null)
    {
        var (got, json) = await _s.PostAsync(path, body);
        Assert.Equal(status, got);
        var error = json.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("type").GetString()));
        if (param is not null) Assert.Equal(param, error.GetProperty("param").GetString());
        return error;
    }

    async Task StillServes()
    {
        var (status, body) = await _s.PostAsync("v1/completions", """{"prompt":"def f():","max_tokens":2,"temperature":0}""");
        Assert.Equal(200, status);
        Assert.InRange(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), 1, 2);
    }

    [Theory]
    [InlineData("{\"messages\": [")]
    [InlineData("not json at all")]
    [InlineData("")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}],}")]
    public async Task Malformed_json_is_400(string body)
    {
        await Expect(400, "v1/chat/completions", body);
        await StillServes();
    }

    [Theory]
    [InlineData("""{"messages": "hello"}""", "messages")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}""", "temperature")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "max_tokens": "ten"}""", "max_tokens")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2.5}""", "max_tokens")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "stream": "yes"}""", "stream")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "stop": 5}""", "stop")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "seed": "x"}""", "seed")]
    [InlineData("""{"messages": [{"role": "wizard", "content": "hi"}]}""", "messages[0].role")]
    [InlineData("""{"messages": [{"role": "user", "content": 42}]}""", "messages[0].content")]
    [InlineData("""{"messages": []}""", "messages")]
    [InlineData("""{"model": "x"}""", "messages")]
    [InlineData("""[1, 2, 3]""", null)]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "temperature": 5}""", "temperature")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 50, "logprobs": true}""", "top_logprobs")]
    public async Task Wrong_types_and_values_are_400_naming_the_field(string body, string? param)
    {
        await Expect(400, "v1/chat/completions", body, param);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(100000)]
    public async Task Max_tokens_out_of_range_is_400(int maxTokens)
    {
        await Expect(400, "v1/completions", JsonSerializer.Serialize(new { prompt = "def f():", max_tokens = maxTokens }), "max_tokens");
        await StillServes();
    }

    [Fact]
    public async Task Prompt_longer_than_the_context_is_400()
    {
        string prompt = string.Concat(Enumerable.Repeat("import os\n", 400));
        var error = await Expect(400, "v1/completions", JsonSerializer.Serialize(new { prompt, max_tokens = 4 }), "prompt");
        Assert.Contains("context", error.GetProperty("message").GetString());
        // Prompt that fits but leaves no room for max_tokens.
        string fits = string.Concat(Enumerable.Repeat("import os\n", 50));
        await Expect(400, "v1/completions", JsonSerializer.Serialize(new { prompt = fits, max_tokens = 380 }), "max_tokens");
        await StillServes();
    }

    [Fact]
    public async Task Token_ids_outside_the_vocabulary_are_400()
    {
        await Expect(400, "v1/completions", """{"prompt": [1, 2, 999999], "max_tokens": 2}""", "prompt");
        await Expect(400, "v1/completions", """{"prompt": [1, "a"], "max_tokens": 2}""", "prompt");
    }

    [Fact]
    public async Task Oversized_body_is_413()
    {
        await using var small = await TestServer.StartAsync(new Hunch.Api.EngineOptions { Parallel = 1 }, maxBody: 64 * 1024);
        string big = JsonSerializer.Serialize(new { prompt = new string('x', 200_000), max_tokens = 2 });
        var (status, body) = await small.PostAsync("v1/completions", big);
        Assert.Equal(413, status);
        Assert.Equal("request_too_large", body.GetProperty("error").GetProperty("code").GetString());

        // Chunked upload (no Content-Length) is cut at the limit too.
        using var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big)));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var response = await small.Http.SendAsync(request);
        Assert.Equal(413, (int)response.StatusCode);

        var (ok, _) = await small.PostAsync("v1/completions", """{"prompt":"def f():","max_tokens":2}""");
        Assert.Equal(200, ok);
    }

    [Fact]
    public async Task Wrong_or_missing_api_key_is_401()
    {
        await using var secured = await TestServer.StartAsync(new Hunch.Api.EngineOptions { Parallel = 1 }, apiKey: "s3cret");
        using var anonymous = new HttpClient { BaseAddress = secured.BaseAddress };
        var response = await anonymous.GetAsync("v1/models");
        Assert.Equal(401, (int)response.StatusCode);
        Assert.Equal("invalid_api_key", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "wrong");
        Assert.Equal(401, (int)(await anonymous.GetAsync("v1/models")).StatusCode);

        // The official client with the right key works; with the wrong key it throws.
        var models = await secured.OpenAI("s3cret").GetOpenAIModelClient().GetModelsAsync();
        Assert.NotEmpty(models.Value);
        var ex = await Assert.ThrowsAnyAsync<System.ClientModel.ClientResultException>(() => secured.OpenAI("nope").GetOpenAIModelClient().GetModelsAsync());
        Assert.Equal(401, ex.Status);
        // Health stays open for probes.
        Assert.Equal(200, (int)(await anonymous.GetAsync("health")).StatusCode);
    }

    [Fact]
    public async Task Unknown_routes_are_404_json()
    {
        var response = await _s.Http.GetAsync("v1/nothing-here");
        Assert.Equal(404, (int)response.StatusCode);
        Assert.True(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.TryGetProperty("error", out _));
    }
}
