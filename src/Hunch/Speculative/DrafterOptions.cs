namespace Hunch.Speculative;

/// <summary>How a drafter sizes its tree.</summary>
public enum DraftTreeMode
{
    /// <summary>Hardware-aware: each step, the tree maximising expected committed tokens per second, from the
    /// measured forward cost curve and online acceptance estimates.</summary>
    Auto,
    /// <summary>Token Recycling's reference 81-token template (recycling only).</summary>
    Reference,
    /// <summary>Always (up to) <see cref="DrafterOptions.TreeNodes"/> nodes, root included, best nodes first.</summary>
    Fixed,
}

/// <summary>Knobs of the built-in drafters (<see cref="DrafterFactory"/>).</summary>
public sealed record DrafterOptions
{
    /// <summary>Tree sizing.</summary>
    public DraftTreeMode Tree { get; init; } = DraftTreeMode.Auto;
    /// <summary>Nodes per tree, root included: the size of a fixed tree, or the cap of an auto-sized one
    /// (0: 16 for a fixed tree, 64 for auto).</summary>
    public int TreeNodes { get; init; }
    /// <summary>Deepest draft node (0: 8 for recycling, the lookup draft length for lookup).</summary>
    public int MaxDepth { get; init; }
    /// <summary>Token Recycling: share one warm table across requests (process-wide, per model) instead of a fresh
    /// table per request.</summary>
    public bool SharedTable { get; init; }
    /// <summary>Token Recycling: a warm table file, loaded when it exists and saved when the drafter is disposed
    /// (implies a table shared by the drafters using the same file).</summary>
    public string? TableFile { get; init; }
    /// <summary>Token Recycling: seed the table from the prompt's prefill logits.</summary>
    public bool SeedFromPrefill { get; init; }
    /// <summary>Prompt lookup: longest n-gram matched.</summary>
    public int LookupMaxNgram { get; init; } = 3;
    /// <summary>Prompt lookup: shortest n-gram matched.</summary>
    public int LookupMinNgram { get; init; } = 1;
    /// <summary>Prompt lookup: tokens drafted after a match.</summary>
    public int LookupDraftLength { get; init; } = 10;
    /// <summary>Prompt lookup: most distinct matches drafted as branches of one tree.</summary>
    public int LookupBranches { get; init; } = 4;

    internal int NodesOrDefault => TreeNodes > 0 ? TreeNodes : Tree == DraftTreeMode.Fixed ? 16 : 64;

    /// <summary>Throws <see cref="ArgumentException"/> with a clear message when a value is out of range.</summary>
    public void Validate()
    {
        if (TreeNodes < 0 || TreeNodes > 1024) throw new ArgumentException($"tree nodes {TreeNodes} must be in 1..1024 (0 = default)");
        if (MaxDepth < 0 || MaxDepth > 64) throw new ArgumentException($"max depth {MaxDepth} must be in 1..64 (0 = default)");
        if (LookupMinNgram < 1 || LookupMaxNgram < LookupMinNgram || LookupMaxNgram > 32)
            throw new ArgumentException($"lookup n-gram range {LookupMinNgram}..{LookupMaxNgram} must satisfy 1 <= min <= max <= 32");
        if (LookupDraftLength < 1 || LookupDraftLength > 64) throw new ArgumentException($"lookup draft length {LookupDraftLength} must be in 1..64");
        if (LookupBranches < 1 || LookupBranches > 16) throw new ArgumentException($"lookup branches {LookupBranches} must be in 1..16");
    }
}
