using System.Diagnostics;
using Hunch.Gguf;
using Hunch.Generation;
using Hunch.Kernels;
using Hunch.Models;
using Hunch.Sampling;
using Hunch.Tokenization;

namespace Hunch.Training;

/// <summary>Options of <see cref="HeadTrainer"/>.</summary>
public sealed record HeadTrainingOptions
{
    /// <summary>Number of heads (head k predicts the token k+1 positions ahead).</summary>
    public int Heads { get; init; } = 3;
    /// <summary>Medusa or Hydra heads.</summary>
    public HeadVariant Variant { get; init; } = HeadVariant.Hydra;
    /// <summary>Most training positions taken from the data (bounds memory: each keeps a hidden state).</summary>
    public int MaxPositions { get; init; } = 40_000;
    /// <summary>Tokens per forward window when caching hidden states.</summary>
    public int Window { get; init; } = 128;
    /// <summary>Wall-clock budget for the optimisation, in minutes.</summary>
    public double Minutes { get; init; } = 3;
    /// <summary>Most passes over the data.</summary>
    public int Epochs { get; init; } = 4;
    /// <summary>Positions per optimisation step.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>AdamW learning rate.</summary>
    public float LearningRate { get; init; } = 2e-3f;
    /// <summary>AdamW decoupled weight decay.</summary>
    public float WeightDecay { get; init; } = 0f;
    /// <summary>Seed (data order, self-generated text).</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Teacher probabilities kept per position (top-M of the target's distribution, renormalised).</summary>
    public int TeacherTopK { get; init; } = 8;
    /// <summary>Tokens of self-generated text when no data is given.</summary>
    public int SelfGeneratedTokens { get; init; } = 16_000;
    /// <summary>Checkpoint file (resumable training), or null.</summary>
    public string? CheckpointPath { get; init; }
    /// <summary>Steps between checkpoints.</summary>
    public int CheckpointEvery { get; init; } = 200;
}

/// <summary>Progress of training.</summary>
public readonly record struct TrainingProgress(string Phase, long Step, long TotalSteps, double Loss, TimeSpan Elapsed);

/// <summary>What training achieved: final training loss and, on held-out positions, each head's top-1 agreement with
/// the target's own prediction (the quantity that decides acceptance).</summary>
public sealed record HeadTrainingReport(long Steps, double FinalLoss, double[] HeldOutTop1, double[] InitialTop1, int Positions, TimeSpan Elapsed);

/// <summary>
/// Trains <see cref="DraftHeads"/> with the target frozen: runs the target over text (the user's, or text it generates
/// itself), caches each position's final normalised hidden state and the target's own next-token distribution, then
/// fits the heads by soft cross-entropy against the target's distribution k positions later (self-distillation: the
/// heads learn what the target will say, which is what verification accepts). AdamW, seeded, resumable.
/// </summary>
public sealed class HeadTrainer
{
    readonly TransformerModel _model;
    readonly ITokenizer _tokenizer;
    readonly HeadTrainingOptions _o;
    readonly int _d, _v;

    // The cache: per position the hidden state, the input token, the window it belongs to, and the teacher's top-M.
    float[] _hidden = [];
    int[] _tokens = [];
    int[] _windowEnd = [];
    int[] _teacherIds = [];
    float[] _teacherP = [];
    int _count;
    float[]? _outputRows; // the target's output matrix as floats [V x D] (for dL/dh' = W_out^T dL/dlogits)

    /// <summary>Creates a trainer for <paramref name="model"/>.</summary>
    public HeadTrainer(TransformerModel model, ITokenizer tokenizer, HeadTrainingOptions options)
    {
        _model = model;
        _tokenizer = tokenizer;
        _o = options;
        _d = model.Config.EmbeddingSize;
        _v = model.Config.VocabSize;
        if ((long)_v * _d > 256L << 20) throw new NotSupportedException($"the output matrix ({_v} x {_d}) is too large to train heads on here (limit 256M elements)");
    }

    /// <summary>Positions cached.</summary>
    public int Positions => _count;

