namespace Hunch.Speculative;

/// <summary>
/// A tree of draft tokens proposed for one step. Node 0 is the root: the last committed token, whose keys and
/// values are not cached yet. Every other node has a parent (an earlier node), a depth (parent's depth + 1)
/// and optionally q: the distribution its token was actually drawn from with the drafter's own random numbers.
/// A node without q is a point mass (argmax, lookup, recycling, merged trees): the verifier then uses
/// sample-and-match. Siblings must carry distinct tokens. The tree is reused step after step.
/// </summary>
public sealed class DraftTree
{
    int[] _tokens = new int[32];
    int[] _parents = new int[32];
    int[] _depths = new int[32];
    int[] _firstChild = new int[32];
    int[] _nextSibling = new int[32];
    float[]?[] _q = new float[]?[32];

    /// <summary>Number of nodes, root included.</summary>
    public int Count { get; private set; }

    /// <summary>Token of each node.</summary>
    public ReadOnlySpan<int> Tokens => _tokens.AsSpan(0, Count);
    /// <summary>Parent of each node (-1 for the root).</summary>
    public ReadOnlySpan<int> Parents => _parents.AsSpan(0, Count);
    /// <summary>Depth of each node (0 for the root).</summary>
    public ReadOnlySpan<int> Depths => _depths.AsSpan(0, Count);

    /// <summary>Deepest node depth.</summary>
    public int MaxDepth { get; private set; }

    /// <summary>Clears the tree and sets its root token.</summary>
    public void Reset(int rootToken)
    {
        Array.Clear(_q, 0, Count);
        Count = 0;
        MaxDepth = 0;
        Append(rootToken, -1, null);
    }

    /// <summary>Adds a node under <paramref name="parent"/>, or returns the existing child with the same token
    /// (siblings stay distinct). <paramref name="q"/> is kept by reference: the drafter must not reuse the array
    /// before the step ends.</summary>
    public int Add(int token, int parent, float[]? q = null)
    {
        if ((uint)parent >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(parent));
        int existing = FindChild(parent, token);
        if (existing >= 0) return existing;
        return Append(token, parent, q);
    }

    int Append(int token, int parent, float[]? q)
    {
        if (Count == _tokens.Length) Grow();
        int i = Count++;
        _tokens[i] = token;
        _parents[i] = parent;
        _depths[i] = parent < 0 ? 0 : _depths[parent] + 1;
        _firstChild[i] = -1;
        _nextSibling[i] = -1;
        _q[i] = q;
        if (parent >= 0)
        {
            // Append at the end of the sibling list: children keep the drafter's order.
            if (_firstChild[parent] < 0) _firstChild[parent] = i;
            else
            {
                int c = _firstChild[parent];
                while (_nextSibling[c] >= 0) c = _nextSibling[c];
                _nextSibling[c] = i;
            }
        }
        if (_depths[i] > MaxDepth) MaxDepth = _depths[i];
        return i;
    }

    /// <summary>The child of <paramref name="node"/> carrying <paramref name="token"/>, or -1.</summary>
    public int FindChild(int node, int token)
    {
        for (int c = _firstChild[node]; c >= 0; c = _nextSibling[c])
            if (_tokens[c] == token) return c;
        return -1;
    }

    /// <summary>First child of a node, or -1.</summary>
    public int FirstChild(int node) => _firstChild[node];

    /// <summary>Next sibling of a node, or -1.</summary>
    public int NextSibling(int node) => _nextSibling[node];

    /// <summary>The distribution a node's token was drawn from, or null for a point mass.</summary>
    public float[]? Q(int node) => _q[node];

    void Grow()
    {
        int n = _tokens.Length * 2;
        Array.Resize(ref _tokens, n);
        Array.Resize(ref _parents, n);
        Array.Resize(ref _depths, n);
        Array.Resize(ref _firstChild, n);
        Array.Resize(ref _nextSibling, n);
        Array.Resize(ref _q, n);
    }
}
