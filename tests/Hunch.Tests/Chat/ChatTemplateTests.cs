using System.Text.Json;
using System.Text.Json.Nodes;
using Hunch.Chat;

namespace Hunch.Tests.Chat;

/// <summary>Unit tests of the public API and of Python value semantics the templates depend on.</summary>
public class ChatTemplateTests
{
    private static string R(string source, object? vars = null)
    {
        var ctx = new ChatTemplateContext();
        if (vars is not null)
        {
            foreach (var p in vars.GetType().GetProperties()) ctx.Variables[p.Name] = p.GetValue(vars);
        }
        return ChatTemplate.Parse(source).Render(ctx);
    }

    [Theory]
    [InlineData("{{ 1.0 }}", "1.0")]
    [InlineData("{{ 3 / 2 }}|{{ 4 / 2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}", "1.5|2.0|3|-4|2")]
    [InlineData("{{ 1e16 }}|{{ 1e-5 }}|{{ 0.1 + 0.2 }}|{{ 123456789.125 }}", "1e+16|1e-05|0.30000000000000004|123456789.125")]
    [InlineData("{{ [1, 'a', none, true] }}", "[1, 'a', None, True]")]
    [InlineData("{{ {'k': (1,), \"it's\": 'q\"'} }}", "{'k': (1,), \"it's\": 'q\"'}")]
    [InlineData("{{ 'abc'[::-1] }}{{ [1, 2, 3][-2:] }}{{ 'abcdef'[1:5:2] }}", "cba[2, 3]bd")]
    [InlineData("{{ 'a' ~ 1 ~ none ~ true ~ undefined_name }}", "a1NoneTrue")]
    [InlineData("{{ undefined_name }}|{{ undefined_name is defined }}|{{ undefined_name|length }}|{% for x in undefined_name %}x{% endfor %}", "|False|0|")]
    [InlineData("{{ x.missing }}|{{ x['missing'] is defined }}|{{ (none).attr is defined }}", "|False|False")]
    [InlineData("{{ 1 == 1.0 }}{{ true == 1 }}{{ (1, 2) == [1, 2] }}{{ 'a' in ['a'] }}{{ 'b' not in 'abc' }}", "TrueTrueFalseTrueFalse")]
    [InlineData("{{ 0 or '' or 'x' }}|{{ 1 and [] }}|{{ 'y' if [] else 'n' }}", "x|[]|n")]
    [InlineData("{{ '  a b  '|trim|upper|replace('A', 'z') }}", "z B")]
    [InlineData("{{ ' x '.strip() }}{{ 'a,b'.split(',') }}{{ 'Ab'.startswith('A') }}{{ 'x'.endswith(('y', 'x')) }}", "x['a', 'b']TrueTrue")]
    [InlineData("{{ {'b': 1, 'a': 2}|tojson }}|{{ 'é'|tojson }}|{{ [1, [2]]|tojson(indent=2) }}", "{\"b\": 1, \"a\": 2}|\"é\"|[\n  1,\n  [\n    2\n  ]\n]")]
    [InlineData("{% set ns = namespace(n=0) %}{% for i in range(4) if i is odd %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}", "4")]
    [InlineData("{% for x in 'ab' %}{{ loop.index }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{% endfor %}", "1TrueFalse22FalseTrue2")]
    [InlineData("{% for x in [1, 2, 3, 4] %}{% if x == 2 %}{% continue %}{% elif x == 4 %}{% break %}{% endif %}{{ x }}{% else %}E{% endfor %}", "13")]
    [InlineData("{% macro m(a, b='B') %}[{{ a }}{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, b=2) }}", "[1B][12]")]
    [InlineData("  {% if true %}\n  x\n  {% endif %}\ny\n", "  x\ny")]
    [InlineData("a  {%- if true -%}  b  {%- endif -%}  c", "abc")]
    public void RendersLikePython(string source, string expected)
    {
        Assert.Equal(expected, R(source, new { x = new Dictionary<string, object?> { ["k"] = 1 } }));
    }

