using System.Numerics;

namespace Hunch.Kernels;

/// <summary>
/// Decides, from measured wall times, whether a <see cref="WorkerPool"/> runs its jobs on all its threads
/// (shared) or on the calling thread alone (solo). Shared is faster on an idle machine; solo wins when another
/// process keeps a core busy (the caller is then time-sliced with spinning workers, and each job waits for
/// whichever thread the scheduler parked). Neither can be known in advance, so the chooser keeps one mode and
/// every <c>period</c> jobs runs a paired comparison: a baseline window in the kept mode, then a trial window of
/// the same length in the other mode. Jobs are grouped by size (<see cref="Slot"/>) and only groups seen in both
/// windows are compared, so a change of job mix between the windows (prefill after decode, a larger
/// verification batch) does not pass for a change of speed. The period doubles while the kept mode keeps
/// winning (so a steady machine pays for few trials) and falls back to its minimum after a switch.
/// Not thread-safe: the pool calls it under its run lock.
/// </summary>
internal sealed class ParallelModeChooser
{
    /// <summary>Number of job-size groups.</summary>
    public const int Slots = 64;

    /// <summary>Jobs in a baseline window and in a trial window.</summary>
    public const int Window = 384;

    /// <summary>Shortest and longest spacing of comparisons, in jobs.</summary>
    public const int MinPeriod = 2048, MaxPeriod = 32768;

    // The other mode must be this much faster to be adopted: switching has costs the windows do not see (workers
    // waking or spinning down), and a tie should not flip-flop.
    const double SwitchMargin = 0.9;

    // The first jobs of a window still see the previous mode's threads (sleeping workers waking up, or spinning
    // down); they are left out of the comparison.
    const int SettleJobs = 16;

    enum Phase { Steady, Baseline, Trial }

    readonly long[] _baseTicks = new long[Slots];
    readonly int[] _baseCount = new int[Slots];
    readonly long[] _trialTicks = new long[Slots];
    readonly int[] _trialCount = new int[Slots];
    Phase _phase;
    int _jobs;
    int _period = MinPeriod;

    /// <summary>The mode kept between comparisons: true when jobs run on the caller alone.</summary>
    public bool Solo { get; private set; }

    /// <summary>Whether the next job runs solo (the kept mode, or the other one during a trial window).</summary>
    public bool NextRunSolo => _phase == Phase.Trial ? !Solo : Solo;

    /// <summary>Jobs between the end of one comparison and the start of the next baseline window.</summary>
    public int Period => _period;

    /// <summary>Comparisons made so far, and how many of them switched the mode (for tests and diagnostics).</summary>
    public int Comparisons { get; private set; }

    /// <inheritdoc cref="Comparisons"/>
    public int Switches { get; private set; }

    /// <summary>The size group of a job: its chunk count and its size hint rounded to a quarter octave.</summary>
    public static int Slot(int chunkCount, long sizeHint)
    {
        int bucket = 0;
        if (sizeHint > 0)
        {
            int log = BitOperations.Log2((ulong)sizeHint);
            int fraction = log >= 2 ? (int)(sizeHint >> (log - 2)) & 3 : 0;
            bucket = log * 4 + fraction + 1;
        }
        uint h = unchecked((uint)chunkCount * 0x9E3779B1u ^ (uint)bucket * 0x85EBCA77u);
        h ^= h >> 15;
        h *= 0x2C1B3C6Du;
        return (int)(h >> (32 - 6));
    }

    /// <summary>Starts the next comparison now rather than at the end of the period (e.g. after repeated stalls).</summary>
    public void CompareSoon()
    {
        if (_phase == Phase.Steady) _jobs = Math.Max(_jobs, _period);
    }

    /// <summary>Records the wall time of the job just run (in the mode <see cref="NextRunSolo"/> gave) and
    /// advances the comparison schedule.</summary>
    public void Record(int slot, long ticks)
    {
        switch (_phase)
        {
            case Phase.Steady:
                if (++_jobs >= _period)
                {
                    Array.Clear(_baseTicks);
                    Array.Clear(_baseCount);
                    Array.Clear(_trialTicks);
                    Array.Clear(_trialCount);
                    _phase = Phase.Baseline;
                    _jobs = 0;
                }
                break;
            case Phase.Baseline:
            case Phase.Trial:
                bool trial = _phase == Phase.Trial;
                if (_jobs >= SettleJobs)
                {
                    (trial ? _trialTicks : _baseTicks)[slot] += ticks;
                    (trial ? _trialCount : _baseCount)[slot]++;
                }
                if (++_jobs < Window) break;
                if (trial) Decide();
                else
                {
                    _phase = Phase.Trial;
                    _jobs = 0;
                }
                break;
        }
    }

    void Decide()
    {
        // Cost of the trial's jobs in the kept mode (each group's mean from the baseline) against what they cost.
        double kept = 0, other = 0;
        int covered = 0;
        for (int s = 0; s < Slots; s++)
        {
            if (_baseCount[s] == 0 || _trialCount[s] == 0) continue;
            kept += _trialCount[s] * ((double)_baseTicks[s] / _baseCount[s]);
            other += _trialTicks[s];
            covered += _trialCount[s];
        }
        _phase = Phase.Steady;
        _jobs = 0;
        // Too few comparable jobs (the job mix changed between the windows): keep the mode, compare again soon.
        if (covered < (Window - SettleJobs) / 2)
        {
            _period = MinPeriod;
            return;
        }
        Comparisons++;
        if (other < kept * SwitchMargin)
        {
            Solo = !Solo;
            Switches++;
            _period = MinPeriod;
        }
        else _period = Math.Min(MaxPeriod, _period * 2);
    }
}
