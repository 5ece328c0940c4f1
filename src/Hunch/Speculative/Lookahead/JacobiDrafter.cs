using Hunch.Models;
using Hunch.Sampling;

namespace Hunch.Speculative.Lookahead;

/// <summary>
/// Jacobi lookahead decoding (LMSYS, drafters.md): a window of guessed future tokens is scored as one branch of
/// the draft tree, so the same forward that verifies the draft also refines the guesses — the target's argmax
/// after window token j becomes the new guess for position j + 1 (one Jacobi iteration; no extra rows outside
/// the tree and nothing uncommitted is ever written to the cache, because the window is an ordinary branch).
/// The last N refinement levels are kept by absolute position, and each diagonal (level t-N+1 at p, ...,
/// level t at p+N-1) is harvested as an n-gram into a pool keyed by its first token. Each step drafts the
/// window plus the pooled n-grams that start with the current token, merged into one tree and sized by the
/// measured forward cost curve (best-first by estimated acceptance); the window keeps a few rows beyond the
/// cost-optimal set only while they are nearly free on the curve (so that it keeps refining). Point masses.
/// </summary>
internal sealed class JacobiDrafter : IDrafter
{
    const int DepthBins = 12;
    const double FreeRowSlack = 0.03;   // extra window rows allowed while they cost < 3% of the step

    readonly LookaheadOptions _options;
    readonly int _vocab;
    readonly int _n;                      // n-gram length (first token = key)
    readonly AcceptanceEstimator _estimator;
    readonly StepCostModel? _cost;
    readonly ForwardCostCurve? _curve;
    readonly CandidateSet _cands = new();
    readonly AcceptanceLabels _labels = new();
    readonly Dictionary<int, PoolEntry> _pool = [];
    int[] _nodeRank = new int[64], _nodeCandidate = new int[64];

    // Window: guesses for absolute positions _windowStart.. (the position after the root first).
    readonly int[] _window;
    int _windowStart, _windowLength;
    readonly int[] _chainCandidate;       // candidate index of window token j
    readonly int[] _chainNode;            // tree node of window token j (-1: not drafted)
    int _rootPosition;

    // Refinement levels, newest last (ring of _n levels): tokens by absolute position.
    readonly int[][] _levels;
    readonly int[] _levelStart, _levelLength;
    int _levelCount, _levelHead;
    readonly int[] _gram;
    uint _rng = 1;

    sealed class PoolEntry(int capacity, int width)
    {
        public readonly int[] Tokens = new int[capacity * width];
        public int Count, Next;
    }

    public JacobiDrafter(int vocabularySize, LookaheadOptions options, ForwardCostCurve? curve)
    {
        options.Validate();
        if (options.Ngram < 2) throw new ArgumentException("jacobi n-grams need at least 2 tokens (ngram >= 2)");
        _options = options;
        _vocab = vocabularySize;
        _n = options.Ngram;
        _window = new int[options.Window];
        _chainCandidate = new int[options.Window];
        _chainNode = new int[options.Window];
        _levels = new int[_n][];
        for (int i = 0; i < _n; i++) _levels[i] = new int[options.Window + 1];
        _levelStart = new int[_n];
        _levelLength = new int[_n];
        _gram = new int[_n];
        var prior = new double[1 + options.Pool];
        prior[0] = 0.1;
        for (int i = 1; i < prior.Length; i++) prior[i] = 0.3 / i;
        _estimator = new AcceptanceEstimator(DepthBins, prior.Length, prior);
        _curve = curve;
        if (options.CostSized && curve is not null) _cost = new StepCostModel(curve);
    }

    public string Name => "jacobi";
    public bool WantsPrefillLogits => false;

    /// <summary>Pooled n-grams (tests, statistics).</summary>
    internal int PooledNgrams { get { int s = 0; foreach (var e in _pool.Values) s += e.Count; return s; } }

