using System.Security.Cryptography;
using Hunch.Gguf;
using Hunch.Kernels;
using Hunch.Models;

namespace Hunch.Tests.Gguf;

public sealed class SyntheticModelTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("hunch-synth-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static SyntheticModelOptions Small(string arch = "llama", GgmlType type = GgmlType.F32, ulong seed = 1) => new()
    {
        Architecture = arch, EmbeddingSize = 64, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, FeedForwardSize = 96,
        VocabSize = 300, ContextLength = 128, WeightType = type, Seed = seed, RopeBase = arch == "qwen2" ? 1e6f : 1e4f,
    };

    /// <summary>WorkerPool.Shared allows one Run at a time, and xunit runs test classes in parallel, so these tests
    /// give each model a one-thread pool: it computes inline on the calling thread and is safe to share.</summary>
    static readonly WorkerPool Inline = new(1);

    internal static TransformerModel LoadModel(string path) => TransformerModel.Load(path, Inline);

    static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>Runs a short prompt and returns the last row's logits.</summary>
    internal static float[] LastLogits(TransformerModel model, int[] prompt)
    {
        var cache = model.CreateCache(64);
        var batch = new ForwardBatch();
        batch.AddSequence(prompt, cache, 0);
        model.Forward(batch);
        return batch.Logits(batch.Count - 1).ToArray();
    }

    [Theory]
    [InlineData("llama", GgmlType.F32)]
    [InlineData("llama", GgmlType.F16)]
    [InlineData("qwen2", GgmlType.BF16)]
    [InlineData("qwen2", GgmlType.F32)]
    public void SyntheticModelLoadsWithItsShape(string arch, GgmlType type)
    {
        var o = Small(arch, type);
        string path = Path.Combine(_dir, "m.gguf");
        SyntheticModel.Write(path, o);
        using (var f = GgufFile.Open(path))
        {
            Assert.Equal(SyntheticModel.ParameterCount(o), f.Tensors.Sum(t => t.ElementCount));
            Assert.Equal(type, f.GetTensor("blk.1.ffn_down.weight").Type);
            Assert.Equal(GgmlType.F32, f.GetTensor("blk.1.ffn_norm.weight").Type);
            Assert.Equal(arch == "qwen2", f.FindTensor("blk.0.attn_k.bias") is not null);
            foreach (var k in f.MetadataKeys) Assert.Null(GgufKeyTypes.Check(k, f.Metadata[k]));
        }
        using var model = SyntheticModelTests.LoadModel(path);
        var c = model.Config;
        Assert.Equal((arch, 64, 2, 4, 2, 16, 96, 300, 128), (c.Architecture, c.EmbeddingSize, c.LayerCount, c.HeadCount, c.KvHeadCount, c.HeadDim, c.FeedForwardSize, c.VocabSize, c.ContextLength));
        Assert.Equal(arch == "qwen2", c.RopeNeox);
        var logits = LastLogits(model, [1, 200, 17, 260]);
        Assert.All(logits, x => Assert.True(float.IsFinite(x)));
        // Random weights of unit-preserving scale give logits that vary, not a constant row.
        Assert.True(logits.Max() - logits.Min() > 1e-3f);
    }

    [Fact]
    public void SameSeedSameFileOtherSeedOtherWeights()
    {
        string a = Path.Combine(_dir, "a.gguf"), b = Path.Combine(_dir, "b.gguf"), c = Path.Combine(_dir, "c.gguf");
        SyntheticModel.Write(a, Small(seed: 5));
        SyntheticModel.Write(b, Small(seed: 5));
        SyntheticModel.Write(c, Small(seed: 6));
        Assert.Equal(Hash(a), Hash(b));
        Assert.NotEqual(Hash(a), Hash(c));
        using var fa = GgufFile.Open(a);
        using var fc = GgufFile.Open(c);
        Assert.Equal(fa.DataOffset, fc.DataOffset);
        Assert.False(fa.GetTensorBytes(fa.GetTensor("blk.0.attn_q.weight")).SequenceEqual(fc.GetTensorBytes(fc.GetTensor("blk.0.attn_q.weight"))));
    }

    [Fact]
    public void SyntheticVocabularyIsByteLevelSentencePiece()
    {
        foreach (int size in new[] { SyntheticModel.MinSyntheticVocab, 300, 5000 })
        {
            var (tokens, scores, types) = SyntheticModel.SyntheticVocabulary(size);
            Assert.Equal(size, tokens.Length);
            Assert.Equal(size, scores.Length);
            Assert.Equal(size, types.Length);
            Assert.Equal(size, tokens.Distinct().Count());
            Assert.Equal(("<unk>", 2), (tokens[0], types[0]));
            Assert.Equal(("<s>", 3), (tokens[1], types[1]));
            for (int b = 0; b < 256; b++) Assert.Equal(($"<0x{b:X2}>", 6), (tokens[3 + b], types[3 + b]));
            // Every text piece longer than one character splits into two shorter pieces of the vocabulary, so SPM
            // merging can reach it.
            var set = tokens.ToHashSet();
            for (int i = 259; i < size; i++)
            {
                Assert.Equal(1, types[i]);
                var t = tokens[i];
                if (t.Length > 1) Assert.Contains(Enumerable.Range(1, t.Length - 1), k => set.Contains(t[..k]) && set.Contains(t[k..]));
            }
        }
        Assert.Throws<ArgumentException>(() => SyntheticModel.Write(Path.Combine(_dir, "x.gguf"), new SyntheticModelOptions { VocabSize = 100 }));
    }

    [Fact]
    public void TokenizerCopiedFromBundledModel()
    {
        string path = Path.Combine(_dir, "m.gguf");
        using var bundled = GgufFile.Open(TestPaths.BundledModel);
        var o = new SyntheticModelOptions { EmbeddingSize = 64, LayerCount = 1, HeadCount = 2, FeedForwardSize = 64, TokenizerSource = TestPaths.BundledModel };
        SyntheticModel.Write(path, o);
        using (var f = GgufFile.Open(path))
        {
            foreach (var k in bundled.MetadataKeys.Where(k => k.StartsWith("tokenizer.")))
                GgufWriterTests.AssertSameValue(bundled.Metadata[k], f.Metadata[k], k);
            Assert.Equal([64L, 2048L], f.GetTensor("token_embd.weight").Dimensions);
        }
        // A larger vocabulary than the copied one is padded with unused tokens.
        SyntheticModel.Write(path, new SyntheticModelOptions { EmbeddingSize = 64, LayerCount = 1, HeadCount = 2, FeedForwardSize = 64, TokenizerSource = TestPaths.BundledModel, VocabSize = 2100 });
        using (var f = GgufFile.Open(path))
        {
            var tokens = f.GetArray<string>("tokenizer.ggml.tokens")!;
            Assert.Equal(2100, tokens.Length);
            Assert.Equal(2100, tokens.Distinct().Count());
            Assert.Equal(2100, f.GetArray<float>("tokenizer.ggml.scores")!.Length);
            Assert.Equal(5, f.GetArray<int>("tokenizer.ggml.token_type")![2099]);
            Assert.Equal([64L, 2100L], f.GetTensor("output.weight").Dimensions);
        }
        Assert.Throws<ArgumentException>(() => SyntheticModel.Write(path, new SyntheticModelOptions { TokenizerSource = TestPaths.BundledModel, VocabSize = 1000 }));
    }

    [Fact]
    public void InvalidOptionsAreRejected()
    {
        string path = Path.Combine(_dir, "bad.gguf");
        Assert.Throws<ArgumentException>(() => SyntheticModel.Write(path, Small(type: GgmlType.Q8_0)));
        Assert.Throws<ArgumentException>(() => SyntheticModel.Write(path, new SyntheticModelOptions { Architecture = "gpt2", VocabSize = 300 }));
        Assert.Throws<ArgumentException>(() => SyntheticModel.Write(path, new SyntheticModelOptions { HeadCount = 4, KvHeadCount = 3, VocabSize = 300 }));
        Assert.Throws<ArgumentException>(() => SyntheticModel.Write(path, new SyntheticModelOptions { EmbeddingSize = 100, HeadCount = 3, VocabSize = 300 }));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void QuantizedWeightsGoThroughTheQuantizer()
    {
        // The quantizer hook receives every matrix row and its output lands in the file verbatim.
        var seen = new List<(GgmlType, int)>();
        var o = new SyntheticModelOptions
        {
            EmbeddingSize = 64, LayerCount = 1, HeadCount = 2, FeedForwardSize = 64, VocabSize = 300, WeightType = GgmlType.Q8_0,
            Quantizer = (type, src, dst) => { seen.Add((type, src.Length)); dst.Fill((byte)src.Length); },
        };
        string path = Path.Combine(_dir, "q.gguf");
        SyntheticModel.Write(path, o);
        using var f = GgufFile.Open(path);
        Assert.Equal(7u, f.Metadata["general.file_type"].Value);
        var t = f.GetTensor("blk.0.ffn_down.weight");
        Assert.Equal(GgmlType.Q8_0, t.Type);
        Assert.All(f.GetTensorBytes(t).ToArray(), b => Assert.Equal(64, b));
        Assert.Equal(300 * 2 + 64 * 7, seen.Count);
        Assert.All(seen, s => Assert.Equal(GgmlType.Q8_0, s.Item1));
    }
}

