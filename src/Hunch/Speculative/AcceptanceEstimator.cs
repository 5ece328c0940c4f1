namespace Hunch.Speculative;

/// <summary>
/// Online estimates of a draft node's share: the probability that it is accepted given that its parent was,
/// per (depth, rank) — rank being the recycled-successor column for Token Recycling or the match index for
/// prompt lookup. Every node of every verified tree is a sample (the target scores a node's parent whether or
/// not the parent itself was accepted), so the estimates learn quickly. Estimates are computed when asked (constant
/// time), so recording and ending a step cost nothing per cell. Counts decay a little each step so the
/// estimates follow the text being generated. Sparse cells borrow strength from their rank's marginal, which
/// borrows from a prior: a cell with no data yet is the rank's average, a rank with no data is the prior.
/// </summary>
internal sealed class AcceptanceEstimator
{
    readonly int _depths;
    readonly int _ranks;
    readonly double[] _prior;
    readonly double[] _hits;
    readonly double[] _trials;
    readonly double[] _rankHits;
    readonly double[] _rankTrials;
    readonly double _decay;
    // Decay without touching every cell each step: a record made now weighs _weight, which grows by 1/decay per
    // step, so a count's value relative to _weight is the decayed count. Rescaled before it can overflow.
    double _weight = 1;
    const double Rescale = 1e100;
    const double PriorWeight = 4;     // pseudo-observations behind a rank's prior
    const double RankWeight = 6;      // pseudo-observations a (depth, rank) cell borrows from its rank

    public AcceptanceEstimator(int depths, int ranks, ReadOnlySpan<double> rankPrior, double decay = 0.995)
    {
        _depths = depths;
        _ranks = ranks;
        _prior = new double[ranks];
        for (int r = 0; r < ranks; r++) _prior[r] = rankPrior[Math.Min(r, rankPrior.Length - 1)];
        _hits = new double[depths * ranks];
        _trials = new double[depths * ranks];
        _rankHits = new double[ranks];
        _rankTrials = new double[ranks];
        _decay = decay;
        Reset();
    }

    public int Depths => _depths;
    public int Ranks => _ranks;

    /// <summary>Forgets every observation.</summary>
    public void Reset()
    {
        Array.Clear(_hits);
        Array.Clear(_trials);
        Array.Clear(_rankHits);
        Array.Clear(_rankTrials);
        _weight = 1;
    }

    /// <summary>Keeps every observation at <paramref name="keep"/> (0..1) of its weight: 0 forgets everything,
    /// 1 keeps all; the estimates then lean more on the prior until new observations arrive.</summary>
    public void Fade(double keep)
    {
        if (keep <= 0) { Reset(); return; }
        double f = Math.Min(keep, 1);
        for (int i = 0; i < _hits.Length; i++) { _hits[i] *= f; _trials[i] *= f; }
        for (int r = 0; r < _ranks; r++) { _rankHits[r] *= f; _rankTrials[r] *= f; }
    }

    /// <summary>Records one node at <paramref name="depth"/> (1 = child of the root) and <paramref name="rank"/>:
    /// <paramref name="accepted"/> is 1/0 for a greedy label, or the target probability of the node's token.</summary>
    public void Record(int depth, int rank, double accepted)
    {
        int r = Math.Clamp(rank, 0, _ranks - 1);
        int i = Index(depth, r);
        double h = accepted * _weight;
        _hits[i] += h;
        _trials[i] += _weight;
        _rankHits[r] += h;
        _rankTrials[r] += _weight;
    }

    /// <summary>Ends a step: every count so far decays by one step (constant time).</summary>
    public void EndStep()
    {
        _weight /= _decay;
        if (_weight < Rescale) return;
        double f = 1 / _weight;
        for (int i = 0; i < _hits.Length; i++) { _hits[i] *= f; _trials[i] *= f; }
        for (int r = 0; r < _ranks; r++) { _rankHits[r] *= f; _rankTrials[r] *= f; }
        _weight = 1;
    }

    /// <summary>Estimated share of a node at <paramref name="depth"/> (1-based) and <paramref name="rank"/>.</summary>
    public double Estimate(int depth, int rank)
    {
        int r = Math.Clamp(rank, 0, _ranks - 1);
        int i = Index(depth, r);
        double w = 1 / _weight;
        double rankMean = (_rankHits[r] * w + PriorWeight * _prior[r]) / (_rankTrials[r] * w + PriorWeight);
        double e = (_hits[i] * w + RankWeight * rankMean) / (_trials[i] * w + RankWeight);
        return Math.Clamp(e, 1e-4, 0.999);
    }

    int Index(int depth, int rank) => (Math.Clamp(depth, 1, _depths) - 1) * _ranks + Math.Clamp(rank, 0, _ranks - 1);
}
