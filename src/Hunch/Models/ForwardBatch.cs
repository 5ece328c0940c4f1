using Hunch.KvCache;
using Cache = Hunch.KvCache.KvCache;

namespace Hunch.Models;

/// <summary>
/// The rows of one forward pass. Each row has a token, the sequence it belongs to (its <see cref="Cache"/>),
/// its RoPE position, and a parent: the earlier row of the same batch that it follows, or -1 when it follows
/// the sequence's committed rows directly. A row attends to its sequence's committed rows, then to its
/// ancestors (parent, grandparent, ... in order of depth), then to itself: a causal chunk is a chain of parents,
/// a draft tree gives each node its tree parent, and rows of several sequences may share one batch.
/// The batch owns the logits it receives; reuse one batch object across steps to avoid allocation.
/// </summary>
public sealed class ForwardBatch
{
    internal int[] Tokens = new int[16];
    internal Cache[] Caches = new Cache[16];
    internal int[] Positions = new int[16];
    internal int[] Parents = new int[16];
    internal int[] LocalIndex = new int[16];
    internal int[] LogitIndex = new int[16];
    float[] _logits = [];
    int _vocab;
    int _logitRows;

    float[] _layerHidden = [];
    float[] _outputHidden = [];
    int _hiddenWidth;

    /// <summary>When positive, the forward keeps every row's residual stream after this many layers
    /// (read it with <see cref="LayerHidden"/>): early-exit drafters and adapter training use it.</summary>
    public int CaptureLayer { get; set; }

    /// <summary>When true, the forward keeps the final normalised hidden state of every row that asked for logits
    /// (the input of the output matrix; read it with <see cref="OutputHidden"/>): draft heads use it.</summary>
    public bool CaptureOutputHidden { get; set; }

    /// <summary>Row <paramref name="row"/>'s residual stream after <see cref="CaptureLayer"/> layers.</summary>
    public ReadOnlySpan<float> LayerHidden(int row) => _layerHidden.AsSpan(row * _hiddenWidth, _hiddenWidth);

    /// <summary>The final normalised hidden state of a row that asked for logits.</summary>
    public ReadOnlySpan<float> OutputHidden(int row)
    {
        int li = LogitIndex[row];
        if (li < 0) throw new InvalidOperationException($"row {row} did not ask for logits");
        return _outputHidden.AsSpan(li * _hiddenWidth, _hiddenWidth);
    }

    internal void StoreLayerHidden(ReadOnlySpan<float> rows, int n, int width)
    {
        _hiddenWidth = width;
        if (_layerHidden.Length < n * width) _layerHidden = new float[n * width * 2];
        rows.CopyTo(_layerHidden);
    }

    internal void StoreOutputHidden(ReadOnlySpan<float> rows, int n, int width)
    {
        _hiddenWidth = width;
        if (_outputHidden.Length < n * width) _outputHidden = new float[n * width * 2];
        rows.CopyTo(_outputHidden);
    }

    /// <summary>Number of rows.</summary>
    public int Count { get; private set; }

    /// <summary>Rows that asked for logits.</summary>
    public int LogitRows => _logitRows;

    /// <summary>Removes every row.</summary>
    public void Clear()
    {
        for (int i = 0; i < Count; i++) Caches[i] = null!;
        Count = 0;
        _logitRows = 0;
    }

    /// <summary>Adds a row and returns its index.</summary>
    /// <param name="token">Token id.</param>
    /// <param name="cache">The sequence's cache.</param>
    /// <param name="position">RoPE position (committed length plus depth for a tree node).</param>
    /// <param name="parent">Index of the batch row this one follows, or -1 to follow the committed rows.</param>
    /// <param name="wantLogits">Whether to compute this row's logits.</param>
    public int Add(int token, Cache cache, int position, int parent = -1, bool wantLogits = true)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (parent >= Count || (parent >= 0 && !ReferenceEquals(Caches[parent], cache)))
            throw new ArgumentException($"parent {parent} must be an earlier row of the same sequence", nameof(parent));
        if (position < 0) throw new ArgumentOutOfRangeException(nameof(position));
        if (Count == Tokens.Length) Grow();
        int i = Count++;
        Tokens[i] = token;
        Caches[i] = cache;
        Positions[i] = position;
        Parents[i] = parent;
        int local = 0;
        for (int j = i - 1; j >= 0; j--)
            if (ReferenceEquals(Caches[j], cache)) { local = LocalIndex[j] + 1; break; }
        LocalIndex[i] = local;
        LogitIndex[i] = wantLogits ? _logitRows++ : -1;
        return i;
    }

    /// <summary>Adds a causal run of tokens (a prompt chunk) for one sequence starting after its committed rows;
    /// only the last row gets logits unless <paramref name="allLogits"/>.</summary>
    public void AddSequence(ReadOnlySpan<int> tokens, Cache cache, int startPosition, bool allLogits = false)
    {
        int parent = -1;
        for (int i = 0; i < tokens.Length; i++)
            parent = Add(tokens[i], cache, startPosition + i, parent, allLogits || i == tokens.Length - 1);
    }

    /// <summary>The scratch offset (after the cache's committed rows) where row <paramref name="row"/>'s keys and values were written.</summary>
    public int ScratchOffset(int row) => LocalIndex[row];

    /// <summary>Logits of a row that asked for them (valid until the next forward with this batch).</summary>
    public ReadOnlySpan<float> Logits(int row)
    {
        int li = LogitIndex[row];
        if (li < 0) throw new InvalidOperationException($"row {row} did not ask for logits");
        return _logits.AsSpan(li * _vocab, _vocab);
    }

    internal Span<float> LogitBuffer(int vocab)
    {
        _vocab = vocab;
        long need = (long)_logitRows * vocab;
        if (_logits.Length < need) _logits = new float[need];
        return _logits.AsSpan(0, (int)need);
    }

    void Grow()
    {
        int n = Tokens.Length * 2;
        Array.Resize(ref Tokens, n);
        Array.Resize(ref Caches, n);
        Array.Resize(ref Positions, n);
        Array.Resize(ref Parents, n);
        Array.Resize(ref LocalIndex, n);
        Array.Resize(ref LogitIndex, n);
    }
}
