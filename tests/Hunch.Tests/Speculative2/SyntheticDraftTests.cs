using Hunch.Gguf;
using Hunch.Generation;
using Hunch.Sampling;
using Hunch.Speculative.Model;
using Hunch.Tests.Engine;

namespace Hunch.Tests.Speculative2;

/// <summary>
/// Draft/target pairs of other shapes, cut from the bundled model with the GGUF writer: a draft made of the
/// target's first layers (wider than the bundled draft, strongly correlated with the target), and one whose
/// vocabulary is 64 tokens shorter (the draft's q has no mass on the missing ids; target tokens it lacks are fed
/// as id 0).
/// </summary>
[Collection("Speculative2")]
public class SyntheticDraftTests(ModelPair pair)
{
    [Theory]
    [InlineData(2, 0, "")]
    [InlineData(1, 64, "+tree")]
    public void CutDraftKeepsGreedyOutputAndAccepts(int layers, int dropTokens, string options) => CheckCutDraft(layers, dropTokens, options);

    [Theory]
    [Trait("Category", "Slow")]
    [InlineData(2, 0, "+beam=2+depth=3")]
    [InlineData(3, 0, "+rsd")]
    [InlineData(2, 100, "+tree=4+depth=6")]
    public void CutDraftTreesKeepGreedyOutput(int layers, int dropTokens, string options) => CheckCutDraft(layers, dropTokens, options);

    void CheckCutDraft(int layers, int dropTokens, string options)
    {
        string path = CutModel(layers, dropTokens);
        try
        {
            using var drafter = ModelDrafterFactory.Create("model:" + path + options, pair.Target);
            var gen = new Generator(pair.Target, null);
            long accepted = 0;
            foreach (var rc in ReferenceCase.Load().Where((_, i) => i % 29 == 7))
            {
                var result = gen.Generate(rc.PromptIds, ModelPair.Options(32), drafter);
                Assert.Equal(pair.PlainGreedy(rc, 32), result.Tokens);
                accepted += result.Stats.AcceptedTokens;
            }
            Assert.True(accepted > 0, "the cut draft never had a draft accepted");
        }
        finally { File.Delete(path); }
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void CutDraftChainKeepsTheSamplingLaw()
    {
        string path = CutModel(2, 64);
        try
        {
            var exact = DistributionTests.Enumerate(pair.Target, ReferenceCase.Load()[3].PromptIds, out _, out _, out _);
            using var drafter = ModelDrafterFactory.Create("model:" + path + "+depth=2+threshold=0+fixed", pair.Target);
            var gen = new Generator(pair.Target, null);
            var counts = new Dictionary<(int, int, int), int>();
            const int runs = 3000;
            for (int r = 0; r < runs; r++)
            {
                var res = gen.Generate(ReferenceCase.Load()[3].PromptIds, new GenerationOptions
                {
                    MaxTokens = 3, StopAtEndOfGeneration = false,
                    Sampling = new SamplingOptions { Temperature = 1f, TopK = 4, Seed = (ulong)r * 31 + 5 },
                }, drafter);
                var key = (res.Tokens[0], res.Tokens[1], res.Tokens[2]);
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
            double p = ChiSquare.PValue(exact, counts, runs, out string detail);
            Assert.True(p > 0.001, $"p = {p:g3} ({detail})");
        }
        finally { File.Delete(path); }
    }

    /// <summary>Writes the bundled model's first <paramref name="layers"/> layers as a standalone model, optionally
    /// without the last <paramref name="dropTokens"/> vocabulary entries.</summary>
    internal static string CutModel(int layers, int dropTokens)
    {
        using var src = GgufFile.Open(TestPaths.BundledModel);
        var w = new GgufWriter();
        foreach (var key in src.MetadataKeys) w.SetMetadata(key, src.Metadata[key]);
        w.SetMetadata("llama.block_count", GgufValue.From((uint)layers));
        if (dropTokens > 0)
        {
            foreach (var key in new[] { "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type" })
            {
                if (src.Find(key)?.Value is not Array a) continue;
                var trimmed = Array.CreateInstance(a.GetType().GetElementType()!, a.Length - dropTokens);
                Array.Copy(a, trimmed, trimmed.Length);
                w.SetMetadata(key, GgufValue.From(trimmed));
            }
        }
        foreach (var t in src.Tensors)
        {
            if (t.Name.StartsWith("blk.", StringComparison.Ordinal) && int.Parse(t.Name.Split('.')[1]) >= layers) continue;
            var dims = t.Dimensions.ToArray();
            var bytes = src.GetTensorBytes(t).ToArray();
            if (dropTokens > 0 && (t.Name == "token_embd.weight" || t.Name == "output.weight"))
            {
                Assert.Equal(GgmlType.F32, t.Type);
                dims[1] -= dropTokens;
                Array.Resize(ref bytes, checked((int)(dims[0] * dims[1] * 4)));
            }
            w.AddTensor(t.Name, t.Type, dims, bytes);
        }
        string path = Path.Combine(Path.GetTempPath(), $"hunch-cut-{layers}-{dropTokens}-{Guid.NewGuid():N}.gguf");
        w.Write(path);
        return path;
    }
}
