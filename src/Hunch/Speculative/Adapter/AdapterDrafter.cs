using Hunch.Kernels;
using Hunch.Models;
using Hunch.Sampling;
using Hunch.Speculative.Model;
using Hunch.Training;
using Cache = Hunch.KvCache.KvCache;

namespace Hunch.Speculative.Adapter;

/// <summary>
/// Kangaroo drafting (docs/self-speculation.md): the shallow sub-network (the target's first L layers) plus a trained
/// <see cref="KangarooAdapter"/> and the target's frozen final norm and output matrix draft a chain autoregressively;
/// drafting stops when the top-1 probability of the token just drafted falls under η (Kangaroo's second early exit;
/// that token is still verified) or at the depth cap. The shallow layers' rows for the root and the drafts are
/// scratch rows in the target's cache after the committed ones, truncated back when drafting ends (the verification
/// pass rewrites them); committed rows are never touched. The adapter's own cache keeps a row per committed
/// position: rows of drafted tokens are kept when verification accepts them and rolled back otherwise; the prompt's
/// rows and a fully accepted chain's last token come from the exit states the step loop captures in its forwards
/// (<see cref="ILayerStateDrafter"/>). Positions it still lacks (a caller that captures nothing, a reused prompt
/// prefix) are caught up from a private copy of the target's committed shallow rows. Drafts carry q when sampling (the base class), so the rejection sampler stays exact.
/// </summary>
internal sealed class AdapterDrafter : SpineDrafter, ILayerStateDrafter
{
    readonly TransformerModel _model;
    readonly KangarooAdapter _adapter;
    readonly float _eta;
    readonly int _layer, _d, _v;
    readonly ForwardBatch _batch;
    readonly ForwardBatch _catchUpBatch;
    readonly LayerPlan _plan;
    readonly KangarooAdapter.Cache _adapterCache = new();
    readonly KangarooAdapter.StepBuffers _buffers;
    readonly float[] _z, _logits;
    Cache? _private;          // the target's shallow rows for committed positions, for catching the adapter up
    int _privateLength;
    Cache? _cache;
    int _committed, _rootPosition, _fed;
    float _lastTop1;
    int[] _rowTokens = new int[256];   // the token at each adapter row (for reusing rows across requests)

    public AdapterDrafter(TransformerModel model, KangarooAdapter adapter, DraftShape shape, float eta, string name)
        : base(model.Config.VocabSize, shape)
    {
        if (adapter.Hidden != model.Config.EmbeddingSize) throw new ArgumentException("the adapter does not match the model's hidden size");
        if (adapter.Layer < 1 || adapter.Layer >= model.Config.LayerCount) throw new ArgumentException($"adapter layer {adapter.Layer} is out of range for this model");
        if (!(eta >= 0 && eta < 1)) throw new ArgumentException($"eta {eta} must be in [0, 1)");
        _model = model;
        _adapter = adapter;
        _eta = eta;
        _layer = adapter.Layer;
        _d = model.Config.EmbeddingSize;
        _v = model.Config.VocabSize;
        _plan = new LayerPlan { ExitLayer = _layer };
        _batch = new ForwardBatch { CaptureLayer = _layer };
        _catchUpBatch = new ForwardBatch { CaptureLayer = _layer };
        _buffers = new KangarooAdapter.StepBuffers(_d);
        _z = new float[_d];
        _logits = new float[_v];
        Name = name;
    }

    public override string Name { get; }

    public int StateLayer => _layer;

    public void ObservePrefillStates(int firstPosition, ForwardBatch batch, int rows)
    {
        // Only what extends the rows the adapter holds (a gap before firstPosition is left to CatchUp).
        if (batch.CaptureLayer != _layer || firstPosition > _adapterCache.Length) return;
        for (int i = _adapterCache.Length - firstPosition; i < rows; i++) Append(batch.LayerHidden(i), batch.Tokens[i], Span<float>.Empty);
    }

    /// <summary>Appends the adapter row of <paramref name="token"/> (exit state <paramref name="h"/>) at the next position.</summary>
    void Append(ReadOnlySpan<float> h, int token, Span<float> z)
    {
        int pos = _adapterCache.Length;
        if (pos >= _rowTokens.Length) Array.Resize(ref _rowTokens, Math.Max(pos + 1, _rowTokens.Length * 2));
        _rowTokens[pos] = token;
        _adapter.Step(h, _adapterCache, _model.OutputNormWeights, _buffers, z);
    }

    public override void Begin(ReadOnlySpan<int> prompt, SamplingOptions sampling)
    {
        base.Begin(prompt, sampling);
        // Rows depend only on the tokens before and at their position: keep those of the common prefix with the
        // previous request (the step loop reuses the target's rows the same way), never the root's.
        int common = 0, limit = Math.Min(_adapterCache.Length, prompt.Length - 1);
        while (common < limit && _rowTokens[common] == prompt[common]) common++;
        _adapterCache.Truncate(common);
        _privateLength = Math.Min(_privateLength, common);
    }

