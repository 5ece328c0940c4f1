using Hunch.Generation;
using Hunch.Gguf;
using Hunch.Sampling;
using Hunch.Speculative;
using Hunch.Tests.Engine;
using Hunch.Tests.Speculative2;
using Hunch.Training;

namespace Hunch.Tests.Training;

/// <summary>Finite-difference checks of every hand-written backward pass of the Kangaroo adapter.</summary>
public unsafe class AdapterGradientTests
{
    static float[] Random(Random r, int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((r.NextDouble() * 2 - 1) * scale)).ToArray();

    static KangarooAdapter RandomAdapter(int d, int heads, Random r)
    {
        var a = new KangarooAdapter(d, heads, 1, 10000f, 1e-5f, seed: 3);
        // Away from the zero-Wo, unit-gain start so that every path carries gradient.
        Random(r, d, 0.5).Select(x => 1 + x).ToArray().CopyTo(a.G1, 0);
        Random(r, d, 0.5).Select(x => 1 + x).ToArray().CopyTo(a.G2, 0);
        foreach (var w in new[] { a.Wq, a.Wk, a.Wv, a.Wo }) Random(r, w.Length, 0.6).CopyTo(w, 0);
        return a;
    }

    [Fact]
    public void RmsNormBackwardMatchesFiniteDifferences()
    {
        const int d = 7;
        var r = new Random(11);
        var x = Random(r, d, 1.5);
        var g = Random(r, d, 1).Select(v => 1 + v).ToArray();
        var c = Random(r, d, 1); // L = c . y
        double Loss()
        {
            var y = new float[d];
            fixed (float* px = x, pg = g, py = y) KangarooAdapter.RmsForward(px, pg, py, d, 1e-5f);
            double l = 0;
            for (int i = 0; i < d; i++) l += c[i] * (double)y[i];
            return l;
        }
        var dx = new float[d];
        var dg = new float[d];
        fixed (float* px = x, pg = g, pc = c, pdx = dx, pdg = dg)
        {
            var y = new float[d];
            float rr;
            fixed (float* py = y) rr = KangarooAdapter.RmsForward(px, pg, py, d, 1e-5f);
            KangarooAdapter.RmsBackward(px, pg, rr, pc, pdx, pdg, d, accumulate: false);
        }
        GradientCheck.Check(x, dx, Loss);
        GradientCheck.Check(g, dg, Loss);
    }

    [Fact]
    public void AttentionBlockBackwardMatchesFiniteDifferences()
    {
        // The whole block: RMSNorm₁, q/k/v with RoPE, causal softmax attention, Wo, residual, RMSNorm₂ and the frozen
        // final norm, on a 5-token sequence; every parameter and the input are checked.
        const int d = 8, heads = 2, t = 5;
        var r = new Random(5);
        var adapter = RandomAdapter(d, heads, r);
        var h = Random(r, t * d, 1.5);
        var finalNorm = Random(r, d, 0.5).Select(v => 1 + v).ToArray();
        var c = Random(r, t * d, 1); // L = c . z
        var act = new KangarooAdapter.Activations();
        double Loss()
        {
            var a2 = new KangarooAdapter.Activations();
            adapter.ForwardSequence(h, t, finalNorm, a2);
            double l = 0;
            for (int i = 0; i < t * d; i++) l += c[i] * (double)a2.Z[i];
            return l;
        }
        adapter.ForwardSequence(h, t, finalNorm, act);
        var grads = adapter.Parameters.Select(p => new float[p.Length]).ToArray();
        var gradH = new float[t * d];
        adapter.BackwardSequence(h, finalNorm, act, c, grads, gradH, new float[5 * t * d]);
        for (int k = 0; k < grads.Length; k++) GradientCheck.Check(adapter.Parameters[k], grads[k], Loss, KangarooAdapter.ParameterNames[k]);
        GradientCheck.Check(h, gradH, Loss, "input");

        // Without the input gradient the parameter gradients are the same.
        var again = adapter.Parameters.Select(p => new float[p.Length]).ToArray();
        adapter.BackwardSequence(h, finalNorm, act, c, again, Span<float>.Empty, new float[5 * t * d]);
        for (int k = 0; k < grads.Length; k++) Assert.Equal(grads[k], again[k]);
    }

