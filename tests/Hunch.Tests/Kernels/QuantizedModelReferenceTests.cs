using Hunch.Models;
using Hunch.Tests.Engine;
using Xunit.Abstractions;

namespace Hunch.Tests.Kernels;

/// <summary>
/// The quantized variants of the bundled model against llama.cpp's own outputs (shared/reference/pycoder): top-20
/// logits at the last prompt token and 64-token greedy continuations, compared as the reference README says. This
/// engine quantizes activations to 8 bits exactly as llama.cpp does; top-20 logits are required to be well inside
/// the README's tolerance.
/// </summary>
public class QuantizedModelReferenceTests(ITestOutputHelper output)
{
    readonly ITestOutputHelper _output = output;

    public static IEnumerable<object[]> Types() =>
        new[] { "Q8_0", "Q4_0", "Q4_K_M", "Q6_K", "BF16" }.Select(t => new object[] { t });

    // The README's τ: 0.01 for BF16, 0.05 for quantized types. llama.cpp runs Q4_0 through repacked 8×8 kernels and
    // sums in its own order elsewhere, so its logits and ours differ by float rounding; 0.05 covers that.
    static float Tau(string type) => type == "BF16" ? 0.01f : 0.05f;

    static float LogitTolerance(string type) => type == "BF16" ? 2e-2f : 0.1f;

    /// <summary>The first prompts only, for the default (fast) test run; the Slow variant covers all 60.</summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void TopLogitsAtLastPromptTokenMatchLlamaCppOnFirstPrompts(string type) => CheckTopLogits(type, 6);

    [Theory]
    [Trait("Category", "Slow")]
    [MemberData(nameof(Types))]
    public void TopLogitsAtLastPromptTokenMatchLlamaCpp(string type) => CheckTopLogits(type, int.MaxValue);

    void CheckTopLogits(string type, int prompts)
    {
        using var model = TransformerModel.Load(TestPaths.SharedModel($"pycoder-{type}.gguf"));
        var batch = new ForwardBatch();
        float worst = 0;
        foreach (var rc in ReferenceCase.Load(type).Take(prompts))
        {
            var cache = model.CreateCache();
            batch.Clear();
            batch.AddSequence(rc.PromptIds, cache, 0);
            model.Forward(batch);
            var logits = batch.Logits(batch.Count - 1);
            foreach (var (tok, logit) in rc.Top20)
            {
                float err = Math.Abs(logits[tok] - logit);
                worst = Math.Max(worst, err);
                Assert.True(err < LogitTolerance(type), $"{type} {rc.Id}: token {tok} logit {logits[tok]} vs llama.cpp {logit}");
            }
            // Same top-1 unless llama.cpp's own top-2 margin there is below τ.
            float margin = rc.Top20[0].Logit - rc.Top20[1].Logit;
            if (margin >= Tau(type))
            {
                int best = 0;
                for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
                Assert.Equal(rc.Top20[0].Token, best);
            }
        }
        _output.WriteLine($"{type}: worst top-20 logit error {worst}");
    }

    /// <summary>
    /// Greedy continuations, checked by teacher forcing: prompt + llama.cpp's continuation go through one batched
    /// forward with logits at every position, and our argmax must equal llama.cpp's token at every step before the
    /// first one where llama.cpp's top-2 margin is below τ. Up to that step both engines have seen the same tokens, so
    /// this is exactly "our greedy continuation equals llama.cpp's", and the engine's batch invariance (tested
    /// bitwise in the kernel tests) makes the batched logits those of one-at-a-time decoding.
    /// </summary>
    [Theory]
    [Trait("Category", "Slow")]
    [MemberData(nameof(Types))]
    public void GreedyContinuationsMatchLlamaCpp(string type)
    {
        using var model = TransformerModel.Load(TestPaths.SharedModel($"pycoder-{type}.gguf"));
        var batch = new ForwardBatch();
        int compared = 0, full = 0;
        var mismatches = new List<string>();
        foreach (var rc in ReferenceCase.Load(type))
        {
            int n = GreedyReferenceTests.ComparableLength(rc.Margins, Tau(type));
            if (n == 0) continue;
            var tokens = rc.PromptIds.Concat(rc.Greedy.Take(n - 1)).ToArray();
            var cache = model.CreateCache();
            batch.Clear();
            batch.AddSequence(tokens, cache, 0, allLogits: true);
            model.Forward(batch);
            for (int i = 0; i < n; i++)
            {
                var logits = batch.Logits(rc.PromptIds.Length - 1 + i);
                int best = 0;
                for (int v = 1; v < logits.Length; v++) if (logits[v] > logits[best]) best = v;
                if (best != rc.Greedy[i])
                {
                    mismatches.Add($"{rc.Id}@{i} (ours {best}, llama.cpp {rc.Greedy[i]}, llama.cpp margin {rc.Margins[i]:G3})");
                    break;
                }
            }
            compared += n;
            if (n == rc.Greedy.Length) full++;
        }
        Assert.True(mismatches.Count == 0, $"{type}: {mismatches.Count} continuations differ: {string.Join("; ", mismatches)}");
        Assert.True(compared > 0);
        _output.WriteLine($"{type}: {compared} greedy tokens compared, {full} of 60 continuations in full");
    }
}
