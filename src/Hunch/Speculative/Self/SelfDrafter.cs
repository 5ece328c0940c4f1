using System.Diagnostics;
using Hunch.Models;
using Hunch.Sampling;
using Hunch.Speculative.Model;
using Cache = Hunch.KvCache.KvCache;

namespace Hunch.Speculative.Self;

/// <summary>How the target drafts for itself.</summary>
internal enum SelfDraftMode
{
    /// <summary>SWIFT: the full depth with some attention / feed-forward sub-layers skipped, the set searched online.</summary>
    SkipLayers,
    /// <summary>Early exit (Kangaroo/DEL without an adapter): the first E layers, then the final norm and output
    /// matrix. E fixed, or chosen online among 1..L-1.</summary>
    EarlyExit,
}

/// <summary>
/// Self-speculation without training: the target model drafts a chain with a cheaper plan of its own layers
/// (<see cref="LayerPlan"/>), the full model verifies, so output is unchanged. Drafting runs on the target's own
/// cache: each draft row is written after the committed rows, committed temporarily so the next draft attends to
/// it, and the cache is truncated back when drafting ends; skipped sub-layers and layers past the exit write
/// nothing, and the target's verification pass then overwrites those scratch rows. The plan is chosen online from
/// observed throughput (emitted tokens per second of whole steps): each candidate plan, including "do not draft",
/// runs for a few steps; neighbours of the best plan are tried (SWIFT's random proposals over the sub-layer set)
/// until the search budget is spent, then the best plan stays. "Do not draft" winning switches self-speculation off.
/// </summary>
internal sealed class SelfDrafter : SpineDrafter
{
    const int TrialSteps = 6;
    const int MaxTrials = 24;
    readonly TransformerModel _model;
    readonly SelfDraftMode _mode;
    readonly int _fixedExit;
    readonly ForwardBatch _batch = new();
    readonly int _layers;
    readonly int _candidates;     // sub-layer candidates for skipping: attention and MLP of layers 1..L-2
    Rng _searchRng = new(0x5EED);

    // Search state. A plan key: bit 2i = skip attention of layer 1+i, bit 2i+1 = skip MLP of layer 1+i (skip mode),
    // or the exit layer (exit mode); -1 = do not draft.
    long _current;
    long _best = long.MinValue;
    double _bestScore = -1;
    int _trialSteps;
    int _trials;
    double _trialSeconds;
    int _trialTokens;
    long _lastStart;          // start of the previous step of this request (0: none)
    int _pendingTokens;       // tokens the previous step emitted, counted once its duration is known
    bool _searching = true;
    readonly Dictionary<long, double> _scores = [];
    readonly Queue<long> _pending = new();
    LayerPlan _plan;
    Cache? _cache;
    int _committed;
    int _rootPosition;

    public SelfDrafter(TransformerModel model, SelfDraftMode mode, int exitLayer, DraftShape shape, bool search = true)
        : base(model.Config.VocabSize, shape)
    {
        _model = model;
        _mode = mode;
        _layers = model.Config.LayerCount;
        _candidates = Math.Max(0, 2 * (_layers - 2));
        if (mode == SelfDraftMode.EarlyExit && exitLayer != 0 && (exitLayer < 1 || exitLayer >= _layers))
            throw new ArgumentException($"exit layer {exitLayer} must be in 1..{_layers - 1} for this {_layers}-layer model");
        if (mode == SelfDraftMode.SkipLayers && _candidates == 0)
            throw new ArgumentException($"a {_layers}-layer model has no layer to skip (the first and last are kept)");
        _fixedExit = exitLayer;
        SeedSearch();
        if (!search)
        {
            // Keep the first drafting plan: no "do not draft" baseline, no search.
            _pending.Clear();
            _current = mode == SelfDraftMode.EarlyExit ? (exitLayer > 0 ? exitLayer : _layers - 1) : FirstSkipSet();
            ApplyPlan(_current);
            _searching = false;
        }
    }

    public override string Name => _mode == SelfDraftMode.SkipLayers ? "self:skip" : _fixedExit > 0 ? $"self:exit:{_fixedExit}" : "self:exit";

    /// <summary>The plan in use (for tests and reports): skipped sub-layers or the exit layer.</summary>
    internal string PlanDescription => Describe(_current);

    void SeedSearch()
    {
        _pending.Enqueue(-1);     // baseline: plain decoding
        if (_mode == SelfDraftMode.EarlyExit)
        {
            if (_fixedExit > 0) { _pending.Enqueue(_fixedExit); }
            else for (int e = _layers - 1; e >= 1; e--) _pending.Enqueue(e);
        }
        else
        {
            // SWIFT starts from every other layer; the notes measured on pycoder say MLPs go first, so the seeds
            // are the MLPs of odd layers, then the same with their attention, then a random set of the SWIFT size.
            long mlps = FirstSkipSet(), both = 0;
            for (int i = 0; i < _layers - 2; i++)
                if (((i + 1) & 1) == 1) both |= 3L << (2 * i);
            _pending.Enqueue(mlps);
            if (both != mlps) _pending.Enqueue(both);
            _pending.Enqueue(RandomSet((int)Math.Floor(_candidates * 0.45)));
        }
        _current = _pending.Dequeue();
        ApplyPlan(_current);
    }

