using System.CommandLine;
using Hunch.Gguf;
using Hunch.Models;

namespace Hunch.Cli.Commands;

/// <summary><c>hunch info MODEL</c>: metadata, shape and a tensor table.</summary>
static class InfoCommand
{
    public static Command Create()
    {
        var path = new Argument<string?>("model") { Description = "GGUF file (default: the bundled model)", Arity = ArgumentArity.ZeroOrOne };
        var all = new Option<bool>("--all") { Description = "print long metadata arrays in full and every tensor" };
        var cmd = new Command("info", "Print a GGUF file's metadata, shape and tensors.") { path, all };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            string file = Cli.ResolveModel(r.GetValue(path));
            using var g = GgufFile.Open(file);
            Print(g, file, r.GetValue(all));
            return 0;
        }));
        return cmd;
    }

    static void Print(GgufFile g, string file, bool all)
    {
        var o = Console.Out;
        o.WriteLine($"file:        {file} ({g.Length / 1e6:F2} MB, GGUF v{g.Version}, alignment {g.Alignment})");
        string arch = g.GetString("general.architecture") ?? "(none)";
        o.WriteLine($"name:        {g.GetString("general.name") ?? "(none)"}");
        o.WriteLine($"architecture:{(arch.Length > 0 ? " " : "")}{arch}");
        if (g.FindTensor("token_embd.weight") is not null)
        {
            try
            {
                var c = ModelConfig.FromGguf(g);
                o.WriteLine($"shape:       {c.LayerCount} layers, width {c.EmbeddingSize}, {c.HeadCount} heads / {c.KvHeadCount} kv heads of {c.HeadDim}, feed-forward {c.FeedForwardSize}, vocab {c.VocabSize}, context {c.ContextLength}");
                o.WriteLine($"rope:        base {c.RopeBase}, {(c.RopeNeox ? "NeoX (half-split)" : "adjacent pairs")}; rms eps {c.RmsEps}");
            }
            catch (GgufException e) { o.WriteLine($"shape:       cannot run this model: {e.Message}"); }
        }
        long parameters = 0, bytes = 0;
        var histogram = new SortedDictionary<string, (int Count, long Bytes)>();
        foreach (var t in g.Tensors)
        {
            parameters += t.ElementCount;
            bytes += t.ByteSize;
            var key = t.Type.ToString();
            var h = histogram.GetValueOrDefault(key);
            histogram[key] = (h.Count + 1, h.Bytes + t.ByteSize);
        }
        o.WriteLine($"parameters:  {parameters:N0} ({parameters / 1e6:F1} M) in {g.Tensors.Count} tensors, {bytes / 1e6:F2} MB");
        o.WriteLine($"types:       {string.Join(", ", histogram.Select(kv => $"{kv.Key} x{kv.Value.Count} ({kv.Value.Bytes / 1e6:F2} MB)"))}");
        var tokens = g.Find("tokenizer.ggml.tokens");
        o.WriteLine($"tokenizer:   {g.GetString("tokenizer.ggml.model") ?? "(none)"}{(g.GetString("tokenizer.ggml.pre") is { } pre ? $", pre {pre}" : "")}, {(tokens?.Count ?? 0)} tokens, bos {g.GetInt("tokenizer.ggml.bos_token_id", -1)}, eos {g.GetInt("tokenizer.ggml.eos_token_id", -1)}");
        o.WriteLine($"chat template: {(g.Find("tokenizer.chat_template") is null ? "no" : "yes")}");
        o.WriteLine();
        o.WriteLine("metadata:");
        foreach (var key in g.MetadataKeys)
        {
            var v = g.Metadata[key];
            string text = v.Value is Array a && !all ? $"[{v.ElementType} x {a.Length}]" : Format(v);
            if (!all && text.Length > 120) text = text[..117] + "...";
            o.WriteLine($"  {key,-45} {text}");
        }
        o.WriteLine();
        o.WriteLine($"tensors ({g.Tensors.Count}):");
        int shown = 0;
        foreach (var t in g.Tensors)
        {
            if (!all && shown++ >= 40) { o.WriteLine($"  ... {g.Tensors.Count - 40} more (--all)"); break; }
            o.WriteLine($"  {t.Name,-32} {t.Type,-6} [{string.Join(", ", t.Dimensions),-18}] {t.ByteSize / 1e3,10:F1} kB at {t.FileOffset}");
        }
    }

    static string Format(GgufValue v) => v.Value switch
    {
        string s => s.Replace("\n", "\\n"),
        Array a => "[" + string.Join(", ", a.Cast<object>().Select(x => x is GgufValue gv ? Format(gv) : Convert.ToString(x, System.Globalization.CultureInfo.InvariantCulture))) + "]",
        _ => v.ToString(),
    };
}