    [Fact]
    public void SoftCrossEntropyThroughTheFrozenOutputMatrixMatchesFiniteDifferences()
    {
        // The real target's final norm and output matrix (pycoder, d 256, V 2048), a 3-token sequence, teacher
        // distributions on a few ids; directional derivatives along random directions for every parameter tensor.
        using var model = HunchModel.Load(TestPaths.BundledModel);
        var tm = model.Transformer;
        int d = tm.Config.EmbeddingSize, v = tm.Config.VocabSize, t = 3, m = 4;
        var r = new Random(9);
        var adapter = KangarooAdapter.ForModel(tm, 2, seed: 4);
        Random(r, d * d, 0.05).CopyTo(adapter.Wo, 0);
        var h = Random(r, t * d, 1.0);
        var ids = Enumerable.Range(0, t * m).Select(_ => r.Next(v)).ToArray();
        var p = new float[t * m];
        for (int i = 0; i < t; i++) { p[i * m] = 0.5f; p[i * m + 1] = 0.3f; p[i * m + 2] = 0.15f; p[i * m + 3] = 0.05f; }
        var outputRows = new float[v * d];
        fixed (float* rows = outputRows)
            for (int tok = 0; tok < v; tok++) Hunch.Kernels.RowKernels.DequantizeRow(tm.OutputMatrix.Type, tm.OutputMatrix.Row(tok), rows + tok * d, d);
        var logits = new float[t * v];
        double Loss()
        {
            var a2 = new KangarooAdapter.Activations();
            adapter.ForwardSequence(h, t, tm.OutputNormWeights, a2);
            tm.ProjectToVocabulary(a2.Z, t, logits);
            double l = 0;
            for (int i = 0; i < t; i++) l += HeadTrainer.SoftCrossEntropy(logits.AsSpan(i * v, v), ids.AsSpan(i * m, m), p.AsSpan(i * m, m), 1f);
            return l;
        }
        var act = new KangarooAdapter.Activations();
        adapter.ForwardSequence(h, t, tm.OutputNormWeights, act);
        tm.ProjectToVocabulary(act.Z, t, logits);
        var gradZ = new float[t * d];
        for (int i = 0; i < t; i++)
        {
            HeadTrainer.SoftCrossEntropy(logits.AsSpan(i * v, v), ids.AsSpan(i * m, m), p.AsSpan(i * m, m), 1f);
            HeadTrainer.BackpropOutput(outputRows, d, logits.AsSpan(i * v, v), gradZ.AsSpan(i * d, d));
        }
        var grads = adapter.Parameters.Select(q => new float[q.Length]).ToArray();
        var gradH = new float[t * d];
        adapter.BackwardSequence(h, tm.OutputNormWeights, act, gradZ, grads, gradH, new float[5 * t * d]);
        for (int k = 0; k < grads.Length; k++) CheckDirectional(adapter.Parameters[k], grads[k], Loss, r, KangarooAdapter.ParameterNames[k]);
        CheckDirectional(h, gradH, Loss, r, "input");
    }

    /// <summary>Compares the derivative along the gradient and along two random directions with central differences.</summary>
    static void CheckDirectional(float[] parameters, float[] analytic, Func<double> loss, Random r, string name)
    {
        double norm = Math.Sqrt(analytic.Sum(g => (double)g * g));
        Assert.True(norm > 1e-6, $"{name}: the gradient is zero");
        var directions = new List<double[]> { analytic.Select(g => g / norm).ToArray() };
        for (int k = 0; k < 2; k++)
        {
            var u = Enumerable.Range(0, parameters.Length).Select(_ => r.NextDouble() * 2 - 1).ToArray();
            double un = Math.Sqrt(u.Sum(x => x * x));
            directions.Add(u.Select(x => x / un).ToArray());
        }
        var saved = (float[])parameters.Clone();
        foreach (var u in directions)
        {
            double expected = 0;
            for (int i = 0; i < u.Length; i++) expected += u[i] * analytic[i];
            const double eps = 2e-2;
            for (int i = 0; i < u.Length; i++) parameters[i] = (float)(saved[i] + eps * u[i]);
            double up = loss();
            for (int i = 0; i < u.Length; i++) parameters[i] = (float)(saved[i] - eps * u[i]);
            double down = loss();
            saved.CopyTo(parameters, 0);
            double numeric = (up - down) / (2 * eps);
            double tol = 1e-3 * norm + 3e-2 * Math.Abs(expected) + 1e-4;
            Assert.True(Math.Abs(numeric - expected) < tol, $"{name}: directional derivative analytic {expected} vs numeric {numeric} (|g| {norm})");
        }
    }
}

