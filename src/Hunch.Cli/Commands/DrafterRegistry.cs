using Hunch.Speculative;

namespace Hunch.Cli.Commands;

/// <summary>Maps a <c>--draft</c> value to a drafter for the loaded model.</summary>
public static class DrafterRegistry
{
    /// <summary>Drafting methods every model supports (the ones that need an extra file are not listed).</summary>
    public static IReadOnlyList<string> Names { get; } = ["none"];

    public static IDrafter Create(string spec, HunchModel model, int treeNodes)
    {
        if (spec.StartsWith("heads:", StringComparison.Ordinal))
        {
            var heads = Hunch.Training.DraftHeads.Load(spec["heads:".Length..], model.Transformer, model.Tokenizer);
            return new Hunch.Speculative.Heads.HeadsDrafter(model.Transformer, heads, treeNodes > 0 ? treeNodes : 12);
        }
        return spec switch
        {
            "none" => new NoDrafter(),
            _ => throw new UserException($"unknown drafter '{spec}' (available: {string.Join(", ", Names)}, heads:PATH)"),
        };
    }
}
