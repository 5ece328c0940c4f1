using Hunch.Models;
using Hunch.Sampling;

namespace Hunch.Speculative;

/// <summary>Where the verifier reads a node's target logits.</summary>
internal interface INodeLogits
{
    /// <summary>Target logits after node <paramref name="node"/>'s path.</summary>
    ReadOnlySpan<float> Logits(int node);
}

/// <summary>Node i's logits are row i of a forward batch.</summary>
internal readonly struct BatchLogits(ForwardBatch batch) : INodeLogits
{
    public ReadOnlySpan<float> Logits(int node) => batch.Logits(node);
}

/// <summary>
/// Decides which draft nodes the target accepts (verification.md). Greedy: descend while a child equals the
/// target's argmax. Sampling: at each node the target draws its token exactly as plain sampling would and the
/// walk descends while that token is a child (sample-and-match, one draw per emitted token, so a seeded run is
/// token-identical to plain sampling); where children carry q, recursive rejection sampling over the children
/// in the drafter's order, which keeps the target distribution exactly. The verifier never knows which drafter ran.
/// </summary>
public sealed class Verifier
{
    readonly Sampler _sampler;
    readonly int _vocab;
    readonly float[] _p;
    readonly float[] _untried;

    /// <summary>Optional constraint (grammar) that masks the logits of every node with that node's own state.</summary>
    public Hunch.Grammar.ITokenConstraint? Constraint { get; set; }

    /// <summary>Residual mass below which the rejection sampler falls back to the untried tokens (guards a division by ~0).</summary>
    public const double ResidualFloor = 1e-6;

    /// <summary>Creates a verifier drawing with <paramref name="sampler"/>'s options and random stream.</summary>
    public Verifier(Sampler sampler, int vocabularySize)
    {
        _sampler = sampler;
        _vocab = vocabularySize;
        _p = new float[vocabularySize];
        _untried = new float[vocabularySize];
    }

    /// <summary>
    /// Walks the tree. <paramref name="history"/> holds the committed tokens (root last) and must have room for
    /// the path after <paramref name="historyLength"/>: path tokens are appended there so that penalties see each
    /// node's own path. Writes the accepted path (node indices, root first) and returns its length; the token
    /// to emit after the path is returned in <paramref name="extraToken"/>.
    /// </summary>
    public int Verify(DraftTree tree, ForwardBatch batch, int[] history, int historyLength, Span<int> acceptedPath, out int extraToken)
        => Verify(tree, new BatchLogits(batch), history, historyLength, acceptedPath, out extraToken);

    /// <summary>The walk of <see cref="Verify(DraftTree, ForwardBatch, int[], int, Span{int}, out int)"/> over any
    /// source of node logits (unit tests feed toy distributions through it).</summary>
    internal int Verify<TLogits>(DraftTree tree, TLogits batch, int[] history, int historyLength, Span<int> acceptedPath, out int extraToken)
        where TLogits : INodeLogits, allows ref struct
    {
        int node = 0;
        int len = 0;
        acceptedPath[len++] = 0;
        while (true)
        {
            var logits = batch.Logits(node);
            if (Constraint is not null) logits = Constraint.MaskLogits(node, logits);   // grammar
            var hist = history.AsSpan(0, historyLength + len - 1);
            int first = tree.FirstChild(node);
            bool anyQ = false;
            for (int c = first; c >= 0; c = tree.NextSibling(c)) anyQ |= tree.Q(c) is not null;

            int next;
            if (first < 0 || _sampler.Options.IsGreedy || !anyQ)
            {
                int t = _sampler.Sample(logits, hist);
                next = first < 0 ? -1 : tree.FindChild(node, t);
                if (next < 0) { extraToken = t; return len; }
            }
            else
            {
                next = RejectionSample(tree, node, logits, hist, out int correction);
                if (next < 0) { extraToken = correction; return len; }
            }
            history[historyLength + len - 1] = tree.Tokens[next];
            acceptedPath[len++] = next;
            node = next;
        }
    }

    /// <summary>Recursive rejection sampling over the children of <paramref name="node"/>; returns the accepted
    /// child or -1 with the correction token drawn from the residual.</summary>
    int RejectionSample(DraftTree tree, int node, ReadOnlySpan<float> logits, ReadOnlySpan<int> history, out int correction)
    {
        var p = _p.AsSpan();
        _sampler.Distribution(logits, history, p);
        ref var rng = ref _sampler.Random;
        _untried.AsSpan().Fill(1f);
        for (int c = tree.FirstChild(node); c >= 0; c = tree.NextSibling(c))
        {
            int x = tree.Tokens[c];
            var q = tree.Q(c);
            double qx = q is null ? 1.0 : q[x];
            double u = rng.NextDouble();
            if (qx > 0 && u < Math.Min(1.0, p[x] / qx)) { correction = -1; return c; }
            _untried[x] = 0;
            // Residual: p <- norm(max(0, p - q)); a point mass q removes token x.
            double mass = 0;
            if (q is null) { p[x] = 0; foreach (var v in p) mass += v; }
            else for (int i = 0; i < _vocab; i++) { float r = Math.Max(0f, p[i] - q[i]); p[i] = r; mass += r; }
            if (mass < ResidualFloor)
            {
                // The residual vanished numerically: draw from the target restricted to the untried tokens.
                _sampler.Distribution(logits, history, p);
                mass = 0;
                for (int i = 0; i < _vocab; i++) { p[i] *= _untried[i]; mass += p[i]; }
                if (mass <= 0) { correction = x; return -1; }
            }
            float inv = (float)(1.0 / mass);
            for (int i = 0; i < _vocab; i++) p[i] *= inv;
        }
        double r2 = rng.NextDouble(), cum = 0;
        int last = 0;
        for (int i = 0; i < _vocab; i++)
        {
            if (p[i] <= 0) continue;
            cum += p[i];
            last = i;
            if (r2 < cum) { correction = i; return -1; }
        }
        correction = last;
        return -1;
    }
}
