using System.Diagnostics;
using Hunch.Kernels;
using Hunch.Models;
using Hunch.Tokenization;

namespace Hunch.Training;

/// <summary>Options of <see cref="AdapterTrainer"/>.</summary>
public sealed record AdapterTrainingOptions
{
    /// <summary>The target layer the adapter reads (the draft runs layers [0, Layer) of the target).</summary>
    public int Layer { get; init; } = 2;
    /// <summary>Most training positions taken from the data (each keeps a hidden state and the teacher's top-M).</summary>
    public int MaxPositions { get; init; } = 30_000;
    /// <summary>Tokens per sequence (the adapter's attention is causal over one sequence).</summary>
    public int Window { get; init; } = 256;
    /// <summary>Wall-clock budget for the optimisation, in minutes.</summary>
    public double Minutes { get; init; } = 3;
    /// <summary>Most passes over the data.</summary>
    public int Epochs { get; init; } = 8;
    /// <summary>AdamW learning rate.</summary>
    public float LearningRate { get; init; } = 1e-3f;
    /// <summary>AdamW decoupled weight decay (matrices only).</summary>
    public float WeightDecay { get; init; } = 0f;
    /// <summary>Global gradient-norm clip (0: none).</summary>
    public float ClipNorm { get; init; } = 1f;
    /// <summary>Seed (initialisation, data order).</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Teacher probabilities kept per position (top-M of the full model's softmax, renormalised).</summary>
    public int TeacherTopK { get; init; } = 32;
    /// <summary>Tokens of self-generated text when no data is given.</summary>
    public int SelfGeneratedTokens { get; init; } = 16_000;
    /// <summary>Checkpoint file (resumable training), or null.</summary>
    public string? CheckpointPath { get; init; }
    /// <summary>Steps between checkpoints.</summary>
    public int CheckpointEvery { get; init; } = 50;
}

/// <summary>What adapter training achieved: held-out top-1 agreement with the full model, for the adapter and for
/// plain early exit at the same layer (the untrained adapter), and the held-out soft cross-entropy of both.</summary>
public sealed record AdapterTrainingReport(long Steps, double FinalLoss, double HeldOutTop1, double EarlyExitTop1,
    double HeldOutLoss, double EarlyExitLoss, int Positions, TimeSpan Elapsed);

/// <summary>
/// Trains a <see cref="KangarooAdapter"/> with the target frozen (self-distillation): runs the target over text,
/// caches each position's residual stream after layer L and the full model's next-token distribution (top-M,
/// renormalised), then fits the adapter so that the target's frozen final norm and output matrix applied to its
/// output match the full model (soft cross-entropy). One sequence per step, AdamW, seeded, resumable.
/// </summary>
public sealed class AdapterTrainer
{
    readonly TransformerModel _model;
    readonly AdapterTrainingOptions _o;
    readonly ITokenizer _tokenizer;
    readonly int _d, _v;
    float[] _hidden = [];
    int[] _teacherIds = [];
    float[] _teacherP = [];
    readonly List<(int Start, int Length)> _sequences = [];
    int _count;
    float[]? _outputRows;

    /// <summary>Creates a trainer for <paramref name="model"/>.</summary>
    public AdapterTrainer(TransformerModel model, ITokenizer tokenizer, AdapterTrainingOptions options)
    {
        _model = model;
        _tokenizer = tokenizer;
        _o = options;
        _d = model.Config.EmbeddingSize;
        _v = model.Config.VocabSize;
        if (options.Layer < 1 || options.Layer >= model.Config.LayerCount)
            throw new ArgumentException($"--layers {options.Layer} must be in 1..{model.Config.LayerCount - 1} for this {model.Config.LayerCount}-layer model");
        if ((long)_v * _d > 256L << 20) throw new NotSupportedException($"the output matrix ({_v} x {_d}) is too large to train an adapter on here (limit 256M elements)");
        if (options.Window < 2) throw new ArgumentException("the window must hold at least 2 tokens");
    }

    /// <summary>Positions cached.</summary>
    public int Positions => _count;

