using Hunch.Models;
using Hunch.Sampling;

namespace Hunch.Speculative.Model;

/// <summary>Shape of a Recursive Speculative Decoding tree.</summary>
public sealed record RsdShape
{
    /// <summary>Constant branching (RSD-C): children per node at depth 1, 2, ... (the length is the depth).
    /// Ignored when <see cref="BeamWidth"/> is set.</summary>
    public int[] Branching { get; init; } = [2, 2, 1, 1];
    /// <summary>Stochastic beam search (RSD-S) width: nodes kept per level (0 = constant branching).</summary>
    public int BeamWidth { get; init; }
    /// <summary>Levels of the stochastic beam search.</summary>
    public int BeamDepth { get; init; } = 5;

    internal void Validate()
    {
        if (BeamWidth < 0 || BeamWidth > 16) throw new ArgumentException($"beam width {BeamWidth} must be in 0..16");
        if (BeamWidth > 0 && (BeamDepth < 1 || BeamDepth > 32)) throw new ArgumentException($"beam depth {BeamDepth} must be in 1..32");
        if (BeamWidth == 0)
        {
            if (Branching.Length < 1 || Branching.Length > 32) throw new ArgumentException("branching must list 1..32 depths");
            foreach (int b in Branching)
                if (b < 1 || b > 16) throw new ArgumentException($"branching factor {b} must be in 1..16");
        }
    }
}

/// <summary>
/// Recursive Speculative Decoding (RSD) with a draft model: a whole tree drafted level by level (one batched draft
/// forward per level). At temperature above 0 the children of a node are sampled without replacement: Gumbel-top-k
/// (RSD-C, constant branching), or stochastic beam search (RSD-S): every prefix carries a perturbed score, children
/// get Gumbels conditioned on their parent's score, and only the best <see cref="RsdShape.BeamWidth"/> prefixes of
/// each level survive, which truncates unlikely branches early. Child i of a node carries q_i = the draft
/// distribution with its earlier siblings removed and renormalised; the verifier's recursive rejection sampling
/// then reproduces the target's law. Greedy requests get deterministic top-k / beam trees (point masses).
/// </summary>
internal sealed class RsdDrafter : IDrafter
{
    readonly DraftModelRunner _runner;
    readonly RsdShape _shape;
    readonly string _name;
    readonly int[] _top = new int[64];
    readonly double[] _keys = new double[64];
    readonly int[] _picked = new int[64];
    readonly float[]?[] _pickedQ = new float[]?[64];

    // Per-level state: frontier nodes, their q (or softmax at greedy), perturbed score and log-probability.
    int[] _frontier = new int[64], _next = new int[64];
    float[][] _frontierQ = new float[64][], _nextQ = new float[64][];
    double[] _score = new double[64], _nextScore = new double[64];
    double[] _logq = new double[64], _nextLogq = new double[64];
    // Beam candidates of one level.
    Candidate[] _candidates = new Candidate[256];

    struct Candidate
    {
        public int Parent;      // index into the frontier
        public int Rank;        // order among the parent's children
        public int Token;
        public double Score;    // conditioned perturbed score (RSD-S) or log-probability at greedy
        public double LogQ;
    }

    public RsdDrafter(TransformerModel target, TransformerModel draft, bool ownsDraft, RsdShape shape, string name)
    {
        shape.Validate();
        _shape = shape;
        _name = name;
        Picker = new DraftPicker(target.Config.VocabSize);
        _runner = new DraftModelRunner(draft, ownsDraft, target.Config.ContextLength + 1024);
    }

    internal DraftPicker Picker { get; }

    public string Name => _name;
    public bool WantsPrefillLogits => false;
    public void ObservePrefill(ReadOnlySpan<int> prompt, int index, ReadOnlySpan<float> logits) { }
    public void Begin(ReadOnlySpan<int> prompt, SamplingOptions sampling) => Picker.Begin(sampling, 0xBB67AE8584CAA73BUL);
    public void Observe(DraftTree tree, ForwardBatch batch, ReadOnlySpan<int> acceptedPath, int extraToken) { }
    public void Dispose() => _runner.Dispose();

