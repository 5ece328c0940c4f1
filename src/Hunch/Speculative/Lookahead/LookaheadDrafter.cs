using Hunch.Models;
using Hunch.Sampling;

namespace Hunch.Speculative.Lookahead;

/// <summary>Knobs of the lookahead and Jacobi drafters (parsed by <see cref="LookaheadFactory"/>).</summary>
internal sealed record LookaheadOptions
{
    /// <summary>Cap on nodes per tree, root included.</summary>
    public int Nodes { get; init; } = 48;
    /// <summary>Deepest draft node.</summary>
    public int Depth { get; init; } = 8;
    /// <summary>Lookahead: longest context suffix matched in the trie. Jacobi: n-gram length harvested.</summary>
    public int Ngram { get; init; } = 3;
    /// <summary>Lookahead: most children expanded per trie node.</summary>
    public int Branches { get; init; } = 4;
    /// <summary>Jacobi: window of guessed tokens.</summary>
    public int Window { get; init; } = 6;
    /// <summary>Jacobi: n-grams kept per first token.</summary>
    public int Pool { get; init; } = 6;
    /// <summary>Lookahead: a text file whose n-grams are drafted from as well (tokenized with the model's tokenizer).</summary>
    public string? Corpus { get; init; }
    /// <summary>Size the tree by the cost model (false: always up to <see cref="Nodes"/>).</summary>
    public bool CostSized { get; init; } = true;

    public void Validate()
    {
        if (Nodes < 1 || Nodes > 256) throw new ArgumentException($"nodes {Nodes} must be in 1..256");
        if (Depth < 1 || Depth > 32) throw new ArgumentException($"depth {Depth} must be in 1..32");
        if (Ngram < 1 || Ngram > 16) throw new ArgumentException($"ngram {Ngram} must be in 1..16");
        if (Branches < 1 || Branches > 8) throw new ArgumentException($"branches {Branches} must be in 1..8");
        if (Window < 1 || Window > 32) throw new ArgumentException($"window {Window} must be in 1..32");
        if (Pool < 1 || Pool > 32) throw new ArgumentException($"pool {Pool} must be in 1..32");
    }
}

/// <summary>
/// Retrieval Lookahead (drafters.md): a counted trie of the n-grams of the prompt and the output so far (and
/// optionally a static corpus). The last few committed tokens are matched in the trie (longest suffix first) and
/// the continuations under the match are drafted as a tree of several branches, most frequent first. The tree is
/// dynamic (DySpec): candidates are expanded best-first by estimated path acceptance — each edge's share is the
/// geometric mean of its trie frequency and the online acceptance of its (depth, rank) — and the prefix kept is
/// the one the measured forward cost curve says pays. Drafts are point masses.
/// </summary>
internal sealed class LookaheadDrafter : IDrafter, Auto.IScoredDrafter
{
    const int DepthBins = 12;
    const int RequestTrieCapacity = 1 << 21;
    static ReadOnlySpan<double> RankPrior => [0.55, 0.2, 0.1, 0.06, 0.35, 0.12, 0.06, 0.04];

    readonly LookaheadOptions _options;
    readonly NgramTrie _trie;
    readonly NgramTrie? _corpus;
    readonly AcceptanceEstimator _estimator;
    readonly StepCostModel? _cost;
    readonly CandidateSet _cands = new();
    readonly AcceptanceLabels _labels = new();
    readonly PriorityQueue<(int Trie, int TrieNode, int Candidate), double> _queue = new();
    readonly int[] _children;
    int[] _nodeRank = new int[64], _nodeCandidate = new int[64];
    int _fed;

    public LookaheadDrafter(int vocabularySize, LookaheadOptions options, ForwardCostCurve? curve, NgramTrie? corpus)
    {
        options.Validate();
        _options = options;
        _trie = new NgramTrie(vocabularySize, options.Ngram + options.Depth, RequestTrieCapacity);
        _corpus = corpus;
        _children = new int[options.Branches];
        _estimator = new AcceptanceEstimator(DepthBins, 2 * options.Branches, RankPrior);
        if (options.CostSized && curve is not null) _cost = new StepCostModel(curve);
    }