    /// <summary>Tokenizes the files (or, when none are given, generates text with the model), runs the target over
    /// them in windows and caches layer-L states and teacher targets.</summary>
    public void PrepareData(IReadOnlyList<string> files, Action<TrainingProgress>? progress = null)
    {
        var streams = new List<int[]>();
        foreach (var f in files)
        {
            if (!File.Exists(f)) throw new FileNotFoundException($"training data file not found: {f}", f);
            streams.Add(_tokenizer.Encode(File.ReadAllText(f), addSpecial: false));
        }
        if (files.Count == 0) streams.AddRange(SelfGeneratedText.Generate(_model, _tokenizer, _o.SelfGeneratedTokens, _o.Seed, progress));
        int window = Math.Min(_o.Window, _model.Config.ContextLength);
        long available = 0;
        foreach (var s in streams) available += s.Length;
        int capacity = (int)Math.Min(available, _o.MaxPositions);
        int m = _o.TeacherTopK;
        _hidden = new float[(long)capacity * _d];
        _teacherIds = new int[capacity * m];
        _teacherP = new float[capacity * m];
        var batch = new ForwardBatch { CaptureLayer = _o.Layer };
        var cache = _model.CreateCache(window + 1);
        var top = new int[m];
        var probs = new float[_v];
        var sw = Stopwatch.StartNew();
        foreach (var stream in streams)
        {
            for (int start = 0; start + 2 <= stream.Length && _count < capacity; start += window)
            {
                int n = Math.Min(window, Math.Min(stream.Length - start, capacity - _count));
                if (n < 2) break;
                cache.Clear();
                batch.Clear();
                batch.AddSequence(stream.AsSpan(start, n), cache, 0, allLogits: true);
                _model.Forward(batch);
                for (int i = 0; i < n; i++)
                {
                    int pos = _count + i;
                    batch.LayerHidden(i).CopyTo(_hidden.AsSpan(pos * _d, _d));
                    batch.Logits(i).CopyTo(probs);
                    Ops.Softmax(probs);
                    int k = Ops.TopK(probs, top, m);
                    float sum = 0;
                    for (int j = 0; j < k; j++) sum += probs[top[j]];
                    for (int j = 0; j < k; j++)
                    {
                        _teacherIds[pos * m + j] = top[j];
                        _teacherP[pos * m + j] = probs[top[j]] / sum;
                    }
                }
                _sequences.Add((_count, n));
                _count += n;
                progress?.Invoke(new TrainingProgress("caching hidden states", _count, capacity, 0, sw.Elapsed));
            }
        }
        if (_sequences.Count < 2) throw new ArgumentException($"not enough training text ({_count} positions); give more data");
    }

    unsafe float[] DequantizeOutput()
    {
        var w = _model.OutputMatrix;
        var rows = new float[(long)_v * _d];
        fixed (float* p = rows)
            for (int r = 0; r < _v; r++) RowKernels.DequantizeRow(w.Type, w.Row(r), p + (long)r * _d, _d);
        return rows;
    }

    /// <summary>Trains and returns the adapter (resuming from the checkpoint when it exists).</summary>
    public (KangarooAdapter Adapter, AdapterTrainingReport Report) Train(Action<TrainingProgress>? progress = null)
    {
        if (_count == 0) throw new InvalidOperationException("call PrepareData first");
        _outputRows ??= DequantizeOutput();
        var adapter = KangarooAdapter.ForModel(_model, _o.Layer, _o.Seed);
        var adam = new AdamW(adapter.Parameters, KangarooAdapter.Decays, _o.LearningRate, _o.WeightDecay, beta2: 0.99f);
        long step = 0;
        if (_o.CheckpointPath is not null && File.Exists(_o.CheckpointPath)) step = Checkpoint.Load(_o.CheckpointPath, adapter, adam);

        // Every 10th sequence is held out (at least one); the rest are trained on.
        var train = new List<int>();
        var held = new List<int>();
        for (int i = 0; i < _sequences.Count; i++) (i % 10 == 9 || (i == _sequences.Count - 1 && held.Count == 0) ? held : train).Add(i);
        var work = new Work(this, adapter);
        var (earlyTop1, earlyLoss) = work.Evaluate(held, earlyExit: true);
        var order = train.ToArray();
        long totalSteps = (long)order.Length * _o.Epochs;
        long firstStep = step;
        var sw = Stopwatch.StartNew();
        var budget = TimeSpan.FromMinutes(_o.Minutes);
        double ema = double.NaN;
        while (step < totalSteps && sw.Elapsed < budget)
        {
            if (step % order.Length == 0 || step == firstStep) Shuffle(order, _o.Seed, step / order.Length);
            var (start, length) = _sequences[order[step % order.Length]];
            double loss = work.Step(start, length);
            Clip(work.Gradients, _o.ClipNorm);
            adam.Update(work.Gradients);
            step++;
            ema = double.IsNaN(ema) ? loss : 0.95 * ema + 0.05 * loss;
            progress?.Invoke(new TrainingProgress("training", step, totalSteps, ema, sw.Elapsed));
            if (_o.CheckpointPath is not null && step % _o.CheckpointEvery == 0) Checkpoint.Save(_o.CheckpointPath, adapter, adam, step);
        }
        if (_o.CheckpointPath is not null) Checkpoint.Save(_o.CheckpointPath, adapter, adam, step);
        var (top1, heldLoss) = work.Evaluate(held, earlyExit: false);
        return (adapter, new AdapterTrainingReport(step, ema, top1, earlyTop1, heldLoss, earlyLoss, _count, sw.Elapsed));
    }