    public void Propose(in DraftContext context, DraftTree tree)
    {
        Picker.NewStep();
        bool beam = _shape.BeamWidth > 0;
        int depthLimit = Math.Min(context.MaxDepth, beam ? _shape.BeamDepth : _shape.Branching.Length);
        if (depthLimit <= 0 || context.MaxNodes < 2 || context.Tokens.Length + depthLimit + 1 >= _runner.Cache.Capacity) return;

        // A level's batch holds at most every node drafted so far, after the cached rows: bound the tree by the cache.
        int maxNodes = Math.Min(context.MaxNodes, _runner.Cache.Capacity - context.Tokens.Length);
        if (maxNodes < 2) return;
        var rootLogits = _runner.Sync(context.Tokens);
        int frontierCount = 1;
        _frontier[0] = 0;
        _frontierQ[0] = NodeDistribution(rootLogits);
        _score[0] = 0;
        _logq[0] = 0;
        for (int depth = 1; depth <= depthLimit && frontierCount > 0; depth++)
        {
            int nextCount = beam
                ? ExpandBeam(tree, maxNodes, frontierCount)
                : ExpandConstant(tree, maxNodes, frontierCount, _shape.Branching[depth - 1]);
            (_frontier, _next) = (_next, _frontier);
            (_frontierQ, _nextQ) = (_nextQ, _frontierQ);
            (_score, _nextScore) = (_nextScore, _score);
            (_logq, _nextLogq) = (_nextLogq, _logq);
            frontierCount = nextCount;
            if (depth == depthLimit || frontierCount == 0 || tree.Count >= maxNodes) break;
            var batch = _runner.Evaluate(tree, _frontier.AsSpan(0, frontierCount));
            for (int i = 0; i < frontierCount; i++)
                _frontierQ[i] = NodeDistribution(batch.Logits(_runner.RowOf(_frontier[i])));
        }
    }

    /// <summary>The distribution children are drawn from: q after the request's transforms when sampling, the
    /// temperature-1 softmax (used only to rank) when greedy.</summary>
    float[] NodeDistribution(ReadOnlySpan<float> logits)
    {
        if (!Picker.Greedy) return Picker.Distribution(logits);
        var padded = Picker.Pad(logits);
        var q = Picker.Rent();
        float max = float.NegativeInfinity;
        foreach (float l in padded) max = Math.Max(max, l);
        double sum = 0;
        for (int i = 0; i < padded.Length; i++) { float e = MathF.Exp(padded[i] - max); q[i] = e; sum += e; }
        float inv = (float)(1.0 / sum);
        for (int i = 0; i < q.Length; i++) q[i] *= inv;
        return q;
    }

    int ExpandConstant(DraftTree tree, int maxNodes, int frontierCount, int branching)
    {
        int nextCount = 0;
        for (int f = 0; f < frontierCount; f++)
        {
            int room = maxNodes - tree.Count;
            if (room <= 0) break;
            var q = _frontierQ[f];
            int k = Math.Min(branching, room);
            int n;
            if (Picker.Greedy)
            {
                n = Hunch.Kernels.Ops.TopK(q, _picked, k);
                while (n > 0 && q[_picked[n - 1]] <= 0) n--;
                for (int i = 0; i < n; i++) _pickedQ[i] = null;
            }
            else n = Picker.PickFrom(q, k, _picked, _pickedQ, out _);
            for (int i = 0; i < n; i++)
            {
                int node = tree.Add(_picked[i], _frontier[f], _pickedQ[i]);
                EnsureLevel(nextCount + 1);
                _next[nextCount++] = node;
            }
        }
        return nextCount;
    }

