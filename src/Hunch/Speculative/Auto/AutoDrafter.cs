using System.Diagnostics;
using System.Numerics;
using Hunch.Models;
using Hunch.Sampling;
using Hunch.Speculative.Lookahead;
using Cache = Hunch.KvCache.KvCache;

namespace Hunch.Speculative.Auto;

/// <summary>
/// The <c>auto</c> drafter: asks several point-mass drafters (token recycling, prompt lookup, retrieval lookahead,
/// Jacobi) for their trees each step and merges them under one node budget. Each source lists its nodes best
/// first; auto values every node by its own online acceptance estimate for that source (per depth, sibling
/// rank and agreement with the other sources, learned from every scored node of every step, so sources that stop
/// paying lose weight within a request) times its parent's value, and merges the sources' lists best first into one tree, deduplicating shared
/// prefixes (a merged node is a point mass; siblings stay distinct). The merged prefix kept is the one that
/// maximises expected committed tokens per millisecond under the measured forward cost curve and this drafter's
/// measured overhead — which may be no draft at all: speculation switches itself off when nothing pays (the
/// estimates keep learning from the root's row, so it switches back on when the text becomes predictable).
/// Agreement matters because the sources' guesses are correlated: a token two sources propose at the same place
/// is right more often than either source's average, and a guess another source contradicts (it proposes a
/// different token under the same parent) less often — valuing contested siblings by their sources' unconditional
/// averages would over-count them and draft rows that do not pay. Each proposal node is therefore keyed as
/// agreed, contested or alone (no other source proposes anything there), and each key learns its own estimate.
/// Every source keeps learning: after the step each one observes the prefix of its own tree that was merged, with
/// the target's logits of those rows (copied into a private batch when its indices differ from the merged tree's).
/// A source that does not pay for itself is switched off (<see cref="SourceGate"/>): each step auto measures the
/// source's own time and the forward time of the rows only it proposed, and prices the accepted tokens only it
/// proposed at the current milliseconds per token; a source whose unique tokens do not buy back its time stops
/// running and is probed again later. What auto learned (acceptance estimates, calibration, which sources pay)
/// carries over to the next request at reduced weight instead of starting cold: one drafter serves one model in
/// one process, and the last request is a better prior than none.
/// </summary>
internal sealed class AutoDrafter : IDrafter
{
    const int DepthBins = 12;
    const int Ranks = 8;
    const int SourceNodes = 32;        // most nodes asked of each source
    const int MinAsked = 6;            // fewest nodes asked of each source when the cost model sizes the tree
    const int Alone = 0, Agreed = 1, Contested = 2, States = 3;
    const int CalibrationBins = 10;
    const double CalibrationWeight = 4;  // pseudo-observations behind "the values are right" in each bin
    const double CalibrationDecay = 0.995;
    const double CarryOver = 0.5;        // weight of the previous requests' observations when a request begins
    const double TokenCostAlpha = 0.05;  // EWMA weight of one step in the milliseconds per committed token

    readonly IDrafter[] _sources;
    readonly Source[] _state;
    readonly int _maxNodes;
    readonly int _vocab;
    readonly ModelConfig _config;
    readonly StepCostModel? _cost;
    readonly AcceptanceLabels _labels = new();
    readonly DraftTree _scratch = new();
    readonly DraftTree _union = new();
    int[] _unionMask = new int[64];
    int _asked = SourceNodes;
    readonly ForwardBatch _subBatch = new();
    Cache? _cache, _ownCache;
    double[] _newValues = new double[64];
    double[] _calibrated = new double[64];
    double[] _treeValue = new double[64];
    bool[] _onPath = new bool[64];
    readonly double[] _calHits = new double[CalibrationBins], _calPredicted = new double[CalibrationBins];
    int[] _kBefore = new int[64];
    int[] _mergedPath = new int[64];
    int[] _mergedUnion = new int[64];    // merged tree node -> node of the union of all sources' proposals
    int _primary = -1;
    int _rootPosition;
    int _steps, _offSteps;
    long _stepStart;
    double _msPerToken = -1;

