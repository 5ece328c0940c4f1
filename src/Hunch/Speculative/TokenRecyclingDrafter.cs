using Hunch.Kernels;
using Hunch.Models;
using Hunch.Sampling;

namespace Hunch.Speculative;

/// <summary>
/// Token Recycling (token-recycling.md): drafts from an adjacency table of each token's latest top-8 successors,
/// filled breadth-first along a tree of rank slots, and recycles the top-8 of every scored row after each step.
/// The default tree is hardware-aware: each step takes the best-first slots by estimated value (product of online
/// per-(depth, rank) acceptance shares) and keeps as many as maximise expected committed tokens per millisecond
/// under the measured forward cost curve. Drafts are point masses (no q), so verification is sample-and-match and
/// seeded sampling is token-identical to plain decoding. One instance serves one request at a time.
/// </summary>
public sealed class TokenRecyclingDrafter : IDrafter
{
    const int K = RecyclingTable.Width;
    const int DepthBins = 12;
    // Prior share of rank r before any observation: most acceptance sits on rank 0 (Sequoia's positional
    // acceptance vectors look alike); online estimates take over within a few steps.
    static ReadOnlySpan<double> RankPrior => [0.5, 0.12, 0.06, 0.04, 0.03, 0.02, 0.015, 0.01];

    readonly RecyclingTable _table;
    readonly bool _privateTable;
    readonly string? _saveTo;
    readonly DraftTreeMode _mode;
    readonly int _maxNodes;
    readonly int _maxDepth;
    readonly bool _seedFromPrefill;
    readonly int _vocab;
    readonly AcceptanceEstimator _estimator = new(DepthBins, K, RankPrior);
    readonly TreeShape _shape = new();
    readonly StepCostModel? _cost;
    int[] _slotNode = new int[128];
    int[] _nodeRank = new int[128];
    int[] _topK = new int[128 * K];
    double[] _invZ = new double[128];
    float _temperature;
    bool _greedy = true;
    int _lastWanted = 8;

    /// <summary>Creates a drafter for <paramref name="model"/>. <paramref name="sharedTable"/>: a warm table shared
    /// with other drafters (kept across requests); null for a private table reset at every request.
    /// <paramref name="saveTableTo"/>: where <see cref="Dispose"/> saves the table (null: nowhere).</summary>
    public TokenRecyclingDrafter(TransformerModel model, DrafterOptions? options = null, RecyclingTable? sharedTable = null, string? saveTableTo = null)
        : this(model.Config.VocabSize, options ?? new DrafterOptions(), sharedTable, saveTableTo,
               (options ?? new DrafterOptions()).Tree == DraftTreeMode.Auto ? ForwardCostCurve.Measure(model) : null)
    {
    }

    internal TokenRecyclingDrafter(int vocabularySize, DrafterOptions options, RecyclingTable? sharedTable, string? saveTableTo, ForwardCostCurve? curve)
    {
        options.Validate();
        if (sharedTable is not null && sharedTable.VocabularySize != vocabularySize)
            throw new ArgumentException($"the recycling table covers {sharedTable.VocabularySize} tokens but the model has {vocabularySize}");
        if (options.Tree == DraftTreeMode.Auto && curve is null) throw new ArgumentException("an auto-sized tree needs the model's forward cost curve");
        _vocab = vocabularySize;
        _table = sharedTable ?? new RecyclingTable(vocabularySize);
        _privateTable = sharedTable is null;
        _saveTo = saveTableTo;
        _mode = options.Tree;
        _maxNodes = options.Tree == DraftTreeMode.Reference ? (options.TreeNodes > 0 ? options.TreeNodes : TreeShape.ReferenceTemplate.Length + 1) : options.NodesOrDefault;
        _maxDepth = options.MaxDepth > 0 ? options.MaxDepth : 8;
        _seedFromPrefill = options.SeedFromPrefill;
        if (_mode == DraftTreeMode.Reference) _shape.SetTemplate(TreeShape.ReferenceTemplate, null);
        if (_mode == DraftTreeMode.Auto) _cost = new StepCostModel(curve!);
    }

    /// <inheritdoc/>
    public string Name => "recycling";

    /// <summary>The adjacency table in use.</summary>
    public RecyclingTable Table => _table;

    /// <summary>The forward cost curve used for sizing (null unless the tree is auto-sized).</summary>
    public ForwardCostCurve? CostCurve => _cost?.Curve;

    /// <inheritdoc/>
    public bool WantsPrefillLogits => _seedFromPrefill;

    /// <inheritdoc/>
    public void Begin(ReadOnlySpan<int> prompt, SamplingOptions sampling)
    {
        // A private table starts empty for every request, so back-to-back requests behave like a fresh process.
        if (_privateTable) { _table.Clear(); _estimator.Reset(); _lastWanted = 8; }
        _greedy = sampling.IsGreedy;
        _temperature = sampling.Temperature;
    }

