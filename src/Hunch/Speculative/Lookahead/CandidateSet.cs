namespace Hunch.Speculative.Lookahead;

/// <summary>
/// Candidate draft nodes gathered before sizing (DySpec-style dynamic tree): each candidate has a token, a parent
/// candidate (-1 = the root), a depth, a rank (the statistic its acceptance is learned under) and a value: the
/// estimated probability that its whole path is accepted. <see cref="Emit"/> orders candidates by value — a child
/// never outvalues its parent, so any prefix of the order is a connected tree — keeps the prefix that maximises
/// expected committed tokens per millisecond under the cost model, and writes it into the draft tree.
/// </summary>
internal sealed class CandidateSet
{
    public int[] Token = new int[64], Parent = new int[64], Depth = new int[64], Rank = new int[64];
    public double[] Value = new double[64];
    int[] _order = new int[64], _node = new int[64];
    double[] _sorted = new double[64];
    public int Count;

    public void Clear() => Count = 0;

    /// <summary>Adds a candidate, or returns the existing one with the same parent and token (its value becomes
    /// the larger of the two, keeping the rank of the better source).</summary>
    public int Add(int token, int parent, int depth, int rank, double value)
    {
        for (int c = 0; c < Count; c++)
            if (Parent[c] == parent && Token[c] == token)
            {
                if (value > Value[c]) { Value[c] = value; Rank[c] = rank; }
                return c;
            }
        if (Count == Token.Length) Grow();
        int i = Count++;
        Token[i] = token; Parent[i] = parent; Depth[i] = depth; Rank[i] = rank; Value[i] = value;
        return i;
    }

    /// <summary>
    /// Writes the best candidates under the root of <paramref name="tree"/>: at most <paramref name="slots"/>
    /// nodes, and (with a cost model) only as many as pay for their rows. <paramref name="nodeRank"/> and
    /// <paramref name="nodeCandidate"/> receive, per tree node, the candidate's rank and index. Returns the number of
    /// draft nodes added.
    /// </summary>
    public int Emit(DraftTree tree, int slots, StepCostModel? cost, ref int[] nodeRank, ref int[] nodeCandidate)
    {
        int n = Count;
        if (n == 0 || slots <= 0) return 0;
        // Parents' values are not below their children's; make it exact so ordering keeps parents first.
        for (int i = 0; i < n; i++)
            if (Parent[i] >= 0 && Value[i] > Value[Parent[i]]) Value[i] = Value[Parent[i]];
        for (int i = 0; i < n; i++)
        {
            int k = i;
            while (k > 0 && Better(i, _order[k - 1])) { _order[k] = _order[k - 1]; k--; }
            _order[k] = i;
        }
        int wanted = Math.Min(n, slots);
        if (cost is not null)
        {
            for (int i = 0; i < n; i++) _sorted[i] = Value[_order[i]];
            wanted = Math.Min(wanted, cost.BestCount(_sorted.AsSpan(0, n)));
        }
        for (int i = 0; i < n; i++) _node[i] = -1;
        int start = tree.Count;
        for (int i = 0; i < n && tree.Count - start < wanted; i++)
        {
            int c = _order[i];
            int parentNode = Parent[c] < 0 ? 0 : _node[Parent[c]];
            if (parentNode < 0) continue;
            int node = tree.Add(Token[c], parentNode);
            if (nodeRank.Length <= node) { Array.Resize(ref nodeRank, node * 2 + 2); Array.Resize(ref nodeCandidate, node * 2 + 2); }
            nodeRank[node] = Rank[c];
            nodeCandidate[node] = c;
            _node[c] = node;
        }
        return tree.Count - start;
    }

    /// <summary>A candidate's value relative to its parent's (the root's is 1): its estimated conditional share.</summary>
    public double Share(int candidate)
    {
        int p = Parent[candidate];
        double parent = p < 0 ? 1 : Value[p];
        return parent > 0 ? Math.Clamp(Value[candidate] / parent, 0, 1) : 0;
    }

    /// <summary>The tree node a candidate became in the last <see cref="Emit"/>, or -1.</summary>
    public int NodeOf(int candidate) => _node[candidate];

    bool Better(int a, int b) =>
        Value[a] != Value[b] ? Value[a] > Value[b] : Depth[a] != Depth[b] ? Depth[a] < Depth[b] : a < b;

    void Grow()
    {
        int m = Token.Length * 2;
        Array.Resize(ref Token, m); Array.Resize(ref Parent, m); Array.Resize(ref Depth, m); Array.Resize(ref Rank, m);
        Array.Resize(ref Value, m); Array.Resize(ref _order, m); Array.Resize(ref _node, m); Array.Resize(ref _sorted, m);
    }
}
