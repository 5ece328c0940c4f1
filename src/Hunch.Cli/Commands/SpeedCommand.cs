using System.CommandLine;
using Hunch.Cli.Bench;
using Spectre.Console;

namespace Hunch.Cli.Commands;

/// <summary><c>hunch speed</c>: engine speed (prefill, decode, verification cost by batch size) against the bandwidth roofline.</summary>
static class SpeedCommand
{
    public static Command Create()
    {
        var model = Cli.ModelOption();
        var threads = Cli.ThreadsOption();
        var pp = new Option<int>("--prompt-tokens") { Description = "prefill batch (pp)", DefaultValueFactory = _ => 64 };
        var tg = new Option<int>("--gen-tokens") { Description = "decoded tokens (tg)", DefaultValueFactory = _ => 64 };
        var repeats = new Option<int>("--repeats", "-r") { Description = "repeats (median)", DefaultValueFactory = _ => 3 };
        var json = new Option<bool>("--json") { Description = "print JSON" };
        var cmd = new Command("speed", "Measure prefill and decode tokens/s, forward time for k = 1..32 rows, and the bandwidth roofline.") { model, threads, pp, tg, repeats, json };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            using var m = HunchModel.Load(Cli.ResolveModel(r.GetValue(model)), r.GetValue(threads));
            int t = m.Transformer.Pool.ThreadCount;
            var s = EngineSpeed.Measure(m.Transformer, r.GetValue(pp), r.GetValue(tg), Math.Max(1, r.GetValue(repeats)));
            double bw = MachineInfo.Bandwidth(t);
            double roof = bw * 1e9 / s.WeightBytes;
            double k1 = s.ForwardMs[0].Ms;
            var pool = m.Transformer.Pool;
            double solo = pool.SoloRuns + pool.SharedRuns > 0 ? (double)pool.SoloRuns / (pool.SoloRuns + pool.SharedRuns) : 0;
            if (r.GetValue(json))
            {
                Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
                {
                    model = m.Path, threads = t, pp_tok_s = s.PrefillTokS, tg_tok_s = s.DecodeTokS, weight_bytes = s.WeightBytes,
                    bandwidth_gbs = bw, roofline_tok_s = roof, roofline_fraction = s.DecodeTokS / roof,
                    solo_fraction = solo,
                    forward_ms = s.ForwardMs.ToDictionary(x => x.K.ToString(), x => x.Ms),
                }));
                return 0;
            }
            var table = new Table().AddColumns("model", "threads", $"pp{r.GetValue(pp)} tok/s", $"tg{r.GetValue(tg)} tok/s", "weights GB/s", "roofline");
            // With several threads, the share of jobs the pool ran on one thread because that measured faster.
            string threadCell = t > 1 ? $"{t} ({solo * 100:F0}% solo)" : "1";
            table.AddRow(Markup.Escape(Path.GetFileName(m.Path)), threadCell, $"{s.PrefillTokS:F1}", $"{s.DecodeTokS:F1}",
                $"{s.DecodeTokS * s.WeightBytes / 1e9:F1}", $"{s.DecodeTokS / roof * 100:F0}% of {roof:F0} tok/s ({bw:F1} GB/s)");
            AnsiConsole.Write(table);
            var curve = new Table().AddColumns("k rows", "forward ms", "x k=1");
            foreach (var (k, ms) in s.ForwardMs) curve.AddRow(k.ToString(), $"{ms:F2}", $"{ms / k1:F2}");
            AnsiConsole.Write(curve);
            return 0;
        }));
        return cmd;
    }
}
