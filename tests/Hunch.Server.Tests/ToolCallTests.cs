using System.Text;
using System.Text.Json;
using OpenAI.Chat;

namespace Hunch.Server.Tests;

/// <summary>Tool calls through the official OpenAI client against the real server and the bundled model.</summary>
public sealed class ToolCallTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    readonly TestServer _s = fixture.Server;

    const string WeatherParameters = """
        {"type":"object","properties":{"city":{"type":"string","maxLength":12},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},
         "required":["city","unit"],"additionalProperties":false}
        """;
    const string AddParameters = """
        {"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},
         "required":["a","b"],"additionalProperties":false}
        """;

    static ChatTool[] Tools() =>
    [
        ChatTool.CreateFunctionTool("get_weather", "Current weather of a city", BinaryData.FromString(WeatherParameters)),
        ChatTool.CreateFunctionTool("add", "Adds two integers", BinaryData.FromString(AddParameters)),
    ];

    static ChatCompletionOptions Options(ChatToolChoice choice, int maxTokens = 80)
    {
        var options = new ChatCompletionOptions { ToolChoice = choice, Temperature = 0, MaxOutputTokenCount = maxTokens };
        foreach (var t in Tools()) options.Tools.Add(t);
        return options;
    }

    static List<ChatMessage> Question() =>
    [
        new SystemChatMessage("You can call functions."),
        new UserChatMessage("What is 2 + 3? And how warm is it in Paris?"),
    ];

    /// <summary>Checks the arguments against the tool's schema by hand (the schemas are small and closed).</summary>
    static void AssertValidCall(string name, string arguments)
    {
        using var doc = JsonDocument.Parse(arguments);
        var args = doc.RootElement;
        Assert.Equal(JsonValueKind.Object, args.ValueKind);
        var names = new List<string>();
        foreach (var p in args.EnumerateObject()) names.Add(p.Name);
        if (name == "get_weather")
        {
            Assert.Equal(["city", "unit"], names.Order(StringComparer.Ordinal));
            Assert.Equal(JsonValueKind.String, args.GetProperty("city").ValueKind);
            Assert.True(args.GetProperty("city").GetString()!.Length <= 12);
            Assert.Contains(args.GetProperty("unit").GetString(), new[] { "celsius", "fahrenheit" });
        }
        else
        {
            Assert.Equal("add", name);
            Assert.Equal(["a", "b"], names.Order(StringComparer.Ordinal));
            foreach (var k in new[] { "a", "b" })
            {
                Assert.True(args.GetProperty(k).TryGetInt64(out long v), $"{k} is not an integer: {arguments}");
            }
        }
    }

    [Fact]
    public async Task RequiredToolCall_RoundTrip_NonStreaming()
    {
        var chat = _s.OpenAI().GetChatClient("pycoder");
        var messages = Question();
        var first = (await chat.CompleteChatAsync(messages, Options(ChatToolChoice.CreateRequiredChoice()))).Value;
        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.StartsWith("call_", call.Id);
        Assert.Equal(ChatToolCallKind.Function, call.Kind);
        AssertValidCall(call.FunctionName, call.FunctionArguments.ToString());

        messages.Add(new AssistantChatMessage(first.ToolCalls));
        messages.Add(new ToolChatMessage(call.Id, call.FunctionName == "add" ? "5" : "{\"temperature\": 21}"));
        var second = (await chat.CompleteChatAsync(messages, new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 16 })).Value;
        Assert.NotEqual(ChatFinishReason.ToolCalls, second.FinishReason);
        Assert.Empty(second.ToolCalls);
        Assert.True(second.Usage.OutputTokenCount > 0);
    }

    [Fact]
    public async Task RequiredToolCall_RoundTrip_Streaming_EqualsNonStreaming()
    {
        var chat = _s.OpenAI().GetChatClient("pycoder");
        var messages = Question();
        var options = Options(ChatToolChoice.CreateRequiredChoice());
        var full = (await chat.CompleteChatAsync(messages, options)).Value;

        string? id = null, name = null;
        var arguments = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var u in chat.CompleteChatStreamingAsync(messages, options))
        {
            foreach (var part in u.ToolCallUpdates)
            {
                Assert.Equal(0, part.Index);
                id ??= part.ToolCallId;
                name ??= part.FunctionName;
                if (part.FunctionArgumentsUpdate is { } a) arguments.Append(a.ToString());
            }
            if (u.FinishReason is { } f) finish = f;
        }
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.NotNull(id);
        Assert.StartsWith("call_", id);
        AssertValidCall(name!, arguments.ToString());
        Assert.Equal(full.ToolCalls[0].FunctionName, name);
        Assert.Equal(full.ToolCalls[0].FunctionArguments.ToString(), arguments.ToString());

        messages.Add(new AssistantChatMessage([ChatToolCall.CreateFunctionToolCall(id, name, BinaryData.FromString(arguments.ToString()))]));
        messages.Add(new ToolChatMessage(id, "42"));
        var text = new StringBuilder();
        ChatFinishReason? secondFinish = null;
        int updates = 0;
        await foreach (var u in chat.CompleteChatStreamingAsync(messages, new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 16 }))
        {
            updates++;
            Assert.Empty(u.ToolCallUpdates);
            foreach (var c in u.ContentUpdate) text.Append(c.Text);
            if (u.FinishReason is { } f) secondFinish = f;
        }
        Assert.True(updates > 1);
        Assert.NotNull(secondFinish);
        Assert.NotEqual(ChatFinishReason.ToolCalls, secondFinish);
    }

    [Fact]
    public async Task NamedFunction_IsTheOneCalled()
    {
        var chat = _s.OpenAI().GetChatClient("pycoder");
        foreach (var fn in new[] { "add", "get_weather" })
        {
            var r = (await chat.CompleteChatAsync(Question(), Options(ChatToolChoice.CreateFunctionChoice(fn)))).Value;
            var call = Assert.Single(r.ToolCalls);
            Assert.Equal(fn, call.FunctionName);
            AssertValidCall(fn, call.FunctionArguments.ToString());
        }
    }

    [Fact]
    public async Task StreamedDeltas_HaveTheOpenAIShape()
    {
        string body = JsonSerializer.Serialize(new
        {
            messages = new[] { new { role = "user", content = "Add 1 and 2." } },
            tools = ToolsJson(), tool_choice = "required", temperature = 0, max_tokens = 80, stream = true,
        });
        var events = await _s.StreamAsync("v1/chat/completions", body);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events.Take(events.Count - 1).Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0]).ToList();
        var deltas = chunks.Where(c => c.GetProperty("delta").TryGetProperty("tool_calls", out _)).Select(c => c.GetProperty("delta").GetProperty("tool_calls")[0]).ToList();
        Assert.True(deltas.Count >= 2);
        var head = deltas[0];
        Assert.Equal(0, head.GetProperty("index").GetInt32());
        Assert.StartsWith("call_", head.GetProperty("id").GetString());
        Assert.Equal("function", head.GetProperty("type").GetString());
        string name = head.GetProperty("function").GetProperty("name").GetString()!;
        string args = string.Concat(deltas.Select(d => d.GetProperty("function").GetProperty("arguments").GetString()));
        foreach (var d in deltas.Skip(1)) Assert.False(d.TryGetProperty("id", out _));
        AssertValidCall(name, args);
        Assert.Equal("tool_calls", chunks[^1].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task ToolCall_WithSpeculation_EqualsPlain()
    {
        foreach (var choice in new object[] { "required", new { type = "function", function = new { name = "get_weather" } } })
        {
            string Body(string drafter) => JsonSerializer.Serialize(new
            {
                messages = new[] { new { role = "user", content = "def f(x):\n    return x\n\ndef f(x):\n    return x\n# weather in Oslo, weather in Oslo" } },
                tools = ToolsJson(), tool_choice = choice, temperature = 0, max_tokens = 80, speculation = drafter,
            });
            var (s1, plain) = await _s.PostAsync("v1/chat/completions", Body("none"));
            var (s2, spec) = await _s.PostAsync("v1/chat/completions", Body("lookup"));
            Assert.Equal(200, s1);
            Assert.Equal(200, s2);
            var a = plain.GetProperty("choices")[0].GetProperty("message").GetProperty("tool_calls")[0].GetProperty("function");
            var b = spec.GetProperty("choices")[0].GetProperty("message").GetProperty("tool_calls")[0].GetProperty("function");
            Assert.Equal(a.GetProperty("name").GetString(), b.GetProperty("name").GetString());
            Assert.Equal(a.GetProperty("arguments").GetString(), b.GetProperty("arguments").GetString());
            AssertValidCall(a.GetProperty("name").GetString()!, a.GetProperty("arguments").GetString()!);
            Assert.Equal("lookup", spec.GetProperty("speculation").GetProperty("drafter").GetString());
            Assert.Equal(plain.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), spec.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        }
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"tools":{"a":1}}""", "tools")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes"}""", "tool_choice")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}""", "tool_choice")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"tool_choice":"required"}""", "tool_choice")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}]}""", "tools[1].function.name")]
    [InlineData("""{"messages":[{"role":"assistant","tool_calls":{"x":1}}]}""", "messages[0].tool_calls")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"$ref":"#/nowhere"}}}}}],"tool_choice":"required"}""", "tools")]
    public async Task BadToolRequests_Are400(string body, string param)
    {
        var (status, json) = await _s.PostAsync("v1/chat/completions", body);
        Assert.Equal(400, status);
        Assert.Equal(param, json.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task ToolChoiceNone_AnswersInText()
    {
        string body = JsonSerializer.Serialize(new
        {
            messages = new[] { new { role = "user", content = "Add 1 and 2." } },
            tools = ToolsJson(), tool_choice = "none", temperature = 0, max_tokens = 8,
        });
        var (status, json) = await _s.PostAsync("v1/chat/completions", body);
        Assert.Equal(200, status);
        var choice = json.GetProperty("choices")[0];
        Assert.False(choice.GetProperty("message").TryGetProperty("tool_calls", out _));
        Assert.NotEqual("tool_calls", choice.GetProperty("finish_reason").GetString());
    }

    static JsonElement ToolsJson() => JsonDocument.Parse(
        "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Current weather of a city\",\"parameters\":" + WeatherParameters + "}},"
        + "{\"type\":\"function\",\"function\":{\"name\":\"add\",\"description\":\"Adds two integers\",\"parameters\":" + AddParameters + "}}]").RootElement;
}
