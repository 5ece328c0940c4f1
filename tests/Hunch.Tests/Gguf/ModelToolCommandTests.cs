using System.CommandLine;
using Hunch.Cli.Commands;
using Hunch.Gguf;
using Hunch.Models;

namespace Hunch.Tests.Gguf;

/// <summary>The <c>synth</c> and <c>inflate</c> commands, invoked in-process through System.CommandLine.</summary>
public sealed class ModelToolCommandTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("hunch-tools-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static int Invoke(params string[] args)
    {
        var root = new RootCommand { ModelToolCommands.CreateSynth(), ModelToolCommands.CreateInflate() };
        return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = TextWriter.Null, Error = TextWriter.Null });
    }

    [Fact]
    public void SynthWritesAQuantizedModelThatRuns()
    {
        string path = Path.Combine(_dir, "s.gguf");
        Assert.Equal(0, Invoke("synth", path, "--dim", "128", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ff", "256",
            "--type", "Q8_0", "--synthetic-vocab", "--vocab", "512", "--seed", "3", "--arch", "qwen2"));
        using (var f = GgufFile.Open(path))
        {
            Assert.Equal(GgmlType.Q8_0, f.GetTensor("blk.1.attn_v.weight").Type);
            Assert.Equal(GgmlType.F32, f.GetTensor("blk.1.attn_v.bias").Type);
            Assert.Equal(512, f.GetArray<string>("tokenizer.ggml.tokens")!.Length);
            Assert.Equal(1e6, f.GetFloat("qwen2.rope.freq_base", 0));
        }
        using var model = SyntheticModelTests.LoadModel(path);
        Assert.Equal(512, model.Config.VocabSize);
        Assert.All(SyntheticModelTests.LastLogits(model, [5, 300, 7]), x => Assert.True(float.IsFinite(x)));
    }

    [Fact]
    public void SynthCopiesTheBundledTokenizerByDefault()
    {
        string path = Path.Combine(_dir, "s.gguf");
        Assert.Equal(0, Invoke("synth", path, "--dim", "64", "--layers", "1", "--heads", "2", "--kv-heads", "2", "--ff", "64", "--type", "F16"));
        using var f = GgufFile.Open(path);
        using var bundled = GgufFile.Open(TestPaths.BundledModel);
        Assert.Equal(bundled.GetArray<string>("tokenizer.ggml.tokens"), f.GetArray<string>("tokenizer.ggml.tokens"));
        Assert.Equal(GgmlType.F16, f.GetTensor("output.weight").Type);
    }

    [Fact]
    public void BadArgumentsFailCleanly()
    {
        string path = Path.Combine(_dir, "bad.gguf");
        Assert.Equal(1, Invoke("synth", path, "--type", "Q9_9"));
        Assert.Equal(1, Invoke("synth", path, "--dim", "100", "--heads", "3", "--layers", "1"));
        Assert.Equal(1, Invoke("inflate", path, "--width", "2", "--layers", "2"));
        Assert.Equal(1, Invoke("inflate", path, "-m", Path.Combine(_dir, "missing.gguf")));
        Assert.False(File.Exists(path));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void SynthDefaultsGiveA200MParameterLlama()
    {
        // One command: `hunch synth OUT` is the cost-realistic shape (hidden 1024, 16 layers, 16/8 heads, ff 2816) in Q8_0.
        string path = Path.Combine(_dir, "synth.gguf");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(0, Invoke("synth", path));
        output.WriteLine($"written in {sw.Elapsed.TotalSeconds:F1} s, {new FileInfo(path).Length >> 20} MiB");
        using (var f = GgufFile.Open(path))
            Assert.InRange(f.Tensors.Sum(t => t.ElementCount), 190_000_000, 210_000_000);
        using var model = SyntheticModelTests.LoadModel(path);
        Assert.Equal((1024, 16, 16, 8, 2816), (model.Config.EmbeddingSize, model.Config.LayerCount, model.Config.HeadCount, model.Config.KvHeadCount, model.Config.FeedForwardSize));
        Assert.All(SyntheticModelTests.LastLogits(model, [1, 2, 3]), x => Assert.True(float.IsFinite(x)));
    }

    [Fact]
    [Trait("Category", "Slow")] // quantizing ~90M weights: 10-40 s depending on load
    public void InflateQuantizedMatchesLlamaQuantizeOfTheOriginal()
    {
        // Q8_0 blocks of 2w are those of w with the scale doubled, so quantizing the inflation gives the function
        // of llama-quantize's Q8_0 file (shared/models/pycoder-Q8_0.gguf), as llama.cpp found for its inflation.
        string path = Path.Combine(_dir, "i.gguf");
        Assert.Equal(0, Invoke("inflate", path, "--width", "4", "--layers", "7", "--type", "Q8_0"));
        using var reference = SyntheticModelTests.LoadModel(TestPaths.SharedModel("pycoder-Q8_0.gguf"));
        using var inflated = SyntheticModelTests.LoadModel(path);
        Assert.Equal(1024, inflated.Config.EmbeddingSize);
        int[] prompt = Engine.ReferenceCase.Load()[1].PromptIds[..20];
        Assert.Equal(SyntheticModelTests.LastLogits(reference, prompt), SyntheticModelTests.LastLogits(inflated, prompt));
    }
}