    static void Clip(float[][] grads, float maxNorm)
    {
        if (maxNorm <= 0) return;
        double ss = 0;
        foreach (var g in grads) foreach (var x in g) ss += (double)x * x;
        double norm = Math.Sqrt(ss);
        if (norm <= maxNorm) return;
        float s = (float)(maxNorm / norm);
        foreach (var g in grads) for (int i = 0; i < g.Length; i++) g[i] *= s;
    }

    static void Shuffle(int[] a, ulong seed, long epoch)
    {
        // Data order depends only on the seed and the epoch, so a resumed run sees the same order.
        Array.Sort(a);
        var r = new Sampling.Rng(seed ^ ((ulong)epoch + 1) * 0x9E3779B97F4A7C15UL);
        for (int i = a.Length - 1; i > 0; i--)
        {
            int j = (int)(r.NextUInt64() % (ulong)(i + 1));
            (a[i], a[j]) = (a[j], a[i]);
        }
    }

    /// <summary>Buffers and the forward/backward of one sequence.</summary>
    sealed class Work(AdapterTrainer t, KangarooAdapter adapter)
    {
        public readonly float[][] Gradients = adapter.Parameters.Select(p => new float[p.Length]).ToArray();
        readonly KangarooAdapter.Activations _act = new();
        float[] _logits = [], _gradZ = [], _work = [], _z = [];

        void Ensure(int n)
        {
            int d = t._d;
            if (_gradZ.Length >= n * d) return;
            _logits = new float[n * t._v];
            _gradZ = new float[n * d];
            _z = new float[n * d];
            _work = new float[5 * n * d];
        }

        public double Step(int start, int length)
        {
            int d = t._d, v = t._v, m = t._o.TeacherTopK;
            Ensure(length);
            foreach (var g in Gradients) Array.Clear(g);
            var h = t._hidden.AsSpan(start * d, length * d);
            var finalNorm = t._model.OutputNormWeights;
            adapter.ForwardSequence(h, length, finalNorm, _act);
            t._model.ProjectToVocabulary(_act.Z, length, _logits);
            double loss = 0;
            for (int i = 0; i < length; i++)
            {
                var logits = _logits.AsSpan(i * v, v);
                int pos = start + i;
                loss += HeadTrainer.SoftCrossEntropy(logits, t._teacherIds.AsSpan(pos * m, m), t._teacherP.AsSpan(pos * m, m), 1f / length);
                HeadTrainer.BackpropOutput(t._outputRows!, d, logits, _gradZ.AsSpan(i * d, d));
            }
            adapter.BackwardSequence(h, finalNorm, _act, _gradZ.AsSpan(0, length * d), Gradients, Span<float>.Empty, _work);
            return loss / length;
        }

        /// <summary>Top-1 agreement with the full model and soft cross-entropy on the held-out sequences, for the
        /// adapter or for plain early exit (final norm on the layer-L state).</summary>
        public unsafe (double Top1, double Loss) Evaluate(List<int> sequences, bool earlyExit)
        {
            int d = t._d, v = t._v, m = t._o.TeacherTopK;
            long hits = 0, n = 0;
            double loss = 0;
            var finalNorm = t._model.OutputNormWeights;
            foreach (int s in sequences)
            {
                var (start, length) = t._sequences[s];
                Ensure(length);
                var h = t._hidden.AsSpan(start * d, length * d);
                if (earlyExit)
                {
                    fixed (float* ph = h, z = _z, g = finalNorm)
                        for (int i = 0; i < length; i++) Ops.RmsNorm(ph + i * d, g, z + i * d, d, adapter.Eps);
                    t._model.ProjectToVocabulary(_z, length, _logits);
                }
                else
                {
                    adapter.ForwardSequence(h, length, finalNorm, _act);
                    t._model.ProjectToVocabulary(_act.Z, length, _logits);
                }
                for (int i = 0; i < length; i++)
                {
                    var logits = _logits.AsSpan(i * v, v);
                    int pos = start + i;
                    if (Ops.ArgMax(logits) == t._teacherIds[pos * m]) hits++;
                    loss += HeadTrainer.SoftCrossEntropy(logits, t._teacherIds.AsSpan(pos * m, m), t._teacherP.AsSpan(pos * m, m), 1f);
                    n++;
                }
            }
            return n == 0 ? (0, 0) : ((double)hits / n, loss / n);
        }
    }
}
