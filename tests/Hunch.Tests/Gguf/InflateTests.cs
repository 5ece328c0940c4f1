using System.Diagnostics;
using Hunch.Gguf;
using Hunch.Models;
using Xunit.Abstractions;

namespace Hunch.Tests.Gguf;

/// <summary>Inflated copies of the bundled model must compute exactly the original's function.</summary>
public sealed class InflateTests(ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("hunch-inflate-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Greedy continuation of a prompt, with the logits row that chose each token.</summary>
    static (int[] Tokens, float[][] Logits) Greedy(TransformerModel model, int[] prompt, int steps)
    {
        var cache = model.CreateCache(prompt.Length + steps + 1);
        var batch = new ForwardBatch();
        batch.AddSequence(prompt, cache, 0);
        var tokens = new int[steps];
        var logits = new float[steps][];
        int pos = prompt.Length;
        for (int i = 0; i < steps; i++)
        {
            model.Forward(batch);
            cache.CommitInPlace(batch.Count);
            var row = batch.Logits(batch.Count - 1);
            logits[i] = row.ToArray();
            int best = 0;
            for (int v = 1; v < row.Length; v++) if (row[v] > row[best]) best = v;
            tokens[i] = best;
            batch.Clear();
            batch.Add(best, cache, pos++);
        }
        return (tokens, logits);
    }

    static int[][] Prompts()
    {
        // Pieces of the shared bench prompts (token ids as llama.cpp tokenized them), kept short for speed: the
        // function is compared position by position, so a short context checks the same arithmetic.
        var cases = Engine.ReferenceCase.Load();
        return [cases[0].PromptIds[..24], cases[^1].PromptIds[^24..]];
    }

    void AssertSameFunction(string inflated, int steps, bool bitwise)
    {
        using var original = SyntheticModelTests.LoadModel(TestPaths.BundledModel);
        using var wide = SyntheticModelTests.LoadModel(inflated);
        foreach (var prompt in Prompts())
        {
            var sw = Stopwatch.StartNew();
            var (a, la) = Greedy(original, prompt, steps);
            var (b, lb) = Greedy(wide, prompt, steps);
            float maxDiff = 0;
            for (int i = 0; i < steps; i++)
                for (int v = 0; v < la[i].Length; v++) maxDiff = Math.Max(maxDiff, Math.Abs(la[i][v] - lb[i][v]));
            output.WriteLine($"prompt of {prompt.Length} tokens: {steps} greedy tokens in {sw.Elapsed.TotalSeconds:F1} s, max |logit difference| {maxDiff}");
            Assert.Equal(a, b);
            if (bitwise) Assert.Equal(0f, maxDiff);
        }
    }

    [Fact]
    public void ExtraIdentityLayersKeepTheFunction()
    {
        string path = Path.Combine(_dir, "deeper.gguf");
        SyntheticModel.Inflate(TestPaths.BundledModel, path, 1, 8);
        using (var f = GgufFile.Open(path))
        {
            Assert.Equal(8L, f.GetRequiredInt("llama.block_count"));
            Assert.True(f.GetTensorBytes(f.GetTensor("blk.7.ffn_down.weight")).IndexOfAnyExcept((byte)0) < 0);
            Assert.True(f.GetTensorBytes(f.GetTensor("blk.6.attn_output.weight")).IndexOfAnyExcept((byte)0) < 0);
            // The other weights of an extra layer are real (copied), so it costs what a real layer costs.
            using var src = GgufFile.Open(TestPaths.BundledModel);
            Assert.True(f.GetTensorBytes(f.GetTensor("blk.7.ffn_up.weight")).SequenceEqual(src.GetTensorBytes(src.GetTensor("blk.1.ffn_up.weight"))));
        }
        AssertSameFunction(path, 6, bitwise: true);
    }

    [Fact]
    public void TiedQwen2WithBiasesInflatesExactly()
    {
        // A qwen2 source exercises q/k/v biases, NeoX rope and tied embeddings (the inflation must add an unscaled
        // output.weight, since the scaled embeddings would scale the logits).
        string src = Path.Combine(_dir, "qwen.gguf"), dst = Path.Combine(_dir, "qwen-x4.gguf");
        SyntheticModel.Write(src, new SyntheticModelOptions
        {
            Architecture = "qwen2", EmbeddingSize = 64, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, FeedForwardSize = 96,
            VocabSize = 300, TiedEmbeddings = true, RopeBase = 1e6f, RmsEps = 1e-6f, Seed = 11,
        });
        SyntheticModel.Inflate(src, dst, 4, 3);
        using var a = SyntheticModelTests.LoadModel(src);
        using var b = SyntheticModelTests.LoadModel(dst);
        Assert.Null(a.File.FindTensor("output.weight"));
        Assert.NotNull(b.File.FindTensor("output.weight"));
        Assert.Equal((256, 16, 8, 384, 3), (b.Config.EmbeddingSize, b.Config.HeadCount, b.Config.KvHeadCount, b.Config.FeedForwardSize, b.Config.LayerCount));
        int[] prompt = [1, 17, 290, 44, 100, 3, 259, 260];
        var (ta, la) = Greedy(a, prompt, 6);
        var (tb, lb) = Greedy(b, prompt, 6);
        Assert.Equal(ta, tb);
        for (int i = 0; i < la.Length; i++) Assert.Equal(la[i], lb[i]);
    }

    [Fact]
    public void WidenedLayoutPadsAndScales()
    {
        string path = Path.Combine(_dir, "wide.gguf");
        SyntheticModel.Inflate(TestPaths.BundledModel, path, 4, 7);
        using var f = GgufFile.Open(path);
        using var src = GgufFile.Open(TestPaths.BundledModel);
        Assert.Equal((1024L, 16L, 8L, 2816L, 7L), (f.GetRequiredInt("llama.embedding_length"), f.GetRequiredInt("llama.attention.head_count"),
            f.GetRequiredInt("llama.attention.head_count_kv"), f.GetRequiredInt("llama.feed_forward_length"), f.GetRequiredInt("llama.block_count")));
        foreach (var k in f.MetadataKeys) Assert.Null(GgufKeyTypes.Check(k, f.Metadata[k]));
        float[] Row(GgufFile g, string name, int row)
        {
            var t = g.GetTensor(name);
            return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(g.GetTensorBytes(t)).Slice(row * (int)t.Columns, (int)t.Columns).ToArray();
        }
        // token_embd row: original times 2, then zeros.
        var e0 = Row(src, "token_embd.weight", 5);
        var e1 = Row(f, "token_embd.weight", 5);
        Assert.Equal(e0.Select(x => 2 * x), e1[..256]);
        Assert.All(e1[256..], x => Assert.Equal(0f, x));
        // output rows are not scaled; the norm is halved.
        Assert.Equal(Row(src, "output.weight", 9), Row(f, "output.weight", 9)[..256]);
        Assert.Equal(Row(src, "output_norm.weight", 0).Select(x => x / 2), Row(f, "output_norm.weight", 0)[..256]);
        // attn_k: rows of the two real kv heads first, the six padded heads zero.
        Assert.Equal(Row(src, "blk.2.attn_k.weight", 127), Row(f, "blk.2.attn_k.weight", 127)[..256]);
        Assert.All(Row(f, "blk.2.attn_k.weight", 128), x => Assert.Equal(0f, x));
        // attn_output: real rows scaled by 2 over the real heads' columns.
        Assert.Equal(Row(src, "blk.3.attn_output.weight", 255).Select(x => 2 * x), Row(f, "blk.3.attn_output.weight", 255)[..256]);
        Assert.All(Row(f, "blk.3.attn_output.weight", 256), x => Assert.Equal(0f, x));
        Assert.Equal(Row(src, "blk.3.ffn_down.weight", 0).Select(x => 2 * x), Row(f, "blk.3.ffn_down.weight", 0)[..704]);
        Assert.Throws<ArgumentException>(() => SyntheticModel.Inflate(TestPaths.BundledModel, path, 2, 3));
        Assert.Throws<ArgumentException>(() => SyntheticModel.Inflate(TestPaths.BundledModel, path, 0, 6));
    }

    [Fact]
    public void FourTimesWiderTwoLayersDeeperGivesTheSameGreedyOutput()
    {
        // Width x4 makes s = 2: every scaling is exact, so the logits are too.
        string path = Path.Combine(_dir, "x4.gguf");
        var sw = Stopwatch.StartNew();
        SyntheticModel.Inflate(TestPaths.BundledModel, path, 4, 8);
        output.WriteLine($"inflated to {new FileInfo(path).Length >> 20} MiB in {sw.Elapsed.TotalSeconds:F1} s");
        AssertSameFunction(path, 4, bitwise: true);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void CostRealisticProxyGivesTheSameGreedyOutput()
    {
        // The README's proxy: hidden 1024, 16 heads / 8 kv heads, feed-forward 2816, 16 layers (193M parameters).
        string path = Path.Combine(_dir, "proxy.gguf");
        SyntheticModel.Inflate(TestPaths.BundledModel, path, 4, 16);
        using (var f = GgufFile.Open(path))
        {
            long parameters = f.Tensors.Sum(t => t.ElementCount);
            output.WriteLine($"{parameters} parameters");
            Assert.InRange(parameters, 190_000_000, 196_000_000);
        }
        AssertSameFunction(path, 12, bitwise: true);
    }
}
