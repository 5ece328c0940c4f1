using System.Diagnostics;
using Hunch.Kernels;
using Hunch.KvCache;
using Hunch.Models;
using Hunch.Sampling;
using Hunch.Speculative;
using Hunch.Tokenization;
using Cache = Hunch.KvCache.KvCache;

namespace Hunch.Generation;

/// <summary>
/// A sequence slot: one KV cache plus the tokens whose rows it holds. A slot outlives requests so that the next
/// request (or the next chat turn) that shares a prompt prefix reuses the cached rows instead of recomputing them.
/// </summary>
internal sealed class SequenceSlot(Cache cache, int index)
{
    public readonly Cache Cache = cache;
    public readonly int Index = index;
    public int[] Tokens = new int[256];
    public int CachedCount;          // tokens whose rows are committed in Cache
    public long LastUsed;

    /// <summary>Length of the common prefix between the cached tokens and <paramref name="prompt"/> that can be reused
    /// (the last prompt token is always recomputed: it is the first root).</summary>
    public int ReusablePrefix(ReadOnlySpan<int> prompt)
    {
        int limit = Math.Min(CachedCount, prompt.Length - 1);
        int common = 0;
        while (common < limit && Tokens[common] == prompt[common]) common++;
        return common;
    }

    public void EnsureTokens(int n)
    {
        if (Tokens.Length < n) Array.Resize(ref Tokens, Math.Max(n, Tokens.Length * 2));
    }
}

/// <summary>
/// One request run step by step so that a scheduler can put the rows of several requests into one shared forward.
/// The same algorithm as <see cref="Generator"/> (prefill with prefix reuse, then draft -> forward -> verify ->
/// commit -> observe), split at the forward: <c>Add*</c> appends this request's rows to a batch, the scheduler runs
/// the forward, <c>Complete*</c> reads this request's rows back. Because the engine's forward is batch-invariant
/// bitwise, a request produces exactly the tokens (and logits) it would produce alone.
/// </summary>
internal sealed class GenerationSession
{
    readonly TransformerModel _model;
    readonly ITokenizer? _tokenizer;
    readonly SequenceSlot _slot;
    readonly Cache _cache;
    readonly GenerationOptions _options;
    readonly IDrafter _drafter;
    readonly Sampler _sampler;
    readonly Verifier _verifier;
    readonly Hunch.Grammar.ITokenConstraint? _constraint;   // grammar
    readonly DraftTree _tree = new();
    readonly ForwardBatch _view = new();
    readonly int[] _prompt;
    readonly int _ctx;
    readonly int _maxNodes;
    readonly int _vocab;
    int[] _path = new int[64];
    int _prefilled;            // prompt tokens with committed rows
    int _length;               // committed tokens in the slot's token array (root last) during decoding
    int _rowStart, _rowCount;  // this session's rows in the current shared batch
    long _decodeStart;

    public readonly List<int> Output;
    public readonly GenerationStats Stats;
    /// <summary>Tokens emitted by the latest step (valid until the next step).</summary>
    public readonly List<int> StepTokens = new(8);
    /// <summary>Log-probabilities of <see cref="StepTokens"/> when asked for (raw target distribution, before sampling transforms).</summary>
    public readonly List<TokenLogprobData> StepLogprobs = new(8);
    public readonly int TopLogprobs;   // -1: no logprobs
    public FinishReason? Finish { get; private set; }
    /// <summary>Emitted tokens, one per draft step: exponential moving average of accepted drafts per drafted node.</summary>
    public double AcceptRate { get; private set; } = 0.5;

    public GenerationSession(TransformerModel model, ITokenizer? tokenizer, SequenceSlot slot, int[] prompt,
        GenerationOptions options, IDrafter drafter, int topLogprobs)
    {
        var cfg = model.Config;
        if (prompt.Length == 0) throw new ArgumentException("the prompt is empty (no tokens)");
        if (options.MaxTokens < 0) throw new ArgumentException($"max tokens {options.MaxTokens} must not be negative");
        options.Sampling.Validate();
        _ctx = options.ContextSize > 0 ? Math.Min(options.ContextSize, slot.Cache.Capacity) : cfg.ContextLength;
        if (prompt.Length + options.MaxTokens > _ctx)
            throw new ContextOverflowException($"prompt ({prompt.Length} tokens) plus max tokens ({options.MaxTokens}) exceeds the context of {_ctx} tokens");
        foreach (int t in prompt)
            if ((uint)t >= (uint)cfg.VocabSize) throw new ArgumentException($"prompt token {t} is outside the vocabulary (0..{cfg.VocabSize - 1})");
        _maxNodes = Math.Max(1, options.MaxDraftNodes);
        if (_ctx + _maxNodes + 1 > slot.Cache.Capacity)
            throw new ContextOverflowException($"the slot's cache holds {slot.Cache.Capacity} rows; {_ctx + _maxNodes + 1} are needed");

        _model = model;
        _tokenizer = tokenizer;
        _slot = slot;
        _cache = slot.Cache;
        _options = options;
        _drafter = drafter;
        _prompt = prompt;
        _vocab = cfg.VocabSize;
        TopLogprobs = topLogprobs;
        _sampler = new Sampler(options.Sampling, cfg.VocabSize);
        _verifier = new Verifier(_sampler, cfg.VocabSize);
        Stats = new GenerationStats { PromptTokens = prompt.Length, Drafter = drafter.Name };
        Output = new List<int>(Math.Min(options.MaxTokens, 1024));

        // Reuse the slot's cached rows for the common prefix; the rest of the prompt is prefilled.
        int common = slot.ReusablePrefix(prompt);
        _cache.Truncate(Math.Min(_cache.Length, common));
        slot.EnsureTokens(_ctx + _maxNodes + 2);
        prompt.CopyTo(slot.Tokens, 0);
        slot.CachedCount = common;
        _prefilled = common;
        drafter.Begin(prompt, options.Sampling);
        _constraint = options.Constraint;   // grammar: reset, and let the verifier mask every node
        _constraint?.Begin(options.Sampling);
        _verifier.Constraint = _constraint;
        Stats.PrefillMs = 0;
        if (options.MaxTokens == 0) Finish = FinishReason.Length;
    }

