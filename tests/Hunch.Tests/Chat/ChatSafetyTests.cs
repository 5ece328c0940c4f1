using System.Diagnostics;
using System.Text.Json.Nodes;
using Hunch.Chat;

namespace Hunch.Tests.Chat;

/// <summary>A hostile template must fail with a typed exception, quickly, without exhausting the stack or memory.</summary>
public class ChatSafetyTests
{
    private static ChatTemplateException RenderFails(string source, ChatTemplateLimits? limits = null, TimeSpan? within = null)
    {
        var sw = Stopwatch.StartNew();
        var ex = Assert.Throws<ChatTemplateException>(() =>
            ChatTemplate.Parse(source, limits).Render(new ChatTemplateContext { Limits = limits ?? ChatTemplateLimits.Default }));
        Assert.True(sw.Elapsed < (within ?? TimeSpan.FromSeconds(20)), $"took {sw.Elapsed}");
        return ex;
    }

    [Fact]
    public void InfiniteMacroRecursionHitsTheDepthLimit()
    {
        var ex = RenderFails("{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}");
        Assert.Equal(ChatTemplateErrorKind.LimitExceeded, ex.Kind);
        Assert.Contains("nested deeper than 64", ex.Message);
    }

    [Fact]
    public void MutualRecursionWithDeepExpressionsDoesNotOverflowTheStack()
    {
        string deep = new string('(', 40) + "n" + new string(')', 40);
        var ex = RenderFails("{% macro a(n) %}{{ b(" + deep + ") }}{% endmacro %}{% macro b(n) %}{{ a(" + deep + ") }}{% endmacro %}{{ a(0) }}");
        Assert.Equal(ChatTemplateErrorKind.LimitExceeded, ex.Kind);
    }

    [Fact]
    public void RecursiveLoopDepthIsBounded()
    {
        var ex = RenderFails("{% set t = [1] %}{% for x in t recursive %}{{ loop(t) }}{% endfor %}");
        Assert.Equal(ChatTemplateErrorKind.LimitExceeded, ex.Kind);
    }

    [Fact]
    public void HugeOutputIsCutOffAtTheOutputLimit()
    {
        var ex = RenderFails("{% for i in range(100000) %}{{ 'xxxxxxxxxx' * 100 }}{% endfor %}");
        Assert.Equal(ChatTemplateErrorKind.LimitExceeded, ex.Kind);
        Assert.Contains("output", ex.Message);
    }

    [Fact]
    public void OutputLimitIsConfigurableAndExact()
    {
        var limits = ChatTemplateLimits.Default with { MaxOutputLength = 100 };
        var ctx = new ChatTemplateContext { Limits = limits };
        Assert.Equal(new string('a', 100), ChatTemplate.Parse("{{ 'a' * 100 }}").Render(ctx));
        Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("{{ 'a' * 100 }}{{ 'b' }}").Render(ctx));
    }

    [Fact]
    public void StringDoublingIsStoppedBeforeAllocating()
    {
        var ex = RenderFails("{% set ns = namespace(s='x') %}{% for i in range(200) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}");
        Assert.Equal(ChatTemplateErrorKind.LimitExceeded, ex.Kind);
    }

    [Fact]
    public void HugeRepetitionIsRefusedWithoutAllocating()
    {
        Assert.Equal(ChatTemplateErrorKind.LimitExceeded, RenderFails("{{ 'x' * 1000000000000 }}").Kind);
        Assert.Equal(ChatTemplateErrorKind.LimitExceeded, RenderFails("{{ ([1] * 1000000000)|length }}").Kind);
        Assert.Equal(ChatTemplateErrorKind.LimitExceeded, RenderFails("{{ 'x'|center(2000000000) }}").Kind);
        Assert.Equal(ChatTemplateErrorKind.LimitExceeded, RenderFails("{{ 'x'|indent(2000000000, true) }}").Kind);
        // jinja2's sandbox refuses ranges over 100000 items
        RenderFails("{{ range(1000000000)|length }}");
    }

    [Fact]
    public void TotalAllocationIsBounded()
    {
        // Each string is under the single-value limit, but together they exceed the allocation budget.
        var limits = ChatTemplateLimits.Default with { MaxAllocation = 20_000_000 };
        var ex = RenderFails("{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = ns.l + ['x' * 500000 ~ i] %}{% endfor %}", limits);
        Assert.Equal(ChatTemplateErrorKind.LimitExceeded, ex.Kind);
    }

    [Fact]
    public void LongLoopsHitTheStepLimit()
    {
        // 10^10 iterations would run for hours; the step bound stops it (the default bound, 2M steps, takes about
        // a second in a release build; a smaller one keeps this test fast).
        Assert.Equal(2_000_000, ChatTemplateLimits.Default.MaxSteps);
        var limits = ChatTemplateLimits.Default with { MaxSteps = 200_000 };
        var ex = RenderFails("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", limits, TimeSpan.FromSeconds(10));
        Assert.Equal(ChatTemplateErrorKind.LimitExceeded, ex.Kind);
        Assert.Contains("steps", ex.Message);
    }

    [Fact]
    public void StepLimitIsConfigurable()
    {
        var limits = ChatTemplateLimits.Default with { MaxSteps = 1000 };
        var ex = RenderFails("{% for a in range(2000) %}{% endfor %}", limits, TimeSpan.FromSeconds(5));
        Assert.Equal(ChatTemplateErrorKind.LimitExceeded, ex.Kind);
        // Well under the limit renders.
        Assert.Equal("", ChatTemplate.Parse("{% for a in range(10) %}{% endfor %}").Render(new ChatTemplateContext { Limits = limits }));
    }

    [Fact]
    public void DeeplyNestedSyntaxIsRejectedAtParse()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("{{ " + new string('(', 10000) + "1" + new string(')', 10000) + " }}"));
        Assert.Equal(ChatTemplateErrorKind.Syntax, ex.Kind);
        var ex2 = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(string.Concat(Enumerable.Repeat("{% if 1 %}", 10000))));
        Assert.Equal(ChatTemplateErrorKind.Syntax, ex2.Kind);
        Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("{{ " + string.Concat(Enumerable.Repeat("not ", 10000)) + "1 }}"));
        Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("{{ " + string.Concat(Enumerable.Repeat("-", 10000)) + "1 }}"));
        Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("{{ x" + string.Concat(Enumerable.Repeat("|trim", 10000)) + " }}", ChatTemplateLimits.Default with { MaxTokens = 1000 }));
    }

    [Fact]
    public void DeeplyNestedInputIsRejected()
    {
        JsonNode node = new JsonArray();
        for (int i = 0; i < 1000; i++) node = new JsonArray(node);
        var ctx = new ChatTemplateContext { Tools = node };
        var ex = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("{{ tools }}").Render(ctx));
        Assert.Equal(ChatTemplateErrorKind.LimitExceeded, ex.Kind);
    }

    [Fact]
    public void MutatingMethodsAreRefusedLikeTheImmutableSandbox()
    {
        var ex = RenderFails("{% set l = [1] %}{{ l.append(2) }}");
        Assert.Contains("unsafe", ex.Message);
        RenderFails("{% set d = {} %}{{ d.update({'a': 1}) }}");
        RenderFails("{% set d = {'a': 1} %}{{ d.pop('a') }}");
    }
}
