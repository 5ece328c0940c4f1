using System.CommandLine;
using Hunch.Training;
using Spectre.Console;

namespace Hunch.Cli.Commands;

/// <summary><c>hunch train-drafter</c>: train small draft heads or a Kangaroo adapter for the user's model on the CPU,
/// target frozen.</summary>
static class TrainDrafterCommand
{
    public static Command Create()
    {
        var model = Cli.ModelOption();
        var threads = Cli.ThreadsOption();
        var kind = new Option<string>("--kind") { Description = "heads (Medusa/Hydra draft heads) or adapter (Kangaroo: one attention block on layer L's output)", DefaultValueFactory = _ => "heads" };
        var variant = new Option<string>("--variant") { Description = "hydra (heads read the previous draft token) or medusa", DefaultValueFactory = _ => "hydra" };
        var data = new Option<string[]>("--data") { Description = "text files to train on (default: text the model generates itself)", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out", "-o") { Description = "drafter file to write (GGUF)", Required = true };
        var minutes = new Option<double>("--minutes") { Description = "training time budget", DefaultValueFactory = _ => 3 };
        var heads = new Option<int>("--heads") { Description = "number of heads", DefaultValueFactory = _ => 3 };
        var positions = new Option<int>("--max-positions") { Description = "most positions cached from the data", DefaultValueFactory = _ => 40_000 };
        var epochs = new Option<int>("--epochs") { Description = "most passes over the data", DefaultValueFactory = _ => 4 };
        var lr = new Option<float>("--lr") { Description = "AdamW learning rate", DefaultValueFactory = _ => 2e-3f };
        var seed = new Option<ulong>("--seed") { Description = "seed", DefaultValueFactory = _ => 1UL };
        var resume = new Option<bool>("--resume") { Description = "continue from OUT.ckpt when it exists" };
        var layers = new Option<int>("--layers") { Description = "adapter: the shallow sub-network's depth L (the adapter reads layer L's output)", DefaultValueFactory = _ => 2 };
        var cmd = new Command("train-drafter", "Train draft heads for a model on the CPU (the model stays frozen).")
        {
            model, threads, kind, variant, data, output, minutes, heads, positions, epochs, lr, seed, resume, layers,
        };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            if (r.GetValue(kind) == "adapter") return TrainAdapter(r, model, threads, data, output, minutes, positions, epochs, lr, seed, resume, layers);
            if (r.GetValue(kind) != "heads")
                throw new UserException($"unknown --kind '{r.GetValue(kind)}' (heads or adapter)");
            var v = r.GetValue(variant) switch
            {
                "hydra" => HeadVariant.Hydra,
                "medusa" => HeadVariant.Medusa,
                var x => throw new UserException($"unknown --variant '{x}' (hydra or medusa)"),
            };
            string outPath = r.GetValue(output)!;
            string ckpt = outPath + ".ckpt";
            if (!r.GetValue(resume) && File.Exists(ckpt)) File.Delete(ckpt);
            using var m = HunchModel.Load(Cli.ResolveModel(r.GetValue(model)), r.GetValue(threads));
            var options = new HeadTrainingOptions
            {
                Heads = r.GetValue(heads), Variant = v, Minutes = r.GetValue(minutes), MaxPositions = r.GetValue(positions),
                Epochs = r.GetValue(epochs), LearningRate = r.GetValue(lr), Seed = r.GetValue(seed), CheckpointPath = ckpt,
            };
            var trainer = new HeadTrainer(m.Transformer, m.Tokenizer, options);
            (DraftHeads Heads, HeadTrainingReport Report) result = default;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("preparing", maxValue: 1);
                    void Report(TrainingProgress p)
                    {
                        task.MaxValue = Math.Max(1, p.TotalSteps);
                        task.Value = Math.Min(p.Step, p.TotalSteps);
                        task.Description = p.Phase == "training" ? $"training, loss {p.Loss:F3}" : p.Phase;
                    }
                    trainer.PrepareData(r.GetValue(data) ?? [], Report);
                    result = trainer.Train(Report);
                    task.Value = task.MaxValue;
                });
            var trained = result.Heads ?? throw new UserException("training did not run");
            trained.Save(outPath, m.Transformer, m.Tokenizer);
            var rep = result.Report ?? throw new UserException("training did not run");
            Console.WriteLine($"trained {trained.HeadCount} {v.ToString().ToLowerInvariant()} heads ({trained.ParameterCount:N0} parameters) for {rep.Steps} steps on {rep.Positions} positions in {rep.Elapsed.TotalMinutes:F1} min; loss {rep.FinalLoss:F3}");
            for (int k = 0; k < rep.HeldOutTop1.Length; k++)
                Console.WriteLine($"  head {k + 1} (token +{k + 2}): held-out top-1 agreement with the model {rep.HeldOutTop1[k]:P1} (untrained {rep.InitialTop1[k]:P1})");
            Console.WriteLine($"wrote {outPath}; use it with --draft heads:{outPath}");
            return 0;
        }));
        return cmd;
    }

    static int TrainAdapter(ParseResult r, Option<string?> model, Option<int> threads, Option<string[]> data, Option<string> output,
        Option<double> minutes, Option<int> positions, Option<int> epochs, Option<float> lr, Option<ulong> seed, Option<bool> resume, Option<int> layers)
    {
        string outPath = r.GetValue(output)!;
        string ckpt = outPath + ".ckpt";
        if (!r.GetValue(resume) && File.Exists(ckpt)) File.Delete(ckpt);
        var files = r.GetValue(data) ?? [];
        foreach (var f in files) if (!File.Exists(f)) throw new UserException($"training data file not found: {f}");
        using var m = HunchModel.Load(Cli.ResolveModel(r.GetValue(model)), r.GetValue(threads));
        int layer = r.GetValue(layers);
        if (layer < 1 || layer >= m.Transformer.Config.LayerCount)
            throw new UserException($"--layers {layer} must be in 1..{m.Transformer.Config.LayerCount - 1} for this {m.Transformer.Config.LayerCount}-layer model");
        // Defaults differ from the heads' where the option was not given.
        bool lrGiven = r.GetResult(lr) is { Implicit: false }, positionsGiven = r.GetResult(positions) is { Implicit: false };
        var options = new AdapterTrainingOptions
        {
            Layer = layer, Minutes = r.GetValue(minutes), MaxPositions = positionsGiven ? r.GetValue(positions) : 30_000,
            Epochs = r.GetValue(epochs), LearningRate = lrGiven ? r.GetValue(lr) : 1e-3f, Seed = r.GetValue(seed), CheckpointPath = ckpt,
        };
        var trainer = new AdapterTrainer(m.Transformer, m.Tokenizer, options);
        (KangarooAdapter Adapter, AdapterTrainingReport Report) result = default;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("preparing", maxValue: 1);
                double budget = options.Minutes * 60;
                void Report(TrainingProgress p)
                {
                    if (p.Phase == "training")
                    {
                        // The bar shows whichever ends first: the step count or the time budget.
                        double byTime = p.Elapsed.TotalSeconds / Math.Max(1e-9, budget);
                        double bySteps = (double)p.Step / Math.Max(1, p.TotalSteps);
                        task.MaxValue = 1000;
                        task.Value = Math.Min(1000, 1000 * Math.Max(byTime, bySteps));
                        task.Description = $"training, step {p.Step}, loss {p.Loss:F3}";
                    }
                    else
                    {
                        task.MaxValue = Math.Max(1, p.TotalSteps);
                        task.Value = Math.Min(p.Step, p.TotalSteps);
                        task.Description = p.Phase;
                    }
                }
                trainer.PrepareData(files, Report);
                result = trainer.Train(Report);
                task.Value = task.MaxValue;
            });
        var adapter = result.Adapter ?? throw new UserException("training did not run");
        var rep = result.Report ?? throw new UserException("training did not run");
        adapter.Save(outPath, m.Transformer, m.Tokenizer);
        Console.WriteLine($"trained a Kangaroo adapter on layer {layer} ({adapter.ParameterCount:N0} parameters) for {rep.Steps} steps on {rep.Positions} positions in {rep.Elapsed.TotalMinutes:F1} min; loss {rep.FinalLoss:F3}");
        Console.WriteLine($"  held-out top-1 agreement with the full model {rep.HeldOutTop1:P1} (early exit at layer {layer}: {rep.EarlyExitTop1:P1}); soft cross-entropy {rep.HeldOutLoss:F3} (early exit {rep.EarlyExitLoss:F3})");
        Console.WriteLine($"wrote {outPath}; use it with --draft adapter:{outPath}");
        return 0;
    }
}