    protected override ReadOnlySpan<float> StartStep(in DraftContext context)
    {
        if (context.TargetCache is not { } cache) return ReadOnlySpan<float>.Empty;
        if (!ReferenceEquals(cache.Config, _model.Config) && cache.Config != _model.Config)
            throw new InvalidOperationException("adapter drafting: the target cache belongs to another model");
        _committed = cache.Length;
        _rootPosition = context.Tokens.Length - 1;
        if (_rootPosition != _committed || _committed + 2 > cache.Capacity) return ReadOnlySpan<float>.Empty;
        CatchUp(cache, context.Tokens);
        _cache = cache;
        _fed = 0;
        return Run(context.Tokens[^1], _rootPosition);
    }

    protected override ReadOnlySpan<float> Advance(in DraftContext context, int token, int depth)
    {
        // Kangaroo's second early exit: the token just drafted was not confident enough; it is verified, no more.
        if (_lastTop1 < _eta) return ReadOnlySpan<float>.Empty;
        if (_cache is null || _cache.Length + 2 > _cache.Capacity) return ReadOnlySpan<float>.Empty;
        return Run(token, _rootPosition + depth);
    }

    /// <summary>Shallow layers on the target cache (a scratch row), then one adapter step and the output matrix.</summary>
    ReadOnlySpan<float> Run(int token, int position)
    {
        _batch.Clear();
        _batch.Add(token, _cache!, position, wantLogits: false);
        _model.ForwardLayers(_batch, _plan);
        _cache!.CommitInPlace(1);   // kept for the rest of this round only; EndStep truncates back
        if (_adapterCache.Length != position) throw new InvalidOperationException("adapter cache out of step with the sequence");
        Append(_batch.LayerHidden(0), token, _z);
        _fed++;
        _model.ProjectToVocabulary(_z, 1, _logits);
        _lastTop1 = DraftPicker.TopProbability(_logits, out _);
        return _logits;
    }

    /// <summary>Gives the adapter a row for every committed position it lacks: copies the target's committed rows of
    /// the shallow layers into a private cache and runs the missing tokens there (never in the target cache).</summary>
    void CatchUp(Cache cache, ReadOnlySpan<int> tokens)
    {
        int from = _adapterCache.Length;
        if (from >= _committed) return;
        _private ??= _model.CreateCache(cache.Capacity);
        if (_privateLength > from) _privateLength = from;
        _private.Truncate(Math.Min(_private.Length, _privateLength));
        // Copy committed rows [privateLength, from) of the shallow layers (identical to what they would compute).
        int kv = _model.Config.KvDim;
        _private.EnsureRows(from + 1);
        for (int l = 0; l < _layer; l++)
        {
            Array.Copy(cache.Keys[l], _privateLength * kv, _private.Keys[l], _privateLength * kv, (from - _privateLength) * kv);
            Array.Copy(cache.Values[l], _privateLength * kv, _private.Values[l], _privateLength * kv, (from - _privateLength) * kv);
        }
        _private.Truncate(0);
        _private.CommitInPlace(from);
        const int Chunk = 64;
        for (int start = from; start < _committed; start += Chunk)
        {
            int n = Math.Min(Chunk, _committed - start);
            _catchUpBatch.Clear();
            int parent = -1;
            for (int i = 0; i < n; i++) parent = _catchUpBatch.Add(tokens[start + i], _private, start + i, parent, wantLogits: false);
            _model.ForwardLayers(_catchUpBatch, _plan);
            _private.CommitInPlace(n);
            for (int i = 0; i < n; i++) Append(_catchUpBatch.LayerHidden(i), tokens[start + i], Span<float>.Empty);
        }
        _privateLength = _committed;
    }

    protected override void EndStep(in DraftContext context)
    {
        if (_cache is not null)
        {
            _cache.Truncate(_committed);
            _cache = null;
        }
    }

    public override void Observe(DraftTree tree, ForwardBatch batch, ReadOnlySpan<int> acceptedPath, int extraToken)
    {
        base.Observe(tree, batch, acceptedPath, extraToken);
        if (_fed == 0) return;
        // The chain's nodes are 1, 2, ... in depth order (width 1). Adapter rows: root, then each fed draft.
        int accepted = 0;
        while (accepted + 1 < acceptedPath.Length && acceptedPath[accepted + 1] == accepted + 1) accepted++;
        int keep = Math.Min(_rootPosition + 1 + accepted, _rootPosition + _fed);
        if (keep < _adapterCache.Length) _adapterCache.Truncate(keep);
        // Accepted drafts the adapter never fed (the chain's last token): the verification pass computed their exit
        // states (batch row i is node i), exactly what the shallow layers would give.
        if (batch.CaptureLayer == _layer)
            for (int depth = keep - _rootPosition; depth <= accepted; depth++)
                Append(batch.LayerHidden(acceptedPath[depth]), tree.Tokens[acceptedPath[depth]], Span<float>.Empty);
        _fed = 0;
    }
}
