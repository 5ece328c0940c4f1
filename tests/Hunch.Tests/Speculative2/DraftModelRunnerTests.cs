using Hunch.Generation;
using Hunch.Models;
using Hunch.Speculative.Model;
using Hunch.Tests.Engine;

namespace Hunch.Tests.Speculative2;

/// <summary>The draft model's cache follows the target's committed tokens, and the confidence stop shortens chains.</summary>
[Collection("Speculative2")]
public class DraftModelRunnerTests(ModelPair pair)
{
    [Fact]
    public void DraftCacheRollsBackToTheTargetsTokensExactly()
    {
        using var drafter = (DraftModelDrafter)ModelDrafterFactory.Create("model:" + ModelPair.DraftPath, pair.Target);
        var gen = new Generator(pair.Target, null);
        var a = ReferenceCase.Load()[0];
        var first = gen.Generate(a.PromptIds, ModelPair.Options(24), drafter);
        // After a request the draft holds its own chain rows too; sync to a sequence that leaves the generated
        // path after 10 tokens and continues differently.
        var tokens = a.PromptIds.Concat(first.Tokens.Take(10)).Append(first.Tokens[10] == 5 ? 6 : 5).ToArray();
        var synced = drafter.Runner.Sync(tokens).ToArray();
        Assert.Equal(tokens.Length, drafter.Runner.Length);

        using var fresh = TransformerModel.Load(ModelPair.DraftPath);
        var cache = fresh.CreateCache();
        var batch = new ForwardBatch();
        batch.AddSequence(tokens, cache, 0);
        fresh.Forward(batch);
        Assert.Equal(batch.Logits(batch.Count - 1).ToArray(), synced);
    }

    [Fact]
    public void HigherConfidenceThresholdDraftsShorterChains()
    {
        var rc = ReferenceCase.Load()[20];
        double PerStep(string options)
        {
            using var drafter = ModelDrafterFactory.Create("model:" + ModelPair.DraftPath + options, pair.Target);
            var s = new Generator(pair.Target, null).Generate(rc.PromptIds, ModelPair.Options(24), drafter).Stats;
            return (double)s.DraftedTokens / s.Steps;
        }
        double none = PerStep("+depth=6+threshold=0+fixed");
        double strict = PerStep("+depth=6+threshold=0.6+fixed");
        Assert.True(none > 4, $"threshold 0 should draft (nearly) the full depth, drafted {none:F2} per step");
        Assert.True(strict < 0.6 * none, $"threshold 0.6 drafted {strict:F2} per step against {none:F2}");
    }
}