    public void Begin(ReadOnlySpan<int> prompt, SamplingOptions sampling)
    {
        _pool.Clear();
        _estimator.Reset();
        _labels.Configure(sampling);
        _windowLength = 0;
        _windowStart = -1;
        _levelCount = 0;
        _rng = (uint)(prompt.Length * 2654435761u) | 1;
    }

    public void ObservePrefill(ReadOnlySpan<int> prompt, int index, ReadOnlySpan<float> logits) { }

    public void Propose(in DraftContext context, DraftTree tree)
    {
        _cost?.ProposeStarted();
        var tokens = context.Tokens;
        _rootPosition = tokens.Length - 1;
        AlignWindow(tokens);
        for (int j = 0; j < _window.Length; j++) { _chainNode[j] = -1; _chainCandidate[j] = -1; }

        int slots = Math.Min(_options.Nodes, context.MaxNodes) - 1;
        int depthCap = Math.Min(_options.Depth, context.MaxDepth);
        if (slots > 0 && depthCap > 0)
        {
            _cands.Clear();
            int chain = Math.Min(_windowLength, depthCap);
            int parent = -1;
            double value = 1;
            for (int j = 0; j < chain; j++)
            {
                value *= _estimator.Estimate(j + 1, 0);
                parent = _cands.Add(_window[j], parent, j + 1, 0, value);
                _chainCandidate[j] = parent;
            }
            if (_pool.TryGetValue(tokens[^1], out var entry))
            {
                int width = _n - 1;
                for (int g = 0; g < entry.Count; g++)
                {
                    // Most recent first.
                    int slot = (entry.Next - 1 - g + entry.Count) % entry.Count;
                    int rank = 1 + g;
                    parent = -1;
                    value = 1;
                    for (int d = 0; d < width && d < depthCap; d++)
                    {
                        value *= _estimator.Estimate(d + 1, rank);
                        parent = _cands.Add(entry.Tokens[slot * width + d], parent, d + 1, rank, value);
                    }
                }
            }
            _cands.Emit(tree, slots, _cost, ref _nodeRank, ref _nodeCandidate);
            AddFreeWindowRows(tree, chain, slots);
            for (int j = 0; j < chain; j++)
            {
                int node = _cands.NodeOf(_chainCandidate[j]);
                if (node < 0) node = _chainNode[j];
                _chainNode[j] = node;
                if (node < 0) break;
            }
        }
        _cost?.ProposeEnded(tree.Count);
    }

    // Keeps the window branch growing while its rows are nearly free on the measured curve, so the guesses keep
    // being refined even when the estimates alone would not draft them.
    void AddFreeWindowRows(DraftTree tree, int chain, int slots)
    {
        if (_curve is null) return;
        int parentNode = 0;
        for (int j = 0; j < chain; j++)
        {
            int node = _cands.NodeOf(_chainCandidate[j]);
            if (node >= 0) { parentNode = node; _chainNode[j] = node; continue; }
            if (tree.Count - 1 >= slots) return;
            double before = _curve.Cost(tree.Count), after = _curve.Cost(tree.Count + 1);
            if (after > before * (1 + FreeRowSlack)) return;
            node = tree.Add(_window[j], parentNode);
            if (_nodeRank.Length <= node) { Array.Resize(ref _nodeRank, node * 2 + 2); Array.Resize(ref _nodeCandidate, node * 2 + 2); }
            _nodeRank[node] = 0;
            _chainNode[j] = node;
            parentNode = node;
        }
    }

