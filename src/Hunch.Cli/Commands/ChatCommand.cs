using System.CommandLine;
using Hunch.Api;
using Hunch.Sampling;

namespace Hunch.Cli.Commands;

/// <summary><c>hunch chat</c>: an interactive terminal chat that keeps the conversation, rendered with the model's
/// chat template (the same code the server uses). Each turn reuses the cached prefix of the previous ones.</summary>
static class ChatCommand
{
    public static Command Create()
    {
        var model = Cli.ModelOption();
        var threads = Cli.ThreadsOption();
        var system = new Option<string?>("--system") { Description = "system message" };
        var n = new Option<int>("--n-predict", "-n") { Description = "most tokens per reply (0: until the context is full)", DefaultValueFactory = _ => 256 };
        var temp = new Option<float>("--temp") { Description = "temperature (0: greedy)", DefaultValueFactory = _ => 0.7f };
        var topP = new Option<float>("--top-p") { Description = "top-p (1: off)", DefaultValueFactory = _ => 0.95f };
        var seed = new Option<ulong>("--seed", "-s") { Description = "random seed", DefaultValueFactory = _ => 42UL };
        var ctx = new Option<int>("--ctx", "-c") { Description = "context size (0: the model's)", DefaultValueFactory = _ => 0 };
        var draft = new Option<string>("--draft") { Description = "drafter: none, recycling, lookup, ...", DefaultValueFactory = _ => "none" };
        var stats = new Option<bool>("--stats") { Description = "print speculation statistics after each reply" };

        var cmd = new Command("chat", "Chat with a GGUF model in the terminal (/reset clears the history, /exit or Ctrl+D quits).")
        {
            model, threads, system, n, temp, topP, seed, ctx, draft, stats,
        };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            int maxTokens = r.GetValue(n);
            if (maxTokens < 0) throw new UserException($"-n {maxTokens} must not be negative");
            var sampling = new SamplingOptions { Temperature = r.GetValue(temp), TopP = r.GetValue(topP), Seed = r.GetValue(seed) };
            sampling.Validate();
            var hm = HunchModel.Load(Cli.ResolveModel(r.GetValue(model)), r.GetValue(threads));
            using var engine = new HunchEngine(hm, new EngineOptions
            {
                Parallel = 1,
                ContextSize = r.GetValue(ctx),
                DefaultDrafter = r.GetValue(draft)!,
            }, ownsModel: true);

            var history = new List<ChatTurn>();
            if (r.GetValue(system) is { } sys) history.Add(new ChatTurn("system", sys));
            int systemTurns = history.Count;
            bool interactive = !Console.IsInputRedirected;
            using var cancel = new ConsoleCancel();
            Console.Error.WriteLine($"hunch chat: {hm.Name} (context {engine.ContextSize}); /reset clears the history, /exit quits");
            while (true)
            {
                if (interactive) Console.Write("> ");
                string? line = Console.ReadLine();
                if (line is null || line.Trim() == "/exit") break;
                if (line.Trim() == "/reset") { history.RemoveRange(systemTurns, history.Count - systemTurns); Console.Error.WriteLine("(history cleared)"); continue; }
                if (line.Length == 0) continue;
                history.Add(new ChatTurn("user", line));
                var request = engine.CreateChatRequest(history);
                int room = engine.ContextSize - (request.PromptTokens?.Length ?? 0);
                if (room < 1)
                {
                    history.RemoveAt(history.Count - 1);
                    Console.Error.WriteLine("error: the conversation no longer fits the context; /reset to start over");
                    continue;
                }
                request = request with { Sampling = sampling with { Seed = sampling.Seed + (ulong)history.Count }, MaxTokens = maxTokens == 0 ? null : Math.Min(maxTokens, room) };
                var reply = new System.Text.StringBuilder();
                CompletionResult? result = null;
                var token = cancel.Begin();
                try
                {
                    foreach (var update in engine.StreamAsync(request, token).ToBlockingEnumerable())
                    {
                        Console.Write(update.Text);
                        reply.Append(update.Text);
                        result = update.Result ?? result;
                    }
                }
                catch (OperationCanceledException) { }
                Console.WriteLine();
                history.Add(new ChatTurn("assistant", reply.ToString().Trim()));
                if (r.GetValue(stats) && result is not null)
                    Console.Error.WriteLine($"[{result.CompletionTokens} tokens, {result.Stats.DecodeTokensPerSecond:F1} tok/s, prompt {result.PromptTokens} ({result.CachedPromptTokens} cached), drafter {result.Speculation.Drafter}: {result.Speculation.Accepted}/{result.Speculation.Drafted} accepted, MAT {result.Speculation.MeanAccepted:F2}]");
            }
            return 0;
        }));
        return cmd;
    }

    /// <summary>Ctrl+C stops the reply being generated instead of the program.</summary>
    sealed class ConsoleCancel : IDisposable
    {
        CancellationTokenSource _cts = new();

        public ConsoleCancel() => Console.CancelKeyPress += OnCancel;

        public CancellationToken Begin()
        {
            if (_cts.IsCancellationRequested) { _cts.Dispose(); _cts = new CancellationTokenSource(); }
            return _cts.Token;
        }

        void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            e.Cancel = true;
            _cts.Cancel();
        }

        public void Dispose()
        {
            Console.CancelKeyPress -= OnCancel;
            _cts.Dispose();
        }
    }
}