    sealed class Source(IDrafter drafter, double[] prior)
    {
        public readonly IDrafter Drafter = drafter;
        public readonly DraftTree Proposal = new();
        public readonly DraftTree Kept = new();
        public readonly AcceptanceEstimator Estimator = new(DepthBins, Ranks * States, prior);
        public int[] Rank = new int[64];     // estimator key: agreement state * Ranks + sibling rank
        public int[] Union = new int[64];    // proposal node -> node of the union of all sources' proposals
        public double[] Value = new double[64];
        public int[] Map = new int[64];      // proposal node -> merged node (or scratch node while merging)
        public int[] Path = new int[64];
        public int Taken, Kept_;
        public long AcceptedTokens, DraftedTokens;
        public readonly SourceGate Gate = new();
        public long StepTicks;       // this step's time in the source (propose, observe, copied rows)
        public int UniqueAccepted, UniqueRows;
    }

    /// <summary>Creates auto over <paramref name="sources"/> (owned: disposed with this drafter).</summary>
    public AutoDrafter(ModelConfig config, IReadOnlyList<IDrafter> sources, ForwardCostCurve? curve, int maxNodes)
    {
        if (sources.Count == 0) throw new ArgumentException("auto needs at least one source drafter");
        if (maxNodes < 1 || maxNodes > 256) throw new ArgumentException($"auto nodes {maxNodes} must be in 1..256");
        if (sources.Count > 30) throw new ArgumentException("auto takes at most 30 sources");
        _config = config;
        _vocab = config.VocabSize;
        _maxNodes = maxNodes;
        _sources = [.. sources];
        _state = new Source[_sources.Length];
        for (int s = 0; s < _sources.Length; s++) _state[s] = new Source(_sources[s], Prior(_sources[s]));
        if (curve is not null) _cost = new StepCostModel(curve);
    }

    // Before any observation a source is assumed to be right a fair share of the time at rank 0 (so auto explores
    // it), less so at lower ranks; Jacobi's first guesses are random tokens. Per agreement state: alone as listed,
    // agreed with another source more often, contradicted by one less often (the estimates learn the real shares).
    // A scored source's nodes are keyed by their own share estimate's bin instead of the sibling rank (bin 0:
    // share above 7/8, ..., bin 7: below 1/8), with a prior a little below the bin's middle.
    static double[] Prior(IDrafter drafter)
    {
        double[] rank = drafter is IScoredDrafter ? new double[Ranks] : drafter.Name switch
        {
            "jacobi" => [0.1, 0.08, 0.06, 0.05, 0.04, 0.03, 0.02, 0.02],
            "recycling" => [0.35, 0.1, 0.05, 0.03, 0.02, 0.02, 0.01, 0.01],
            _ => [0.4, 0.15, 0.08, 0.05, 0.03, 0.02, 0.02, 0.01],
        };
        if (drafter is IScoredDrafter)
            for (int b = 0; b < Ranks; b++) rank[b] = 0.8 * (1 - (b + 0.5) / Ranks);
        var prior = new double[Ranks * States];
        for (int r = 0; r < Ranks; r++)
        {
            prior[Alone * Ranks + r] = rank[r];
            prior[Agreed * Ranks + r] = Math.Min(0.9, rank[r] * 1.5);
            prior[Contested * Ranks + r] = rank[r] * 0.6;
        }
        return prior;
    }

    public string Name => "auto";

    public bool WantsPrefillLogits
    {
        get { foreach (var s in _sources) if (s.WantsPrefillLogits) return true; return false; }
    }

    /// <summary>Names of the sources.</summary>
    internal IEnumerable<string> SourceNames => _sources.Select(s => s.Name);

    /// <summary>Steps taken and steps with speculation off, since the request began.</summary>
    internal (int Steps, int Off) Activity => (_steps, _offSteps);

    /// <summary>Draft tokens each source contributed to merged trees and how many of them were accepted.</summary>
    internal (string Name, long Drafted, long Accepted)[] SourceStats =>
        [.. _state.Select(s => (s.Drafter.Name, s.DraftedTokens, s.AcceptedTokens))];

    /// <summary>Per source: whether it runs now and how often it has been switched off (this drafter's lifetime).</summary>
    internal (string Name, bool On, int SwitchedOff)[] Gates =>
        [.. _state.Select(s => (s.Drafter.Name, s.Gate.On, s.Gate.SwitchedOff))];

