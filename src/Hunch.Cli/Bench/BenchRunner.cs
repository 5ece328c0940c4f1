using Hunch.Tokenization;
using Hunch.Generation;
using Hunch.Sampling;
using Hunch.Cli.Commands;

namespace Hunch.Cli.Bench;

/// <summary>Options of one benchmark run.</summary>
public sealed record BenchOptions
{
    public string? ModelPath { get; init; }
    public required string PromptsPath { get; init; }
    public IReadOnlyList<string> Methods { get; init; } = ["none"];
    public int MaxNewTokens { get; init; } = 128;
    public float Temperature { get; init; }
    public float TopP { get; init; } = 0.95f;
    public int Warmup { get; init; } = 1;
    public int Repeats { get; init; } = 1;
    public int Threads { get; init; }
    public int Limit { get; init; }
    public int TreeNodes { get; init; }
    public ulong Seed { get; init; } = 1234;
    public required string OutDir { get; init; }
    public bool MeasureMachine { get; init; } = true;
}

/// <summary>One generation of one prompt by one method.</summary>
public sealed record BenchRecord(string PromptId, string Category, string Method, int Repeat, int[] Tokens, GenerationStats Stats, double RepetitionIndex);

/// <summary>Aggregates of one method over one category (or "all").</summary>
public sealed record BenchAggregate(string Method, string Category, int Prompts, long Tokens, double DecodeMs, double TokensPerSecond,
    double Speedup, double MeanAccepted, double ScoredPerToken, double RepetitionIndex, double DraftMs, double ForwardMs, double VerifyMs,
    int[] AcceptHistogram, int LosslessChecked, List<string> Mismatches);

/// <summary>The whole benchmark outcome.</summary>
public sealed record BenchReport(BenchOptions Options, MachineInfo? Machine, ModelSummary Model, List<BenchRecord> Records, List<BenchAggregate> Aggregates, DateTime Started);

/// <summary>What model was measured.</summary>
public sealed record ModelSummary(string Name, string Path, string Types, long Bytes, long Parameters, string Architecture);

/// <summary>
/// Runs every method on every prompt, interleaved per prompt (the method order rotates from prompt to prompt) so
/// that machine noise hits all methods alike; `none` is always included as the baseline, and speedups are ratios
/// of decode time on the same prompts in the same run.
/// </summary>
public static class BenchRunner
{
    public static BenchReport Run(BenchOptions o, Action<string, int, int>? progress = null)
    {
        var methods = new List<string> { "none" };
        foreach (var m in o.Methods) if (m != "none" && !methods.Contains(m)) methods.Add(m);
        var prompts = BenchPrompts.Load(o.PromptsPath, o.Limit);
        var started = DateTime.UtcNow;
        var machine = o.MeasureMachine ? MachineInfo.Measure(o.Threads) : null;
        using var model = HunchModel.Load(Commands.Cli.ResolveModel(o.ModelPath), o.Threads);
        var summary = Summarise(model);
        var drafters = new Dictionary<string, Speculative.IDrafter>();
        try
        {
            foreach (var m in methods) drafters[m] = DrafterRegistry.Create(m, model, o.TreeNodes);
            var generator = model.CreateGenerator();
            var records = new List<BenchRecord>();
            int total = prompts.Count * methods.Count * o.Repeats, done = 0;

            for (int w = 0; w < o.Warmup; w++)
                foreach (var m in methods)
                    RunPrompt(model, generator, drafters[m], prompts[0], o, seed: o.Seed);

            for (int p = 0; p < prompts.Count; p++)
            {
                for (int rep = 0; rep < o.Repeats; rep++)
                {
                    for (int j = 0; j < methods.Count; j++)
                    {
                        string m = methods[(j + p + rep) % methods.Count];
                        progress?.Invoke($"{prompts[p].Id} · {m}", done, total);
                        var (tokens, stats, promptTokens) = RunPrompt(model, generator, drafters[m], prompts[p], o, o.Seed + (ulong)p);
                        records.Add(new BenchRecord(prompts[p].Id, prompts[p].Category, m, rep, tokens, stats, RepetitionIndex(promptTokens, tokens)));
                        done++;
                    }
                }
            }
            progress?.Invoke("done", total, total);
            return new BenchReport(o, machine, summary, records, Aggregate(records, methods, o.Temperature <= 0), started);
        }
        finally
        {
            foreach (var d in drafters.Values) d.Dispose();
        }
    }

    /// <summary>Generates every turn of a prompt; later turns see the earlier turns and answers.</summary>
    static (int[] Tokens, GenerationStats Stats, int[] PromptTokens) RunPrompt(HunchModel model, Generator generator, Speculative.IDrafter drafter, BenchPrompt prompt, BenchOptions o, ulong seed)
    {
        var sampling = o.Temperature <= 0 ? SamplingOptions.Greedy : new SamplingOptions { Temperature = o.Temperature, TopP = o.TopP, Seed = seed };
        var options = new GenerationOptions { MaxTokens = o.MaxNewTokens, Sampling = sampling, TruncatePrompt = true, MaxDraftNodes = o.TreeNodes > 0 ? o.TreeNodes : new GenerationOptions().MaxDraftNodes };
        var all = new List<int>();
        GenerationStats? total = null;
        var history = new List<(string Role, string Content)>();
        int[] lastPrompt = [];
        foreach (var turn in prompt.Turns)
        {
            history.Add(("user", turn));
            var ids = prompt.Chat ? ChatPrompt.Encode(model, history) : model.Tokenizer.Encode(turn, addSpecial: true);
            var r = generator.Generate(ids, options, drafter);
            all.AddRange(r.Tokens);
            history.Add(("assistant", model.Tokenizer.Decode(r.Tokens)));
            total = total is null ? r.Stats : Merge(total, r.Stats);
            lastPrompt = r.PromptTokens;
        }
        return (all.ToArray(), total!, lastPrompt);
    }