/// <summary>A tiny adapter trained once on the shared data (seconds), for the training, file and drafting tests.</summary>
public sealed class TrainedAdapter : IDisposable
{
    public HunchModel Model { get; } = HunchModel.Load(TestPaths.BundledModel, threads: 1);
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"hunch-adapter-{Guid.NewGuid():N}.gguf");
    public AdapterTrainingReport Report { get; }
    public KangarooAdapter Adapter { get; }

    public static AdapterTrainingOptions Options => new() { Layer = 2, MaxPositions = 3200, Window = 128, Minutes = 5, Epochs = 3, Seed = 7 };

    public TrainedAdapter()
    {
        var trainer = new AdapterTrainer(Model.Transformer, Model.Tokenizer, Options);
        trainer.PrepareData([Data]);
        (Adapter, Report) = trainer.Train();
        Adapter.Save(Path, Model.Transformer, Model.Tokenizer);
    }

    public static string Data => System.IO.Path.Combine(TestPaths.Shared, "data", "stdlib-slice.py.txt");

    public void Dispose()
    {
        File.Delete(Path);
        Model.Dispose();
    }
}

public class AdapterTrainingTests(TrainedAdapter fixture) : IClassFixture<TrainedAdapter>
{
    [Fact]
    public void TrainedAdapterPredictsTheFullModelBetterThanEarlyExit()
    {
        var rep = fixture.Report;
        Assert.Equal(3 * (25 - 2), rep.Steps); // 3 epochs over 25 sequences of 128 tokens less the 2 held out (every 10th)
        Assert.True(rep.HeldOutTop1 > rep.EarlyExitTop1 + 0.05, $"adapter top-1 {rep.HeldOutTop1:F3} vs early exit {rep.EarlyExitTop1:F3}");
        Assert.True(rep.HeldOutLoss < rep.EarlyExitLoss, $"adapter loss {rep.HeldOutLoss:F3} vs early exit {rep.EarlyExitLoss:F3}");
    }

    [Fact]
    public void WithoutDataTheModelGeneratesItsOwnTrainingText()
    {
        var m = fixture.Model;
        var options = TrainedAdapter.Options with { SelfGeneratedTokens = 600, MaxPositions = 600, Epochs = 1 };
        var trainer = new AdapterTrainer(m.Transformer, m.Tokenizer, options);
        var phases = new List<string>();
        trainer.PrepareData([], p => phases.Add(p.Phase));
        Assert.Contains("generating text", phases);
        Assert.True(trainer.Positions >= 600, $"{trainer.Positions} positions cached");
        var (adapter, rep) = trainer.Train();
        Assert.True(rep.Steps > 0);
        Assert.NotEqual(new float[adapter.Wo.Length], adapter.Wo);   // Wo starts at zero: training moved it
    }

    [Fact]
    public void TrainingIsDeterministicAndResumable()
    {
        var m = fixture.Model;
        var ckpt = System.IO.Path.GetTempFileName();
        File.Delete(ckpt);
        try
        {
            var trainer = new AdapterTrainer(m.Transformer, m.Tokenizer, TrainedAdapter.Options with { Epochs = 1, CheckpointPath = ckpt });
            trainer.PrepareData([TrainedAdapter.Data]);
            var (first, rep1) = trainer.Train();
            Assert.Equal(25 - 2, rep1.Steps);
            // Resume from the one-epoch checkpoint to three epochs: identical to the uninterrupted run.
            var resumed = new AdapterTrainer(m.Transformer, m.Tokenizer, TrainedAdapter.Options with { CheckpointPath = ckpt });
            resumed.PrepareData([TrainedAdapter.Data]);
            var (adapter, rep) = resumed.Train();
            Assert.Equal(fixture.Report.Steps, rep.Steps);
            for (int k = 0; k < adapter.Parameters.Length; k++) Assert.Equal(fixture.Adapter.Parameters[k], adapter.Parameters[k]);
            Assert.NotEqual(first.Wo, adapter.Wo);
        }
        finally { File.Delete(ckpt); }
    }

