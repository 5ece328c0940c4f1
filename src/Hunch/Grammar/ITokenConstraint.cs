using Hunch.Sampling;
using Hunch.Speculative;

namespace Hunch.Grammar;

/// <summary>
/// Restricts which tokens may be generated, in a way that composes with speculative decoding: the generator
/// lets it prune every draft tree before the forward (<see cref="PrepareTree"/>), the verifier asks it to mask
/// the target's logits at every tree node with that node's own state (<see cref="MaskLogits"/>), and the
/// generator commits the accepted path (<see cref="Commit"/>). Because masking depends only on a node's own
/// state, speculative output equals plain constrained decoding. Stateful: one request at a time;
/// <see cref="Begin"/> resets it.
/// </summary>
public interface ITokenConstraint
{
    /// <summary>Resets to the start of a request.</summary>
    void Begin(SamplingOptions sampling);

    /// <summary>Drops every non-root node whose token the constraint forbids after its parent's path (with its
    /// subtree) and records the state of each remaining node. Called once per step, after drafting.</summary>
    void PrepareTree(DraftTree tree);

    /// <summary>The logits of tree node <paramref name="node"/> with forbidden tokens set to negative infinity
    /// (a view valid until the next call). For greedy requests without penalties an implementation may leave
    /// forbidden tokens below the best allowed one unmasked, since only the argmax is read.</summary>
    ReadOnlySpan<float> MaskLogits(int node, ReadOnlySpan<float> logits);

    /// <summary>Advances past the accepted path (node indices, root first) and the extra token.</summary>
    void Commit(DraftTree tree, ReadOnlySpan<int> acceptedPath, int extraToken);

    /// <summary>True when nothing may follow tree node <paramref name="node"/> of the current step: the generator
    /// emits no token after it, exactly as plain decoding stops there.</summary>
    bool IsCompleteAt(int node);

    /// <summary>True when nothing more may be generated (the generator then stops).</summary>
    bool IsComplete { get; }
}
