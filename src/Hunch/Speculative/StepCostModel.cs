using System.Diagnostics;
using Hunch.Models;

namespace Hunch.Speculative;

/// <summary>
/// Predicted milliseconds of one speculative step with n draft nodes: the forward cost over 1 + n rows plus the
/// drafter's own work per node o(n) (building the tree, top-k over the vocabulary per node, bookkeeping).
/// The forward cost starts as the measured curve (<see cref="ForwardCostCurve"/>) rescaled by how long this
/// process's forwards really take right now (other processes share the cores), and every row count a step
/// actually runs replaces that guess with its own observed time (a moving average). The curve alone is not
/// enough: it is timed once, at a fixed context, in a tight loop, while real steps run at the request's growing
/// context (attention cost per row grows with it) between the drafter's and sampler's work — on the bundled model
/// the real second to fourth rows cost about twice what the curve says (measured), which no common factor can
/// express. Costs are kept non-decreasing in rows; a row count never run keeps the rescaled curve, which is the
/// lower guess, so the drafter tries it and learns what it really costs. <see cref="BestCount"/> picks the number
/// of nodes that maximises expected committed tokens per millisecond (draft-trees.md §6.3).
/// </summary>
internal sealed class StepCostModel
{
    readonly ForwardCostCurve _curve;
    double _scale = 1;            // observed forward time / curve prediction (EWMA)
    const int ObservedRows = 256; // row counts whose own cost is learned (larger ones use the rescaled curve)
    readonly double[] _observedMs = new double[ObservedRows + 1];
    readonly int[] _observedCount = new int[ObservedRows + 1];
    readonly double[] _table = new double[ObservedRows + 1];   // ForwardMs for 1.._tableRows (monotone)
    int _tableRows;               // entries of _table valid since the last observation (filled on demand)
    const int TrustAfter = 2;     // observations of a row count before its own average replaces the curve
    double _perRowMs;             // drafter overhead per scored row (EWMA)
    bool _haveOverhead;
    const double Alpha = 0.1;

    long _proposeStart, _proposeEnd;
    double _proposeMs;
    int _rows;

    public StepCostModel(ForwardCostCurve curve) => _curve = curve;

    public ForwardCostCurve Curve => _curve;

    /// <summary>Predicted milliseconds of the forward alone over <paramref name="rows"/> rows, at the current load.</summary>
    public double ForwardMs(int rows)
    {
        rows = Math.Max(rows, 1);
        if (rows <= ObservedRows)
        {
            FillTable(rows);
            return _table[rows];
        }
        FillTable(ObservedRows);
        return Math.Max(_table[ObservedRows], _scale * _curve.Cost(rows));
    }

    /// <summary>Predicted step milliseconds with <paramref name="draftNodes"/> nodes besides the root.</summary>
    public double StepCost(int draftNodes) => ForwardMs(1 + draftNodes) + _perRowMs * (1 + draftNodes);

    // Extends the monotone table to row count `rows`: a step asks only for the row counts it sizes (tens), not
    // all of them, and every observation invalidates the table.
    void FillTable(int rows)
    {
        double running = _tableRows == 0 ? 0 : _table[_tableRows];
        for (int k = _tableRows + 1; k <= rows; k++)
        {
            double v = _observedCount[k] >= TrustAfter ? _observedMs[k] : _scale * _curve.Cost(k);
            running = Math.Max(running, v);
            _table[k] = running;
        }
        if (rows > _tableRows) _tableRows = rows;
    }

    /// <summary>Learns from one forward over <paramref name="rows"/> rows that took <paramref name="forwardMs"/>.</summary>
    internal void ObserveForward(int rows, double forwardMs)
    {
        double predicted = _curve.Cost(rows);
        // A step stalled by another process must not dominate: bound what one observation can say.
        double y = Math.Clamp(forwardMs, 0.25 * predicted, 8 * predicted);
        _scale += Alpha * (y / predicted - _scale);
        if (rows <= ObservedRows)
        {
            // The first observations average plainly (1/n), later ones with the moving-average weight.
            int n = ++_observedCount[rows];
            _observedMs[rows] += Math.Max(Alpha, 1.0 / n) * (y - _observedMs[rows]);
        }
        _tableRows = 0;
    }

    /// <summary>
    /// Given node values (expected accepted contribution of each candidate, non-increasing), returns how many
    /// of the first candidates to draft: argmax over n of (1 + Σ_{i&lt;n} v_i) / StepCost(n).
    /// </summary>
    public int BestCount(ReadOnlySpan<double> values)
    {
        int n = BestCountByModel(values);
        // Exploration: when drafting looks unprofitable, still draft one node now and then, so the acceptance
        // estimates keep learning (a pessimistic prior would otherwise never be corrected).
        if (n == 0 && values.Length > 0 && ++_idleSteps >= ProbeEvery) { _idleSteps = 0; return 1; }
        if (n > 0) _idleSteps = 0;
        return n;
    }

    const int ProbeEvery = 8;
    int _idleSteps;

    internal int BestCountByModel(ReadOnlySpan<double> values)
    {
        double sum = 1;
        double best = sum / StepCost(0);
        int bestN = 0;
        for (int n = 1; n <= values.Length; n++)
        {
            sum += values[n - 1];
            double rate = sum / StepCost(n);
            if (rate > best) { best = rate; bestN = n; }
        }
        return bestN;
    }

    public void ProposeStarted() => _proposeStart = Stopwatch.GetTimestamp();

    public void ProposeEnded(int rows)
    {
        _proposeEnd = Stopwatch.GetTimestamp();
        _proposeMs = Stopwatch.GetElapsedTime(_proposeStart, _proposeEnd).TotalMilliseconds;
        _rows = rows;
    }

    /// <summary>Called at the start of Observe: the time since Propose ended is the forward plus verification.</summary>
    public long ObserveStarted()
    {
        long now = Stopwatch.GetTimestamp();
        if (_rows > 0 && _proposeEnd != 0)
        {
            ObserveForward(_rows, Stopwatch.GetElapsedTime(_proposeEnd, now).TotalMilliseconds);
        }
        return now;
    }

    /// <summary>Called at the end of Observe with its start timestamp: updates the overhead estimates.</summary>
    public void ObserveEnded(long observeStart)
    {
        if (_rows <= 0 || _proposeEnd == 0) return;
        double overhead = _proposeMs + Stopwatch.GetElapsedTime(observeStart).TotalMilliseconds;
        // The drafter's work is dominated by per-row passes over the vocabulary (top-k, acceptance labels),
        // so it is modelled as proportional to the rows scored.
        double perRow = overhead / _rows;
        if (!_haveOverhead) { _perRowMs = perRow; _haveOverhead = true; }
        else _perRowMs += Alpha * (perRow - _perRowMs);
        _proposeEnd = 0;
        _rows = 0;
    }
}
