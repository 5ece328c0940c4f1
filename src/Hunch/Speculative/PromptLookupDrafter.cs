using Hunch.Kernels;
using Hunch.Models;
using Hunch.Sampling;

namespace Hunch.Speculative;

/// <summary>
/// Prompt lookup decoding (drafters.md, PLD): find the last n tokens (n from the longest to the shortest) earlier
/// in the prompt and output, and draft what followed them. Several distinct matches (most recent first, longer
/// n first) become branches of one tree, merged where they share a prefix, so siblings stay distinct. Drafts are
/// point masses. By default the tree is cut to the nodes worth their forward cost: each candidate node's value is
/// the product of online acceptance shares per (depth, branch) along its path, and the kept prefix maximises
/// expected committed tokens per millisecond under the measured cost curve.
/// </summary>
public sealed class PromptLookupDrafter : IDrafter
{
    const int DepthBins = 16;
    static ReadOnlySpan<double> BranchPrior => [0.5, 0.2, 0.12, 0.08];

    readonly DraftTreeMode _mode;
    readonly int _maxNodes;
    readonly int _maxNgram, _minNgram, _draftLength, _branches;
    readonly AcceptanceEstimator _estimator;
    readonly StepCostModel? _cost;

    // Candidate trie (before cutting): token, parent candidate (-1 = root), depth, branch, value.
    int[] _candToken = new int[64], _candParent = new int[64], _candDepth = new int[64], _candBranch = new int[64], _order = new int[64], _candNode = new int[64];
    double[] _candValue = new double[64], _sortedValues = new double[64];
    int _candCount;
    int[] _nodeBranch = new int[64];
    bool _greedy = true;
    float _temperature;

    /// <summary>Creates a prompt lookup drafter; an auto-sized tree uses <paramref name="model"/>'s measured cost curve.</summary>
    public PromptLookupDrafter(TransformerModel model, DrafterOptions? options = null)
        : this(options ?? new DrafterOptions(), (options ?? new DrafterOptions()).Tree == DraftTreeMode.Auto ? ForwardCostCurve.Measure(model) : null)
    {
    }

    internal PromptLookupDrafter(DrafterOptions options, ForwardCostCurve? curve)
    {
        options.Validate();
        if (options.Tree == DraftTreeMode.Reference) throw new ArgumentException("the reference tree template belongs to token recycling; lookup takes auto or fixed");
        if (options.Tree == DraftTreeMode.Auto && curve is null) throw new ArgumentException("an auto-sized tree needs the model's forward cost curve");
        _mode = options.Tree;
        _maxNodes = options.NodesOrDefault;
        _maxNgram = options.LookupMaxNgram;
        _minNgram = options.LookupMinNgram;
        _draftLength = options.MaxDepth > 0 ? Math.Min(options.MaxDepth, options.LookupDraftLength) : options.LookupDraftLength;
        _branches = options.LookupBranches;
        _estimator = new AcceptanceEstimator(DepthBins, _branches, BranchPrior);
        if (_mode == DraftTreeMode.Auto) _cost = new StepCostModel(curve!);
    }

    /// <inheritdoc/>
    public string Name => "lookup";

    /// <inheritdoc/>
    public bool WantsPrefillLogits => false;

    /// <inheritdoc/>
    public void Begin(ReadOnlySpan<int> prompt, SamplingOptions sampling)
    {
        _estimator.Reset();
        _greedy = sampling.IsGreedy;
        _temperature = sampling.Temperature;
    }

    /// <inheritdoc/>
    public void ObservePrefill(ReadOnlySpan<int> prompt, int index, ReadOnlySpan<float> logits) { }

    /// <inheritdoc/>
    public void Propose(in DraftContext context, DraftTree tree)
    {
        _cost?.ProposeStarted();
        int slots = Math.Min(_maxNodes, context.MaxNodes) - 1;
        int depthCap = Math.Min(_draftLength, context.MaxDepth);
        if (slots > 0 && depthCap > 0)
        {
            CollectCandidates(context.Tokens, depthCap, Math.Max(slots, _draftLength));
            if (_candCount > 0) Select(tree, slots);
        }
        _cost?.ProposeEnded(tree.Count);
    }

    // Builds the trie of continuations of the longest, most recent matches.
    void CollectCandidates(ReadOnlySpan<int> tokens, int depthCap, int maxCandidates)
    {
        _candCount = 0;
        int len = tokens.Length;
        int branches = 0;
        for (int n = Math.Min(_maxNgram, len - 1); n >= _minNgram && branches < _branches; n--)
        {
            var pattern = tokens[(len - n)..];
            // Most recent occurrence first; j + n < len so at least one token follows the match.
            for (int j = len - n - 1; j >= 0 && branches < _branches && _candCount < maxCandidates; j--)
            {
                if (tokens[j] != pattern[0] || !tokens.Slice(j, n).SequenceEqual(pattern)) continue;
                int follow = Math.Min(depthCap, len - (j + n));
                if (AddBranch(tokens.Slice(j + n, follow), branches, maxCandidates)) branches++;
            }
        }
    }

