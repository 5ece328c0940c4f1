using Hunch.Kernels;

namespace Hunch.Sampling;

/// <summary>
/// Turns logits into a token (or into the full distribution that token is drawn from) following
/// <see cref="SamplingOptions"/>. The random stream belongs to the sampler: each <see cref="Sample"/> at
/// temperature above 0 consumes exactly one draw, which is what lets speculative sample-and-match verification
/// reproduce plain sampling token for token. Buffers are reused: no allocation per token after warm-up.
/// Not thread-safe.
/// </summary>
public sealed class Sampler
{
    readonly int _vocab;
    readonly float[] _work;
    readonly float[] _probs;
    readonly int[] _order;
    readonly Dictionary<int, int> _counts = [];
    readonly Comparison<int> _byLogitDescending;
    Rng _rng;

    /// <summary>The options in force.</summary>
    public SamplingOptions Options { get; }

    /// <summary>Creates a sampler for a vocabulary of <paramref name="vocabularySize"/> tokens.</summary>
    public Sampler(SamplingOptions options, int vocabularySize)
    {
        options.Validate();
        Options = options;
        _vocab = vocabularySize;
        _work = new float[vocabularySize];
        _probs = new float[vocabularySize];
        _order = new int[vocabularySize];
        _rng = new Rng(options.Seed);
        var work = _work;
        _byLogitDescending = (a, b) => work[a] != work[b] ? work[b].CompareTo(work[a]) : a.CompareTo(b);
    }

    /// <summary>The random stream (drafters that sample with their own numbers must not use this one).</summary>
    public ref Rng Random => ref _rng;

    /// <summary>Chooses the next token after <paramref name="history"/> (all tokens so far, prompt included).</summary>
    public int Sample(ReadOnlySpan<float> logits, ReadOnlySpan<int> history)
    {
        int n = Prepare(logits, history);
        if (Options.IsGreedy) return Ops.ArgMax(_work);
        double u = _rng.NextDouble();
        double cum = 0;
        for (int i = 0; i < n; i++)
        {
            cum += _probs[i];
            if (u < cum) return _order[i];
        }
        // Rounding left u above the total: take the last candidate with mass (grammar-masked tokens have none).
        while (n > 1 && _probs[n - 1] <= 0f) n--;
        return _order[n - 1];
    }

    /// <summary>Writes the full distribution the next token would be drawn from (zero outside the kept candidates;
    /// a point mass on the argmax when greedy). Consumes no random number.</summary>
    public void Distribution(ReadOnlySpan<float> logits, ReadOnlySpan<int> history, Span<float> probabilities)
    {
        int n = Prepare(logits, history);
        probabilities[.._vocab].Clear();
        if (Options.IsGreedy) { probabilities[Ops.ArgMax(_work)] = 1f; return; }
        for (int i = 0; i < n; i++) probabilities[_order[i]] = _probs[i];
    }

    /// <summary>
    /// Applies penalties, temperature and truncation. For sampling, leaves the kept candidates in _order[0..n)
    /// (most likely first, ties by lower id) with normalised probabilities in _probs[0..n).
    /// </summary>
    int Prepare(ReadOnlySpan<float> logits, ReadOnlySpan<int> history)
    {
        var o = Options;
        logits[.._vocab].CopyTo(_work);
        if (o.HasPenalties && o.PenaltyLastN > 0) ApplyPenalties(history);
        if (o.IsGreedy) return 1;

        float invT = 1f / o.Temperature;
        int n;
        double sum = 0;
        if (o.TopK > 0 && o.TopK < _vocab)
        {
            n = Ops.TopK(_work, _order, o.TopK);
            float max = _work[_order[0]];
            for (int i = 0; i < n; i++) sum += _probs[i] = MathF.Exp((_work[_order[i]] - max) * invT);
        }
        else
        {
            // Unnormalised probabilities over the whole vocabulary, in id order.
            float max = float.NegativeInfinity;
            for (int i = 0; i < _vocab; i++) if (_work[i] > max) max = _work[i];
            for (int i = 0; i < _vocab; i++) sum += _work[i] = MathF.Exp((_work[i] - max) * invT);
            // Top-p keeps a prefix of the tokens sorted by probability. That prefix lies inside {p >= t} for any t
            // whose set already holds TopP of the mass, so only that set is sorted (exact, and far cheaper than
            // sorting a large vocabulary). Without top-p no order is needed beyond a fixed one (id order).
            float t = 0;
            if (o.TopP < 1f)
            {
                double target = o.TopP * sum;
                t = 1f;
                while (t > 1e-30f)
                {
                    double mass = 0;
                    for (int i = 0; i < _vocab; i++) if (_work[i] >= t) mass += _work[i];
                    if (mass >= target) break;
                    t *= 1f / 16;
                }
                if (t <= 1e-30f) t = 0;
            }
            else if (o.MinP > 0f) t = o.MinP; // the most likely token has unnormalised probability 1
            n = 0;
            for (int i = 0; i < _vocab; i++) if (_work[i] >= t && _work[i] > 0) _order[n++] = i;
            if (o.TopP < 1f || o.MinP > 0f) _order.AsSpan(0, n).Sort(_byLogitDescending);
            for (int i = 0; i < n; i++) _probs[i] = _work[_order[i]];
        }
        if (o.TopP < 1f)
        {
            double cum = 0, target = o.TopP * sum;
            int keep = n;
            for (int i = 0; i < n; i++)
            {
                cum += _probs[i];
                if (cum >= target) { keep = i + 1; break; }
            }
            n = keep;
        }
        if (o.MinP > 0f)
        {
            float threshold = _probs[0] * o.MinP;
            int keep = 1;
            while (keep < n && _probs[keep] >= threshold) keep++;
            n = keep;
        }
        sum = 0;
        for (int i = 0; i < n; i++) sum += _probs[i];
        if (!(sum > 0)) throw new InvalidOperationException("the model produced no finite logits");
        float inv = (float)(1.0 / sum);
        for (int i = 0; i < n; i++) _probs[i] *= inv;
        return n;
    }

    void ApplyPenalties(ReadOnlySpan<int> history)
    {
        var o = Options;
        var window = history.Length > o.PenaltyLastN ? history[^o.PenaltyLastN..] : history;
        _counts.Clear();
        foreach (int t in window)
            if ((uint)t < (uint)_vocab) _counts[t] = _counts.GetValueOrDefault(t) + 1;
        foreach (var (t, count) in _counts)
        {
            float l = _work[t];
            if (o.RepeatPenalty != 1f) l = l > 0 ? l / o.RepeatPenalty : l * o.RepeatPenalty;
            l -= count * o.FrequencyPenalty + o.PresencePenalty;
            _work[t] = l;
        }
    }
}
