using Hunch.Tokenization;
using System.CommandLine;
using System.Text;
using System.Text.Json;
using Hunch.Generation;
using Hunch.Sampling;
using Hunch.Speculative;

namespace Hunch.Cli.Commands;

/// <summary><c>hunch run</c>: generate text after a prompt, streamed, or as one JSON object.</summary>
static class RunCommand
{
    public static Command Create()
    {
        var model = Cli.ModelOption();
        var threads = Cli.ThreadsOption();
        var prompt = new Option<string?>("--prompt", "-p") { Description = "prompt text" };
        var promptFile = new Option<string?>("--file", "-f") { Description = "read the prompt from a file" };
        var n = new Option<int>("--n-predict", "-n") { Description = "tokens to generate", DefaultValueFactory = _ => 128 };
        var temp = new Option<float>("--temp") { Description = "temperature (0: greedy)", DefaultValueFactory = _ => 0f };
        var topK = new Option<int>("--top-k") { Description = "top-k (0: off)", DefaultValueFactory = _ => 0 };
        var topP = new Option<float>("--top-p") { Description = "top-p (1: off)", DefaultValueFactory = _ => 1f };
        var minP = new Option<float>("--min-p") { Description = "min-p (0: off)", DefaultValueFactory = _ => 0f };
        var repeat = new Option<float>("--repeat-penalty") { Description = "repetition penalty (1: off)", DefaultValueFactory = _ => 1f };
        var presence = new Option<float>("--presence-penalty") { Description = "presence penalty", DefaultValueFactory = _ => 0f };
        var frequency = new Option<float>("--frequency-penalty") { Description = "frequency penalty", DefaultValueFactory = _ => 0f };
        var seed = new Option<ulong>("--seed", "-s") { Description = "random seed", DefaultValueFactory = _ => 42UL };
        var ctx = new Option<int>("--ctx", "-c") { Description = "context size (0: the model's)", DefaultValueFactory = _ => 0 };
        var truncate = new Option<bool>("--truncate") { Description = "keep the last prompt tokens when prompt plus -n exceeds the context" };
        var json = new Option<bool>("--json") { Description = "print one JSON object with text, token ids and stats" };
        var draft = new Option<string>("--draft") { Description = "drafter: auto (combines recycling and lookahead, switches itself off when drafting does not pay), none, recycling, lookup, lookahead, jacobi, ...", DefaultValueFactory = _ => "auto" };
        var nodes = new Option<int>("--tree-nodes") { Description = "most draft nodes per step (0: drafter default)", DefaultValueFactory = _ => 0 };
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "keep generating after an end-of-generation token" };
        var chat = new Option<bool>("--chat") { Description = "treat the prompt as a user message rendered with the model's chat template" };
        var system = new Option<string?>("--system") { Description = "system message (with --chat)" };

