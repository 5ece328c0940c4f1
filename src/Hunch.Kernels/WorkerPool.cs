using System.Runtime.CompilerServices;

namespace Hunch.Kernels;

/// <summary>A unit of parallel work split into numbered chunks; implementations are reused objects so that
/// dispatching allocates nothing.</summary>
public interface IParallelJob
{
    /// <summary>Runs chunk <paramref name="chunk"/> (0-based). Chunks must be independent.</summary>
    void Execute(int chunk);
}

/// <summary>
/// A persistent pool of worker threads. <see cref="Run"/> hands out chunks through one atomic counter, and
/// the calling thread works too; the call returns when every chunk is done. Correctness never waits on a
/// worker waking up: if another process holds a core and a worker is descheduled, the remaining threads take
/// its chunks (a spinning barrier that waits for every thread, as ggml's does, collapses in that case).
/// Which thread runs a chunk never changes results: each chunk computes its own outputs in a fixed order.
/// </summary>
/// <remarks>
/// When another process keeps a core busy, sharing every job with the workers is slower than running it on the
/// caller alone: the runnable threads outnumber the cores, so the caller itself is time-sliced and every job
/// waits for whichever thread was descheduled. The pool therefore measures both ways (see
/// <see cref="ParallelModeChooser"/>) and keeps the faster one, re-checking every few thousand jobs.
/// </remarks>
public sealed class WorkerPool : IDisposable
{
    readonly Worker[] _workers;
    IParallelJob? _job;
    int _chunkCount;
    // High 32 bits: generation of the current job; low 32 bits: next chunk to hand out. Packing both in one word
    // lets a late worker's claim fail atomically once the job it woke for has been replaced.
    long _state;
    int _done;
    volatile bool _disposed;

    /// <summary>Number of threads that execute chunks, the caller included.</summary>
    public int ThreadCount { get; }

    /// <summary>Creates a pool using <paramref name="threads"/> threads in all (the caller plus threads - 1 workers).</summary>
    public WorkerPool(int threads)
    {
        ThreadCount = Math.Max(1, threads);
        _workers = new Worker[ThreadCount - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Worker(this);
            var t = new Thread(_workers[i].Loop) { IsBackground = true, Name = $"hunch-worker-{i + 1}" };
            t.Start();
        }
    }

    /// <summary>A shared pool sized to the machine, created on first use.</summary>
    public static WorkerPool Shared => s_shared ??= new WorkerPool(Environment.ProcessorCount);
    static WorkerPool? s_shared;

    readonly Lock _runLock = new();
    readonly ParallelModeChooser _chooser = new();

    /// <summary>Runs <paramref name="chunkCount"/> chunks of <paramref name="job"/> and returns when all are done.
    /// Safe to call from several threads (e.g. two models sharing <see cref="Shared"/>): calls are serialised.
    /// A chunk must not call <see cref="Run"/> on the same pool.</summary>
    /// <param name="job">The work.</param>
    /// <param name="chunkCount">Number of chunks.</param>
    /// <param name="sizeHint">A rough measure of the job's work (e.g. multiply-adds), or 0. The pool compares the
    /// wall time of jobs of similar size when it decides whether its workers help (see the remarks of the type).</param>
    public void Run(IParallelJob job, int chunkCount, long sizeHint = 0)
    {
        if (chunkCount <= 0) return;
        if (_workers.Length == 0 || chunkCount == 1)
        {
            for (int i = 0; i < chunkCount; i++) job.Execute(i);
            return;
        }
        lock (_runLock) RunLocked(job, chunkCount, sizeHint);
    }

    // Stall strikes: a shared job whose caller, out of chunks, waited longer for a worker than it worked itself (a
    // worker descheduled mid-chunk). Three of them, not cleared by a run of clean jobs, make the chooser compare the
    // modes now instead of at its next scheduled trial.
    const int Strikes = 3, CleanRunToForgive = 32;
    static readonly long s_minWait = System.Diagnostics.Stopwatch.Frequency / 5000; // 200 µs
    int _strikes;
    int _clean;

    /// <summary>Jobs of more than one chunk that ran on the caller alone because the pool measured that faster (see
    /// the remarks of the type), and those that ran on all threads. A high solo share on an otherwise idle machine
    /// means another process holds the cores.</summary>
    public long SoloRuns => _soloRuns;

    /// <inheritdoc cref="SoloRuns"/>
    public long SharedRuns => _sharedRuns;

    long _soloRuns, _sharedRuns;

    void RunLocked(IParallelJob job, int chunkCount, long sizeHint)
    {
        int slot = ParallelModeChooser.Slot(chunkCount, sizeHint);
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        if (_chooser.NextRunSolo)
        {
            _soloRuns++;
            for (int i = 0; i < chunkCount; i++) job.Execute(i);
            _chooser.Record(slot, System.Diagnostics.Stopwatch.GetTimestamp() - start);
            return;
        }
        _sharedRuns++;
        RunShared(job, chunkCount, out long worked);
        long elapsed = System.Diagnostics.Stopwatch.GetTimestamp() - start;
        _chooser.Record(slot, elapsed);
        long waited = elapsed - worked;
        if (waited > worked && waited > s_minWait)
        {
            _clean = 0;
            if (++_strikes >= Strikes)
            {
                _chooser.CompareSoon();
                _strikes = 0;
            }
        }
        else if (++_clean >= CleanRunToForgive) _strikes = 0;
    }

    void RunShared(IParallelJob job, int chunkCount, out long worked)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        _job = job;
        _chunkCount = chunkCount;
        Volatile.Write(ref _done, 0);
        long gen = (Volatile.Read(ref _state) >> 32) + 1;
        Interlocked.Exchange(ref _state, gen << 32);
        foreach (var w in _workers) w.Wake();
        Work(gen);
        worked = System.Diagnostics.Stopwatch.GetTimestamp() - start;
        var spinner = new SpinWait();
        while (Volatile.Read(ref _done) < chunkCount) spinner.SpinOnce(-1);
        _job = null;
    }

    void Work(long gen)
    {
        while (true)
        {
            long s = Volatile.Read(ref _state);
            if (s >> 32 != gen) return;
            int next = (int)(s & 0xFFFFFFFF);
            if (next >= _chunkCount) return;
            if (Interlocked.CompareExchange(ref _state, s + 1, s) != s) continue;
            // The claim succeeded for this generation, so the job cannot change until this chunk is counted done.
            _job!.Execute(next);
            Interlocked.Increment(ref _done);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _disposed = true;
        foreach (var w in _workers) w.Wake();
    }

    sealed class Worker(WorkerPool pool)
    {
        readonly SemaphoreSlim _signal = new(0);
        volatile bool _sleeping;

        public void Wake()
        {
            if (_sleeping) _signal.Release();
        }

        public void Loop()
        {
            long seen = 0;
            int idle = 0;
            while (!pool._disposed)
            {
                long gen = Volatile.Read(ref pool._state) >> 32;
                if (gen != seen)
                {
                    seen = gen;
                    idle = 0;
                    pool.Work(gen);
                    continue;
                }
                if (++idle < 2000)
                {
                    Thread.SpinWait(30);
                    continue;
                }
                _sleeping = true;
                if ((Volatile.Read(ref pool._state) >> 32) == seen && !pool._disposed) _signal.Wait(50);
                _sleeping = false;
                idle = 1000;
            }
        }
    }
}
