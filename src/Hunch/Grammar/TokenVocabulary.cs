using Hunch.Tokenization;

namespace Hunch.Grammar;

/// <summary>
/// The byte strings of a vocabulary arranged as a trie, built once per model and shared by every constrained
/// request (immutable, thread-safe). Tokens without bytes (control tokens) are kept apart: end-of-generation
/// tokens are allowed exactly when the grammar may end, other byte-less tokens never.
/// </summary>
public sealed class TokenVocabulary
{
    /// <summary>Longest token (in bytes) placed in the trie; longer tokens are never allowed.</summary>
    public const int MaxTokenBytes = 256;

    readonly byte[][] _bytes;
    readonly int[] _endTokens;
    readonly bool[] _isEnd;
    // Trie nodes: children [ChildStart[n], ChildStart[n+1]) in ChildByte/ChildNode; tokens ending at n in
    // [TokenStart[n], TokenStart[n+1]) of TokenIds. Node 0 is the root (the empty prefix).
    internal readonly int[] ChildStart;
    internal readonly byte[] ChildByte;
    internal readonly int[] ChildNode;
    internal readonly int[] TokenStart;
    internal readonly int[] TokenIds;
    internal readonly int MaxDepth;

    /// <summary>Number of tokens.</summary>
    public int Count => _bytes.Length;

    /// <summary>Builds the vocabulary from each token's bytes and the set of end-of-generation tokens.</summary>
    public TokenVocabulary(IReadOnlyList<byte[]> tokenBytes, IEnumerable<int> endOfGenerationTokens)
    {
        ArgumentNullException.ThrowIfNull(tokenBytes);
        int n = tokenBytes.Count;
        _bytes = new byte[n][];
        _isEnd = new bool[n];
        for (int i = 0; i < n; i++) _bytes[i] = tokenBytes[i] ?? [];
        var ends = new List<int>();
        foreach (int t in endOfGenerationTokens)
            if ((uint)t < (uint)n && !_isEnd[t]) { _isEnd[t] = true; ends.Add(t); }
        _endTokens = ends.ToArray();

        // Build with sorted token order: children of a node are then contiguous and in byte order.
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Array.Sort(order, (a, b) =>
        {
            int c = _bytes[a].AsSpan().SequenceCompareTo(_bytes[b]);
            return c != 0 ? c : a.CompareTo(b);
        });
        var childStart = new List<int>();
        var childByte = new List<byte>();
        var childNode = new List<int>();
        var tokenStart = new List<int>();
        var tokenIds = new List<int>();
        int maxDepth = 0;
        // Recursive construction over the sorted range [from, to) sharing a prefix of length depth, done with an
        // explicit queue (breadth first) so that deep tokens do not recurse.
        var queue = new Queue<(int From, int To, int Depth)>();
        queue.Enqueue((0, n, 0));
        int nextNode = 1;
        while (queue.Count > 0)
        {
            var (from, to, depth) = queue.Dequeue();
            if (depth > maxDepth) maxDepth = depth;
            childStart.Add(childByte.Count);
            tokenStart.Add(tokenIds.Count);
            int i = from;
            while (i < to && _bytes[order[i]].Length == depth)
            {
                int t = order[i++];
                if (depth > 0 && !_isEnd[t]) tokenIds.Add(t);
            }
            while (i < to)
            {
                if (depth >= MaxTokenBytes) break;
                byte b = _bytes[order[i]][depth];
                int j = i;
                while (j < to && _bytes[order[j]][depth] == b) j++;
                childByte.Add(b);
                childNode.Add(nextNode++);
                queue.Enqueue((i, j, depth + 1));
                i = j;
            }
        }
        childStart.Add(childByte.Count);
        tokenStart.Add(tokenIds.Count);
        ChildStart = childStart.ToArray();
        ChildByte = childByte.ToArray();
        ChildNode = childNode.ToArray();
        TokenStart = tokenStart.ToArray();
        TokenIds = tokenIds.ToArray();
        MaxDepth = Math.Min(maxDepth, MaxTokenBytes);
    }

    /// <summary>Builds the vocabulary of a tokenizer (printed bytes of each token; its end-of-generation tokens).</summary>
    public static TokenVocabulary FromTokenizer(ITokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        int n = tokenizer.VocabularySize;
        var bytes = new byte[n][];
        var ends = new List<int>();
        for (int t = 0; t < n; t++)
        {
            var k = tokenizer.Kind(t);
            bytes[t] = k is TokenKind.Control or TokenKind.Unknown or TokenKind.Unused ? [] : tokenizer.TokenBytes(t).ToArray();
            if (tokenizer.IsEndOfGeneration(t)) ends.Add(t);
        }
        return new TokenVocabulary(bytes, ends);
    }

    static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ITokenizer, TokenVocabulary> s_cache = new();

    /// <summary>The vocabulary of a tokenizer, built once and cached for as long as the tokenizer lives
    /// (thread-safe): servers and commands share one trie per model.</summary>
    public static TokenVocabulary For(ITokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return s_cache.GetValue(tokenizer, FromTokenizer);
    }

    /// <summary>The bytes of a token.</summary>
    public ReadOnlySpan<byte> Bytes(int token) => _bytes[token];

    /// <summary>Whether a token ends generation.</summary>
    public bool IsEndOfGeneration(int token) => (uint)token < (uint)_isEnd.Length && _isEnd[token];

    /// <summary>The end-of-generation tokens.</summary>
    public ReadOnlySpan<int> EndOfGenerationTokens => _endTokens;
}
