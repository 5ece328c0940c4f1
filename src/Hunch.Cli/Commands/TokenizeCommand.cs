using System.CommandLine;
using System.Text.Json;
using Hunch.Gguf;
using Hunch.Tokenization;

namespace Hunch.Cli.Commands;

/// <summary><c>hunch tokenize</c>: print token ids (works on vocabulary-only GGUF files).</summary>
static class TokenizeCommand
{
    public static Command Create()
    {
        var model = Cli.ModelOption();
        var prompt = new Option<string>("--prompt", "-p") { Description = "text to tokenize", Required = true };
        var json = new Option<bool>("--json") { Description = "print {\"token_ids\": [...]}" };
        var noSpecial = new Option<bool>("--no-special") { Description = "do not add BOS/EOS" };
        var parseSpecial = new Option<bool>("--parse-special") { Description = "turn control-token text into control tokens" };
        var cmd = new Command("tokenize", "Print the token ids of a text.") { model, prompt, json, noSpecial, parseSpecial };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            using var g = GgufFile.Open(Cli.ResolveModel(r.GetValue(model)));
            var tok = TokenizerFactory.FromGguf(g);
            var ids = tok.Encode(r.GetValue(prompt)!, addSpecial: !r.GetValue(noSpecial), parseSpecial: r.GetValue(parseSpecial));
            if (r.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, int[]> { ["token_ids"] = ids }));
            else
                foreach (var id in ids) Console.WriteLine($"{id,6} -> '{tok.TokenText(id)}'");
            return 0;
        }));
        return cmd;
    }
}