    /// <summary>Smoothed milliseconds per committed token (negative before the first step).</summary>
    internal double MsPerToken => _msPerToken;

    public void Begin(ReadOnlySpan<int> prompt, SamplingOptions sampling)
    {
        _labels.Configure(sampling);
        _steps = _offSteps = 0;
        // _asked carries over: the last request's tree size is the best guess for this one.
        for (int b = 0; b < CalibrationBins; b++) { _calHits[b] *= CarryOver; _calPredicted[b] *= CarryOver; }
        foreach (var s in _state)
        {
            s.Drafter.Begin(prompt, sampling);
            s.Estimator.Fade(CarryOver);
            s.AcceptedTokens = s.DraftedTokens = 0;
        }
    }

    public void ObservePrefill(ReadOnlySpan<int> prompt, int index, ReadOnlySpan<float> logits)
    {
        foreach (var s in _sources)
            if (s.WantsPrefillLogits) s.ObservePrefill(prompt, index, logits);
    }

    public void Propose(in DraftContext context, DraftTree tree)
    {
        _stepStart = Stopwatch.GetTimestamp();
        _cost?.ProposeStarted();
        _cache = context.TargetCache;
        _rootPosition = context.Tokens.Length - 1;
        int root = tree.Tokens[0];
        int cap = Math.Min(_maxNodes, context.MaxNodes) - 1;
        var sub = context with { MaxNodes = Math.Min(context.MaxNodes, _asked + 1) };
        foreach (var s in _state)
        {
            s.Proposal.Reset(root);
            s.Taken = s.Kept_ = 0;
            s.StepTicks = 0;
            if (cap > 0 && context.MaxDepth > 0 && s.Gate.On)
            {
                long t = Stopwatch.GetTimestamp();
                s.Drafter.Propose(sub, s.Proposal);
                s.StepTicks = Stopwatch.GetTimestamp() - t;
            }
        }
        Unite(root);
        for (int k = 0; k < _state.Length; k++) ValueProposal(k);
        _primary = -1;
        if (cap > 0)
        {
            int n = MergeBestFirst(root, cap);
            int wanted = n;
            if (_cost is not null)
            {
                if (_calibrated.Length < n) _calibrated = new double[n * 2];
                for (int i = 0; i < n; i++) _calibrated[i] = Calibrated(_newValues[i]);
                wanted = _cost.BestCount(_calibrated.AsSpan(0, n));
            }
            ChooseKept(wanted, n);
            Build(tree);
            // Drafting and valuing candidates far beyond what the cost model keeps is wasted time: ask the sources
            // for about twice the last kept count (the headroom lets the tree grow back when text gets predictable).
            if (_cost is not null) _asked = Math.Clamp(2 * Math.Min(wanted, n) + 4, MinAsked, SourceNodes);
        }
        else foreach (var s in _state) s.Kept.Reset(root);
        _steps++;
        if (tree.Count == 1) _offSteps++;
        _cost?.ProposeEnded(tree.Count);
    }

    // A merged node's value is a product of per-source conditional estimates, the larger where sources agree: on
    // its own it tends to be optimistic (the larger of two noisy estimates, shares learned from parents that were
    // scored but not necessarily accepted). What the cost model compares with a row's cost is the calibrated
    // value: the raw value times the ratio of accepted to predicted nodes among recent merged nodes of similar
    // raw value (decaying like the estimates; a bin without data keeps the raw value).
    double Calibrated(double value)
    {
        int b = CalibrationBin(value);
        double mid = (b + 0.5) / CalibrationBins;
        double ratio = (_calHits[b] + CalibrationWeight * mid) / (_calPredicted[b] + CalibrationWeight * mid);
        return Math.Min(value * ratio, 1);
    }

    static int CalibrationBin(double value) => Math.Clamp((int)(value * CalibrationBins), 0, CalibrationBins - 1);