    [Fact]
    public void UndefinedInArithmeticRaisesLikeJinja2()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => R("line one\n{{ 'a' + missing }}"));
        Assert.Equal("'missing' is undefined", ex.Reason);
        Assert.Equal(2, ex.Line);
        Assert.Equal(ChatTemplateErrorKind.Runtime, ex.Kind);
        Assert.Throws<ChatTemplateException>(() => R("{{ missing.attr }}"));
        Assert.Throws<ChatTemplateException>(() => R("{{ 'a' + 1 }}"));
    }

    [Fact]
    public void RaiseExceptionIsReportedAsRaised()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => R("{% if true %}{{ raise_exception('System role not supported') }}{% endif %}"));
        Assert.Equal(ChatTemplateErrorKind.Raised, ex.Kind);
        Assert.Equal("System role not supported", ex.Reason);
    }

    [Fact]
    public void SyntaxErrorsCarryLineAndColumn()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("ok\n  {{ 1 + }}"));
        Assert.Equal(ChatTemplateErrorKind.Syntax, ex.Kind);
        Assert.Equal(2, ex.Line);
        Assert.True(ex.Column > 0);
        Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("{% if x %}never closed"));
        Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("{% include 'other.jinja' %}"));
    }

    [Fact]
    public void StrftimeNowUsesTheContextClock()
    {
        var ctx = new ChatTemplateContext { Now = new DateTimeOffset(2024, 7, 26, 9, 5, 3, TimeSpan.Zero) };
        Assert.Equal("26 Jul 2024|Friday 09:05:03|2024-07-26",
            ChatTemplate.Parse("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%A %H:%M:%S') }}|{{ strftime_now('%Y-%m-%d') }}").Render(ctx));
    }

    [Fact]
    public void MessagesToolsAndVariablesReachTheTemplate()
    {
        var tools = JsonNode.Parse("""[{"type": "function", "function": {"name": "f", "parameters": {"x": 1.0}}}]""");
        var msg = ChatMessage.FromJson(JsonNode.Parse("""{"role": "assistant", "content": null, "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]}"""));
        var ctx = new ChatTemplateContext
        {
            Messages = [new ChatMessage("user", "hi"), msg],
            AddGenerationPrompt = true,
            BosToken = "<s>",
            Tools = tools,
            Variables = { ["enable_thinking"] = false, ["documents"] = new List<object?> { "d1" } },
        };
        string source = "{{ bos_token }}{{ eos_token is defined }}{{ messages|length }}{{ messages[1].content is none }}"
            + "{{ messages[1].tool_calls[0].function.arguments|tojson }}{{ tools[0].function.parameters.x }}{{ enable_thinking }}{{ documents }}{{ add_generation_prompt }}";
        Assert.Equal("<s>False2True{\"a\": 1}1.0False['d1']True", ChatTemplate.Parse(source).Render(ctx));
    }

    [Fact]
    public void ChatMessageFromJsonValidates()
    {
        Assert.Throws<ChatTemplateException>(() => ChatMessage.FromJson(JsonNode.Parse("[1]")));
        Assert.Throws<ChatTemplateException>(() => ChatMessage.FromJson(JsonNode.Parse("""{"content": "x"}""")));
        using var doc = JsonDocument.Parse("""{"role": "user", "content": [{"type": "text", "text": "hi"}], "name": "bob"}""");
        var m = ChatMessage.FromJson(doc.RootElement);
        Assert.Equal("user", m.Role);
        Assert.Null(m.Content);
        Assert.Equal("[{'type': 'text', 'text': 'hi'}] bob",
            ChatTemplate.Parse("{{ messages[0].content }} {{ messages[0].name }}").Render(new ChatTemplateContext { Messages = [m] }));
    }

    [Fact]
    public void PlainFallbackRendersRoleContentLines()
    {
        var messages = new[] { new ChatMessage("system", "Be brief."), new ChatMessage("user", "Hi") };
        Assert.Equal("system: Be brief.\nuser: Hi\nassistant:", ChatTemplate.PlainFallback.Render(messages, addGenerationPrompt: true));
        Assert.Equal("system: Be brief.\nuser: Hi\n", ChatTemplate.PlainFallback.Render(messages, addGenerationPrompt: false));
    }

    [Fact]
    public void LongConversationsRenderWithinTheDefaultLimits()
    {
        var messages = new List<ChatMessage> { new("system", "You are helpful.") };
        for (int i = 0; i < 200; i++)
        {
            messages.Add(new ChatMessage("user", $"Question {i}?"));
            messages.Add(new ChatMessage("assistant", $"Answer {i}."));
        }
        messages.Add(new ChatMessage("user", "Last question?"));
        int rendered = 0;
        foreach (var file in Directory.GetFiles(ChatTestPaths.ChatTemplates, "*.jinja"))
        {
            var template = ChatTemplate.Parse(File.ReadAllText(file));
            try
            {
                string text = template.Render(messages, addGenerationPrompt: true, "<s>", "</s>");
                Assert.Contains("Question 199?", text);
                Assert.Contains("Last question?", text);
                rendered++;
            }
            catch (ChatTemplateException e) when (e.Kind != ChatTemplateErrorKind.LimitExceeded)
            {
                // Templates that refuse system messages or need extra variables raise as jinja2 does; not a limit problem.
            }
        }
        Assert.True(rendered >= 14, $"only {rendered} templates rendered");
    }
}

public class ChatTemplateGgufTests
{
    private static byte[] GgufWithString(string key, string value)
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        w.Write(0x46554747u); // "GGUF"
        w.Write(3u);          // version
        w.Write(0UL);         // tensor count
        w.Write(1UL);         // metadata count
        var k = System.Text.Encoding.UTF8.GetBytes(key);
        w.Write((ulong)k.Length);
        w.Write(k);
        w.Write(8u);          // string
        var v = System.Text.Encoding.UTF8.GetBytes(value);
        w.Write((ulong)v.Length);
        w.Write(v);
        w.Flush();
        return ms.ToArray();
    }

    [Fact]
    public void ReadsTheTemplateFromGgufMetadata()
    {
        string source = File.ReadAllText(Path.Combine(ChatTestPaths.ChatTemplates, "google-gemma-2-2b-it.jinja"));
        using var file = Hunch.Gguf.GgufFile.FromBytes(GgufWithString(ChatTemplate.MetadataKey, source));
        var template = ChatTemplate.FromGguf(file);
        Assert.False(template.IsPlainFallback);
        Assert.Equal(source, template.Source);
        Assert.Equal("<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
            template.Render([new ChatMessage("user", "Hi")], addGenerationPrompt: true, bosToken: "<bos>"));
    }

    [Fact]
    public void FallsBackToPlainWhenTheModelHasNoTemplate()
    {
        using var file = Hunch.Gguf.GgufFile.Open(Path.Combine(ChatTestPaths.Root, "..", "shared", "models", "pycoder.gguf"));
        Assert.Null(file.GetString(ChatTemplate.MetadataKey));
        var template = ChatTemplate.FromGguf(file);
        Assert.True(template.IsPlainFallback);
        Assert.Same(ChatTemplate.PlainFallback, template);
    }
}
