using Hunch.Speculative.Adapter;
using Hunch.Speculative.Heads;
using Hunch.Speculative.Model;
using Hunch.Training;

namespace Hunch.Speculative;

/// <summary>
/// Every drafter behind one spec string, for the CLI, the server and the benchmarks: the built-in drafters of
/// <see cref="DrafterFactory"/> (<c>none</c>, <c>recycling</c>, <c>lookup</c>, with options), the model-based ones of
/// <see cref="ModelDrafterFactory"/> (<c>model:PATH</c>, <c>self:skip</c>, <c>self:exit[:LAYER]</c>) and trained heads
/// (<c>heads:PATH</c>) and Kangaroo adapters (<c>adapter:PATH[+eta=X][+depth=N]</c>).
/// </summary>
public static class Drafters
{
    /// <summary>Drafters every model supports without an extra file.</summary>
    public static IReadOnlyList<string> Names => DrafterFactory.Names;

    /// <summary>Creates the drafter a spec names for <paramref name="model"/>; <paramref name="treeNodes"/> &gt; 0
    /// caps the draft tree. Throws <see cref="ArgumentException"/> for an unknown drafter or option.</summary>
    public static IDrafter Create(string spec, HunchModel model, int treeNodes = 0)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(model);
        if (spec.StartsWith("heads:", StringComparison.Ordinal))
        {
            var heads = DraftHeads.Load(spec["heads:".Length..], model.Transformer, model.Tokenizer);
            return new HeadsDrafter(model.Transformer, heads, treeNodes > 0 ? treeNodes : 12);
        }
        if (spec.StartsWith(AdapterDrafterFactory.Prefix, StringComparison.Ordinal))
            return AdapterDrafterFactory.Create(spec, model.Transformer, model.Tokenizer);
        if (ModelDrafterFactory.Handles(spec)) return ModelDrafterFactory.Create(spec, model.Transformer);
        return DrafterFactory.Create(spec, model.Transformer, new DrafterOptions { TreeNodes = treeNodes });
    }
}