    // Inserts one continuation into the trie; returns whether it added a node (a new, distinct branch).
    bool AddBranch(ReadOnlySpan<int> continuation, int branch, int maxCandidates)
    {
        int parent = -1;
        bool added = false;
        for (int d = 0; d < continuation.Length; d++)
        {
            int token = continuation[d];
            int found = -1;
            for (int c = 0; c < _candCount; c++)
                if (_candParent[c] == parent && _candToken[c] == token) { found = c; break; }
            if (found < 0)
            {
                if (_candCount >= maxCandidates) break;
                EnsureCandidates(_candCount + 1);
                found = _candCount++;
                _candToken[found] = token;
                _candParent[found] = parent;
                _candDepth[found] = d + 1;
                _candBranch[found] = branch;
                _candValue[found] = (parent < 0 ? 1 : _candValue[parent]) * _estimator.Estimate(d + 1, branch);
                added = true;
            }
            parent = found;
        }
        return added;
    }

    // Orders candidates by value (ties: shallower, then earlier) — parents precede their children because a
    // child's value never exceeds its parent's — and drafts the best prefix.
    void Select(DraftTree tree, int slots)
    {
        int n = _candCount;
        for (int i = 0; i < n; i++)
        {
            int x = i;
            int k = i;
            while (k > 0 && Better(x, _order[k - 1])) { _order[k] = _order[k - 1]; k--; }
            _order[k] = x;
        }
        int wanted = Math.Min(n, slots);
        if (_cost is not null)
        {
            for (int i = 0; i < n; i++) _sortedValues[i] = _candValue[_order[i]];
            wanted = Math.Min(wanted, _cost.BestCount(_sortedValues.AsSpan(0, n)));
        }
        for (int i = 0; i < n; i++) _candNode[i] = -1;
        for (int i = 0; i < n && tree.Count - 1 < wanted; i++)
        {
            int c = _order[i];
            int parentNode = _candParent[c] < 0 ? 0 : _candNode[_candParent[c]];
            if (parentNode < 0) continue;
            int node = tree.Add(_candToken[c], parentNode);
            if (_nodeBranch.Length <= node) Array.Resize(ref _nodeBranch, node * 2 + 2);
            _nodeBranch[node] = _candBranch[c];
            _candNode[c] = node;
        }
    }

    bool Better(int a, int b) =>
        _candValue[a] != _candValue[b] ? _candValue[a] > _candValue[b] : _candDepth[a] != _candDepth[b] ? _candDepth[a] < _candDepth[b] : a < b;

    void EnsureCandidates(int n)
    {
        if (_candToken.Length >= n) return;
        int m = n * 2;
        Array.Resize(ref _candToken, m); Array.Resize(ref _candParent, m); Array.Resize(ref _candDepth, m);
        Array.Resize(ref _candBranch, m); Array.Resize(ref _order, m); Array.Resize(ref _candNode, m);
        Array.Resize(ref _candValue, m); Array.Resize(ref _sortedValues, m);
    }

    /// <inheritdoc/>
    public void Observe(DraftTree tree, ForwardBatch batch, ReadOnlySpan<int> acceptedPath, int extraToken)
    {
        long start = _cost?.ObserveStarted() ?? 0;
        int n = tree.Count;
        if (n > 1)
        {
            var tokens = tree.Tokens;
            var parents = tree.Parents;
            var depths = tree.Depths;
            for (int i = 1; i < n; i++)
            {
                var logits = batch.Logits(parents[i]);
                int best = Ops.ArgMax(logits);
                double label = _greedy ? (tokens[i] == best ? 1 : 0) : Probability(logits, best, tokens[i]);
                _estimator.Record(depths[i], _nodeBranch[i], label);
            }
            _estimator.EndStep();
        }
        _cost?.ObserveEnded(start);
    }

    double Probability(ReadOnlySpan<float> logits, int argmax, int token)
    {
        float max = logits[argmax];
        double inv = 1.0 / _temperature, z = 0;
        for (int v = 0; v < logits.Length; v++) z += Math.Exp((logits[v] - max) * inv);
        return Math.Exp((logits[token] - max) * inv) / z;
    }

    /// <inheritdoc/>
    public void Dispose() { }
}
