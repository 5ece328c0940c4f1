using System.CommandLine;
using Hunch.Cli.Bench;
using Spectre.Console;

namespace Hunch.Cli.Commands;

/// <summary><c>hunch bench</c>: a Spec-Bench-style comparison of drafting methods, side by side in one run.</summary>
static class BenchCommand
{
    public static Command Create()
    {
        var model = Cli.ModelOption();
        var threads = Cli.ThreadsOption();
        var prompts = new Option<string>("--prompts") { Description = "JSONL prompts (ours: id/category/prompt; Spec-Bench: question_id/category/turns)", Required = true };
        var methods = new Option<string>("--methods") { Description = "comma-separated drafting methods (or ;-separated when specs carry options); none is always the baseline", DefaultValueFactory = _ => "none" };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "tokens per prompt", DefaultValueFactory = _ => 128 };
        var temp = new Option<float>("--temp") { Description = "temperature (0: greedy)", DefaultValueFactory = _ => 0f };
        var topP = new Option<float>("--top-p") { Description = "top-p when sampling", DefaultValueFactory = _ => 0.95f };
        var warmup = new Option<int>("--warmup") { Description = "warm-up generations per method (discarded)", DefaultValueFactory = _ => 1 };
        var repeats = new Option<int>("--repeats") { Description = "repeats per prompt and method", DefaultValueFactory = _ => 1 };
        var limit = new Option<int>("--limit") { Description = "use only the first K prompts (0: all)", DefaultValueFactory = _ => 0 };
        var nodes = new Option<int>("--tree-nodes") { Description = "most draft nodes per step (0: drafter default)", DefaultValueFactory = _ => 0 };
        var outDir = new Option<string>("--out") { Description = "output directory for results.json, report.md, chart.svg", Required = true };
        var cmd = new Command("bench", "Compare drafting methods on a prompt set: tokens/s, speedup, MAT, losslessness.")
        {
            model, threads, prompts, methods, maxNew, temp, topP, warmup, repeats, limit, nodes, outDir,
        };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            var o = new BenchOptions
            {
                ModelPath = r.GetValue(model), PromptsPath = r.GetValue(prompts)!,
                // ';' separates methods whose specs carry comma-separated options (recycling:tree=fixed,nodes=8).
                Methods = r.GetValue(methods)!.Split(r.GetValue(methods)!.Contains(';') ? ';' : ',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                MaxNewTokens = r.GetValue(maxNew), Temperature = r.GetValue(temp), TopP = r.GetValue(topP), Warmup = r.GetValue(warmup),
                Repeats = Math.Max(1, r.GetValue(repeats)), Threads = r.GetValue(threads), Limit = r.GetValue(limit), TreeNodes = r.GetValue(nodes),
                OutDir = r.GetValue(outDir)!,
            };
            if (o.MaxNewTokens <= 0) throw new UserException("--max-new-tokens must be positive");
            BenchReport? report = null;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("starting", maxValue: 1);
                    report = BenchRunner.Run(o, (what, done, total) =>
                    {
                        task.MaxValue = Math.Max(1, total);
                        task.Value = done;
                        task.Description = Markup.Escape(what);
                    });
                });
            ReportWriter.WriteAll(report!, o.OutDir);
            var table = new Table().AddColumns("method", "category", "tok/s", "speedup", "MAT", "scored/tok", "lossless");
            foreach (var a in report!.Aggregates)
                table.AddRow(a.Method, a.Category, $"{a.TokensPerSecond:F1}", $"{a.Speedup:F2}x", $"{a.MeanAccepted:F2}", $"{a.ScoredPerToken:F2}",
                    a.Method == "none" ? "baseline" : a.Mismatches.Count == 0 ? "[green]yes[/]" : $"[red]{a.Mismatches.Count} differ[/]");
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"wrote [bold]{Markup.Escape(Path.Combine(o.OutDir, "report.md"))}[/], results.json, chart.svg");
            return 0;
        }));
        return cmd;
    }
}
