using System.CommandLine;
using Hunch.Gguf;
using Hunch.Speculative.Model;

namespace Hunch.Cli.Commands;

/// <summary><c>hunch check-draft TARGET DRAFT</c>: can DRAFT draft for TARGET? Compares the vocabularies as
/// llama.cpp does and reports sizes, token texts, BOS/EOS, pre-tokenizer and chat template differences.</summary>
static class CheckDraftCommand
{
    public static Command Create()
    {
        var target = new Argument<string>("target") { Description = "the target GGUF model" };
        var draft = new Argument<string>("draft") { Description = "the draft GGUF model" };
        var cmd = new Command("check-draft", "Check that a draft model shares a target's vocabulary (exit 0 when it can draft for it, 1 otherwise).") { target, draft };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            string t = Cli.ResolveModel(r.GetValue(target));
            string d = r.GetValue(draft) ?? throw new UserException("no draft model given");
            using var tf = GgufFile.Open(t);
            using var df = GgufFile.Open(d);
            var report = DraftCompatibility.Compare(tf, df);
            Console.Out.WriteLine($"target:          {t}");
            Console.Out.WriteLine($"draft:           {d}");
            Console.Out.Write(report.Describe());
            return report.Compatible ? 0 : 1;
        }));
        return cmd;
    }
}
