namespace Hunch.Tests;

/// <summary>Locations of the repository and of the shared reference material beside it.</summary>
public static class TestPaths
{
    /// <summary>The repository root (the directory holding Hunch.slnx).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The read-only shared folder beside the repository.</summary>
    public static string Shared => Path.GetFullPath(Path.Combine(Root, "..", "shared"));

    /// <summary>The bundled default model.</summary>
    public static string BundledModel => Path.Combine(Root, "models", "pycoder.gguf");

    /// <summary>A model file in shared/models.</summary>
    public static string SharedModel(string name) => Path.Combine(Shared, "models", name);

    static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Hunch.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root (Hunch.slnx) not found");
    }
}
