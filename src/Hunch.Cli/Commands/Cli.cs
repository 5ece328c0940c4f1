using System.CommandLine;
using Hunch.Gguf;
using Hunch.KvCache;

namespace Hunch.Cli.Commands;

/// <summary>Shared options and error handling: user mistakes print one clear line on stderr and exit non-zero.</summary>
public static class Cli
{
    public static Option<string?> ModelOption() => new("--model", "-m") { Description = "GGUF model file (default: the bundled model)" };
    public static Option<int> ThreadsOption() => new("--threads", "-t") { Description = "compute threads (0: all cores)", DefaultValueFactory = _ => 0 };

    /// <summary>The bundled default model: models/pycoder.gguf in the repository (or HUNCH_MODEL).</summary>
    public static string ResolveModel(string? path)
    {
        if (!string.IsNullOrEmpty(path)) return path;
        var env = Environment.GetEnvironmentVariable("HUNCH_MODEL");
        if (!string.IsNullOrEmpty(env)) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "models", "pycoder.gguf");
            if (File.Exists(candidate)) return candidate;
        }
        throw new UserException("no model given and the bundled model (models/pycoder.gguf) was not found; pass -m MODEL");
    }

    /// <summary>Runs a command body, turning expected failures into one line on stderr and exit code 1.</summary>
    public static int Guard(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (IsUserFacing(e))
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    static bool IsUserFacing(Exception e) => e is UserException or GgufException or FileNotFoundException or DirectoryNotFoundException
        or ContextOverflowException or ArgumentException or NotSupportedException or IOException or UnauthorizedAccessException or InvalidDataException or FormatException;
}

/// <summary>A mistake of the user's, reported as one line.</summary>
public sealed class UserException(string message) : Exception(message);
