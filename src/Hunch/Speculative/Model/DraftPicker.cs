using Hunch.Kernels;
using Hunch.Sampling;

namespace Hunch.Speculative.Model;

/// <summary>
/// Turns a drafter's logits into draft tokens for one node's children. Greedy requests get deterministic top-k
/// picks (point masses, no q). Sampling requests get tokens drawn from q, the draft distribution after the
/// request's temperature / top-k / top-p / min-p (penalties are left out: q only has to be the law the token was
/// drawn from), with the drafter's own random stream: k siblings are drawn without replacement by Gumbel-top-k,
/// and sibling i carries q_i = q with siblings 1..i-1 removed and renormalised (recursive rejection sampling
/// then keeps the target's law exactly). The q arrays come from a pool that is reset at each step.
/// </summary>
internal sealed class DraftPicker
{
    readonly int _vocab;
    readonly float[] _padded;
    readonly double[] _keys = new double[64];
    readonly int[] _top = new int[64];
    readonly List<float[]> _pool = [];
    int _poolUsed;
    Sampler? _sampler;
    Rng _rng;
    bool _greedy = true;

    /// <summary>Test hook: at temperature above 0, pick the draft's most likely tokens yet attach q as if they had
    /// been sampled. This is the biased verifier input that verification.md warns about; tests prove it fails.</summary>
    internal bool BiasedArgmaxWithQ { get; set; }

    public DraftPicker(int targetVocab)
    {
        _vocab = targetVocab;
        _padded = new float[targetVocab];
    }

    /// <summary>Vocabulary size of the q arrays (the target's).</summary>
    public int Vocab => _vocab;

    /// <summary>True when the request is greedy (point-mass drafts).</summary>
    public bool Greedy => _greedy;

    /// <summary>The drafter's own random stream (separate from the verifier's).</summary>
    public ref Rng Random => ref _rng;

    public void Begin(SamplingOptions sampling, ulong streamSalt)
    {
        _greedy = sampling.IsGreedy;
        // A separate stream derived from the request seed: drafting never consumes the verifier's draws.
        _rng = new Rng(sampling.Seed ^ streamSalt);
        _sampler = _greedy ? null : new Sampler(sampling with { RepeatPenalty = 1f, PresencePenalty = 0f, FrequencyPenalty = 0f }, _vocab);
    }

    /// <summary>Releases the q arrays of the previous step (the verifier is done with them).</summary>
    public void NewStep() => _poolUsed = 0;

    /// <summary>A q-sized array valid until the next <see cref="NewStep"/>.</summary>
    public float[] Rent()
    {
        if (_poolUsed == _pool.Count) _pool.Add(new float[_vocab]);
        return _pool[_poolUsed++];
    }

    /// <summary>Copies draft logits into a target-vocabulary buffer: draft tokens beyond the target's vocabulary are
    /// dropped, target tokens the draft lacks get minus infinity.</summary>
    public float[] Pad(ReadOnlySpan<float> draftLogits)
    {
        int n = Math.Min(draftLogits.Length, _vocab);
        draftLogits[..n].CopyTo(_padded);
        _padded.AsSpan(n).Fill(float.NegativeInfinity);
        return _padded;
    }

    /// <summary>The distribution draft tokens are drawn from (sampling requests only), written to a rented array.</summary>
    public float[] Distribution(ReadOnlySpan<float> draftLogits)
    {
        var q = Rent();
        _sampler!.Distribution(Pad(draftLogits), ReadOnlySpan<int>.Empty, q);
        return q;
    }

    /// <summary>Softmax probability (temperature 1) of the most likely draft token: the greedy confidence.</summary>
    public static float TopProbability(ReadOnlySpan<float> logits, out int argmax)
    {
        argmax = Ops.ArgMax(logits);
        float max = logits[argmax];
        double sum = 0;
        foreach (float l in logits) sum += MathF.Exp(l - max);
        return (float)(1.0 / sum);
    }

