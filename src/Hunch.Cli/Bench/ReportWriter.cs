using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Hunch.Cli.Bench;

/// <summary>Writes results.json, report.md and chart.svg.</summary>
public static class ReportWriter
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void WriteAll(BenchReport report, string outDir)
    {
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "results.json"), Json(report));
        File.WriteAllText(Path.Combine(outDir, "report.md"), Markdown(report));
        File.WriteAllText(Path.Combine(outDir, "chart.svg"), Svg(report));
    }

    static double? DecodeTokS(BenchReport r) => r.Aggregates.FirstOrDefault(a => a.Method == "none" && a.Category == "all")?.TokensPerSecond;

    static double? Roofline(BenchReport r) => r.Machine is null || r.Model.Bytes == 0 ? null : r.Machine.BandwidthGBsAll * 1e9 / r.Model.Bytes;

    public static string Json(BenchReport r)
    {
        var o = new JsonSerializerOptions { WriteIndented = true };
        var doc = new Dictionary<string, object?>
        {
            ["started_utc"] = r.Started.ToString("O", Inv),
            ["options"] = new Dictionary<string, object?>
            {
                ["prompts"] = r.Options.PromptsPath, ["methods"] = r.Options.Methods, ["max_new_tokens"] = r.Options.MaxNewTokens,
                ["temperature"] = r.Options.Temperature, ["top_p"] = r.Options.TopP, ["warmup"] = r.Options.Warmup, ["repeats"] = r.Options.Repeats,
                ["threads"] = r.Options.Threads, ["limit"] = r.Options.Limit, ["tree_nodes"] = r.Options.TreeNodes, ["seed"] = r.Options.Seed,
            },
            ["machine"] = r.Machine is null ? null : new Dictionary<string, object?>
            {
                ["cpu"] = r.Machine.Cpu, ["cores"] = r.Machine.Cores, ["simd"] = r.Machine.Simd,
                ["bandwidth_gbs_1_thread"] = Math.Round(r.Machine.BandwidthGBs1, 2), ["bandwidth_gbs"] = Math.Round(r.Machine.BandwidthGBsAll, 2), ["bandwidth_threads"] = r.Machine.BandwidthThreads,
            },
            ["model"] = new Dictionary<string, object?>
            {
                ["name"] = r.Model.Name, ["path"] = r.Model.Path, ["architecture"] = r.Model.Architecture, ["types"] = r.Model.Types,
                ["bytes"] = r.Model.Bytes, ["parameters"] = r.Model.Parameters,
                ["roofline_tok_s"] = Roofline(r), ["decode_tok_s"] = DecodeTokS(r),
                ["roofline_fraction"] = Roofline(r) is { } rf && DecodeTokS(r) is { } d ? d / rf : null,
            },
            ["aggregates"] = r.Aggregates.Select(a => new Dictionary<string, object?>
            {
                ["method"] = a.Method, ["category"] = a.Category, ["prompts"] = a.Prompts, ["tokens"] = a.Tokens,
                ["tokens_per_s"] = a.TokensPerSecond, ["speedup"] = a.Speedup, ["mean_accepted"] = a.MeanAccepted,
                ["scored_per_token"] = a.ScoredPerToken, ["repetition_index"] = a.RepetitionIndex, ["draft_ms"] = a.DraftMs,
                ["forward_ms"] = a.ForwardMs, ["verify_ms"] = a.VerifyMs, ["decode_ms"] = a.DecodeMs, ["accept_histogram"] = a.AcceptHistogram,
                ["lossless_checked"] = a.LosslessChecked, ["lossless_mismatches"] = a.Mismatches,
            }).ToList(),
            ["records"] = r.Records.Select(x => new Dictionary<string, object?>
            {
                ["prompt_id"] = x.PromptId, ["category"] = x.Category, ["method"] = x.Method, ["repeat"] = x.Repeat,
                ["generated_tokens"] = x.Stats.GeneratedTokens, ["decode_ms"] = x.Stats.DecodeMs, ["prefill_ms"] = x.Stats.PrefillMs,
                ["steps"] = x.Stats.Steps, ["mean_accepted"] = x.Stats.MeanAccepted, ["scored_tokens"] = x.Stats.ScoredTokens,
                ["repetition_index"] = x.RepetitionIndex, ["token_ids"] = x.Tokens,
            }).ToList(),
        };
        return JsonSerializer.Serialize(doc, o);
    }

    public static string Markdown(BenchReport r)
    {
        var sb = new StringBuilder();
        var o = r.Options;
        sb.AppendLine("# hunch bench report").AppendLine();
        sb.AppendLine($"- started: {r.Started:u}");
        sb.AppendLine($"- command: `hunch bench -m {r.Model.Path} --prompts {o.PromptsPath} --methods {string.Join(',', o.Methods)} --max-new-tokens {o.MaxNewTokens} --temp {o.Temperature.ToString(Inv)} --warmup {o.Warmup} --repeats {o.Repeats} --threads {o.Threads} --limit {o.Limit}`");
        if (r.Machine is { } m)
            sb.AppendLine($"- machine: {m.Cpu}, {m.Cores} cores, {m.Simd}; measured read bandwidth {m.BandwidthGBs1:F1} GB/s (1 thread), {m.BandwidthGBsAll:F1} GB/s ({m.BandwidthThreads} threads)");
        sb.AppendLine($"- model: {r.Model.Name} ({r.Model.Architecture}, {r.Model.Parameters / 1e6:F1} M parameters, {r.Model.Bytes / 1e6:F1} MB, {r.Model.Types})");
        if (Roofline(r) is { } roof && DecodeTokS(r) is { } dec)
            sb.AppendLine($"- decode (none): {dec:F1} tok/s = {dec / roof * 100:F1}% of the bandwidth roofline ({roof:F0} tok/s = bandwidth / model bytes)");
        sb.AppendLine($"- sampling: {(o.Temperature <= 0 ? "greedy" : $"temperature {o.Temperature.ToString(Inv)}, top-p {o.TopP.ToString(Inv)}, seeded")}; speedup = decode time per token of `none` / that of the method, on the same prompts, methods interleaved per prompt");
        sb.AppendLine();
        sb.AppendLine("| method | category | prompts | tok/s | speedup | MAT | scored/token | repetition | draft / forward / verify ms | lossless |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var a in r.Aggregates)
        {
            string lossless = a.Method == "none" ? "baseline" : a.Mismatches.Count == 0 ? $"yes ({a.LosslessChecked}/{a.LosslessChecked})"
                : (o.Temperature > 0 ? $"{a.LosslessChecked - a.Mismatches.Count}/{a.LosslessChecked} seed-identical" : $"**NO**: {string.Join(", ", a.Mismatches)}");
            sb.AppendLine($"| {a.Method} | {a.Category} | {a.Prompts} | {a.TokensPerSecond:F1} | {a.Speedup:F2}x | {a.MeanAccepted:F2} | {a.ScoredPerToken:F2} | {a.RepetitionIndex:F2} | {a.DraftMs:F0} / {a.ForwardMs:F0} / {a.VerifyMs:F0} | {lossless} |");
        }
        sb.AppendLine();
        sb.AppendLine("Acceptance histograms (steps that accepted 0, 1, 2, ... draft tokens), all categories:").AppendLine();
        foreach (var a in r.Aggregates.Where(a => a.Category == "all"))
            sb.AppendLine($"- {a.Method}: [{string.Join(", ", a.AcceptHistogram)}]");
        sb.AppendLine().AppendLine("![speedup per method and category](chart.svg)");
        return sb.ToString();
    }

    /// <summary>A grouped bar chart of speedup per method per category; plain SVG, no external assets.</summary>
    public static string Svg(BenchReport r)
    {
        var methods = r.Aggregates.Select(a => a.Method).Distinct().ToList();
        var categories = r.Aggregates.Select(a => a.Category).Distinct().ToList();
        string[] colors = ["#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"];
        double max = Math.Max(1.2, r.Aggregates.Select(a => a.Speedup).DefaultIfEmpty(1).Max() * 1.1);
        int groupWidth = Math.Max(60, methods.Count * 18 + 20), left = 60, top = 40, plotH = 260;
        int legendWidth = 40 + 7 * methods.Select(m => m.Length).DefaultIfEmpty(8).Max();
        int width = left + categories.Count * groupWidth + legendWidth, height = Math.Max(top + plotH + 90, top + methods.Count * 20 + 20);
        var sb = new StringBuilder();
        sb.AppendLine($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">");
        sb.AppendLine($"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>");
        sb.AppendLine($"<text x=\"{left}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">Speedup vs none ({Escape(r.Model.Name)}, {(r.Options.Temperature <= 0 ? "greedy" : "T=" + r.Options.Temperature.ToString(Inv))})</text>");
        double Y(double v) => top + plotH - v / max * plotH;
        for (double g = 0; g <= max; g += max > 4 ? 1 : 0.5)
        {
            double y = Y(g);
            sb.AppendLine($"<line x1=\"{left}\" y1=\"{y:F1}\" x2=\"{left + categories.Count * groupWidth}\" y2=\"{y:F1}\" stroke=\"#ddd\"/><text x=\"{left - 6}\" y=\"{y + 4:F1}\" text-anchor=\"end\">{g.ToString("0.0", Inv)}x</text>");
        }
        double y1 = Y(1);
        sb.AppendLine($"<line x1=\"{left}\" y1=\"{y1:F1}\" x2=\"{left + categories.Count * groupWidth}\" y2=\"{y1:F1}\" stroke=\"#333\" stroke-dasharray=\"4 3\"/>");
        for (int c = 0; c < categories.Count; c++)
        {
            int x0 = left + c * groupWidth + 10;
            for (int mi = 0; mi < methods.Count; mi++)
            {
                var a = r.Aggregates.FirstOrDefault(x => x.Method == methods[mi] && x.Category == categories[c]);
                if (a is null) continue;
                double y = Y(a.Speedup);
                sb.AppendLine($"<rect x=\"{x0 + mi * 18}\" y=\"{y:F1}\" width=\"16\" height=\"{top + plotH - y:F1}\" fill=\"{colors[mi % colors.Length]}\"><title>{Escape(a.Method)} / {Escape(a.Category)}: {a.Speedup.ToString("F2", Inv)}x, {a.TokensPerSecond.ToString("F1", Inv)} tok/s, MAT {a.MeanAccepted.ToString("F2", Inv)}</title></rect>");
            }
            sb.AppendLine($"<text x=\"{x0 + methods.Count * 9}\" y=\"{top + plotH + 16}\" text-anchor=\"end\" transform=\"rotate(-30 {x0 + methods.Count * 9} {top + plotH + 16})\">{Escape(categories[c])}</text>");
        }
        int lx = left + categories.Count * groupWidth + 20;
        for (int mi = 0; mi < methods.Count; mi++)
            sb.AppendLine($"<rect x=\"{lx}\" y=\"{top + mi * 20}\" width=\"12\" height=\"12\" fill=\"{colors[mi % colors.Length]}\"/><text x=\"{lx + 18}\" y=\"{top + mi * 20 + 11}\">{Escape(methods[mi])}</text>");
        sb.AppendLine("</svg>");
        return sb.ToString();
    }

    static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;");
}
