using System.Diagnostics;
using Hunch.Generation;
using Hunch.Models;

namespace Hunch.Api;

public sealed partial class HunchEngine
{
    // Counters (guarded by _lock).
    long _requestsTotal, _rejected, _generated, _promptProcessed, _promptCached, _forwards;
    int _activeCount;
    readonly Dictionary<string, SpeculationStats> _drafterStats = [];
    readonly long[] _rateSecond = new long[10];
    readonly long[] _rateTokens = new long[10];

    /// <summary>The engine thread: admit queued requests into free slots, run one shared forward over a step of
    /// every active request, hand each request its rows back, repeat.</summary>
    void Run()
    {
        var batch = new ForwardBatch();
        var inBatch = new List<(Job Job, bool Prefill)>();
        int rotation = 0;
        while (true)
        {
            if (_disposed) { Shutdown(); return; }
            Admit();
            for (int i = _active.Count - 1; i >= 0; i--)
                if (_active[i].Cancelled) Finish(_active[i], CompletionFinish.Cancelled);
            if (_active.Count == 0)
            {
                _wake.Wait();
                _wake.Reset();
                continue;
            }

            batch.Clear();
            inBatch.Clear();
            int decoding = 0;
            foreach (var job in _active) if (!job.Session!.IsPrefilling) decoding++;
            int rows = 0;
            int decodingLeft = decoding;
            int n = _active.Count;
            // Decoding requests all step every forward; prompt chunks take the rows left, visited in rotating
            // order so that no request's prefill starves.
            for (int k = 0; k < n; k++)
            {
                var job = _active[(rotation + k) % n];
                var s = job.Session!;
                try
                {
                    if (s.IsPrefilling)
                    {
                        // Rows stay reserved for the decoding requests not visited yet (each needs at least its root).
                        int room = _options.MaxBatchRows - rows - decodingLeft;
                        if (room <= 0) continue;
                        int added = s.AddPrefill(batch, room);
                        if (added > 0) { rows += added; inBatch.Add((job, true)); }
                    }
                    else
                    {
                        decodingLeft--;
                        // The batch holds at least the rows added so far, this root and the roots still to come.
                        rows += s.AddStep(batch, DraftBudget(s, decoding, rows + 1 + decodingLeft));
                        inBatch.Add((job, false));
                    }
                }
                catch (Exception e) { Fail(job, e); }
            }
            rotation++;
            if (inBatch.Count == 0) continue;

            long t0 = Stopwatch.GetTimestamp();
            try { _model.Forward(batch); }
            catch (Exception e)
            {
                foreach (var (job, _) in inBatch) Fail(job, e);
                continue;
            }
            double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            lock (_lock) _forwards++;

            foreach (var (job, prefill) in inBatch)
            {
                if (!_active.Contains(job)) continue;
                try
                {
                    var s = job.Session!;
                    if (prefill) { s.CompletePrefill(batch, ms); continue; }
                    s.CompleteStep(batch, ms);
                    Deliver(job);
                    if (s.Finish is { } f) Finish(job, f == FinishReason.Length ? CompletionFinish.Length : CompletionFinish.Stop);
                }
                catch (Exception e) { Fail(job, e); }
            }
        }
    }

    /// <summary>
    /// Draft nodes (root included) a request may use this step (goodput, after SmartSpec). Alone, a request drafts
    /// as its drafter sees fit: the drafters size their trees by the measured cost curve themselves. With several
    /// decoding, the forward is shared, so a draft row is worth adding only when the tokens it is expected to yield
    /// exceed what the same time would give the batch without it: a chain accepted with rate a yields a + a^2 + ...
    /// + a^d extra tokens for d rows, which cost c(R + d) - c(R) on the measured curve c over a batch of R rows that
    /// plainly yields one token per decoding request. The request takes the d that maximises the difference (none
    /// when no d gains), drafts only every eighth step while its acceptance is poor (to notice when it recovers), and
    /// from <see cref="EngineOptions.SpeculationBatchLimit"/> decoding requests on nobody drafts.
    /// </summary>
    int DraftBudget(GenerationSession s, int decoding, int batchRows)
    {
        if (s.DrafterName == "none") return 1;
        if (decoding <= 1) return _options.MaxDraftNodes;
        if (decoding >= _options.SpeculationBatchLimit) return 1;
        double a = s.AcceptRate;
        if (a < 0.3 && s.Stats.Steps % 8 != 0) return 1;
        // Measured on this (the engine) thread on first need, when no forward runs; cached per model after that.
        var curve = ForwardCostCurve.Measure(_model);
        int cap = Math.Min(_options.MaxDraftNodes - 1, _options.MaxBatchRows - batchRows);
        double baseCost = curve.Cost(batchRows);
        double tokensPerMs = decoding / baseCost;
        int best = 0;
        double bestGain = 0, expected = 0, reach = 1;
        for (int d = 1; d <= cap; d++)
        {
            reach *= a;
            expected += reach;
            double gain = expected - tokensPerMs * (curve.Cost(batchRows + d) - baseCost);
            if (gain > bestGain) { bestGain = gain; best = d; }
        }
        return 1 + best;
    }