    long FirstSkipSet()
    {
        long mlps = 0;
        for (int i = 0; i < _layers - 2; i++)
            if (((i + 1) & 1) == 1) mlps |= 1L << (2 * i + 1);
        return mlps;
    }

    long RandomSet(int size)
    {
        size = Math.Clamp(size, 1, Math.Min(_candidates, 62));
        long set = 0;
        int n = 0;
        while (n < size)
        {
            int c = (int)(_searchRng.NextUInt64() % (ulong)_candidates);
            if ((set & (1L << c)) == 0) { set |= 1L << c; n++; }
        }
        return set;
    }

    long Neighbour(long set)
    {
        for (int attempt = 0; attempt < 16; attempt++)
        {
            long s = set ^ (1L << (int)(_searchRng.NextUInt64() % (ulong)Math.Min(_candidates, 62)));
            if (s != 0 && !_scores.ContainsKey(s)) return s;
        }
        return RandomSet(Math.Max(1, System.Numerics.BitOperations.PopCount((ulong)set)));
    }

    void ApplyPlan(long key)
    {
        if (key < 0) { _plan = default; return; }
        if (_mode == SelfDraftMode.EarlyExit) { _plan = new LayerPlan { ExitLayer = (int)key }; return; }
        var attn = new bool[_layers];
        var mlp = new bool[_layers];
        for (int i = 0; i < _layers - 2; i++)
        {
            attn[1 + i] = (key & (1L << (2 * i))) != 0;
            mlp[1 + i] = (key & (1L << (2 * i + 1))) != 0;
        }
        _plan = new LayerPlan { ExitLayer = _layers, SkipAttention = attn, SkipFeedForward = mlp };
    }

    string Describe(long key)
    {
        if (key < 0) return "off";
        if (_mode == SelfDraftMode.EarlyExit) return $"exit after layer {key}";
        var parts = new List<string>();
        for (int i = 0; i < _layers - 2; i++)
        {
            if ((key & (1L << (2 * i))) != 0) parts.Add($"attn{1 + i}");
            if ((key & (1L << (2 * i + 1))) != 0) parts.Add($"mlp{1 + i}");
        }
        return "skip " + string.Join(",", parts);
    }

    public override void Begin(ReadOnlySpan<int> prompt, SamplingOptions sampling)
    {
        base.Begin(prompt, sampling);
        // A step is timed from its start to the next step's start within one request; the last step of the previous
        // request has no end, so it counts neither time nor tokens.
        _lastStart = 0;
        _pendingTokens = 0;
    }

    protected override ReadOnlySpan<float> StartStep(in DraftContext context)
    {
        long now = Stopwatch.GetTimestamp();
        if (_lastStart != 0)
        {
            _trialSeconds += Stopwatch.GetElapsedTime(_lastStart, now).TotalSeconds;
            _trialTokens += _pendingTokens;
            _trialSteps++;
        }
        _pendingTokens = 0;
        _lastStart = now;
        if (_searching && _trialSteps >= TrialSteps) EndTrial();
        if (_current < 0) return ReadOnlySpan<float>.Empty;

        // A caller that does not expose the target's cache gets plain decoding rather than a failed request.
        if (context.TargetCache is not { } cache) return ReadOnlySpan<float>.Empty;
        if (!ReferenceEquals(cache.Config, _model.Config) && cache.Config != _model.Config)
            throw new InvalidOperationException("self-speculation: the target cache belongs to another model");
        _cache = cache;
        _committed = cache.Length;
        _rootPosition = context.Tokens.Length - 1;
        if (_committed + 2 > cache.Capacity) return ReadOnlySpan<float>.Empty;   // Advance checks each further row
        return Run(context.Tokens[^1], _rootPosition);
    }

    protected override ReadOnlySpan<float> Advance(in DraftContext context, int token, int depth)
    {
        if (_cache is null || _cache.Length + 2 > _cache.Capacity) return ReadOnlySpan<float>.Empty;
        return Run(token, _rootPosition + depth);
    }

    ReadOnlySpan<float> Run(int token, int position)
    {
        _batch.Clear();
        _batch.Add(token, _cache!, position);
        _model.ForwardLayers(_batch, _plan);
        // Keep the row only for the rest of this drafting round: EndStep truncates back to the committed length.
        _cache!.CommitInPlace(1);
        return _batch.Logits(0);
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
        _pendingTokens = acceptedPath.Length;   // accepted drafts + the extra token
    }

    void EndTrial()
    {
        double score = _trialSeconds > 0 ? _trialTokens / _trialSeconds : 0;
        _trialSeconds = 0;
        _trialTokens = 0;
        _scores[_current] = _scores.TryGetValue(_current, out var old) ? 0.5 * (old + score) : score;
        if (_scores[_current] > _bestScore || _best == _current) { _bestScore = _scores[_current]; _best = _current; }
        _trials++;
        _trialSteps = 0;
        long next;
        if (_pending.Count > 0) next = _pending.Dequeue();
        else if (_trials >= MaxTrials || _mode == SelfDraftMode.EarlyExit) { _searching = false; next = _best; }
        else next = _best < 0 ? RandomSet((int)Math.Floor(_candidates * 0.45)) : Neighbour(_best);
        _current = next;
        ApplyPlan(next);
    }
}
