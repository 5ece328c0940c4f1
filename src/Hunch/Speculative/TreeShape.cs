namespace Hunch.Speculative;

/// <summary>
/// A tree of rank slots (the shape of a Token Recycling draft before tokens are filled in): slot s hangs under
/// slot Parent[s] (-1 = the root) and takes the successor of rank Rank[s] of its parent's token. Slots are stored
/// parents first. <see cref="BuildBestFirst"/> orders slots by value (the product of estimated shares along the
/// path), so any prefix of the slots is a connected tree and the best one of its size (draft-trees.md §1, §6.3).
/// </summary>
internal sealed class TreeShape
{
    public int[] Parent = new int[64];
    public int[] Rank = new int[64];
    public int[] Depth = new int[64];
    public double[] Value = new double[64];
    public int Count;

    // Max-heap of candidate slots for best-first building.
    struct Candidate
    {
        public double Value;
        public int Depth, Seq, Parent, Rank;
    }
    Candidate[] _heap = new Candidate[256];
    int _heapCount;

    /// <summary>
    /// The reference Token Recycling template: 80 draft slots (81 tokens with the root), depth 6, given as rank
    /// paths from the root. The paper's exact list is not in our notes; it was rebuilt from their description
    /// (token-recycling.md): depth histogram 1:8, 2:21, 3:25, 4:15, 5:8, 6:3, 40 leaves, root with 8 children,
    /// [0] with 8, [1] 4, [2] 3, [3] 2, [4]..[7] 1, [0,0] with 8; the remaining child counts were assigned by
    /// decreasing rank along rank-0 chains (a node's k-th child is never given more children than its (k-1)-th)
    /// until both the depth histogram and the leaf count matched. Tests check those properties.
    /// </summary>
    internal static readonly int[][] ReferenceTemplate = BuildReferenceTemplate();

    static int[][] BuildReferenceTemplate()
    {
        // Children per internal node, by rank path (all other nodes are leaves).
        (int[] Path, int Children)[] fanout =
        [
            ([], 8),
            ([0], 8), ([1], 4), ([2], 3), ([3], 2), ([4], 1), ([5], 1), ([6], 1), ([7], 1),
            ([0, 0], 8), ([0, 1], 3), ([0, 2], 2), ([0, 3], 1), ([0, 4], 1),
            ([1, 0], 3), ([1, 1], 1), ([2, 0], 2), ([2, 1], 1), ([3, 0], 1), ([4, 0], 1), ([5, 0], 1),
            ([0, 0, 0], 4), ([0, 0, 1], 2), ([0, 0, 2], 1), ([0, 0, 3], 1), ([0, 1, 0], 2), ([0, 2, 0], 1),
            ([0, 3, 0], 1), ([1, 0, 0], 1), ([1, 0, 1], 1), ([2, 0, 0], 1),
            ([0, 0, 0, 0], 2), ([0, 0, 0, 1], 1), ([0, 0, 0, 2], 1), ([0, 0, 1, 0], 1), ([0, 0, 2, 0], 1),
            ([0, 1, 0, 0], 1), ([1, 0, 0, 0], 1),
            ([0, 0, 0, 0, 0], 1), ([0, 0, 0, 0, 1], 1), ([0, 0, 0, 1, 0], 1),
        ];
        var paths = new List<int[]>();
        var level = new List<int[]> { Array.Empty<int>() };
        while (level.Count > 0)
        {
            var next = new List<int[]>();
            foreach (var p in level)
            {
                int children = 0;
                foreach (var (fp, c) in fanout)
                    if (fp.AsSpan().SequenceEqual(p)) children = c;
                for (int r = 0; r < children; r++) next.Add([.. p, r]);
            }
            paths.AddRange(next);
            level = next;
        }
        return paths.ToArray();
    }

