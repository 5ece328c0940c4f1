using Hunch.Generation;
using Hunch.Gguf;
using Hunch.Speculative.Heads;
using Hunch.Tests.Engine;
using Hunch.Training;

namespace Hunch.Tests.Training;

public class HeadTrainingTests
{
    static float[] Random(Random r, int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((r.NextDouble() * 2 - 1) * scale)).ToArray();

    static DraftHeads RandomHeads(HeadVariant variant, int d, Random r)
    {
        var heads = new DraftHeads(1, d, variant);
        Random(r, heads.Weights[0].Length, 0.5).CopyTo(heads.Weights[0], 0);
        Random(r, d, 0.5).CopyTo(heads.Biases[0], 0);
        return heads;
    }

    [Theory]
    [InlineData(HeadVariant.Medusa)]
    [InlineData(HeadVariant.Hydra)]
    public void HeadBlockBackwardMatchesFiniteDifferences(HeadVariant variant)
    {
        const int d = 6;
        var r = new Random(1);
        var heads = RandomHeads(variant, d, r);
        var h = Random(r, d, 1);
        var e = Random(r, d, 1);
        var g = Random(r, d, 1); // L = g . h'
        double Loss()
        {
            var o = new float[d]; var z = new float[d];
            heads.Forward(0, h, e, o, z);
            double l = 0;
            for (int i = 0; i < d; i++) l += g[i] * (double)o[i];
            return l;
        }
        var outRow = new float[d]; var pre = new float[d];
        heads.Forward(0, h, e, outRow, pre);
        var gw = new float[heads.Weights[0].Length];
        var gb = new float[d];
        heads.Backward(0, h, e, pre, g, gw, gb);
        GradientCheck.Check(heads.Weights[0], gw, Loss);
        GradientCheck.Check(heads.Biases[0], gb, Loss);
    }

    [Theory]
    [InlineData(HeadVariant.Medusa)]
    [InlineData(HeadVariant.Hydra)]
    public void FullLossBackwardMatchesFiniteDifferences(HeadVariant variant)
    {
        const int d = 5, v = 9;
        var r = new Random(2);
        var heads = RandomHeads(variant, d, r);
        var h = Random(r, d, 1);
        var e = Random(r, d, 1);
        var wOut = Random(r, v * d, 1);
        int[] ids = [3, 7, 1];
        float[] p = [0.6f, 0.3f, 0.1f];
        float[] Project(float[] x)
        {
            var logits = new float[v];
            for (int t = 0; t < v; t++) { double s = 0; for (int c = 0; c < d; c++) s += wOut[t * d + c] * (double)x[c]; logits[t] = (float)s; }
            return logits;
        }
        double Loss()
        {
            var o = new float[d]; var z = new float[d];
            heads.Forward(0, h, e, o, z);
            return HeadTrainer.SoftCrossEntropy(Project(o), ids, p, 1f);
        }
        var outRow = new float[d]; var pre = new float[d];
        heads.Forward(0, h, e, outRow, pre);
        var logits = Project(outRow);
        HeadTrainer.SoftCrossEntropy(logits, ids, p, 1f);
        var gradOut = new float[d];
        HeadTrainer.BackpropOutput(wOut, d, logits, gradOut);
        var gw = new float[heads.Weights[0].Length];
        var gb = new float[d];
        heads.Backward(0, h, e, pre, gradOut, gw, gb);
        GradientCheck.Check(heads.Weights[0], gw, Loss);
        GradientCheck.Check(heads.Biases[0], gb, Loss);
    }

    [Fact]
    public void TrainedHeadsPredictTheTargetBetterAndDraftLosslessly()
    {
        using var model = HunchModel.Load(TestPaths.BundledModel);
        var data = Path.Combine(TestPaths.Shared, "data", "stdlib-slice.py.txt");
        var trainer = new HeadTrainer(model.Transformer, model.Tokenizer, new HeadTrainingOptions { Heads = 2, MaxPositions = 2500, Minutes = 0.2, Epochs = 3, Seed = 5 });
        trainer.PrepareData([data]);
        var (heads, report) = trainer.Train();
        Assert.True(report.Steps > 10);
        Assert.True(report.HeldOutTop1[0] > report.InitialTop1[0] + 0.05, $"head 1 top-1 {report.HeldOutTop1[0]:F3} vs untrained {report.InitialTop1[0]:F3}");

        var path = Path.Combine(Path.GetTempPath(), $"hunch-heads-{Guid.NewGuid():N}.gguf");
        try
        {
            heads.Save(path, model.Transformer, model.Tokenizer);
            var loaded = DraftHeads.Load(path, model.Transformer, model.Tokenizer);
            Assert.Equal(heads.Weights[1], loaded.Weights[1]);

            // A drafter file made for another model is a clear error.
            using (var other = HunchModel.Load(TestPaths.SharedModel("pycoder-draft.gguf")))
                Assert.Contains("hidden size", Assert.Throws<GgufException>(() => DraftHeads.Load(path, other.Transformer, other.Tokenizer)).Message);

            var generator = model.CreateGenerator();
            long accepted = 0;
            foreach (var rc in ReferenceCase.Load().Take(3))
            {
                var options = new GenerationOptions { MaxTokens = 32, StopAtEndOfGeneration = false };
                var plain = generator.Generate(rc.PromptIds, options);
                using var drafter = new HeadsDrafter(model.Transformer, loaded);
                var drafted = generator.Generate(rc.PromptIds, options, drafter);
                Assert.Equal(plain.Tokens, drafted.Tokens);
                accepted += drafted.Stats.AcceptedTokens;
            }
            Assert.True(accepted > 0);
        }
        finally { File.Delete(path); }
    }
}