    /// <summary>
    /// Picks up to <paramref name="k"/> distinct children from draft logits. Writes tokens and their q (null at
    /// greedy) in verification order and returns how many were picked. <paramref name="confidence"/> is the draft
    /// probability of the first pick (softmax at greedy, q at sampling).
    /// </summary>
    public int Pick(ReadOnlySpan<float> draftLogits, int k, Span<int> tokens, Span<float[]?> qs, out float confidence)
    {
        k = Math.Min(k, Math.Min(tokens.Length, _top.Length));
        if (_greedy)
        {
            var padded = Pad(draftLogits);
            confidence = TopProbability(padded, out _);
            int n = Ops.TopK(padded, _top, k);
            int m = 0;
            for (int i = 0; i < n; i++)
            {
                if (float.IsNegativeInfinity(padded[_top[i]])) break;
                tokens[m] = _top[i];
                qs[m++] = null;
            }
            return m;
        }
        var q = Distribution(draftLogits);
        return PickFrom(q, k, tokens, qs, out confidence);
    }

    /// <summary>Sampling: draws up to <paramref name="k"/> children without replacement from <paramref name="q"/>
    /// (which becomes the first child's q) and builds each later sibling's q.</summary>
    public int PickFrom(float[] q, int k, Span<int> tokens, Span<float[]?> qs, out float confidence)
    {
        k = Math.Min(k, Math.Min(tokens.Length, _top.Length));
        int n = BiasedArgmaxWithQ ? TopByProbability(q, k) : GumbelTopK(q, k, ref _rng, _top, _keys);
        var prev = q;
        for (int i = 0; i < n; i++)
        {
            int x = _top[i];
            tokens[i] = x;
            if (i == 0) qs[i] = q;
            else
            {
                var qi = Rent();
                WithoutToken(prev, tokens[i - 1], qi);
                qs[i] = qi;
                prev = qi;
            }
        }
        confidence = n > 0 ? q[_top[0]] : 0f;
        return n;
    }

    int TopByProbability(float[] q, int k)
    {
        int n = Ops.TopK(q, _top, k);
        int m = 0;
        while (m < n && q[_top[m]] > 0) m++;
        return m;
    }

    /// <summary>q with token <paramref name="x"/> removed and the rest renormalised.</summary>
    public static void WithoutToken(ReadOnlySpan<float> q, int x, Span<float> result)
    {
        double rest = 1.0 - q[x];
        float inv = rest > 1e-12 ? (float)(1.0 / rest) : 0f;
        for (int i = 0; i < q.Length; i++) result[i] = q[i] * inv;
        result[x] = 0f;
    }

    /// <summary>
    /// Gumbel-top-k: key each token with q &gt; 0 by ln q + G (G a standard Gumbel draw) and keep the k largest keys.
    /// Read in key order, the tokens are an ordered sample without replacement from q. Returns the count (at most
    /// the support size); <paramref name="keys"/> receives the keys in the same order.
    /// </summary>
    public static int GumbelTopK(ReadOnlySpan<float> q, int k, ref Rng rng, Span<int> top, Span<double> keys)
    {
        int count = 0;
        for (int i = 0; i < q.Length; i++)
        {
            if (q[i] <= 0) continue;
            double key = Math.Log(q[i]) + Gumbel(ref rng);
            if (count == k && !(key > keys[k - 1])) continue;
            int pos = count < k ? count++ : k - 1;
            while (pos > 0 && key > keys[pos - 1]) { keys[pos] = keys[pos - 1]; top[pos] = top[pos - 1]; pos--; }
            keys[pos] = key;
            top[pos] = i;
        }
        return count;
    }

    /// <summary>A standard Gumbel draw, -ln(-ln u) with u in (0, 1).</summary>
    public static double Gumbel(ref Rng rng)
    {
        double u;
        do u = rng.NextDouble(); while (u <= 0);
        return -Math.Log(-Math.Log(u));
    }
}