    /// <summary>Sets the shape to a template given as rank paths (sorted by depth, closed under prefixes).</summary>
    public void SetTemplate(int[][] paths, AcceptanceEstimator? estimator)
    {
        Ensure(paths.Length);
        Count = 0;
        for (int i = 0; i < paths.Length; i++)
        {
            var p = paths[i];
            int parent = -1;
            if (p.Length > 1)
            {
                for (int j = 0; j < i && parent < 0; j++)
                    if (paths[j].AsSpan().SequenceEqual(p.AsSpan(0, p.Length - 1))) parent = j;
                if (parent < 0) throw new ArgumentException("a tree template must list every prefix of a path before the path");
            }
            Parent[Count] = parent;
            Rank[Count] = p[^1];
            Depth[Count] = p.Length;
            Count++;
        }
        UpdateValues(estimator);
    }

    /// <summary>Recomputes the slot values of a fixed shape from the current estimates.</summary>
    public void UpdateValues(AcceptanceEstimator? estimator)
    {
        for (int s = 0; s < Count; s++)
        {
            double m = estimator?.Estimate(Depth[s], Rank[s]) ?? 1.0 / (Rank[s] + 2);
            Value[s] = (Parent[s] < 0 ? 1 : Value[Parent[s]]) * m;
        }
    }

    /// <summary>
    /// Best-first shape: repeatedly takes the candidate slot with the highest value (ties: shallower, then
    /// earlier), then offers its <paramref name="ranks"/> children. Values never increase along the order.
    /// </summary>
    public void BuildBestFirst(AcceptanceEstimator estimator, int maxSlots, int maxDepth, int ranks)
    {
        Count = 0;
        _heapCount = 0;
        if (maxSlots <= 0 || maxDepth <= 0) return;
        Ensure(maxSlots);
        int seq = 0;
        for (int r = 0; r < ranks; r++) Push(new Candidate { Value = estimator.Estimate(1, r), Depth = 1, Seq = seq++, Parent = -1, Rank = r });
        while (Count < maxSlots && _heapCount > 0)
        {
            var c = Pop();
            int s = Count++;
            Parent[s] = c.Parent;
            Rank[s] = c.Rank;
            Depth[s] = c.Depth;
            Value[s] = c.Value;
            if (c.Depth < maxDepth)
                for (int r = 0; r < ranks; r++)
                    Push(new Candidate { Value = c.Value * estimator.Estimate(c.Depth + 1, r), Depth = c.Depth + 1, Seq = seq++, Parent = s, Rank = r });
        }
    }

    void Ensure(int n)
    {
        if (Parent.Length >= n) return;
        int m = Math.Max(n, Parent.Length * 2);
        Array.Resize(ref Parent, m);
        Array.Resize(ref Rank, m);
        Array.Resize(ref Depth, m);
        Array.Resize(ref Value, m);
    }

    static bool Before(in Candidate a, in Candidate b) =>
        a.Value != b.Value ? a.Value > b.Value : a.Depth != b.Depth ? a.Depth < b.Depth : a.Seq < b.Seq;

    void Push(Candidate c)
    {
        if (_heapCount == _heap.Length) Array.Resize(ref _heap, _heap.Length * 2);
        int i = _heapCount++;
        while (i > 0)
        {
            int p = (i - 1) / 2;
            if (!Before(c, _heap[p])) break;
            _heap[i] = _heap[p];
            i = p;
        }
        _heap[i] = c;
    }

    Candidate Pop()
    {
        var top = _heap[0];
        var last = _heap[--_heapCount];
        int i = 0;
        while (true)
        {
            int l = 2 * i + 1;
            if (l >= _heapCount) break;
            int b = l + 1 < _heapCount && Before(_heap[l + 1], _heap[l]) ? l + 1 : l;
            if (!Before(_heap[b], last)) break;
            _heap[i] = _heap[b];
            i = b;
        }
        if (_heapCount > 0) _heap[i] = last;
        return top;
    }
}