    public string Name => "lookahead";
    public bool WantsPrefillLogits => false;

    public void Begin(ReadOnlySpan<int> prompt, SamplingOptions sampling)
    {
        _trie.Clear();
        _estimator.Reset();
        _labels.Configure(sampling);
        _fed = 0;
    }

    public void ObservePrefill(ReadOnlySpan<int> prompt, int index, ReadOnlySpan<float> logits) { }

    public void Propose(in DraftContext context, DraftTree tree)
    {
        _cost?.ProposeStarted();
        var tokens = context.Tokens;
        if (tokens.Length < _fed) { _trie.Clear(); _fed = 0; }
        for (; _fed < tokens.Length; _fed++) _trie.Append(tokens[_fed]);

        int slots = Math.Min(_options.Nodes, context.MaxNodes) - 1;
        int depthCap = Math.Min(_options.Depth, context.MaxDepth);
        if (slots > 0 && depthCap > 0)
        {
            _cands.Clear();
            _queue.Clear();
            Seed(0, _trie, tokens);
            if (_corpus is not null) Seed(1, _corpus, tokens);
            Expand(depthCap, slots);
            _cands.Emit(tree, slots, _cost, ref _nodeRank, ref _nodeCandidate);
        }
        _cost?.ProposeEnded(tree.Count);
    }

    // Matches the longest suffix (up to Ngram tokens) that has continuations, and queues them.
    void Seed(int trieId, NgramTrie trie, ReadOnlySpan<int> tokens)
    {
        int maxK = Math.Min(Math.Min(_options.Ngram, trie.Depth - 1), tokens.Length);
        for (int k = maxK; k >= 1; k--)
        {
            int node = trie.Find(tokens[^k..]);
            if (node > 0 && trie.FirstChild(node) >= 0)
            {
                Push(trieId, trie, node, -1, 1, 1.0);
                return;
            }
        }
    }

    void Push(int trieId, NgramTrie trie, int trieNode, int parentCandidate, int depth, double parentValue)
    {
        int n = trie.TopChildren(trieNode, _children);
        double total = trie.Occurrences(trieNode);
        for (int r = 0; r < n; r++)
        {
            int child = _children[r];
            int rank = trieId * _options.Branches + r;
            double freq = total > 0 ? trie.Occurrences(child) / (total + 1) : 0;
            double share = Math.Sqrt(_estimator.Estimate(depth, rank) * freq);
            double value = parentValue * share;
            int cand = _cands.Add(trie.Token(child), parentCandidate, depth, rank, value);
            _queue.Enqueue((trieId, child, cand), -value);
        }
    }

    // Best-first: a popped candidate's children are offered with its value times their share.
    void Expand(int depthCap, int slots)
    {
        int expanded = 0;
        while (_queue.Count > 0 && expanded < slots && _cands.Count < 4 * slots)
        {
            var (trieId, trieNode, cand) = _queue.Dequeue();
            expanded++;
            int depth = _cands.Depth[cand];
            if (depth >= depthCap) continue;
            Push(trieId, trieId == 0 ? _trie : _corpus!, trieNode, cand, depth + 1, _cands.Value[cand]);
        }
    }

    public void Observe(DraftTree tree, ForwardBatch batch, ReadOnlySpan<int> acceptedPath, int extraToken)
    {
        long start = _cost?.ObserveStarted() ?? 0;
        int n = tree.Count;
        if (n > 1)
        {
            _labels.StartStep(n);
            var tokens = tree.Tokens;
            var parents = tree.Parents;
            var depths = tree.Depths;
            for (int i = 1; i < n && i < _nodeRank.Length; i++)
                _estimator.Record(depths[i], _nodeRank[i], _labels.Label(batch, parents[i], tokens[i]));
            _estimator.EndStep();
        }
        _cost?.ObserveEnded(start);
    }

    /// <inheritdoc/>
    public double Share(int node) => _cands.Share(_nodeCandidate[node]);

    public void Dispose() { }
}