    /// <inheritdoc/>
    public void ObservePrefill(ReadOnlySpan<int> prompt, int index, ReadOnlySpan<float> logits)
    {
        Span<int> top = stackalloc int[K];
        int n = Ops.TopK(logits, top, K);
        _table.Write(prompt[index], top[..n]);
    }

    /// <inheritdoc/>
    public void Propose(in DraftContext context, DraftTree tree)
    {
        _cost?.ProposeStarted();
        int slots = Math.Min(_maxNodes, context.MaxNodes) - 1;
        int depthCap = Math.Min(_maxDepth, context.MaxDepth);
        if (slots > 0 && depthCap > 0)
        {
            int wanted = slots;
            if (_mode != DraftTreeMode.Reference)
            {
                // An auto-sized tree rarely jumps far from the last size: building a few times more candidate
                // slots than it last used keeps the per-step cost small when the best tree is small.
                int build = _cost is null ? slots : Math.Min(slots, Math.Max(16, 2 * _lastWanted + 8));
                _shape.BuildBestFirst(_estimator, build, depthCap, K);
                if (_cost is not null) _lastWanted = wanted = _cost.BestCount(_shape.Value.AsSpan(0, _shape.Count));
            }
            Fill(tree, wanted, depthCap);
        }
        _cost?.ProposeEnded(tree.Count);
    }

    // Walks the shape's slots in order, giving each the successor of its rank under its parent's token; a slot
    // is skipped when its parent was skipped, the parent's row holds nothing at that rank, or the token already
    // is a sibling. Skipped slots leave room for later ones, up to `wanted` draft nodes.
    void Fill(DraftTree tree, int wanted, int depthCap)
    {
        if (_slotNode.Length < _shape.Count) _slotNode = new int[_shape.Count * 2];
        var successors = _table.Successors;
        for (int s = 0; s < _shape.Count && tree.Count - 1 < wanted; s++)
        {
            _slotNode[s] = -1;
            if (_shape.Depth[s] > depthCap) continue;
            int parentNode = _shape.Parent[s] < 0 ? 0 : _slotNode[_shape.Parent[s]];
            if (parentNode < 0) continue;
            int token = successors[tree.Tokens[parentNode] * K + _shape.Rank[s]];
            if ((uint)token >= (uint)_vocab) continue;
            if (tree.FindChild(parentNode, token) >= 0) continue;
            int node = tree.Add(token, parentNode);
            if (_nodeRank.Length <= node) Array.Resize(ref _nodeRank, node * 2 + 2);
            _nodeRank[node] = _shape.Rank[s];
            _slotNode[s] = node;
        }
    }

    /// <inheritdoc/>
    public void Observe(DraftTree tree, ForwardBatch batch, ReadOnlySpan<int> acceptedPath, int extraToken)
    {
        long start = _cost?.ObserveStarted() ?? 0;
        int n = tree.Count;
        if (_topK.Length < n * K) { _topK = new int[n * 2 * K]; _invZ = new double[n * 2]; }
        for (int i = 0; i < n; i++) Ops.TopK(batch.Logits(i), _topK.AsSpan(i * K, K), K);

        if (n > 1)
        {
            // Every node is a labelled sample of its (depth, rank) share: its parent's logits are known whether
            // or not the parent was accepted.
            var tokens = tree.Tokens;
            var parents = tree.Parents;
            var depths = tree.Depths;
            for (int i = 0; i < n; i++) _invZ[i] = 0;
            for (int i = 1; i < n; i++)
            {
                int p = parents[i];
                double label = _greedy ? (tokens[i] == _topK[p * K] ? 1 : 0) : Probability(batch.Logits(p), p, tokens[i]);
                _estimator.Record(depths[i], _nodeRank[i], label);
            }
            _estimator.EndStep();
        }

        // Recycle in breadth-first order: when a token occurs twice, the later node's successors win.
        var tok = tree.Tokens;
        for (int i = 0; i < n; i++) _table.Write(tok[i], _topK.AsSpan(i * K, K));
        if (_cost is not null) _cost.ObserveEnded(start);
    }

    // Probability of `token` under the tempered softmax of the parent's logits (top-p/top-k ignored: a proxy for
    // the share that sample-and-match will descend into).
    double Probability(ReadOnlySpan<float> logits, int node, int token)
    {
        float max = logits[_topK[node * K]];
        double inv = 1.0 / _temperature;
        if (_invZ[node] == 0)
        {
            double z = 0;
            for (int v = 0; v < logits.Length; v++) z += Math.Exp((logits[v] - max) * inv);
            _invZ[node] = 1.0 / z;
        }
        return Math.Exp((logits[token] - max) * inv) * _invZ[node];
    }

    /// <summary>Saves the table when the drafter was created with a table file.</summary>
    public void Dispose()
    {
        if (_saveTo is not null) _table.Save(_saveTo);
    }
}
