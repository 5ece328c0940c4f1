using System.ClientModel;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Hunch.Api;
using Microsoft.AspNetCore.Builder;
using OpenAI;

namespace Hunch.Server.Tests;

/// <summary>A real server on 127.0.0.1 with an ephemeral port, over a real engine and the bundled model.</summary>
public sealed class TestServer : IAsyncDisposable
{
    public HunchEngine Engine { get; }
    public WebApplication App { get; }
    public Uri BaseAddress { get; }
    public HttpClient Http { get; }
    readonly HunchModel _model;

    TestServer(HunchModel model, HunchEngine engine, WebApplication app, Uri address, string? apiKey)
    {
        _model = model;
        Engine = engine;
        App = app;
        BaseAddress = address;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
        if (apiKey is not null) Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
    }

    public static async Task<TestServer> StartAsync(EngineOptions? options = null, string? apiKey = null, long maxBody = 4 << 20)
    {
        var model = HunchModel.Load(ServerPaths.BundledModel, threads: 2);
        options ??= new EngineOptions();
        // Fixed-size draft trees: auto-sized trees follow timings of this machine (busy and noisy under test) and
        // may choose not to draft at all, which would leave the speculation tests nothing to check.
        int nodes = options.MaxDraftNodes;
        var engine = new HunchEngine(model, options.DrafterFactory is null
            ? options with { DrafterFactory = name => Hunch.Speculative.Drafters.Create(FixedTree(name), model, nodes) }
            : options);
        var app = HunchServer.Create(engine, new ServerOptions { Host = "127.0.0.1", Port = 0, ApiKey = apiKey, ModelId = "pycoder", MaxBodyBytes = maxBody });
        await app.StartAsync();
        var address = HunchServer.Addresses(app)[0];
        return new TestServer(model, engine, app, new Uri(address.TrimEnd('/') + "/"), apiKey);
    }

    /// <summary>A client that really hangs up when a response is disposed early (the default handler keeps reading
    /// an unfinished response for up to 2 s to reuse the connection, which would hide a disconnect).</summary>
    public HttpClient HangingUpClient() => new(new SocketsHttpHandler { MaxResponseDrainSize = 0, ResponseDrainTimeout = TimeSpan.Zero, PooledConnectionLifetime = TimeSpan.Zero })
    {
        BaseAddress = BaseAddress,
    };

    static string FixedTree(string name) => name switch
    {
        "lookup" => "lookup:tree=fixed",
        "recycling" => "recycling:tree=fixed,shared=true",
        _ => name,
    };

    /// <summary>The official OpenAI client pointed at this server.</summary>
    public OpenAIClient OpenAI(string key = "unused")
        => new(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(BaseAddress, "v1") });

    public async Task<(int Status, JsonElement Body)> PostAsync(string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await Http.PostAsync(path, content);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>Posts a streaming request and returns every SSE data payload (the last is "[DONE]").</summary>
    public async Task<List<string>> StreamAsync(string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.StartsWith("text/event-stream", response.Content.Headers.ContentType?.ToString());
        var events = new List<string>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal)) events.Add(line[6..]);
            else Assert.True(line.Length == 0, $"unexpected SSE line '{line}'");
        }
        return events;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        Engine.Dispose();
        _model.Dispose();
    }
}

/// <summary>One started server shared by the tests of a class.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public TestServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await TestServer.StartAsync(new EngineOptions { Parallel = 16, QueueLimit = 64 });

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
