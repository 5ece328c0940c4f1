namespace Hunch.Speculative;

/// <summary>
/// Online estimates of a draft node's share: the probability that it is accepted given that its parent was,
/// per (depth, rank) — rank being the recycled-successor column for Token Recycling or the match index for
/// prompt lookup. Every node of every verified tree is a sample (the target scores a node's parent whether or
/// not the parent itself was accepted), so the estimates learn quickly. Counts decay a little each step so the
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
    readonly double[] _estimate;
    readonly double _decay;
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
        _estimate = new double[depths * ranks];
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
        Refresh();
    }

    /// <summary>Records one node at <paramref name="depth"/> (1 = child of the root) and <paramref name="rank"/>:
    /// <paramref name="accepted"/> is 1/0 for a greedy label, or the target probability of the node's token.</summary>
    public void Record(int depth, int rank, double accepted)
    {
        int i = Index(depth, rank);
        _hits[i] += accepted;
        _trials[i] += 1;
    }

    /// <summary>Ends a step: decays the counts and recomputes the estimates.</summary>
    public void EndStep()
    {
        for (int i = 0; i < _hits.Length; i++) { _hits[i] *= _decay; _trials[i] *= _decay; }
        Refresh();
    }

    /// <summary>Estimated share of a node at <paramref name="depth"/> (1-based) and <paramref name="rank"/>.</summary>
    public double Estimate(int depth, int rank) => _estimate[Index(depth, rank)];

    int Index(int depth, int rank) => (Math.Clamp(depth, 1, _depths) - 1) * _ranks + Math.Clamp(rank, 0, _ranks - 1);

    void Refresh()
    {
        for (int r = 0; r < _ranks; r++)
        {
            double h = 0, t = 0;
            for (int d = 0; d < _depths; d++) { h += _hits[d * _ranks + r]; t += _trials[d * _ranks + r]; }
            double rankMean = (h + PriorWeight * _prior[r]) / (t + PriorWeight);
            for (int d = 0; d < _depths; d++)
            {
                int i = d * _ranks + r;
                double e = (_hits[i] + RankWeight * rankMean) / (_trials[i] + RankWeight);
                _estimate[i] = Math.Clamp(e, 1e-4, 0.999);
            }
        }
    }
}
