using System.CommandLine;
using Hunch.Cli.Commands;

namespace Hunch.Cli;

/// <summary>The <c>hunch</c> command line.</summary>
public static class Program
{
    /// <summary>Entry point; returns the process exit code.</summary>
    public static int Main(string[] args)
    {
        var root = BuildRoot();
        return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }

    /// <summary>The command tree (exposed for tests).</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("Hunch: run GGUF language models on the CPU, faster, losslessly (speculative decoding).");
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(SpeedCommand.Create());
        root.Subcommands.Add(TrainDrafterCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(ChatCommand.Create());
        root.Subcommands.Add(CheckDraftCommand.Create());
        root.Subcommands.Add(ModelToolCommands.CreateSynth());
        root.Subcommands.Add(ModelToolCommands.CreateInflate());
        return root;
    }
}