    void Admit()
    {
        lock (_lock)
        {
            while (_queue.Count > 0)
            {
                int slot = ChooseSlot(_queue.Peek().Prompt);
                if (slot < 0) break;
                var job = _queue.Dequeue();
                if (job.Cancelled) { CompleteWithoutSession(job); continue; }
                var s = _slots[slot] ??= new SequenceSlot(_model.CreateCache(_ctx + _options.MaxDraftNodes + 1), slot);
                try
                {
                    var options = new GenerationOptions
                    {
                        MaxTokens = job.MaxTokens,
                        Sampling = job.Request.Sampling,
                        ContextSize = _ctx,
                        MaxDraftNodes = _options.MaxDraftNodes,
                        StopAtEndOfGeneration = !job.Request.IgnoreEndOfGeneration,
                        Constraint = job.Request.Grammar is { } grammar   // grammar: one constraint per request, shared trie per model
                            ? new Hunch.Grammar.GrammarConstraint(grammar, Hunch.Grammar.TokenVocabulary.For(_tokenizer)) : null,
                    };
                    job.Session = new GenerationSession(_model, _tokenizer, s, job.Prompt, options, job.Drafter, job.Request.TopLogprobs ?? -1);
                }
                catch (Exception e)
                {
                    job.Drafter.Dispose();
                    job.Updates.Writer.TryComplete(e);
                    job.Result.TrySetException(e);
                    job.Registration.Dispose();
                    continue;
                }
                _slotBusy[slot] = true;
                _activeCount++;
                _active.Add(job);
            }
        }
    }

    /// <summary>The free slot whose cached tokens share the longest prefix with the prompt (ties: least recently used).</summary>
    int ChooseSlot(int[] prompt)
    {
        int best = -1, bestCommon = -1;
        long bestUsed = long.MaxValue;
        for (int i = 0; i < _slots.Length; i++)
        {
            if (_slotBusy[i]) continue;
            var s = _slots[i];
            int common = s is null ? 0 : s.ReusablePrefix(prompt);
            long used = s?.LastUsed ?? long.MinValue;
            if (common > bestCommon || (common == bestCommon && used < bestUsed)) { best = i; bestCommon = common; bestUsed = used; }
        }
        return best;
    }

    void Deliver(Job job)
    {
        var s = job.Session!;
        var tokens = s.StepTokens;
        if (tokens.Count == 0) return;
        List<TokenLogprob>? logprobs = job.Logprobs is null ? null : new List<TokenLogprob>(tokens.Count);
        string text = "";
        for (int i = 0; i < tokens.Count; i++)
        {
            text += job.Text.Add(tokens[i]);
            if (logprobs is not null) logprobs.Add(ToLogprob(s.StepLogprobs[i]));
            if (job.Text.Stopped)
            {
                // Tokens after the one completing a stop string were generated in the same step but are not output.
                int extra = tokens.Count - i - 1;
                if (extra > 0) s.Output.RemoveRange(s.Output.Count - extra, extra);
                s.Stop(FinishReason.Stop);
                break;
            }
        }
        if (logprobs is not null) job.Logprobs!.AddRange(logprobs);
        lock (_lock) CountRate(tokens.Count);
        if (text.Length > 0 || logprobs is not null)
            job.Updates.Writer.TryWrite(new CompletionUpdate { Text = text, Logprobs = logprobs });
    }

    TokenLogprob ToLogprob(TokenLogprobData d)
    {
        var top = new TokenLogprob[d.Top.Length];
        for (int i = 0; i < top.Length; i++) top[i] = MakeLogprob(d.Top[i].Token, d.Top[i].Logprob, []);
        return MakeLogprob(d.Token, d.Logprob, top);
    }

    TokenLogprob MakeLogprob(int token, float logprob, IReadOnlyList<TokenLogprob> top)
    {
        byte[] bytes = _tokenizer.TokenBytes(token).ToArray();
        return new TokenLogprob { TokenId = token, Token = System.Text.Encoding.UTF8.GetString(bytes), Bytes = bytes, Logprob = logprob, Top = top };
    }

