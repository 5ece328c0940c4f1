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

    /// <summary>Runs <paramref name="chunkCount"/> chunks of <paramref name="job"/> and returns when all are done.
    /// Safe to call from several threads (e.g. two models sharing <see cref="Shared"/>): calls are serialised.
    /// A chunk must not call <see cref="Run"/> on the same pool.</summary>
    public void Run(IParallelJob job, int chunkCount)
    {
        if (chunkCount <= 0) return;
        if (_workers.Length == 0 || chunkCount == 1)
        {
            for (int i = 0; i < chunkCount; i++) job.Execute(i);
            return;
        }
        lock (_runLock) RunLocked(job, chunkCount);
    }

    // Straggler guard: when the caller, having run out of chunks, keeps waiting longer for a worker's chunk than
    // it spent working (a worker sharing a core with another process and descheduled mid-chunk), the pool runs
    // the next jobs on the caller alone, then tries its workers again. Stalls count as strikes that only a run of
    // clean jobs clears (under contention stalls come every few jobs, not every job), and a solo period that ends
    // in stalls again soon is doubled (up to MaxSoloRuns), so a lasting contention costs a few probes per second,
    // not per token. Results are the same whichever thread runs a chunk.
    const int MinSoloRuns = 1024, MaxSoloRuns = 1 << 16, Strikes = 3, CleanRunToForgive = 32, SoonAfterSolo = 256;
    static readonly long s_minWait = System.Diagnostics.Stopwatch.Frequency / 5000; // 200 µs
    int _solo;
    int _soloLength = MinSoloRuns;
    int _strikes;
    int _clean;
    int _sharedSinceSolo = int.MaxValue;

    void RunLocked(IParallelJob job, int chunkCount)
    {
        if (_solo > 0)
        {
            _solo--;
            for (int i = 0; i < chunkCount; i++) job.Execute(i);
            if (_solo == 0) _sharedSinceSolo = 0;
            return;
        }
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        RunShared(job, chunkCount, out long worked);
        long waited = System.Diagnostics.Stopwatch.GetTimestamp() - start - worked;
        if (_sharedSinceSolo < int.MaxValue) _sharedSinceSolo++;
        if (waited > worked && waited > s_minWait)
        {
            _clean = 0;
            if (++_strikes >= Strikes)
            {
                _soloLength = _sharedSinceSolo <= SoonAfterSolo ? Math.Min(MaxSoloRuns, _soloLength * 2) : MinSoloRuns;
                _solo = _soloLength;
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
