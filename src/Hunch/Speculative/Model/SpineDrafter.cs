using Hunch.Models;
using Hunch.Sampling;

namespace Hunch.Speculative.Model;

/// <summary>Shape and length control of a chain (width 1) or a chain with top-k siblings at each depth.</summary>
public sealed record DraftShape
{
    /// <summary>Upper bound of the draft length (the adaptive cap never exceeds it).</summary>
    public int MaxDepth { get; init; } = 8;
    /// <summary>Most children per chain node, the chain's own child included (1 = chain). Siblings are leaves.</summary>
    public int Width { get; init; } = 1;
    /// <summary>Drafting stops once the estimated probability that the whole chain survives falls below this.</summary>
    public double Threshold { get; init; } = 0.2;
    /// <summary>Adapt the length cap online: +2 after a fully accepted chain, -1 otherwise (Spec-Bench's rule).</summary>
    public bool AdaptiveLength { get; init; } = true;

    internal void Validate()
    {
        if (MaxDepth < 1 || MaxDepth > 64) throw new ArgumentException($"draft depth {MaxDepth} must be in 1..64");
        if (Width < 1 || Width > 16) throw new ArgumentException($"draft width {Width} must be in 1..16");
        if (!(Threshold >= 0 && Threshold < 1)) throw new ArgumentException($"confidence threshold {Threshold} must be in [0, 1)");
    }
}

/// <summary>
/// Acceptance of a draft token as a function of the draft's confidence in it, learned online from verified steps:
/// raw draft probabilities are badly calibrated (a weak draft model is over-confident, a raw early exit
/// under-confident), so the stop rule multiplies calibrated values instead. Bins over [0, 1] with decayed counts
/// and a prior at the bin centre.
/// </summary>
internal sealed class ConfidenceCalibration
{
    const int Bins = 20;
    const double Decay = 0.995;
    const double PriorWeight = 2.0;
    readonly double[] _accepted = new double[Bins];
    readonly double[] _seen = new double[Bins];

    static int Bin(float confidence) => Math.Clamp((int)(confidence * Bins), 0, Bins - 1);

    public double Estimate(float confidence)
    {
        int b = Bin(confidence);
        double prior = (b + 0.5) / Bins;
        return (_accepted[b] + PriorWeight * prior) / (_seen[b] + PriorWeight);
    }

    public void Record(float confidence, bool accepted)
    {
        int b = Bin(confidence);
        _accepted[b] = _accepted[b] * Decay + (accepted ? 1 : 0);
        _seen[b] = _seen[b] * Decay + 1;
    }
}

/// <summary>
/// A drafter that extends one chain token by token from some cheaper model of the target (a draft model, or the
/// target run with fewer layers) and may hang the next-best tokens as leaf siblings at each depth. The chain stops
/// when the calibrated probability that it survives falls under <see cref="DraftShape.Threshold"/>, at the adaptive
/// length cap, or at the node budget. Subclasses provide the logits: the root's, then one more token at a time.
/// </summary>
internal abstract class SpineDrafter : IDrafter
{
    readonly DraftShape _shape;
    readonly ConfidenceCalibration _calibration = new();
    readonly int[] _picked = new int[16];
    readonly float[]?[] _pickedQ = new float[]?[16];
    int[] _chain = new int[64];
    float[] _chainConfidence = new float[64];
    int _chainLength;
    int _depthCap;

    protected SpineDrafter(int targetVocab, DraftShape shape)
    {
        shape.Validate();
        _shape = shape;
        Picker = new DraftPicker(targetVocab);
        _depthCap = Math.Min(shape.MaxDepth, 4);
    }

    /// <summary>Turns logits into picks, owns the drafter's random stream and the q arrays.</summary>
    internal DraftPicker Picker { get; }

    /// <summary>The current adaptive length cap.</summary>
    internal int DepthCap => _depthCap;

    public abstract string Name { get; }
    public bool WantsPrefillLogits => false;
    public void ObservePrefill(ReadOnlySpan<int> prompt, int index, ReadOnlySpan<float> logits) { }

