using System.CommandLine;
using System.Diagnostics;
using Hunch.Gguf;
using Hunch.Kernels;

namespace Hunch.Cli.Commands;

/// <summary>
/// <c>hunch synth</c> (random-weight models of any shape) and <c>hunch inflate</c> (a real model padded to a bigger
/// shape computing the same function): models for speed measurements at realistic sizes, made locally.
/// </summary>
public static class ModelToolCommands
{
    /// <summary><c>hunch synth OUTPUT [options]</c>; the defaults give a ~193M-parameter llama model in Q8_0 with the
    /// bundled model's tokenizer (the shape of the cost-realistic proxy in shared/models/README.md).</summary>
    public static Command CreateSynth()
    {
        var output = new Argument<string>("output") { Description = "GGUF file to write" };
        var arch = new Option<string>("--arch") { Description = "llama or qwen2", DefaultValueFactory = _ => "llama" };
        var dim = new Option<int>("--dim") { Description = "hidden size", DefaultValueFactory = _ => 1024 };
        var layers = new Option<int>("--layers") { Description = "transformer blocks", DefaultValueFactory = _ => 16 };
        var heads = new Option<int>("--heads") { Description = "query heads", DefaultValueFactory = _ => 16 };
        var kvHeads = new Option<int>("--kv-heads") { Description = "key/value heads (default: --heads)", DefaultValueFactory = _ => 8 };
        var headDim = new Option<int>("--head-dim") { Description = "head dimension (default: dim / heads)" };
        var ff = new Option<int>("--ff") { Description = "feed-forward width", DefaultValueFactory = _ => 2816 };
        var vocab = new Option<int>("--vocab") { Description = "vocabulary size: with --tokenizer pads the copied vocabulary; with --synthetic-vocab the size of the generated one (default 32000)" };
        var context = new Option<int>("--context") { Description = "context length recorded in the file", DefaultValueFactory = _ => 2048 };
        var type = new Option<string>("--type") { Description = "weight type: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q6_K", DefaultValueFactory = _ => "Q8_0" };
        var seed = new Option<ulong>("--seed") { Description = "random seed (same seed, same file)", DefaultValueFactory = _ => 1 };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "GGUF file whose tokenizer is copied (default: the bundled model)" };
        var syntheticVocab = new Option<bool>("--synthetic-vocab") { Description = "generate a byte-level SentencePiece vocabulary of --vocab tokens instead of copying one" };
        var tied = new Option<bool>("--tied") { Description = "no output.weight: the output projection reuses the token embeddings" };
        var ropeBase = new Option<float?>("--rope-base") { Description = "rope frequency base (default 10000 for llama, 1000000 for qwen2)" };
        var eps = new Option<float?>("--rms-eps") { Description = "RMSNorm epsilon (default 1e-5 for llama, 1e-6 for qwen2)" };
        var cmd = new Command("synth", "Write a random-weight llama or qwen2 model of any shape and weight type.")
        {
            output, arch, dim, layers, heads, kvHeads, headDim, ff, vocab, context, type, seed, tokenizer, syntheticVocab, tied, ropeBase, eps,
        };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            string a = r.GetValue(arch)!;
            bool synthetic = r.GetValue(syntheticVocab);
            if (synthetic && r.GetValue(tokenizer) is not null) throw new UserException("--tokenizer and --synthetic-vocab exclude each other");
            var weightType = ParseType(r.GetValue(type)!);
            var options = new SyntheticModelOptions
            {
                Architecture = a,
                EmbeddingSize = r.GetValue(dim),
                LayerCount = r.GetValue(layers),
                HeadCount = r.GetValue(heads),
                KvHeadCount = r.GetValue(kvHeads),
                HeadDim = r.GetValue(headDim),
                FeedForwardSize = r.GetValue(ff),
                VocabSize = synthetic && r.GetValue(vocab) == 0 ? 32000 : r.GetValue(vocab),
                ContextLength = r.GetValue(context),
                WeightType = weightType,
                Quantizer = QuantizerFor(weightType),
                Seed = r.GetValue(seed),
                TiedEmbeddings = r.GetValue(tied),
                TokenizerSource = synthetic ? null : Cli.ResolveModel(r.GetValue(tokenizer)),
                RopeBase = r.GetValue(ropeBase) ?? (a == "qwen2" ? 1e6f : 1e4f),
                RmsEps = r.GetValue(eps) ?? (a == "qwen2" ? 1e-6f : 1e-5f),
                Name = $"synthetic-{a}-{r.GetValue(dim)}x{r.GetValue(layers)}-{weightType}",
            };
            string path = r.GetValue(output)!;
            var sw = Stopwatch.StartNew();
            SyntheticModel.Write(path, options);
            Report(path, sw.Elapsed);
            return 0;
        }));
        return cmd;
    }

    /// <summary><c>hunch inflate OUTPUT [-m SOURCE] [--width 4] [--layers 16] [--type T]</c>; the defaults give the
    /// 4x-wide, 16-layer inflation of the bundled model (hidden 1024, 16/8 heads, feed-forward 2816).</summary>
    public static Command CreateInflate()
    {
        var output = new Argument<string>("output") { Description = "GGUF file to write" };
        var model = Cli.ModelOption();
        var width = new Option<int>("--width") { Description = "width multiplier (a perfect square keeps the function bit-exact)", DefaultValueFactory = _ => 4 };
        var layers = new Option<int>("--layers") { Description = "total layers (extra ones are identity)", DefaultValueFactory = _ => 16 };
        var type = new Option<string?>("--type") { Description = "weight type of the matrices written (default: the source's)" };
        var cmd = new Command("inflate", "Pad a model to a bigger shape that computes exactly the same function.") { output, model, width, layers, type };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            GgmlType? weightType = r.GetValue(type) is { } t ? ParseType(t) : null;
            var options = new InflateOptions { WeightType = weightType, Quantizer = weightType is { } wt ? QuantizerFor(wt) : null };
            string path = r.GetValue(output)!;
            int w = r.GetValue(width);
            if (Math.Sqrt(w) % 1 != 0)
                Console.Error.WriteLine($"note: width {w} is not a perfect square, so the residual scale sqrt({w}) is inexact: logits will differ slightly from the source's");
            var sw = Stopwatch.StartNew();
            SyntheticModel.Inflate(Cli.ResolveModel(r.GetValue(model)), path, w, r.GetValue(layers), options);
            Report(path, sw.Elapsed);
            return 0;
        }));
        return cmd;
    }

    static GgmlType ParseType(string name)
    {
        if (!Enum.TryParse<GgmlType>(name, ignoreCase: true, out var t) || !RowKernels.CanQuantize(t) || t == GgmlType.Q8_K)
            throw new UserException($"unknown or unsupported weight type '{name}' (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q6_K)");
        return t;
    }

    /// <summary>Hunch.Kernels' reference quantizers (llama-quantize without an importance matrix) as a row hook.</summary>
    static unsafe RowQuantizer? QuantizerFor(GgmlType type)
    {
        if (type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16) return null;
        return (t, src, dst) =>
        {
            fixed (float* x = src)
            fixed (byte* y = dst)
                RowKernels.QuantizeRow(t, x, y, src.Length);
        };
    }

    static void Report(string path, TimeSpan elapsed)
    {
        using var g = GgufFile.Open(path);
        long parameters = 0;
        foreach (var t in g.Tensors) parameters += t.ElementCount;
        Console.WriteLine($"wrote {path}: {parameters / 1e6:F1} M parameters, {g.Length / 1e6:F1} MB, {g.Tensors.Count} tensors in {elapsed.TotalSeconds:F1} s");
    }
}
