using Hunch.Models;
using Hunch.Sampling;

namespace Hunch.Speculative.Model;

/// <summary>
/// Speculative sampling with a small draft model sharing the target's vocabulary (SpS): a chain, or a chain with
/// top-k leaf siblings at each depth, from the draft's own KV cache. Greedy requests draft argmax picks (point
/// masses); sampling requests draft tokens sampled from the draft's q with the drafter's own random stream and
/// attach q, so the verifier runs recursive rejection sampling.
/// </summary>
internal sealed class DraftModelDrafter : SpineDrafter
{
    readonly DraftModelRunner _runner;
    readonly string _name;

    /// <summary>Wraps a loaded draft model (checked for vocabulary compatibility by the caller).</summary>
    public DraftModelDrafter(TransformerModel target, TransformerModel draft, bool ownsDraft, DraftShape shape, string name)
        : base(target.Config.VocabSize, shape)
    {
        _runner = new DraftModelRunner(draft, ownsDraft, target.Config.ContextLength + 2 * shape.MaxDepth + 64);
        _name = name;
    }

    public override string Name => _name;

    internal DraftModelRunner Runner => _runner;

    protected override ReadOnlySpan<float> StartStep(in DraftContext context)
    {
        if (context.Tokens.Length + 1 >= _runner.Cache.Capacity) return ReadOnlySpan<float>.Empty;
        return _runner.Sync(context.Tokens);
    }

    protected override ReadOnlySpan<float> Advance(in DraftContext context, int token, int depth) => _runner.Append(token);

    public override void Dispose() => _runner.Dispose();
}