    public virtual void Begin(ReadOnlySpan<int> prompt, SamplingOptions sampling)
    {
        Picker.Begin(sampling, 0x6A09E667F3BCC909UL);
    }

    /// <summary>Logits of the draft's next-token distribution after the root, or empty to propose nothing.</summary>
    protected abstract ReadOnlySpan<float> StartStep(in DraftContext context);
    /// <summary>Feeds the chain token at <paramref name="depth"/> (1 = the root's child) and returns the next logits.</summary>
    protected abstract ReadOnlySpan<float> Advance(in DraftContext context, int token, int depth);
    /// <summary>Called after drafting, also on failure (self-drafters roll the target cache back here).</summary>
    protected virtual void EndStep(in DraftContext context) { }

    public void Propose(in DraftContext context, DraftTree tree)
    {
        _chainLength = 0;
        Picker.NewStep();
        int maxDepth = Math.Min(context.MaxDepth, _shape.AdaptiveLength ? _depthCap : _shape.MaxDepth);
        if (maxDepth <= 0 || context.MaxNodes < 2) return;
        if (_chain.Length < maxDepth) { _chain = new int[maxDepth]; _chainConfidence = new float[maxDepth]; }
        try
        {
            var logits = StartStep(context);
            if (logits.IsEmpty) return;
            int parent = 0;
            double survival = 1.0;
            for (int depth = 1; depth <= maxDepth; depth++)
            {
                int room = context.MaxNodes - tree.Count;
                if (room <= 0) break;
                int picked;
                float confidence;
                if (Picker.Greedy)
                {
                    float top = DraftPicker.TopProbability(Picker.Pad(logits), out _);
                    picked = Picker.Pick(logits, Math.Min(room, SiblingCount(top)), _picked, _pickedQ, out confidence);
                }
                else
                {
                    var q = Picker.Distribution(logits);
                    float top = 0;
                    foreach (float v in q) top = Math.Max(top, v);
                    picked = Picker.PickFrom(q, Math.Min(room, SiblingCount(top)), _picked, _pickedQ, out confidence);
                }
                if (picked == 0) break;
                int chainNode = -1;
                for (int i = 0; i < picked; i++)
                {
                    int node = tree.Add(_picked[i], parent, _pickedQ[i]);
                    if (i == 0) chainNode = node;
                }
                _chain[_chainLength] = chainNode;
                _chainConfidence[_chainLength++] = confidence;
                survival *= _calibration.Estimate(confidence);
                if (depth == maxDepth || survival < _shape.Threshold || tree.Count >= context.MaxNodes) break;
                parent = chainNode;
                logits = Advance(context, _picked[0], depth);
                if (logits.IsEmpty) break;
            }
        }
        finally
        {
            EndStep(context);
        }
    }

    /// <summary>Siblings per depth from the draft's top probability (SWIFT's dynamic verification): many when the
    /// draft is unsure, one when it is sure. Decided before any token is drawn, so q stays exact.</summary>
    int SiblingCount(float topProbability)
    {
        int w = _shape.Width;
        if (w <= 1) return 1;
        if (topProbability <= 0.5f) return w;
        if (topProbability <= 0.8f) return Math.Max(1, (w + 1) / 2);
        if (topProbability <= 0.95f) return Math.Min(2, w);
        return 1;
    }

    public virtual void Observe(DraftTree tree, ForwardBatch batch, ReadOnlySpan<int> acceptedPath, int extraToken)
    {
        // Chain node i (depth i + 1) was tried iff every chain node above it was accepted.
        int accepted = 0;
        for (int i = 0; i < _chainLength; i++)
        {
            bool ok = acceptedPath.Length > i + 1 && acceptedPath[i + 1] == _chain[i];
            _calibration.Record(_chainConfidence[i], ok);
            if (!ok) break;
            accepted++;
        }
        if (_shape.AdaptiveLength && _chainLength > 0)
            _depthCap = accepted == _chainLength ? Math.Min(_shape.MaxDepth, _depthCap + 2) : Math.Max(1, _depthCap - 1);
    }

    public virtual void Dispose() { }
}
