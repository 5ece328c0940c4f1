using Hunch.Kernels;

namespace Hunch.Tests.Kernels;

/// <summary>The pool's choice between shared and solo runs, driven by synthetic job times (no clocks involved),
/// and the pool itself completing every chunk while another thread competes for the cores.</summary>
public class ParallelModeChooserTests
{
    // A repeating job mix like a decode step: a few matrix sizes and one attention job.
    static readonly (int Chunks, long Size)[] Mix = [(16, 1 << 20), (16, 1 << 20), (16, 3 << 20), (16, 1 << 22), (32, 50_000)];

    /// <summary>Feeds <paramref name="jobs"/> jobs of <see cref="Mix"/>; each costs its size times the factor of
    /// the mode it ran in.</summary>
    static void Drive(ParallelModeChooser chooser, int jobs, double sharedFactor, double soloFactor, ref int next)
    {
        for (int i = 0; i < jobs; i++, next++)
        {
            var (chunks, size) = Mix[next % Mix.Length];
            double factor = chooser.NextRunSolo ? soloFactor : sharedFactor;
            chooser.Record(ParallelModeChooser.Slot(chunks, size), (long)(size * factor / 1000));
        }
    }

    [Fact]
    public void Idle_machine_keeps_shared_and_trials_become_rare()
    {
        var chooser = new ParallelModeChooser();
        int next = 0;
        Drive(chooser, 40_000, sharedFactor: 0.6, soloFactor: 1.0, ref next);
        Assert.False(chooser.Solo);
        Assert.Equal(0, chooser.Switches);
        Assert.True(chooser.Comparisons >= 3);
        Assert.Equal(ParallelModeChooser.MaxPeriod, chooser.Period);
    }

    [Fact]
    public void Busy_core_switches_to_solo_at_the_first_comparison_and_back_when_it_frees()
    {
        var chooser = new ParallelModeChooser();
        int next = 0;
        Drive(chooser, ParallelModeChooser.MinPeriod + 2 * ParallelModeChooser.Window, sharedFactor: 2.0, soloFactor: 1.0, ref next);
        Assert.True(chooser.Solo);
        Drive(chooser, 30_000, sharedFactor: 2.0, soloFactor: 1.0, ref next);
        Assert.True(chooser.Solo);
        Assert.Equal(1, chooser.Switches);

        // The other process ends: within one maximal period plus a comparison the pool shares again.
        Drive(chooser, ParallelModeChooser.MaxPeriod + 2 * ParallelModeChooser.Window, sharedFactor: 0.6, soloFactor: 1.0, ref next);
        Assert.False(chooser.Solo);
        Assert.Equal(2, chooser.Switches);
    }

    [Fact]
    public void Small_differences_do_not_switch()
    {
        var chooser = new ParallelModeChooser();
        int next = 0;
        Drive(chooser, 20_000, sharedFactor: 1.0, soloFactor: 0.93, ref next);
        Assert.False(chooser.Solo);
        Assert.Equal(0, chooser.Switches);
    }

    [Fact]
    public void A_change_of_job_mix_between_windows_is_not_taken_for_a_change_of_speed()
    {
        var chooser = new ParallelModeChooser();
        int shared = 0, solo = 0;
        // Baseline windows see small jobs, trial windows (solo) only jobs 64x larger: comparing totals would call
        // solo 64 / 2 = 32x slower or, the other way round, faster. Different size groups are not compared at all.
        for (int i = 0; i < 40_000; i++)
        {
            bool runSolo = chooser.NextRunSolo;
            long size = runSolo ? 1L << 26 : 1L << 20;
            double factor = runSolo ? 0.5 : 1.0;   // solo genuinely cheaper per unit, but never comparable
            if (runSolo) solo++; else shared++;
            chooser.Record(ParallelModeChooser.Slot(16, size), (long)(size * factor / 1000));
        }
        Assert.False(chooser.Solo);
        Assert.Equal(0, chooser.Comparisons);
        Assert.True(solo > 0 && shared > solo);
    }

    [Fact]
    public void Per_group_means_make_the_comparison_fair_when_the_proportions_differ()
    {
        // Baseline window: mostly small jobs; trial: mostly large ones, same two size groups. Shared costs 0.6x
        // solo per unit in both groups, so the pool must stay shared although the solo window's total is larger
        // or smaller depending on the proportions alone.
        var chooser = new ParallelModeChooser();
        var rng = new Random(5);
        for (int i = 0; i < 40_000; i++)
        {
            bool runSolo = chooser.NextRunSolo;
            bool large = rng.NextDouble() < (runSolo ? 0.02 : 0.5);
            long size = large ? 1L << 24 : 1L << 18;
            chooser.Record(ParallelModeChooser.Slot(16, size), (long)(size * (runSolo ? 1.0 : 0.6) / 1000));
        }
        Assert.False(chooser.Solo);
        Assert.Equal(0, chooser.Switches);
        Assert.True(chooser.Comparisons >= 3);
    }

    [Fact]
    public void CompareSoon_starts_a_comparison_before_the_period_ends()
    {
        var chooser = new ParallelModeChooser();
        int next = 0;
        Drive(chooser, 10, sharedFactor: 2.0, soloFactor: 1.0, ref next);
        chooser.CompareSoon();
        Drive(chooser, 1 + 2 * ParallelModeChooser.Window, sharedFactor: 2.0, soloFactor: 1.0, ref next);
        Assert.True(chooser.Solo);
    }

    [Fact]
    public void Sizes_within_a_quarter_octave_share_a_group_and_chunk_counts_separate_them()
    {
        Assert.Equal(ParallelModeChooser.Slot(16, 1_000_000), ParallelModeChooser.Slot(16, 1_010_000));
        int a = ParallelModeChooser.Slot(16, 1 << 20), b = ParallelModeChooser.Slot(16, 1 << 21);
        int c = ParallelModeChooser.Slot(8, 1 << 20);
        Assert.NotEqual(a, b);
        Assert.NotEqual(a, c);
        for (long size = 1; size < 1L << 40; size = size * 3 + 1)
            Assert.InRange(ParallelModeChooser.Slot(16, size), 0, ParallelModeChooser.Slots - 1);
    }

    sealed class SumJob(long[] data, long[] sums, int chunkLength) : IParallelJob
    {
        public void Execute(int chunk)
        {
            long s = 0;
            for (int i = chunk * chunkLength; i < (chunk + 1) * chunkLength; i++) s += data[i] * (i % 7 + 1);
            sums[chunk] = s;
        }
    }

    [Fact]
    public void Every_chunk_runs_exactly_once_while_another_thread_competes_for_the_cores()
    {
        const int chunks = 24, length = 4096;
        var rng = new Random(3);
        var data = new long[chunks * length];
        for (int i = 0; i < data.Length; i++) data[i] = rng.Next(-1000, 1000);
        var expected = new long[chunks];
        new SumJob(data, expected, length).Execute(0);
        for (int c = 0; c < chunks; c++) new SumJob(data, expected, length).Execute(c);

        using var pool = new WorkerPool(2);
        using var stop = new CancellationTokenSource();
        var spinner = new Thread(() => { while (!stop.IsCancellationRequested) Thread.SpinWait(100); }) { IsBackground = true };
        spinner.Start();
        try
        {
            for (int run = 0; run < 3000; run++)
            {
                var sums = new long[chunks];
                pool.Run(new SumJob(data, sums, length), chunks, (long)chunks * length);
                Assert.Equal(expected, sums);
            }
        }
        finally
        {
            stop.Cancel();
            spinner.Join();
        }
    }
}