    static GenerationStats Merge(GenerationStats a, GenerationStats b)
    {
        var h = new int[Math.Max(a.AcceptHistogram.Length, b.AcceptHistogram.Length)];
        for (int i = 0; i < h.Length; i++) h[i] = (i < a.AcceptHistogram.Length ? a.AcceptHistogram[i] : 0) + (i < b.AcceptHistogram.Length ? b.AcceptHistogram[i] : 0);
        return new GenerationStats
        {
            PromptTokens = a.PromptTokens + b.PromptTokens, GeneratedTokens = a.GeneratedTokens + b.GeneratedTokens,
            PrefillMs = a.PrefillMs + b.PrefillMs, DecodeMs = a.DecodeMs + b.DecodeMs, Steps = a.Steps + b.Steps,
            DraftedTokens = a.DraftedTokens + b.DraftedTokens, AcceptedTokens = a.AcceptedTokens + b.AcceptedTokens,
            ScoredTokens = a.ScoredTokens + b.ScoredTokens, AcceptHistogram = h, DraftMs = a.DraftMs + b.DraftMs,
            ForwardMs = a.ForwardMs + b.ForwardMs, VerifyMs = a.VerifyMs + b.VerifyMs, Drafter = a.Drafter,
        };
    }

    /// <summary>Share of emitted 4-grams that already appeared earlier in the prompt or the output, so that
    /// repetition is not mistaken for drafting skill.</summary>
    public static double RepetitionIndex(int[] prompt, int[] output)
    {
        if (output.Length < 4) return 0;
        var seen = new HashSet<(int, int, int, int)>();
        var all = new int[prompt.Length + output.Length];
        prompt.CopyTo(all, 0);
        output.CopyTo(all, prompt.Length);
        for (int i = 0; i + 4 <= prompt.Length; i++) seen.Add((all[i], all[i + 1], all[i + 2], all[i + 3]));
        int repeated = 0, count = 0;
        for (int i = Math.Max(0, prompt.Length - 3); i + 4 <= all.Length; i++)
        {
            var g = (all[i], all[i + 1], all[i + 2], all[i + 3]);
            if (i + 3 >= prompt.Length)
            {
                count++;
                if (seen.Contains(g)) repeated++;
            }
            seen.Add(g);
        }
        return count == 0 ? 0 : (double)repeated / count;
    }

    static List<BenchAggregate> Aggregate(List<BenchRecord> records, List<string> methods, bool greedy)
    {
        var result = new List<BenchAggregate>();
        var categories = new List<string>();
        foreach (var r in records) if (!categories.Contains(r.Category)) categories.Add(r.Category);
        categories.Add("all");
        var baseline = new Dictionary<(string, int), BenchRecord>();
        foreach (var r in records) if (r.Method == "none") baseline[(r.PromptId, r.Repeat)] = r;
        foreach (var m in methods)
        {
            foreach (var cat in categories)
            {
                long tokens = 0, steps = 0, scored = 0; double ms = 0, baseMs = 0, draft = 0, fwd = 0, ver = 0, rep = 0;
                int prompts = 0, checkedCount = 0;
                var hist = new int[1];
                var mismatches = new List<string>();
                foreach (var r in records)
                {
                    if (r.Method != m || (cat != "all" && r.Category != cat)) continue;
                    prompts++;
                    tokens += r.Stats.GeneratedTokens; steps += r.Stats.Steps; scored += r.Stats.ScoredTokens;
                    ms += r.Stats.DecodeMs; draft += r.Stats.DraftMs; fwd += r.Stats.ForwardMs; ver += r.Stats.VerifyMs; rep += r.RepetitionIndex;
                    var h = r.Stats.AcceptHistogram;
                    if (h.Length > hist.Length) Array.Resize(ref hist, h.Length);
                    for (int i = 0; i < h.Length; i++) hist[i] += h[i];
                    var b = baseline[(r.PromptId, r.Repeat)];
                    // Speedup compares time per token, so a method that stopped early at EOS is not favoured.
                    baseMs += b.Stats.GeneratedTokens == 0 ? 0 : b.Stats.DecodeMs / b.Stats.GeneratedTokens * r.Stats.GeneratedTokens;
                    if (m != "none")
                    {
                        checkedCount++;
                        if (!r.Tokens.AsSpan().SequenceEqual(b.Tokens)) mismatches.Add(r.PromptId);
                    }
                }
                if (prompts == 0) continue;
                result.Add(new BenchAggregate(m, cat, prompts, tokens, ms, ms <= 0 ? 0 : tokens * 1000.0 / ms, ms <= 0 ? 0 : baseMs / ms,
                    steps == 0 ? 0 : (double)tokens / steps, tokens == 0 ? 0 : (double)scored / tokens, rep / prompts, draft, fwd, ver, hist, checkedCount, mismatches));
            }
        }
        return result;
    }

    static ModelSummary Summarise(HunchModel m)
    {
        long bytes = 0, parameters = 0;
        var types = new SortedDictionary<string, int>();
        foreach (var t in m.File.Tensors)
        {
            bytes += t.ByteSize; parameters += t.ElementCount;
            types[t.Type.ToString()] = types.GetValueOrDefault(t.Type.ToString()) + 1;
        }
        return new ModelSummary(m.Name, m.Path, string.Join(", ", types.Select(kv => $"{kv.Key}x{kv.Value}")), bytes, parameters, m.Transformer.Config.Architecture);
    }
}
