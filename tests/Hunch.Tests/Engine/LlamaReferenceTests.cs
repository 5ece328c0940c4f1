using Hunch.Models;

namespace Hunch.Tests.Engine;

/// <summary>The bundled F32 model against llama.cpp's own outputs (shared/reference/pycoder).</summary>
public class LlamaReferenceTests
{
    [Fact]
    public void TopLogitsAtLastPromptTokenMatchLlamaCpp()
    {
        using var model = TransformerModel.Load(TestPaths.BundledModel);
        var batch = new ForwardBatch();
        foreach (var rc in ReferenceCase.Load())
        {
            var cache = model.CreateCache();
            batch.Clear();
            batch.AddSequence(rc.PromptIds, cache, 0);
            model.Forward(batch);
            var logits = batch.Logits(batch.Count - 1);
            foreach (var (tok, logit) in rc.Top20)
                Assert.True(Math.Abs(logits[tok] - logit) < 1e-3, $"{rc.Id}: token {tok} logit {logits[tok]} vs llama.cpp {logit}");
        }
    }
}
