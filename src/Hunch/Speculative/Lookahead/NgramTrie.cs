namespace Hunch.Speculative.Lookahead;

/// <summary>
/// A counted trie of every n-gram (up to <see cref="Depth"/> tokens) of one or more token streams: the retrieval
/// structure of the Lookahead drafter. Node 0 is the root; a node's count is the number of stream positions whose
/// following tokens spell its path. Streams grow one token at a time (<see cref="Append"/>): each new token extends
/// the paths of the last <see cref="Depth"/> start positions, so the trie stays exact while a request runs. The
/// root's children are indexed directly by token (the root fans out to the whole vocabulary); deeper nodes keep
/// sibling lists. Node storage is bounded: once <see cref="Capacity"/> nodes exist, new paths are not added
/// (existing counts still grow).
/// </summary>
internal sealed class NgramTrie
{
    readonly int _vocab;
    readonly int _depth;
    readonly int _capacity;
    int[] _rootChild;
    int[] _token = new int[256], _count = new int[256], _firstChild = new int[256], _nextSibling = new int[256];
    readonly int[] _cursor;        // ring: trie node reached by each of the last Depth start positions
    int _streamLength;

    public NgramTrie(int vocabularySize, int depth, int capacity)
    {
        if (vocabularySize <= 0) throw new ArgumentOutOfRangeException(nameof(vocabularySize));
        if (depth < 1 || depth > 64) throw new ArgumentOutOfRangeException(nameof(depth), "trie depth must be in 1..64");
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity));
        _vocab = vocabularySize;
        _depth = depth;
        _capacity = capacity;
        _rootChild = new int[vocabularySize];
        _cursor = new int[depth];
        Clear();
    }

    /// <summary>Longest n-gram stored.</summary>
    public int Depth => _depth;
    /// <summary>Most nodes the trie may hold.</summary>
    public int Capacity => _capacity;
    /// <summary>Nodes in use, root included.</summary>
    public int Count { get; private set; }
    /// <summary>Tokens appended to the current stream.</summary>
    public int StreamLength => _streamLength;

    /// <summary>Removes every n-gram.</summary>
    public void Clear()
    {
        Array.Fill(_rootChild, -1);
        Count = 0;
        NewNode(-1);
        _count[0] = 0;
        EndStream();
    }

    /// <summary>Starts a new stream: later tokens do not continue the n-grams of the previous one.</summary>
    public void EndStream()
    {
        Array.Fill(_cursor, -1);
        _streamLength = 0;
    }

    /// <summary>Appends one token to the current stream; tokens outside the vocabulary end the stream instead.</summary>
    public void Append(int token)
    {
        if ((uint)token >= (uint)_vocab) { EndStream(); return; }
        int slot = _streamLength % _depth;
        _cursor[slot] = 0;               // a new start position at this token
        _streamLength++;
        _count[0]++;
        for (int s = 0; s < _depth; s++)
        {
            int node = _cursor[s];
            if (node < 0) continue;
            int child = ChildOrAdd(node, token);
            if (child >= 0) _count[child]++;
            _cursor[s] = child;
        }
        // The start position that has now spelled Depth tokens stops growing.
        int oldest = _streamLength % _depth;
        if (_streamLength >= _depth) _cursor[oldest] = -1;
    }

    /// <summary>Appends a whole stream and ends it.</summary>
    public void AppendStream(ReadOnlySpan<int> tokens)
    {
        foreach (int t in tokens) Append(t);
        EndStream();
    }

    /// <summary>The node spelled by <paramref name="path"/> from the root, or -1.</summary>
    public int Find(ReadOnlySpan<int> path)
    {
        int node = 0;
        foreach (int t in path)
        {
            node = Child(node, t);
            if (node < 0) return -1;
        }
        return node;
    }

    /// <summary>The child of <paramref name="node"/> carrying <paramref name="token"/>, or -1.</summary>
    public int Child(int node, int token)
    {
        if (node == 0) return (uint)token < (uint)_vocab ? _rootChild[token] : -1;
        for (int c = _firstChild[node]; c >= 0; c = _nextSibling[c])
            if (_token[c] == token) return c;
        return -1;
    }

    /// <summary>Token of a node.</summary>
    public int Token(int node) => _token[node];
    /// <summary>Occurrences of a node's path.</summary>
    public int Occurrences(int node) => _count[node];
    /// <summary>First child of a non-root node, or -1 (the root's children are reached through <see cref="Child"/>).</summary>
    public int FirstChild(int node) => node == 0 ? -1 : _firstChild[node];
    /// <summary>Next sibling of a node, or -1.</summary>
    public int NextSibling(int node) => _nextSibling[node];

    /// <summary>
    /// Writes the (at most <paramref name="children"/>.Length) most frequent children of a non-root node into
    /// <paramref name="children"/>, most frequent first (ties: most recently added first); returns how many.
    /// </summary>
    public int TopChildren(int node, Span<int> children)
    {
        int n = 0;
        if (node <= 0) return 0;
        for (int c = _firstChild[node]; c >= 0; c = _nextSibling[c])
        {
            int cnt = _count[c];
            if (n == children.Length && _count[children[n - 1]] >= cnt) continue;
            int k = n < children.Length ? n++ : n - 1;
            while (k > 0 && _count[children[k - 1]] < cnt) { children[k] = children[k - 1]; k--; }
            children[k] = c;
        }
        return n;
    }

    int ChildOrAdd(int node, int token)
    {
        int c = Child(node, token);
        if (c >= 0 || Count >= _capacity) return c;
        c = NewNode(node);
        _token[c] = token;
        if (node == 0) _rootChild[token] = c;
        else { _nextSibling[c] = _firstChild[node]; _firstChild[node] = c; }
        return c;
    }

    int NewNode(int parent)
    {
        if (Count == _token.Length)
        {
            int m = (int)Math.Min((long)_token.Length * 2, _capacity);
            Array.Resize(ref _token, m);
            Array.Resize(ref _count, m);
            Array.Resize(ref _firstChild, m);
            Array.Resize(ref _nextSibling, m);
        }
        int i = Count++;
        _token[i] = parent < 0 ? -1 : 0;
        _count[i] = 0;
        _firstChild[i] = -1;
        _nextSibling[i] = -1;
        return i;
    }
}
