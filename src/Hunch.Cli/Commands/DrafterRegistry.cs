using Hunch.Speculative;

namespace Hunch.Cli.Commands;

/// <summary>Maps a <c>--draft</c> value to a drafter for the loaded model (see <see cref="Drafters"/>).</summary>
public static class DrafterRegistry
{
    /// <summary>Drafting methods every model supports (the ones that need an extra file are not listed).</summary>
    public static IReadOnlyList<string> Names => Drafters.Names;

    public static IDrafter Create(string spec, HunchModel model, int treeNodes) => Drafters.Create(spec, model, treeNodes);
}