    // Records, for every drafted node of the step's tree, its raw value and whether it was accepted.
    void Calibrate(int n, ReadOnlySpan<int> acceptedPath)
    {
        for (int b = 0; b < CalibrationBins; b++) { _calHits[b] *= CalibrationDecay; _calPredicted[b] *= CalibrationDecay; }
        if (n <= 1) return;
        if (_treeValue.Length < n) { _treeValue = new double[n * 2]; _onPath = new bool[n * 2]; }
        for (int t = 0; t < n; t++) { _treeValue[t] = 0; _onPath[t] = false; }
        foreach (var s in _state)
            for (int i = 1; i <= s.Kept_; i++)
            {
                int t = s.Map[i];
                if ((uint)t < (uint)n && s.Value[i] > _treeValue[t]) _treeValue[t] = s.Value[i];
            }
        foreach (int t in acceptedPath) if ((uint)t < (uint)n) _onPath[t] = true;
        for (int t = 1; t < n; t++)
        {
            double v = _treeValue[t];
            if (v <= 0) continue;
            int b = CalibrationBin(v);
            _calPredicted[b] += v;
            if (_onPath[t]) _calHits[b] += 1;
        }
    }

    // The union of all sources' proposals (shared prefixes once), with a bit per source that proposed each node.
    void Unite(int root)
    {
        _union.Reset(root);
        _unionMask[0] = 0;
        for (int k = 0; k < _state.Length; k++)
        {
            var s = _state[k];
            int n = s.Proposal.Count;
            if (s.Rank.Length < n) { int m = n * 2; s.Rank = new int[m]; s.Value = new double[m]; s.Map = new int[m]; s.Union = new int[m]; }
            var parents = s.Proposal.Parents;
            var tokens = s.Proposal.Tokens;
            s.Union[0] = 0;
            for (int i = 1; i < n; i++)
            {
                int before = _union.Count;
                int u = _union.Add(tokens[i], s.Union[parents[i]]);
                if (u == before)
                {
                    if (_unionMask.Length <= u) Array.Resize(ref _unionMask, u * 2 + 2);
                    _unionMask[u] = 0;
                }
                _unionMask[u] |= 1 << k;
                s.Union[i] = u;
            }
        }
    }

    // Agreement state of a source's node: another source proposes the same path (agreed), or only a different
    // token under the same parent (contested), or nothing there (alone).
    int Agreement(int source, int unionNode)
    {
        int others = ~(1 << source);
        if ((_unionMask[unionNode] & others) != 0) return Agreed;
        int parent = _union.Parents[unionNode];
        for (int c = _union.FirstChild(parent); c >= 0; c = _union.NextSibling(c))
            if ((_unionMask[c] & others) != 0) return Contested;
        return Alone;
    }

    // A proposal node's value: its parent's value times the source's estimated share at (depth, agreement, sibling
    // rank or, for a scored source, the bin of its own share estimate); then a running minimum along the source's order so the list is non-increasing (sources list best first).
    void ValueProposal(int self)
    {
        var s = _state[self];
        int n = s.Proposal.Count;
        var scored = s.Drafter as IScoredDrafter;
        var parents = s.Proposal.Parents;
        var depths = s.Proposal.Depths;
        s.Value[0] = 1;
        s.Rank[0] = 0;
        double run = 1;
        for (int i = 1; i < n; i++)
        {
            int rank = 0;
            if (scored is not null) rank = (int)((1 - scored.Share(i)) * Ranks);
            else for (int c = s.Proposal.FirstChild(parents[i]); c >= 0 && c != i; c = s.Proposal.NextSibling(c)) rank++;
            s.Rank[i] = Agreement(self, s.Union[i]) * Ranks + Math.Min(rank, Ranks - 1);
            double v = s.Value[parents[i]] * s.Estimator.Estimate(depths[i], s.Rank[i]);
            run = Math.Min(run, v);
            s.Value[i] = run;
        }
    }