    int ExpandBeam(DraftTree tree, int maxNodes, int frontierCount)
    {
        int width = Math.Min(_shape.BeamWidth, _top.Length);
        int candidateCount = 0;
        if (_candidates.Length < frontierCount * width) _candidates = new Candidate[frontierCount * width * 2];
        for (int f = 0; f < frontierCount; f++)
        {
            var q = _frontierQ[f];
            int n;
            if (Picker.Greedy)
            {
                n = Hunch.Kernels.Ops.TopK(q, _top, width);
                while (n > 0 && q[_top[n - 1]] <= 0) n--;
                for (int i = 0; i < n; i++)
                {
                    double lq = _logq[f] + Math.Log(q[_top[i]]);
                    _candidates[candidateCount++] = new Candidate { Parent = f, Rank = i, Token = _top[i], Score = lq, LogQ = lq };
                }
                continue;
            }
            n = DraftPicker.GumbelTopK(q, width, ref Picker.Random, _top, _keys);
            if (n == 0) continue;
            // Unconditioned child scores phi = log q(prefix) + log q(child) + Gumbel; the largest is Z. Conditioning
            // on max = the parent's perturbed score T keeps the whole level a sample without replacement (Kool et al.).
            double T = _score[f];
            double Z = _logq[f] + _keys[0];
            for (int i = 0; i < n; i++)
            {
                double phi = _logq[f] + _keys[i];
                _candidates[candidateCount++] = new Candidate
                {
                    Parent = f, Rank = i, Token = _top[i],
                    Score = ConditionedGumbel(T, Z, phi),
                    LogQ = _logq[f] + Math.Log(q[_top[i]]),
                };
            }
        }
        // Keep the best `width` candidates of the level (ties: earlier parent, then rank).
        int keep = Math.Min(width, Math.Min(candidateCount, maxNodes - tree.Count));
        if (keep <= 0) return 0;
        Array.Sort(_candidates, 0, candidateCount, CandidateOrder.Instance);
        // Add kept children parent by parent in rank order: each parent's kept children are a prefix of its
        // sampling order, so child i's q is q with children 1..i-1 removed.
        Array.Sort(_candidates, 0, keep, ParentRankOrder.Instance);
        int nextCount = 0;
        for (int c = 0; c < keep; c++)
        {
            ref var cand = ref _candidates[c];
            float[]? qi = null;
            if (!Picker.Greedy)
            {
                var parentQ = _frontierQ[cand.Parent];
                if (cand.Rank == 0) qi = parentQ;
                else
                {
                    // Rebuild q minus the parent's earlier children (all earlier ranks are kept as well).
                    qi = Picker.Rent();
                    parentQ.AsSpan().CopyTo(qi);
                    double removed = 0;
                    for (int e = c - cand.Rank; e < c; e++) { removed += parentQ[_candidates[e].Token]; qi[_candidates[e].Token] = 0; }
                    float inv = removed < 1 - 1e-12 ? (float)(1.0 / (1.0 - removed)) : 0f;
                    for (int i = 0; i < qi.Length; i++) qi[i] *= inv;
                }
            }
            int node = tree.Add(cand.Token, _frontier[cand.Parent], qi);
            EnsureLevel(nextCount + 1);
            _nextScore[nextCount] = cand.Score;
            _nextLogq[nextCount] = cand.LogQ;
            _next[nextCount++] = node;
        }
        return nextCount;
    }

    /// <summary>-ln(e^-T - e^-Z + e^-phi), computed stably (Kool et al., 2019, appendix).</summary>
    internal static double ConditionedGumbel(double T, double Z, double phi)
    {
        double a = phi - Z;   // <= 0
        double log1mexp = a >= 0 ? double.NegativeInfinity : a > -0.6931 ? Math.Log(-(Math.Exp(a) - 1.0)) : Math.Log(-Math.Exp(a) + 1);
        double v = T - phi + log1mexp;
        return T - Math.Max(v, 0) - Math.Log(1 + Math.Exp(-Math.Abs(v)));
    }

    void EnsureLevel(int n)
    {
        if (n <= _next.Length) return;
        int m = n * 2;
        Array.Resize(ref _frontier, m); Array.Resize(ref _next, m);
        Array.Resize(ref _frontierQ, m); Array.Resize(ref _nextQ, m);
        Array.Resize(ref _score, m); Array.Resize(ref _nextScore, m);
        Array.Resize(ref _logq, m); Array.Resize(ref _nextLogq, m);
    }

    sealed class CandidateOrder : IComparer<Candidate>
    {
        public static readonly CandidateOrder Instance = new();
        public int Compare(Candidate x, Candidate y)
        {
            int c = y.Score.CompareTo(x.Score);
            if (c != 0) return c;
            c = x.Parent.CompareTo(y.Parent);
            return c != 0 ? c : x.Rank.CompareTo(y.Rank);
        }
    }

    sealed class ParentRankOrder : IComparer<Candidate>
    {
        public static readonly ParentRankOrder Instance = new();
        public int Compare(Candidate x, Candidate y)
        {
            int c = x.Parent.CompareTo(y.Parent);
            return c != 0 ? c : x.Rank.CompareTo(y.Rank);
        }
    }
}
