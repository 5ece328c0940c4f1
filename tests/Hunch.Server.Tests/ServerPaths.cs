namespace Hunch.Server.Tests;

/// <summary>Locations of the repository and the bundled model.</summary>
public static class ServerPaths
{
    /// <summary>The repository root (the directory holding Hunch.slnx).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The bundled model: a tiny Python code model without a chat template, 384-token context.</summary>
    public static string BundledModel => Path.Combine(Root, "models", "pycoder.gguf");

    static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Hunch.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root (Hunch.slnx) not found");
    }
}