    // K-way merge of the sources' lists by value into a scratch tree (deduplicated). Records the value of each new
    // merged node in order, and how far each source had been taken before that node was added.
    int MergeBestFirst(int root, int cap)
    {
        _scratch.Reset(root);
        int S = _state.Length;
        if (_kBefore.Length < (cap + 1) * S) _kBefore = new int[(cap + 1) * S * 2];
        if (_newValues.Length < cap + 1) _newValues = new double[cap * 2 + 2];
        foreach (var s in _state) { s.Taken = 0; s.Map[0] = 0; }
        int added = 0;
        while (added < cap)
        {
            int best = -1;
            double bestValue = -1;
            for (int k = 0; k < S; k++)
            {
                var s = _state[k];
                int next = s.Taken + 1;
                if (next < s.Proposal.Count && s.Value[next] > bestValue) { bestValue = s.Value[next]; best = k; }
            }
            if (best < 0) break;
            var src = _state[best];
            int i = src.Taken + 1;
            int parent = src.Map[src.Proposal.Parents[i]];
            int token = src.Proposal.Tokens[i];
            int existing = _scratch.FindChild(parent, token);
            if (existing < 0)
            {
                for (int k = 0; k < S; k++) _kBefore[added * S + k] = _state[k].Taken;
                _newValues[added++] = bestValue;
                existing = _scratch.Add(token, parent);
            }
            src.Map[i] = existing;
            src.Taken = i;
        }
        for (int k = 0; k < S; k++) _kBefore[added * S + k] = _state[k].Taken;
        return added;
    }

    void ChooseKept(int wanted, int merged)
    {
        int S = _state.Length;
        wanted = Math.Clamp(wanted, 0, merged);
        for (int k = 0; k < S; k++) _state[k].Kept_ = wanted == 0 ? 0 : _kBefore[wanted * S + k];
    }

    // Writes the kept prefixes into the step's tree: the source keeping most nodes first, so that its node indices
    // equal the merged tree's (it then observes the real batch), the others deduplicated after it.
    void Build(DraftTree tree)
    {
        int root = tree.Tokens[0];
        int most = 0;
        for (int k = 0; k < _state.Length; k++)
        {
            var s = _state[k];
            s.Kept.Reset(root);
            for (int i = 1; i <= s.Kept_; i++) s.Kept.Add(s.Proposal.Tokens[i], s.Proposal.Parents[i]);
            if (s.Kept_ > most) { most = s.Kept_; _primary = k; }
        }
        if (_primary >= 0) AddKept(_state[_primary], tree);
        for (int k = 0; k < _state.Length; k++)
            if (k != _primary) AddKept(_state[k], tree);
        if (_primary >= 0)
        {
            var p = _state[_primary];
            for (int i = 0; i <= p.Kept_; i++)
                if (p.Map[i] != i) { _primary = -1; break; }   // cannot happen with distinct siblings; stay safe
        }
    }

    void AddKept(Source s, DraftTree tree)
    {
        s.Map[0] = 0;
        _mergedUnion[0] = 0;
        for (int i = 1; i <= s.Kept_; i++)
        {
            int t = tree.Add(s.Proposal.Tokens[i], s.Map[s.Proposal.Parents[i]]);
            s.Map[i] = t;
            if (_mergedUnion.Length <= t) Array.Resize(ref _mergedUnion, t * 2 + 2);
            _mergedUnion[t] = s.Union[i];
        }
        s.DraftedTokens += s.Kept_;
    }

    public void Observe(DraftTree tree, ForwardBatch batch, ReadOnlySpan<int> acceptedPath, int extraToken)
    {
        long start = _cost?.ObserveStarted() ?? 0;
        int n = tree.Count;
        Calibrate(n, acceptedPath);
        _labels.StartStep(n);
        for (int k = 0; k < _state.Length; k++)
        {
            var s = _state[k];
            if (!s.Gate.On) continue;
            long t0 = Stopwatch.GetTimestamp();
            // Label every proposed node whose parent was scored: kept nodes and the first unkept children.
            var parents = s.Proposal.Parents;
            var depths = s.Proposal.Depths;
            var tokens = s.Proposal.Tokens;
            for (int i = 1; i < s.Proposal.Count; i++)
            {
                int p = parents[i];
                if (p > s.Kept_) continue;
                int row = p == 0 ? 0 : s.Map[p];
                if ((uint)row >= (uint)n) continue;
                s.Estimator.Record(depths[i], s.Rank[i], _labels.Label(batch, row, tokens[i]));
            }
            s.Estimator.EndStep();

            // The accepted path in the source's own indices (as far as its kept prefix follows it).
            if (s.Path.Length < acceptedPath.Length) s.Path = new int[acceptedPath.Length * 2];
            int len = 1;
            s.Path[0] = 0;
            for (int j = 1; j < acceptedPath.Length; j++)
            {
                int found = -1;
                for (int i = 1; i <= s.Kept_; i++)
                    if (s.Map[i] == acceptedPath[j] && parents[i] == s.Path[len - 1]) { found = i; break; }
                if (found < 0) break;
                s.Path[len++] = found;
            }
            s.AcceptedTokens += len - 1;

            if (k == _primary || s.Kept_ == 0) s.Drafter.Observe(s.Kept, batch, s.Path.AsSpan(0, len), extraToken);
            else s.Drafter.Observe(s.Kept, CopyRows(s, batch), s.Path.AsSpan(0, len), extraToken);
            s.StepTicks += Stopwatch.GetTimestamp() - t0;
        }
        _cost?.ObserveEnded(start);
        UpdateGates(n, acceptedPath);
    }