    [Fact]
    public void FileRoundTripsAndRejectsAnotherModel()
    {
        var m = fixture.Model;
        var loaded = KangarooAdapter.Load(fixture.Path, m.Transformer, m.Tokenizer);
        Assert.Equal(2, loaded.Layer);
        for (int k = 0; k < loaded.Parameters.Length; k++) Assert.Equal(fixture.Adapter.Parameters[k], loaded.Parameters[k]);
        using (var other = HunchModel.Load(TestPaths.SharedModel("pycoder-draft.gguf")))
            Assert.Contains("hidden size", Assert.Throws<GgufException>(() => KangarooAdapter.Load(fixture.Path, other.Transformer, other.Tokenizer)).Message);
        // A heads file is not an adapter file.
        var headsPath = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"hunch-heads-{Guid.NewGuid():N}.gguf");
        try
        {
            new DraftHeads(1, m.Transformer.Config.EmbeddingSize, HeadVariant.Medusa).Save(headsPath, m.Transformer, m.Tokenizer);
            Assert.Contains("not an adapter file", Assert.Throws<GgufException>(() => KangarooAdapter.Load(headsPath, m.Transformer, m.Tokenizer)).Message);
        }
        finally { File.Delete(headsPath); }
        Assert.Throws<FileNotFoundException>(() => Drafters.Create("adapter:/nonexistent/a.gguf", m));
        Assert.Contains("unknown option", Assert.Throws<ArgumentException>(() => Drafters.Create($"adapter:{fixture.Path}+bogus=1", m)).Message);
    }

    [Fact]
    public void GreedyOutputIsTokenIdenticalToPlainDecoding()
    {
        var m = fixture.Model;
        var generator = m.CreateGenerator();
        long accepted = 0, drafted = 0;
        using var drafter = Drafters.Create($"adapter:{fixture.Path}", m);
        var cases = ReferenceCase.Load();
        // One drafter over several prompts: the adapter cache is rebuilt per request and rolled back per step.
        for (int i = 0; i < cases.Length; i += 12)
        {
            var options = new GenerationOptions { MaxTokens = 48, StopAtEndOfGeneration = false };
            var plain = generator.Generate(cases[i].PromptIds, options);
            var spec = generator.Generate(cases[i].PromptIds, options, drafter);
            Assert.Equal(plain.Tokens, spec.Tokens);
            accepted += spec.Stats.AcceptedTokens;
            drafted += spec.Stats.DraftedTokens;
        }
        Assert.True(accepted > 0 && drafted > accepted, $"drafted {drafted}, accepted {accepted}");
    }

    [Fact]
    public void EnginePathIsTokenIdenticalToPlainDecoding()
    {
        // The in-process engine (the server's batched loop) passes no exit states: the drafter catches up by itself.
        var m = fixture.Model;
        using var engine = new Hunch.Api.HunchEngine(m.Transformer, m.Tokenizer,
            new Hunch.Api.EngineOptions { DrafterFactory = name => name == "none" ? null : Drafters.Create(name, m) });
        long accepted = 0;
        foreach (var rc in ReferenceCase.Load().Where((_, i) => i % 20 == 7))
        {
            var request = new Hunch.Api.CompletionRequest { PromptTokens = rc.PromptIds, MaxTokens = 40, IgnoreEndOfGeneration = true, Drafter = "none" };
            var plain = engine.Complete(request);
            var spec = engine.Complete(request with { Drafter = $"adapter:{fixture.Path}" });
            Assert.Equal(plain.Tokens, spec.Tokens);
            accepted += spec.Speculation.Accepted;
        }
        Assert.True(accepted > 0, "the adapter drafted nothing on the engine path");
    }

    [Fact]
    public void SamplingKeepsTheJointLawOfTheFirstThreeTokens()
    {
        // The chi-square family of Speculative2/DistributionTests: drafts carry q, the rejection sampler verifies.
        var m = fixture.Model;
        var sampling = new SamplingOptions { Temperature = 1f, TopK = 4 };
        var prompt = ReferenceCase.Load()[3].PromptIds;
        var exact = DistributionTests.Enumerate(m.Transformer, prompt, out _, out _, out _);
        using var drafter = Drafters.Create($"adapter:{fixture.Path}+eta=0+depth=2", m);
        var gen = m.CreateGenerator();
        var counts = new Dictionary<(int, int, int), int>();
        const int runs = 200;
        long drafted = 0;
        for (int r = 0; r < runs; r++)
        {
            var opts = new GenerationOptions { MaxTokens = 3, StopAtEndOfGeneration = false, Sampling = sampling with { Seed = (ulong)(7919 * r + 17) } };
            var res = gen.Generate(prompt, opts, drafter);
            drafted += res.Stats.DraftedTokens;
            var key = (res.Tokens[0], res.Tokens[1], res.Tokens[2]);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        Assert.True(drafted >= runs, $"drafted only {drafted} tokens in {runs} runs");
        double p = ChiSquare.PValue(exact, counts, runs, out string detail);
        Assert.True(p > 0.001, $"p = {p:g3} ({detail})");
    }
}
