using Hunch.Models;
using Hunch.Sampling;

namespace Hunch.Speculative;

/// <summary>What a drafter may look at when it proposes a tree.</summary>
public readonly ref struct DraftContext
{
    /// <summary>Every committed token of the sequence (prompt and output), the root last.</summary>
    public ReadOnlySpan<int> Tokens { get; init; }
    /// <summary>Length of the prompt at the start of <see cref="Tokens"/>.</summary>
    public int PromptLength { get; init; }
    /// <summary>Most nodes the tree may hold, root included.</summary>
    public int MaxNodes { get; init; }
    /// <summary>Deepest node worth drafting (tokens still allowed to be emitted, minus the extra token).</summary>
    public int MaxDepth { get; init; }
    /// <summary>The request's sampling options (drafters may adapt, e.g. sample their own drafts with q).</summary>
    public SamplingOptions Sampling { get; init; }
    /// <summary>The target's cache: its committed rows are <see cref="Tokens"/> without the root. Drafters that run
    /// the target model itself (self-speculation) may write scratch rows after the committed ones and commit them
    /// temporarily, but must truncate back so that <c>Length</c> is unchanged when Propose returns.</summary>
    public Hunch.KvCache.KvCache? TargetCache { get; init; }
}

/// <summary>
/// Proposes draft trees and learns from the outcome. Drafters never touch the target's committed KV rows,
/// and the verifier never knows which drafter ran. One drafter instance serves one request at a time.
/// </summary>
public interface IDrafter : IDisposable
{
    /// <summary>Short name used in statistics and on the command line.</summary>
    string Name { get; }

    /// <summary>Called once per request before drafting, with the whole prompt.</summary>
    void Begin(ReadOnlySpan<int> prompt, SamplingOptions sampling);

    /// <summary>Optionally sees the logits of prompt rows computed during prefill (only when it asked through
    /// <see cref="WantsPrefillLogits"/>).</summary>
    bool WantsPrefillLogits { get; }

    /// <summary>Receives the logits of prefill row <paramref name="index"/> (the token at that prompt index was the input).</summary>
    void ObservePrefill(ReadOnlySpan<int> prompt, int index, ReadOnlySpan<float> logits);

    /// <summary>Adds nodes under the root of <paramref name="tree"/> (already reset to the root token).</summary>
    void Propose(in DraftContext context, DraftTree tree);

    /// <summary>Sees the outcome of a step: the tree, the target logits of every node (<paramref name="batch"/>
    /// row i is node i) and the accepted path (node indices from the root, root first).</summary>
    void Observe(DraftTree tree, ForwardBatch batch, ReadOnlySpan<int> acceptedPath, int extraToken);
}

/// <summary>
/// A drafter that reads the target's residual stream after layer <see cref="StateLayer"/> (Kangaroo's exit states):
/// the step loop then asks every forward to keep it (<see cref="ForwardBatch.CaptureLayer"/>), passes the prefill
/// rows' states to <see cref="ObservePrefillStates"/>, and <see cref="IDrafter.Observe"/> sees them on the batch.
/// A caller that does not (the batched server) leaves the drafter to compute what it lacks itself.
/// </summary>
internal interface ILayerStateDrafter
{
    /// <summary>The layer whose output the drafter reads (1..L-1).</summary>
    int StateLayer { get; }

    /// <summary>States of prefill rows 0..<paramref name="rows"/>-1 of <paramref name="batch"/>, which hold the
    /// prompt tokens at positions <paramref name="firstPosition"/>, <paramref name="firstPosition"/>+1, ...</summary>
    void ObservePrefillStates(int firstPosition, ForwardBatch batch, int rows);
}

/// <summary>Plain decoding: proposes nothing, so each step scores only the root.</summary>
public sealed class NoDrafter : IDrafter
{
    /// <inheritdoc/>
    public string Name => "none";
    /// <inheritdoc/>
    public bool WantsPrefillLogits => false;
    /// <inheritdoc/>
    public void Begin(ReadOnlySpan<int> prompt, SamplingOptions sampling) { }
    /// <inheritdoc/>
    public void ObservePrefill(ReadOnlySpan<int> prompt, int index, ReadOnlySpan<float> logits) { }
    /// <inheritdoc/>
    public void Propose(in DraftContext context, DraftTree tree) { }
    /// <inheritdoc/>
    public void Observe(DraftTree tree, ForwardBatch batch, ReadOnlySpan<int> acceptedPath, int extraToken) { }
    /// <inheritdoc/>
    public void Dispose() { }
}
