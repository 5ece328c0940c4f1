using System.Diagnostics;
using Hunch.KvCache;
using Hunch.Models;
using Hunch.Sampling;
using Hunch.Speculative;
using Hunch.Tokenization;
using Cache = Hunch.KvCache.KvCache;

namespace Hunch.Generation;

/// <summary>
/// Runs requests on one model and one sequence cache: prefill, then speculative steps (plain decoding is the
/// step with an empty draft). The step: drafter proposes a tree -> one batched forward over its nodes ->
/// verifier returns the accepted path and one extra token -> the cache commits the accepted rows -> the
/// drafter observes. Cached prompt prefixes are reused across requests. Not thread-safe: one request at a time.
/// </summary>
public sealed class Generator
{
    readonly TransformerModel _model;
    readonly ITokenizer? _tokenizer;
    readonly ForwardBatch _batch = new();
    readonly DraftTree _tree = new();
    Cache? _cache;
    int[] _tokens = new int[1024];      // committed tokens (those with cached rows), then path scratch
    int _cachedCount;                    // tokens whose rows are in the cache
    int[] _path = new int[64];

    /// <summary>Creates a generator. <paramref name="tokenizer"/> supplies end-of-generation tokens (optional).</summary>
    public Generator(TransformerModel model, ITokenizer? tokenizer)
    {
        _model = model;
        _tokenizer = tokenizer;
    }

    /// <summary>The model.</summary>
    public TransformerModel Model => _model;

    /// <summary>
    /// Generates after <paramref name="prompt"/>. <paramref name="onTokens"/> receives each step's newly emitted
    /// tokens and may return false to stop. Throws <see cref="ContextOverflowException"/> when the prompt plus
    /// the budget does not fit the context (unless truncation is asked for).
    /// </summary>
    public GenerationResult Generate(ReadOnlySpan<int> prompt, GenerationOptions options, IDrafter? drafter = null,
        Func<ReadOnlySpan<int>, bool>? onTokens = null, CancellationToken cancellationToken = default)
    {
        drafter ??= new NoDrafter();
        _batch.CaptureOutputHidden = drafter is Speculative.Heads.IHiddenStateDrafter;
        var layerStates = drafter as Speculative.ILayerStateDrafter;
        _batch.CaptureLayer = layerStates?.StateLayer ?? 0;
        var cfg = _model.Config;
        if (prompt.Length == 0) throw new ArgumentException("the prompt is empty (no tokens)");
        if (options.MaxTokens < 0) throw new ArgumentException($"max tokens {options.MaxTokens} must not be negative");
        options.Sampling.Validate();
        int ctx = options.ContextSize > 0 ? options.ContextSize : cfg.ContextLength;
        if (prompt.Length + options.MaxTokens > ctx)
        {
            if (!options.TruncatePrompt || options.MaxTokens >= ctx)
                throw new ContextOverflowException($"prompt ({prompt.Length} tokens) plus max tokens ({options.MaxTokens}) exceeds the context of {ctx} tokens; shorten the prompt, lower max tokens, raise the context, or truncate");
            prompt = prompt[^(ctx - options.MaxTokens)..];
        }
        foreach (int t in prompt)
            if ((uint)t >= (uint)cfg.VocabSize) throw new ArgumentException($"prompt token {t} is outside the vocabulary (0..{cfg.VocabSize - 1})");

        int maxNodes = Math.Max(1, options.MaxDraftNodes);
        int capacity = ctx + maxNodes + 1;
        if (_cache is null || _cache.Capacity < capacity) { _cache = new Cache(cfg, capacity); _cachedCount = 0; }
        EnsureTokens(ctx + maxNodes + 2);

        var stats = new GenerationStats { PromptTokens = prompt.Length, Drafter = drafter.Name };
        var sampler = new Sampler(options.Sampling, cfg.VocabSize);
        var verifier = new Verifier(sampler, cfg.VocabSize);
        drafter.Begin(prompt, options.Sampling);
        var constraint = options.Constraint;   // grammar: reset, and let the verifier mask every node
        constraint?.Begin(options.Sampling);
        verifier.Constraint = constraint;

        // Prefill prompt[0 .. n-2], reusing the rows of a cached common prefix; the last prompt token is the first root.
        long t0 = Stopwatch.GetTimestamp();
        int common = 0;
        int limit = Math.Min(_cachedCount, prompt.Length - 1);
        while (common < limit && _tokens[common] == prompt[common]) common++;
        _cache.Truncate(Math.Min(_cache.Length, common));
        prompt.CopyTo(_tokens);
        int done = common;
        while (done < prompt.Length - 1)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int n = Math.Min(options.PrefillChunk, prompt.Length - 1 - done);
            _batch.Clear();
            _batch.AddSequence(prompt.Slice(done, n), _cache, done, drafter.WantsPrefillLogits);
            _model.Forward(_batch);
            _cache.CommitInPlace(n);
            if (drafter.WantsPrefillLogits)
                for (int i = 0; i < n; i++) drafter.ObservePrefill(prompt, done + i, _batch.Logits(i));
            layerStates?.ObservePrefillStates(done, _batch, n);
            done += n;
        }
        _cachedCount = done;
        stats.PrefillMs = Elapsed(t0);