    // Shifts the window to start right after the root, then fills it up with guesses.
    void AlignWindow(ReadOnlySpan<int> tokens)
    {
        int want = _rootPosition + 1;
        if (_windowStart < 0 || _windowStart > want) { _windowLength = 0; _windowStart = want; }
        int drop = want - _windowStart;
        if (drop >= _windowLength) _windowLength = 0;
        else if (drop > 0)
        {
            Array.Copy(_window, drop, _window, 0, _windowLength - drop);
            _windowLength -= drop;
        }
        _windowStart = want;
        while (_windowLength < _window.Length)
        {
            int prev = _windowLength == 0 ? tokens[^1] : _window[_windowLength - 1];
            int guess;
            if (_pool.TryGetValue(prev, out var e) && e.Count > 0) guess = e.Tokens[((e.Next - 1 + e.Count) % e.Count) * (_n - 1)];
            else
            {
                // A token of the context, as LMSYS initialises its window.
                _rng = _rng * 1664525u + 1013904223u;
                guess = tokens[(int)((_rng >> 8) % (uint)tokens.Length)];
            }
            _window[_windowLength++] = guess;
        }
    }

    public void Observe(DraftTree tree, ForwardBatch batch, ReadOnlySpan<int> acceptedPath, int extraToken)
    {
        long start = _cost?.ObserveStarted() ?? 0;
        int n = tree.Count;
        _labels.StartStep(n);
        if (n > 1)
        {
            var tokens = tree.Tokens;
            var parents = tree.Parents;
            var depths = tree.Depths;
            for (int i = 1; i < n && i < _nodeRank.Length; i++)
                _estimator.Record(depths[i], _nodeRank[i], _labels.Label(batch, parents[i], tokens[i]));
            _estimator.EndStep();
        }

        // One Jacobi iteration: the target's argmax after each scored window token is the new guess for the
        // next position (the root's argmax is the guess for the position after the root).
        int m = 0;
        while (m < _window.Length && _chainNode[m] >= 0 && _chainNode[m] < n) m++;
        int[] level = NewLevel(_rootPosition + 1, m + 1);
        for (int j = 0; j <= m; j++) level[j] = _labels.ArgMax(batch, j == 0 ? 0 : _chainNode[j - 1]);
        Harvest();

        // Next window: the refined guesses past the tokens this step commits.
        int nextStart = _rootPosition + acceptedPath.Length + 1;
        _windowLength = 0;
        _windowStart = nextStart;
        int newest = _levelHead;
        for (int p = nextStart; p < _levelStart[newest] + _levelLength[newest] && _windowLength < _window.Length; p++)
            _window[_windowLength++] = level[p - _levelStart[newest]];
        _cost?.ObserveEnded(start);
    }

    int[] NewLevel(int startPosition, int length)
    {
        _levelHead = (_levelHead + 1) % _n;
        if (_levelCount < _n) _levelCount++;
        _levelStart[_levelHead] = startPosition;
        _levelLength[_levelHead] = length;
        return _levels[_levelHead];
    }

    // Diagonals across the last n levels: level (newest - n + 1 + i) at position p + i.
    void Harvest()
    {
        if (_levelCount < _n) return;
        int newest = _levelHead;
        int lastStart = _levelStart[newest], lastEnd = lastStart + _levelLength[newest];
        for (int end = lastStart; end < lastEnd; end++)
        {
            int p = end - (_n - 1);
            bool ok = true;
            for (int i = 0; i < _n && ok; i++)
            {
                int lv = (newest - (_n - 1 - i) + _n) % _n;
                int pos = p + i - _levelStart[lv];
                if (pos < 0 || pos >= _levelLength[lv]) ok = false;
                else _gram[i] = _levels[lv][pos];
            }
            if (ok) AddToPool(_gram);
        }
    }

    void AddToPool(ReadOnlySpan<int> gram)
    {
        int key = gram[0];
        if ((uint)key >= (uint)_vocab) return;
        int width = _n - 1;
        if (!_pool.TryGetValue(key, out var e)) _pool[key] = e = new PoolEntry(_options.Pool, width);
        var cont = gram[1..];
        for (int g = 0; g < e.Count; g++)
            if (e.Tokens.AsSpan(g * width, width).SequenceEqual(cont)) return;
        cont.CopyTo(e.Tokens.AsSpan(e.Next * width, width));
        e.Next = (e.Next + 1) % _options.Pool;
        if (e.Count < _options.Pool) e.Count++;
    }

    public void Dispose() { }
}