    /// <summary>Prompt tokens served from the slot's cache instead of being recomputed.</summary>
    public int ReusedPromptTokens { get; private set; } = -1;
    public int PromptLength => _prompt.Length;
    public bool IsPrefilling => _prefilled < _prompt.Length - 1;
    public string DrafterName => _drafter.Name;
    public SequenceSlot Slot => _slot;

    /// <summary>Appends up to <paramref name="maxRows"/> prompt rows to <paramref name="batch"/>; returns how many.</summary>
    public int AddPrefill(ForwardBatch batch, int maxRows)
    {
        if (ReusedPromptTokens < 0) ReusedPromptTokens = _prefilled;
        int n = Math.Min(maxRows, _prompt.Length - 1 - _prefilled);
        if (n <= 0) { _rowCount = 0; return 0; }
        _rowStart = batch.Count;
        _rowCount = n;
        bool all = _drafter.WantsPrefillLogits;
        int parent = -1;
        for (int i = 0; i < n; i++)
            parent = batch.Add(_prompt[_prefilled + i], _cache, _prefilled + i, parent, all || i == n - 1);
        return n;
    }

    /// <summary>Commits the prompt rows computed by the forward.</summary>
    public void CompletePrefill(ForwardBatch batch, double forwardMs)
    {
        if (_rowCount == 0) return;
        _cache.CommitInPlace(_rowCount);
        if (_drafter.WantsPrefillLogits)
            for (int i = 0; i < _rowCount; i++) _drafter.ObservePrefill(_prompt, _prefilled + i, batch.Logits(_rowStart + i));
        _prefilled += _rowCount;
        _slot.CachedCount = _prefilled;
        Stats.PrefillMs += forwardMs;
        _rowCount = 0;
    }

    /// <summary>Drafts (at most <paramref name="maxNodes"/> nodes, root included; 1 = plain decoding) and appends the
    /// tree's rows to <paramref name="batch"/>; returns the number of rows.</summary>
    public int AddStep(ForwardBatch batch, int maxNodes)
    {
        if (ReusedPromptTokens < 0) ReusedPromptTokens = _prefilled;
        if (_length == 0) { _length = _prompt.Length; _decodeStart = Stopwatch.GetTimestamp(); }
        int remaining = _options.MaxTokens - Output.Count;
        long ta = Stopwatch.GetTimestamp();
        var tokens = _slot.Tokens;
        _tree.Reset(tokens[_length - 1]);
        int nodes = Math.Min(Math.Min(maxNodes, _maxNodes), _ctx + _maxNodes - _length);
        if (remaining > 1 && nodes > 1)
        {
            var context = new DraftContext
            {
                Tokens = tokens.AsSpan(0, _length),
                PromptLength = _prompt.Length,
                MaxNodes = nodes,
                MaxDepth = remaining - 1,
                Sampling = _options.Sampling,
                // Self-drafters run the target on this cache's scratch rows; other requests' rows already in the
                // shared batch live in their own caches and are not touched.
                TargetCache = _cache,
            };
            _drafter.Propose(context, _tree);
        }
        _constraint?.PrepareTree(_tree);   // grammar: drop draft nodes it forbids, before the forward
        Stats.DraftMs += Elapsed(ta);
        _rowStart = batch.Count;
        _rowCount = _tree.Count;
        var parents = _tree.Parents;
        var depths = _tree.Depths;
        var nodeTokens = _tree.Tokens;
        for (int i = 0; i < _tree.Count; i++)
            batch.Add(nodeTokens[i], _cache, _length - 1 + depths[i], parents[i] < 0 ? -1 : _rowStart + parents[i]);
        return _rowCount;
    }