        var output = new List<int>(Math.Min(options.MaxTokens, 4096));
        int length = prompt.Length;     // committed tokens in _tokens (the last one is the root, not cached yet)
        var finish = FinishReason.Length;
        long tDecode = Stopwatch.GetTimestamp();
        while (output.Count < options.MaxTokens)
        {
            if (cancellationToken.IsCancellationRequested) { finish = FinishReason.Cancelled; break; }
            if (constraint is { IsComplete: true }) { finish = FinishReason.Stop; break; }   // grammar: nothing may follow
            int remaining = options.MaxTokens - output.Count;

            long ta = Stopwatch.GetTimestamp();
            _tree.Reset(_tokens[length - 1]);
            var context = new DraftContext
            {
                Tokens = _tokens.AsSpan(0, length),
                PromptLength = prompt.Length,
                MaxNodes = Math.Min(maxNodes, ctx + maxNodes - length),
                MaxDepth = remaining - 1,
                Sampling = options.Sampling,
                TargetCache = _cache,
            };
            if (remaining > 1)
            {
                int committedRows = _cache.Length;
                drafter.Propose(context, _tree);
                if (_cache.Length != committedRows) throw new InvalidOperationException($"drafter '{drafter.Name}' changed the target cache length");
            }
            constraint?.PrepareTree(_tree);   // grammar: drop draft nodes it forbids, before the forward
            stats.DraftMs += Elapsed(ta);

            long tb = Stopwatch.GetTimestamp();
            _batch.Clear();
            var parents = _tree.Parents;
            var depths = _tree.Depths;
            var nodeTokens = _tree.Tokens;
            for (int i = 0; i < _tree.Count; i++)
                _batch.Add(nodeTokens[i], _cache, length - 1 + depths[i], parents[i]);
            _model.Forward(_batch);
            stats.ForwardMs += Elapsed(tb);

            long tc = Stopwatch.GetTimestamp();
            if (_path.Length < _tree.MaxDepth + 2) _path = new int[_tree.MaxDepth + 2];
            int pathLength = verifier.Verify(_tree, _batch, _tokens, length, _path, out int extra);
            constraint?.Commit(_tree, _path.AsSpan(0, pathLength), extra);   // grammar
            _cache.Commit(_path.AsSpan(0, pathLength));
            _cachedCount = _cache.Length;
            drafter.Observe(_tree, _batch, _path.AsSpan(0, pathLength), extra);
            stats.VerifyMs += Elapsed(tc);

            stats.Steps++;
            stats.DraftedTokens += _tree.Count - 1;
            stats.ScoredTokens += _tree.Count;
            stats.AcceptedTokens += pathLength - 1;
            stats.CountAccepted(pathLength - 1);

            // Emit accepted drafts then the extra token, stopping at the budget or an end-of-generation token.
            int start = output.Count;
            bool stop = false;
            for (int i = 1; i <= pathLength && output.Count < options.MaxTokens; i++)
            {
                if (constraint is not null && constraint.IsCompleteAt(_path[i - 1])) { stop = true; break; }   // grammar: nothing may follow
                int tok = i < pathLength ? nodeTokens[_path[i]] : extra;
                if (options.StopAtEndOfGeneration && _tokenizer is not null && _tokenizer.IsEndOfGeneration(tok)) { stop = true; break; }
                output.Add(tok);
            }
            // Committed tokens: the path tokens now cached, then the extra token as the next root.
            for (int i = 1; i < pathLength; i++) _tokens[length + i - 1] = nodeTokens[_path[i]];
            length += pathLength - 1;
            _tokens[length++] = extra;

            if (output.Count > start && onTokens is not null && !onTokens(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(output)[start..]))
                stop = true;
            if (stop) { finish = FinishReason.Stop; break; }
        }
        stats.DecodeMs = Elapsed(tDecode);
        stats.GeneratedTokens = output.Count;
        return new GenerationResult { PromptTokens = prompt.ToArray(), Tokens = output.ToArray(), FinishReason = finish, Stats = stats };
    }

    void EnsureTokens(int n)
    {
        if (_tokens.Length < n) Array.Resize(ref _tokens, n);
    }

    static double Elapsed(long start) => Stopwatch.GetElapsedTime(start).TotalMilliseconds;
}