        var cmd = new Command("run", "Generate text after a prompt with a GGUF model.")
        {
            model, threads, prompt, promptFile, n, temp, topK, topP, minP, repeat, presence, frequency, seed, ctx, truncate, json, draft, nodes, ignoreEos, chat, system,
        };
        var grammar = GrammarOptions.Options();
        grammar.AddTo(cmd);
        cmd.SetAction(r => Cli.Guard(() =>
        {
            string text = r.GetValue(prompt) ?? (r.GetValue(promptFile) is { } pf ? File.ReadAllText(pf) : throw new UserException("give a prompt with -p TEXT or -f FILE"));
            var sampling = new SamplingOptions
            {
                Temperature = r.GetValue(temp), TopK = r.GetValue(topK), TopP = r.GetValue(topP), MinP = r.GetValue(minP),
                RepeatPenalty = r.GetValue(repeat), PresencePenalty = r.GetValue(presence), FrequencyPenalty = r.GetValue(frequency), Seed = r.GetValue(seed),
            };
            int maxTokens = r.GetValue(n);
            if (maxTokens < 0) throw new UserException($"-n {maxTokens} must not be negative");
            using var m = HunchModel.Load(Cli.ResolveModel(r.GetValue(model)), r.GetValue(threads));
            int[] ids;
            if (r.GetValue(chat))
            {
                var messages = new List<(string, string)>();
                if (r.GetValue(system) is { } sys) messages.Add(("system", sys));
                messages.Add(("user", text));
                ids = ChatPrompt.Encode(m, messages);
            }
            else ids = m.Tokenizer.Encode(text, addSpecial: true);
            var options = new GenerationOptions
            {
                MaxTokens = maxTokens, Sampling = sampling, ContextSize = r.GetValue(ctx), TruncatePrompt = r.GetValue(truncate),
                StopAtEndOfGeneration = !r.GetValue(ignoreEos),
                MaxDraftNodes = r.GetValue(nodes) > 0 ? r.GetValue(nodes) : new GenerationOptions().MaxDraftNodes,
                Constraint = GrammarOptions.CreateConstraint(r, grammar, m),
            };
            using var drafter = DrafterRegistry.Create(r.GetValue(draft)!, m, r.GetValue(nodes));
            var generator = m.CreateGenerator();
            bool asJson = r.GetValue(json);
            var stdout = Console.OpenStandardOutput();
            var decoder = new UTF8Encoding(false).GetDecoder();
            var chars = new char[256];
            var result = generator.Generate(ids, options, drafter, asJson ? null : tokens =>
            {
                foreach (int t in tokens)
                {
                    var bytes = m.Tokenizer.TokenBytes(t);
                    if (chars.Length < bytes.Length + 4) chars = new char[bytes.Length * 2 + 8];
                    int c = decoder.GetChars(bytes, chars, flush: false);
                    Console.Out.Write(chars, 0, c);
                }
                Console.Out.Flush();
                return true;
            });
            if (asJson) WriteJson(m, result);
            else
            {
                int c = decoder.GetChars(ReadOnlySpan<byte>.Empty, chars, flush: true);
                Console.Out.Write(chars, 0, c);
                Console.Out.WriteLine();
                var s = result.Stats;
                Console.Error.WriteLine($"[{s.PromptTokens} prompt tokens in {s.PrefillMs:F1} ms; {s.GeneratedTokens} tokens in {s.DecodeMs:F1} ms = {s.DecodeTokensPerSecond:F1} tok/s; drafter {s.Drafter}, {s.Steps} steps, {s.MeanAccepted:F2} tokens/step]");
            }
            return 0;
        }));
        return cmd;
    }

    static void WriteJson(HunchModel m, GenerationResult result)
    {
        var s = result.Stats;
        using var stream = Console.OpenStandardOutput();
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false });
        w.WriteStartObject();
        w.WriteString("text", m.Tokenizer.Decode(result.Tokens));
        w.WriteStartArray("prompt_token_ids"); foreach (var t in result.PromptTokens) w.WriteNumberValue(t); w.WriteEndArray();
        w.WriteStartArray("token_ids"); foreach (var t in result.Tokens) w.WriteNumberValue(t); w.WriteEndArray();
        w.WriteString("finish_reason", result.FinishReason.ToString().ToLowerInvariant());
        w.WriteStartObject("stats");
        w.WriteNumber("prompt_tokens", s.PromptTokens);
        w.WriteNumber("generated_tokens", s.GeneratedTokens);
        w.WriteNumber("prefill_ms", Math.Round(s.PrefillMs, 3));
        w.WriteNumber("decode_ms", Math.Round(s.DecodeMs, 3));
        w.WriteNumber("decode_tok_s", Math.Round(s.DecodeTokensPerSecond, 3));
        w.WriteString("drafter", s.Drafter);
        w.WriteNumber("steps", s.Steps);
        w.WriteNumber("mean_accepted", Math.Round(s.MeanAccepted, 4));
        w.WriteStartArray("accept_histogram"); foreach (var h in s.AcceptHistogram) w.WriteNumberValue(h); w.WriteEndArray();
        w.WriteNumber("drafted_tokens", s.DraftedTokens);
        w.WriteNumber("accepted_tokens", s.AcceptedTokens);
        w.WriteNumber("scored_per_token", Math.Round(s.ScoredPerToken, 4));
        w.WriteNumber("draft_ms", Math.Round(s.DraftMs, 3));
        w.WriteNumber("forward_ms", Math.Round(s.ForwardMs, 3));
        w.WriteNumber("verify_ms", Math.Round(s.VerifyMs, 3));
        w.WriteEndObject();
        w.WriteEndObject();
        w.Flush();
        stream.WriteByte((byte)'\n');
    }
}