    // Prices each running source's step (SourceGate) and switches at most one non-paying source off per step.
    void UpdateGates(int n, ReadOnlySpan<int> acceptedPath)
    {
        double stepMs = Stopwatch.GetElapsedTime(_stepStart).TotalMilliseconds;
        double perToken = stepMs / Math.Max(1, acceptedPath.Length);
        _msPerToken = _msPerToken < 0 ? perToken : _msPerToken + TokenCostAlpha * (perToken - _msPerToken);
        int running = 0;
        foreach (var s in _state) { s.UniqueAccepted = s.UniqueRows = 0; if (s.Gate.On) running++; }
        // Tokens and rows only one source proposed: their union node has a single proposer.
        for (int j = 1; j < acceptedPath.Length; j++)
        {
            int t = acceptedPath[j];
            if ((uint)t >= (uint)n || (uint)t >= (uint)_mergedUnion.Length) break;
            int mask = _unionMask[_mergedUnion[t]];
            if (BitOperations.IsPow2(mask)) _state[BitOperations.TrailingZeroCount(mask)].UniqueAccepted++;
        }
        for (int t = 1; t < n && t < _mergedUnion.Length; t++)
        {
            int mask = _unionMask[_mergedUnion[t]];
            if (BitOperations.IsPow2(mask)) _state[BitOperations.TrailingZeroCount(mask)].UniqueRows++;
        }
        double toMs = 1000.0 / Stopwatch.Frequency;
        double forwardMs = _cost?.ForwardMs(n) ?? 0;
        int worst = -1;
        for (int k = 0; k < _state.Length; k++)
        {
            var s = _state[k];
            if (!s.Gate.On) continue;
            double rowsMs = _cost is null || s.UniqueRows == 0 ? 0 : forwardMs - _cost.ForwardMs(n - s.UniqueRows);
            s.Gate.Record(s.UniqueAccepted * _msPerToken, s.StepTicks * toMs + rowsMs);
            if (s.Gate.Due && s.Gate.Net < 0 && (worst < 0 || s.Gate.Net < _state[worst].Gate.Net)) worst = k;
        }
        foreach (var s in _state) if (!s.Gate.On) s.Gate.TickOff();
        if (worst >= 0 && running > 1) _state[worst].Gate.SwitchOff();
        foreach (var s in _state) if (s.Gate.Due) s.Gate.Keep();
    }

    // A private batch whose row i holds the logits of the source's kept node i.
    ForwardBatch CopyRows(Source s, ForwardBatch batch)
    {
        var cache = _cache ??= _ownCache ??= new Cache(_config, 1);
        _subBatch.Clear();
        var parents = s.Kept.Parents;
        var depths = s.Kept.Depths;
        var tokens = s.Kept.Tokens;
        for (int i = 0; i < s.Kept.Count; i++)
            _subBatch.Add(tokens[i], cache, _rootPosition + depths[i], parents[i]);
        var dest = _subBatch.LogitBuffer(_vocab);
        for (int i = 0; i < s.Kept.Count; i++)
            batch.Logits(s.Map[i]).CopyTo(dest.Slice(i * _vocab, _vocab));
        return _subBatch;
    }

    public void Dispose()
    {
        foreach (var s in _sources) s.Dispose();
    }
}
