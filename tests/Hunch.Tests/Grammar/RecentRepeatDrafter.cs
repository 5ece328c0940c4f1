using Hunch.Models;
using Hunch.Sampling;
using Hunch.Speculative;

namespace Hunch.Tests.Grammar;

/// <summary>
/// Test-only drafter (until the lookup/recycling drafters are on main): for the last token, finds its two most
/// recent earlier occurrences in the context and proposes the tokens that followed each as two point-mass
/// chains. It knows nothing of the grammar, so many proposals are invalid and must be pruned.
/// </summary>
internal sealed class RecentRepeatDrafter(int chainLength = 6) : IDrafter
{
    public string Name => "recent-repeat";
    public bool WantsPrefillLogits => false;
    public void Begin(ReadOnlySpan<int> prompt, SamplingOptions sampling) { }
    public void ObservePrefill(ReadOnlySpan<int> prompt, int index, ReadOnlySpan<float> logits) { }
    public void Observe(DraftTree tree, ForwardBatch batch, ReadOnlySpan<int> acceptedPath, int extraToken) { }
    public void Dispose() { }

    public void Propose(in DraftContext context, DraftTree tree)
    {
        var t = context.Tokens;
        int last = t[^1];
        int found = 0;
        for (int j = t.Length - 2; j >= 0 && found < 2; j--)
        {
            if (t[j] != last) continue;
            found++;
            int parent = 0;
            for (int k = 1; k <= chainLength && j + k < t.Length && k <= context.MaxDepth && tree.Count < context.MaxNodes; k++)
                parent = tree.Add(t[j + k], parent);
        }
    }
}