    /// <summary>Verifies this session's rows of the finished forward, commits, emits tokens into <see cref="StepTokens"/>.
    /// Returns true when the request has finished.</summary>
    public bool CompleteStep(ForwardBatch batch, double forwardMs)
    {
        Stats.ForwardMs += forwardMs;
        long tc = Stopwatch.GetTimestamp();
        // The verifier and drafters address logits by node index; when other sequences share the batch, hand them
        // a view holding only this session's rows.
        ForwardBatch rows = batch;
        if (_rowStart != 0 || batch.Count != _rowCount)
        {
            _view.Clear();
            var parents = _tree.Parents;
            var depths = _tree.Depths;
            var nodeTokens = _tree.Tokens;
            for (int i = 0; i < _tree.Count; i++) _view.Add(nodeTokens[i], _cache, _length - 1 + depths[i], parents[i]);
            var buffer = _view.LogitBuffer(_vocab);
            for (int i = 0; i < _rowCount; i++) batch.Logits(_rowStart + i).CopyTo(buffer.Slice(i * _vocab, _vocab));
            rows = _view;
        }

        var tokens = _slot.Tokens;
        if (_path.Length < _tree.MaxDepth + 2) _path = new int[_tree.MaxDepth + 2];
        int pathLength = _verifier.Verify(_tree, rows, tokens, _length, _path, out int extra);
        _constraint?.Commit(_tree, _path.AsSpan(0, pathLength), extra);   // grammar
        _cache.Commit(_path.AsSpan(0, pathLength));
        _drafter.Observe(_tree, rows, _path.AsSpan(0, pathLength), extra);

        Stats.Steps++;
        int drafted = _tree.Count - 1;
        Stats.DraftedTokens += drafted;
        Stats.ScoredTokens += _tree.Count;
        Stats.AcceptedTokens += pathLength - 1;
        Stats.CountAccepted(pathLength - 1);
        if (drafted > 0) AcceptRate = 0.8 * AcceptRate + 0.2 * ((double)(pathLength - 1) / Math.Min(drafted, _tree.MaxDepth));

        StepTokens.Clear();
        StepLogprobs.Clear();
        var nodeTokens2 = _tree.Tokens;
        for (int i = 1; i <= pathLength && Output.Count < _options.MaxTokens; i++)
        {
            int tok = i < pathLength ? nodeTokens2[_path[i]] : extra;
            if (_options.StopAtEndOfGeneration && _tokenizer is not null && _tokenizer.IsEndOfGeneration(tok)) { Finish = FinishReason.Stop; break; }
            Output.Add(tok);
            StepTokens.Add(tok);
            if (TopLogprobs >= 0) StepLogprobs.Add(ComputeLogprob(rows.Logits(_path[i - 1]), tok, TopLogprobs));
        }
        for (int i = 1; i < pathLength; i++) tokens[_length + i - 1] = nodeTokens2[_path[i]];
        _length += pathLength - 1;
        tokens[_length++] = extra;
        _slot.CachedCount = _cache.Length;
        Stats.VerifyMs += Elapsed(tc);
        if (Finish is null && Output.Count >= _options.MaxTokens) Finish = FinishReason.Length;
        if (Finish is null && _constraint is { IsComplete: true }) Finish = FinishReason.Stop;   // grammar: nothing may follow
        _rowCount = 0;
        return Finish is not null;
    }

    /// <summary>Ends the request early (stop string, cancellation, error).</summary>
    public void Stop(FinishReason reason)
    {
        Finish ??= reason;
    }

    /// <summary>Final measurements (call once after the request ended).</summary>
    public GenerationStats FinalStats()
    {
        if (_decodeStart != 0) Stats.DecodeMs = Elapsed(_decodeStart);
        Stats.GeneratedTokens = Output.Count;
        // The slot keeps only rows that match its token array (the root of the last step has no row yet).
        _slot.CachedCount = Math.Min(_slot.CachedCount, _cache.Length);
        _slot.LastUsed = Stopwatch.GetTimestamp();
        _drafter.Dispose();
        return Stats;
    }

    /// <summary>Log-softmax of the target logits that produced <paramref name="token"/>, with the most likely alternatives.</summary>
    static TokenLogprobData ComputeLogprob(ReadOnlySpan<float> logits, int token, int top)
    {
        float max = float.NegativeInfinity;
        foreach (float l in logits) if (l > max) max = l;
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - max);
        double logZ = max + Math.Log(sum);
        var data = new TokenLogprobData(token, (float)(logits[token] - logZ), top > 0 ? new (int, float)[Math.Min(top, logits.Length)] : []);
        if (top > 0)
        {
            var idx = new int[data.Top.Length];
            int n = Ops.TopK(logits, idx, idx.Length);
            for (int i = 0; i < n; i++) data.Top[i] = (idx[i], (float)(logits[idx[i]] - logZ));
        }
        return data;
    }

    static double Elapsed(long start) => Stopwatch.GetElapsedTime(start).TotalMilliseconds;
}

/// <summary>Log-probability of one emitted token and of the most likely alternatives at its position.</summary>
internal readonly record struct TokenLogprobData(int Token, float Logprob, (int Token, float Logprob)[] Top);