    void Finish(Job job, CompletionFinish finish)
    {
        var s = job.Session!;
        if (finish == CompletionFinish.Cancelled) s.Stop(FinishReason.Cancelled);
        var stats = s.FinalStats();
        string tail = job.Text.Stopped ? "" : job.Text.Flush();
        if (job.Text.Stopped) finish = CompletionFinish.Stop;
        var spec = new SpeculationStats(stats.Drafter, stats.DraftedTokens, stats.AcceptedTokens, stats.Steps, stats.MeanAccepted);
        var result = new CompletionResult
        {
            Text = job.Text.Text,
            Tokens = [.. s.Output],
            Finish = finish,
            PromptTokens = job.Prompt.Length,
            CachedPromptTokens = Math.Max(0, s.ReusedPromptTokens),
            Logprobs = job.Logprobs,
            Speculation = spec,
            Stats = stats,
        };
        Release(job);
        lock (_lock)
        {
            _generated += result.Tokens.Length;
            _promptCached += result.CachedPromptTokens;
            _promptProcessed += result.PromptTokens - result.CachedPromptTokens;
            var prev = _drafterStats.GetValueOrDefault(spec.Drafter);
            long drafted = (prev?.Drafted ?? 0) + spec.Drafted, accepted = (prev?.Accepted ?? 0) + spec.Accepted;
            int steps = (prev?.Steps ?? 0) + spec.Steps;
            long emitted = (long)Math.Round((prev?.MeanAccepted ?? 0) * (prev?.Steps ?? 0)) + result.Tokens.Length;
            _drafterStats[spec.Drafter] = new SpeculationStats(spec.Drafter, drafted, accepted, steps, steps == 0 ? 0 : (double)emitted / steps);
        }
        job.Updates.Writer.TryWrite(new CompletionUpdate { Text = tail, Result = result });
        job.Updates.Writer.TryComplete();
        job.Result.TrySetResult(result);
    }

    void Fail(Job job, Exception e)
    {
        if (job.Session is { } s)
        {
            // The slot's rows may be half-written: forget them.
            s.Slot.Cache.Clear();
            s.Slot.CachedCount = 0;
            try { s.FinalStats(); } catch (Exception) { /* the drafter failed too; nothing more to free */ }
        }
        Release(job);
        job.Updates.Writer.TryComplete(e);
        job.Result.TrySetException(e);
    }

    void Release(Job job)
    {
        job.Registration.Dispose();
        _active.Remove(job);
        lock (_lock)
        {
            if (job.Session is { } s && _slotBusy[s.Slot.Index])
            {
                _slotBusy[s.Slot.Index] = false;
                _activeCount--;
            }
        }
    }

    void CompleteWithoutSession(Job job)
    {
        job.Drafter.Dispose();
        job.Registration.Dispose();
        var result = new CompletionResult
        {
            Text = "",
            Tokens = [],
            Finish = CompletionFinish.Cancelled,
            PromptTokens = job.Prompt.Length,
            CachedPromptTokens = 0,
            Logprobs = job.Logprobs,
            Speculation = new SpeculationStats(job.Drafter.Name, 0, 0, 0, 0),
            Stats = new GenerationStats { PromptTokens = job.Prompt.Length, Drafter = job.Drafter.Name },
        };
        job.Updates.Writer.TryWrite(new CompletionUpdate { Text = "", Result = result });
        job.Updates.Writer.TryComplete();
        job.Result.TrySetResult(result);
    }

    void Shutdown()
    {
        for (int i = _active.Count - 1; i >= 0; i--) Finish(_active[i], CompletionFinish.Cancelled);
        lock (_lock)
            while (_queue.Count > 0) CompleteWithoutSession(_queue.Dequeue());
    }

    void CountRate(long tokens)
    {
        long second = Environment.TickCount64 / 1000;
        int b = (int)(second % _rateSecond.Length);
        if (_rateSecond[b] != second) { _rateSecond[b] = second; _rateTokens[b] = 0; }
        _rateTokens[b] += tokens;
    }

    double RecentRate()
    {
        long now = Environment.TickCount64 / 1000;
        long sum = 0;
        for (int i = 0; i < _rateSecond.Length; i++)
            if (now - _rateSecond[i] < _rateSecond.Length) sum += _rateTokens[i];
        return (double)sum / _rateSecond.Length;
    }
}
