using System.Diagnostics;
using Hunch.Models;

namespace Hunch.Speculative;

/// <summary>
/// Predicted milliseconds of one speculative step with n draft nodes: the measured forward cost c(1 + n)
/// (<see cref="ForwardCostCurve"/>), rescaled by how long this process's forwards really take right now
/// (other processes share the cores), plus the drafter's own work per node o(n) (building the tree, top-k over
/// the vocabulary per node, bookkeeping), both learned online. <see cref="BestCount"/> picks the number of
/// nodes that maximises expected committed tokens per millisecond (draft-trees.md §6.3).
/// </summary>
internal sealed class StepCostModel
{
    readonly ForwardCostCurve _curve;
    double _scale = 1;            // observed forward time / curve prediction (EWMA)
    double _perRowMs;             // drafter overhead per scored row (EWMA)
    bool _haveOverhead;
    const double Alpha = 0.1;

    long _proposeStart, _proposeEnd;
    double _proposeMs;
    int _rows;

    public StepCostModel(ForwardCostCurve curve) => _curve = curve;

    public ForwardCostCurve Curve => _curve;

    /// <summary>Predicted milliseconds of the forward alone over <paramref name="rows"/> rows, at the current load.</summary>
    public double ForwardMs(int rows) => _scale * _curve.Cost(rows);

    /// <summary>Predicted step milliseconds with <paramref name="draftNodes"/> nodes besides the root.</summary>
    public double StepCost(int draftNodes) => _scale * _curve.Cost(1 + draftNodes) + _perRowMs * (1 + draftNodes);

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
            double forwardMs = Stopwatch.GetElapsedTime(_proposeEnd, now).TotalMilliseconds;
            double ratio = Math.Clamp(forwardMs / _curve.Cost(_rows), 0.25, 8);
            _scale += Alpha * (ratio - _scale);
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
