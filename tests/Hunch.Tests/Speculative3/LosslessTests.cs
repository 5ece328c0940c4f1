using Hunch.Generation;
using Hunch.Tests.Engine;

namespace Hunch.Tests.Speculative3;

/// <summary>
/// Lookahead, Jacobi and auto emit exactly plain decoding's tokens: greedy, and seeded sampling (their drafts are
/// point masses, verified by sample-and-match with one draw per emitted token). The default run covers 3 prompts
/// of different categories; the slow category covers all 60.
/// </summary>
[Collection("spec3-model")]
public class LosslessTests(Spec3Fixture fx)
{
    const int Tokens = 32;

    static ReferenceCase[] Subset() => ReferenceCase.Load().Where((_, i) => i % 20 == 3).ToArray();

    public static TheoryData<string> Specs() => ["lookahead:flat", "jacobi:flat", "auto:flat"];

    void AssertIdentical(string spec, ReferenceCase[] cases, int tokens, float temperature, ulong seed, bool mustDraft)
    {
        using var drafter = fx.Create(spec);
        var gen = new Generator(fx.Model, null);   // one generator: prefix reuse and rollback mix across prompts
        long drafted = 0;
        foreach (var rc in cases)
        {
            var expected = fx.Plain(rc, tokens, temperature, seed);
            var r = fx.Run(rc.PromptIds, tokens, Spec3Fixture.Sampling(temperature, seed), drafter, gen);
            Assert.True(expected.SequenceEqual(r.Tokens), $"{spec} T={temperature} {rc.Id}: speculative output differs from plain decoding");
            drafted += r.Stats.DraftedTokens;
        }
        if (mustDraft) Assert.True(drafted > 0, $"{spec} drafted nothing");
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void GreedyEqualsPlainDecoding(string spec) => AssertIdentical(spec, Subset(), Tokens, 0, 0, mustDraft: true);

    [Theory]
    [MemberData(nameof(Specs))]
    public void SeededSamplingEqualsPlainSampling(string spec) => AssertIdentical(spec, Subset(), Tokens, 0.8f, 4321, mustDraft: true);

    [Fact]
    public void RegistryDraftersAreLosslessWithMeasuredCosts()
    {
        // The measured cost model may switch drafting off on a loaded CPU, so no minimum of drafted tokens here.
        var cases = Subset().Take(1).ToArray();
        foreach (var spec in new[] { "lookahead", "jacobi", "auto" })
            AssertIdentical(spec, cases, 24, 0, 0, mustDraft: false);
    }

    public static IEnumerable<object[]> AllSpecsAndTemperatures() =>
        from s in new[] { "lookahead:flat", "jacobi:flat", "auto:flat" } from t in new[] { 0f, 0.8f } select new object[] { s, t };

    [Theory]
    [Trait("Category", "Slow")]
    [MemberData(nameof(AllSpecsAndTemperatures))]
    public void AllBenchPromptsEqualPlainDecoding(string spec, float temperature) =>
        AssertIdentical(spec, ReferenceCase.Load(), 64, temperature, 17, mustDraft: true);
}
