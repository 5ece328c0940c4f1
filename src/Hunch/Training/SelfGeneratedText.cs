using System.Diagnostics;
using Hunch.Generation;
using Hunch.Models;
using Hunch.Sampling;
using Hunch.Tokenization;

namespace Hunch.Training;

/// <summary>
/// Training text for a drafter when the user gives none: the target samples it itself (temperature 0.8, top-p 0.95,
/// seeded) from a few short openings. Self-distillation only needs text on which the target's own distribution is
/// typical, and nothing is closer to what it will be asked to draft for than its own output.
/// </summary>
static class SelfGeneratedText
{
    static readonly string[] Openings = ["\n", "import ", "def ", "class ", "# ", "    ", "from ", "if "];

    /// <summary>Token streams (each beginning with its opening) of at least <paramref name="tokens"/> tokens in all.</summary>
    public static List<int[]> Generate(TransformerModel model, ITokenizer tokenizer, int tokens, ulong seed, Action<TrainingProgress>? progress)
    {
        var generator = new Generator(model, tokenizer);
        var result = new List<int[]>();
        int total = 0, i = 0;
        var sw = Stopwatch.StartNew();
        int per = Math.Min(model.Config.ContextLength - 8, 256);
        while (total < tokens)
        {
            var prompt = tokenizer.Encode(Openings[i % Openings.Length], addSpecial: true);
            var r = generator.Generate(prompt, new GenerationOptions
            {
                MaxTokens = per, Sampling = new SamplingOptions { Temperature = 0.8f, TopP = 0.95f, Seed = seed + (ulong)i },
            });
            var all = new int[prompt.Length + r.Tokens.Length];
            prompt.CopyTo(all, 0);
            r.Tokens.CopyTo(all, prompt.Length);
            result.Add(all);
            total += all.Length;
            i++;
            progress?.Invoke(new TrainingProgress("generating text", total, tokens, 0, sw.Elapsed));
        }
        return result;
    }
}