    /// <summary>Tokenizes the files and caches hidden states (or generates text with the model when no files are given).</summary>
    public void PrepareData(IReadOnlyList<string> files, Action<TrainingProgress>? progress = null)
    {
        var streams = new List<int[]>();
        if (files.Count > 0)
        {
            foreach (var f in files)
            {
                if (!File.Exists(f)) throw new FileNotFoundException($"training data file not found: {f}", f);
                streams.Add(_tokenizer.Encode(File.ReadAllText(f), addSpecial: false));
            }
        }
        else streams.AddRange(SelfGeneratedText.Generate(_model, _tokenizer, _o.SelfGeneratedTokens, _o.Seed, progress));
        int window = Math.Min(_o.Window, _model.Config.ContextLength);
        long available = 0;
        foreach (var s in streams) available += s.Length;
        int capacity = (int)Math.Min(available, _o.MaxPositions);
        _hidden = new float[(long)capacity * _d];
        _tokens = new int[capacity];
        _windowEnd = new int[capacity];
        _teacherIds = new int[capacity * _o.TeacherTopK];
        _teacherP = new float[capacity * _o.TeacherTopK];
        var batch = new ForwardBatch { CaptureOutputHidden = true };
        var cache = _model.CreateCache(window + 1);
        var top = new int[_o.TeacherTopK];
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
                int windowEnd = _count + n;
                for (int i = 0; i < n; i++)
                {
                    int pos = _count + i;
                    batch.OutputHidden(i).CopyTo(_hidden.AsSpan(pos * _d, _d));
                    _tokens[pos] = stream[start + i];
                    _windowEnd[pos] = windowEnd;
                    var logits = batch.Logits(i);
                    logits.CopyTo(probs);
                    Ops.Softmax(probs);
                    int m = Ops.TopK(probs, top, top.Length);
                    float sum = 0;
                    for (int j = 0; j < m; j++) sum += probs[top[j]];
                    for (int j = 0; j < m; j++)
                    {
                        _teacherIds[pos * top.Length + j] = top[j];
                        _teacherP[pos * top.Length + j] = probs[top[j]] / sum;
                    }
                }
                _count += n;
                progress?.Invoke(new TrainingProgress("caching hidden states", _count, capacity, 0, sw.Elapsed));
            }
        }
        if (_count < 16) throw new ArgumentException($"not enough training text ({_count} positions); give more data");
    }

    /// <summary>Trains and returns the heads (resuming from the checkpoint when it exists).</summary>
    public (DraftHeads Heads, HeadTrainingReport Report) Train(Action<TrainingProgress>? progress = null)
    {
        if (_count == 0) throw new InvalidOperationException("call PrepareData first");
        _outputRows ??= DequantizeOutput();
        var heads = new DraftHeads(_o.Heads, _d, _o.Variant);
        var adam = new AdamW(heads, _o.LearningRate, _o.WeightDecay);
        long step = 0;
        if (_o.CheckpointPath is not null && File.Exists(_o.CheckpointPath)) step = Checkpoint.Load(_o.CheckpointPath, heads, adam);

        // Hold out every 20th window-start block for evaluation; train on the rest.
        var train = new List<int>();
        var held = new List<int>();
        for (int i = 0; i < _count; i++)
        {
            if (i + 1 >= _windowEnd[i]) continue; // no target for head 1 at the last position of a window
            (i / 64 % 20 == 19 ? held : train).Add(i);
        }
        var initial = Evaluate(heads, held);
        var order = train.ToArray();
        long firstStep = step;
        long stepsPerEpoch = Math.Max(1, order.Length / _o.BatchSize);
        long totalSteps = stepsPerEpoch * _o.Epochs;
        var sw = Stopwatch.StartNew();
        var budget = TimeSpan.FromMinutes(_o.Minutes);
        var work = new BatchWork(this, heads);
        double emaLoss = double.NaN;
        while (step < totalSteps && sw.Elapsed < budget)
        {
            if (step % stepsPerEpoch == 0 || step == firstStep) Shuffle(order, _o.Seed, step / stepsPerEpoch);
            int offset = (int)(step % stepsPerEpoch) * _o.BatchSize;
            double loss = work.Step(order.AsSpan(offset, Math.Min(_o.BatchSize, order.Length - offset)));
            adam.Update(work.GradWeights, work.GradBiases);
            step++;
            emaLoss = double.IsNaN(emaLoss) ? loss : 0.98 * emaLoss + 0.02 * loss;
            if (step % 10 == 0) progress?.Invoke(new TrainingProgress("training", step, totalSteps, emaLoss, sw.Elapsed));
            if (_o.CheckpointPath is not null && step % _o.CheckpointEvery == 0) Checkpoint.Save(_o.CheckpointPath, heads, adam, step);
        }
        if (_o.CheckpointPath is not null) Checkpoint.Save(_o.CheckpointPath, heads, adam, step);
        var final = Evaluate(heads, held);
        return (heads, new HeadTrainingReport(step, emaLoss, final, initial, _count, sw.Elapsed));
    }

    static void Shuffle(int[] a, ulong seed, long epoch)
    {
        // Data order depends only on the seed and the epoch, so a resumed run sees the same order.
        Array.Sort(a);
        var r = new Rng(seed ^ ((ulong)epoch + 1) * 0x9E3779B97F4A7C15UL);
        for (int i = a.Length - 1; i > 0; i--)
        {
            int j = (int)(r.NextUInt64() % (ulong)(i + 1));
            (a[i], a[j]) = (a[j], a[i]);
        }
    }

    unsafe float[] DequantizeOutput()
    {
        var w = _model.OutputMatrix;
        var rows = new float[(long)_v * _d];
        fixed (float* p = rows)
            for (int r = 0; r < _v; r++) RowKernels.DequantizeRow(w.Type, w.Row(r), p + (long)r * _d, _d);
        return rows;
    }

    /// <summary>Top-1 agreement of each head with the target's own prediction on the given positions.</summary>
    double[] Evaluate(DraftHeads heads, List<int> positions)
    {
        var result = new double[heads.HeadCount];
        var counts = new int[heads.HeadCount];
        var e = new float[_d];
        var z = new float[_d];
        var outRow = new float[_d];
        var logits = new float[_v];
        foreach (int i in positions)
        {
            for (int k = 0; k < heads.HeadCount; k++)
            {
                int target = i + k + 1;
                if (target >= _windowEnd[i]) break;
                if (heads.Variant == HeadVariant.Hydra) _model.Embed(_tokens[target], e);
                heads.Forward(k, _hidden.AsSpan(i * _d, _d), e, outRow, z);
                _model.ProjectToVocabulary(outRow, 1, logits);
                counts[k]++;
                if (Ops.ArgMax(logits) == _teacherIds[target * _o.TeacherTopK]) result[k]++;
            }
        }
        for (int k = 0; k < result.Length; k++) result[k] = counts[k] == 0 ? 0 : result[k] / counts[k];
        return result;
    }

    /// <summary>
    /// Soft cross-entropy of softmax(<paramref name="logits"/>) against a teacher distribution given on a few ids:
    /// returns the loss and replaces the logits by <paramref name="scale"/> * dL/dlogits = scale * (q - p).
    /// </summary>
    internal static double SoftCrossEntropy(Span<float> logits, ReadOnlySpan<int> ids, ReadOnlySpan<float> p, float scale)
    {
        Ops.Softmax(logits);
        double loss = 0;
        for (int j = 0; j < ids.Length; j++)
        {
            if (p[j] <= 0) continue;
            loss -= p[j] * Math.Log(Math.Max(logits[ids[j]], 1e-12f));
            logits[ids[j]] -= p[j];
        }
        if (scale != 1f) for (int i = 0; i < logits.Length; i++) logits[i] *= scale;
        return loss;
    }

    /// <summary>dL/dh' = W_outᵀ dL/dlogits, with W_out given as rows [V x d].</summary>
    internal static unsafe void BackpropOutput(float[] outputRows, int d, ReadOnlySpan<float> gradLogits, Span<float> gradHidden)
    {
        gradHidden.Clear();
        fixed (float* w = outputRows, go = gradHidden)
            for (int tok = 0; tok < gradLogits.Length; tok++)
            {
                float g = gradLogits[tok];
                if (g == 0) continue;
                Ops.Axpy(g, w + (long)tok * d, go, d);
            }
    }

    /// <summary>Buffers and the forward/backward of one optimisation step.</summary>
    sealed class BatchWork(HeadTrainer t, DraftHeads heads)
    {
        public readonly float[][] GradWeights = heads.Weights.Select(w => new float[w.Length]).ToArray();
        public readonly float[][] GradBiases = heads.Biases.Select(b => new float[b.Length]).ToArray();
        float[] _inputs = [], _embeds = [], _pre = [], _outs = [], _logits = [], _gradOut = [];
        int[] _targets = [];

        public double Step(ReadOnlySpan<int> positions)
        {
            int d = t._d, v = t._v, m = t._o.TeacherTopK;
            foreach (var g in GradWeights) Array.Clear(g);
            foreach (var g in GradBiases) Array.Clear(g);
            double totalLoss = 0;
            int samples = 0;
            for (int k = 0; k < heads.HeadCount; k++)
            {
                // Gather the positions that have a target for head k (inside their window).
                int n = 0;
                Ensure(positions.Length, d, v);
                foreach (int i in positions)
                {
                    int target = i + k + 1;
                    if (target >= t._windowEnd[i]) continue;
                    _targets[n] = target;
                    t._hidden.AsSpan(i * d, d).CopyTo(_inputs.AsSpan(n * d, d));
                    if (heads.Variant == HeadVariant.Hydra) t._model.Embed(t._tokens[target], _embeds.AsSpan(n * d, d));
                    n++;
                }
                if (n == 0) continue;
                for (int s = 0; s < n; s++)
                    heads.Forward(k, _inputs.AsSpan(s * d, d), _embeds.AsSpan(s * d, d), _outs.AsSpan(s * d, d), _pre.AsSpan(s * d, d));
                t._model.ProjectToVocabulary(_outs, n, _logits);
                for (int s = 0; s < n; s++)
                {
                    var logits = _logits.AsSpan(s * v, v);
                    int target = _targets[s];
                    totalLoss += SoftCrossEntropy(logits, t._teacherIds.AsSpan(target * m, m), t._teacherP.AsSpan(target * m, m), 1f / positions.Length);
                    samples++;
                    var gradOut = _gradOut.AsSpan(0, d);
                    BackpropOutput(t._outputRows!, d, logits, gradOut);
                    heads.Backward(k, _inputs.AsSpan(s * d, d), _embeds.AsSpan(s * d, d), _pre.AsSpan(s * d, d), gradOut, GradWeights[k], GradBiases[k]);
                }
            }
            return samples == 0 ? 0 : totalLoss / samples;
        }

        void Ensure(int n, int d, int v)
        {
            if (_targets.Length >= n) return;
            _targets = new int[n];
            _inputs = new float[n * d];
            _embeds = new float[n * d];
            _pre = new float[n * d];
            _outs = new float[n * d];
            _logits = new float[n * v];
            _gradOut = new float[d];
        }
    }
}
