using Hunch.Models;
using Cache = Hunch.KvCache.KvCache;

namespace Hunch.Speculative.Model;

/// <summary>
/// A draft model with its own KV cache that follows the target's committed tokens. The cache's committed rows
/// are the tokens in <see cref="_tokens"/>; <see cref="Sync"/> rolls it back to the longest common prefix with
/// the target's committed tokens (rejected drafts vanish) and feeds the new ones in one batch, so the cache rolls
/// back with the target without any signal from it. Draft tokens the chain feeds are committed here too and kept
/// while they stay on the target's path.
/// </summary>
internal sealed class DraftModelRunner : IDisposable
{
    const int Chunk = 64;
    readonly bool _ownsModel;
    readonly ForwardBatch _batch = new();
    int[] _tokens = new int[256];
    int _length;
    int[] _rowOf = new int[64];
    bool[] _needed = new bool[64];

    public DraftModelRunner(TransformerModel model, bool ownsModel, int capacity)
    {
        Model = model;
        _ownsModel = ownsModel;
        Cache = model.CreateCache(capacity);
    }

    public TransformerModel Model { get; }
    public Cache Cache { get; }

    /// <summary>Rows the draft has cached (the prefix of the target's tokens it last saw, plus chain drafts).</summary>
    public int Length => _length;

    int Map(int token) => (uint)token < (uint)Model.Config.VocabSize ? token : 0;

    /// <summary>Makes the cache hold exactly <paramref name="tokens"/> (root last) and returns the root's logits.</summary>
    public ReadOnlySpan<float> Sync(ReadOnlySpan<int> tokens)
    {
        int n = tokens.Length;
        if (n == 0) throw new ArgumentException("no tokens to draft after");
        if (n > Cache.Capacity) throw new InvalidOperationException($"the draft cache holds {Cache.Capacity} rows, the sequence has {n}");
        int common = 0;
        int limit = Math.Min(_length, n - 1);   // the root is always re-fed: its logits are needed
        while (common < limit && _tokens[common] == tokens[common]) common++;
        Cache.Truncate(common);
        _length = common;
        if (_tokens.Length < n) Array.Resize(ref _tokens, Math.Max(n, _tokens.Length * 2));
        while (_length < n)
        {
            int m = Math.Min(Chunk, n - _length);
            _batch.Clear();
            int parent = -1;
            for (int i = 0; i < m; i++)
                parent = _batch.Add(Map(tokens[_length + i]), Cache, _length + i, parent, wantLogits: _length + m == n && i == m - 1);
            Model.Forward(_batch);
            Cache.CommitInPlace(m);
            tokens.Slice(_length, m).CopyTo(_tokens.AsSpan(_length));
            _length += m;
        }
        return _batch.Logits(_batch.Count - 1);
    }

    /// <summary>Feeds one more token after the cached ones, keeps its row and returns its logits.</summary>
    public ReadOnlySpan<float> Append(int token)
    {
        if (_length + 1 > Cache.Capacity) return ReadOnlySpan<float>.Empty;
        _batch.Clear();
        _batch.Add(Map(token), Cache, _length);
        Model.Forward(_batch);
        Cache.CommitInPlace(1);
        if (_tokens.Length <= _length) Array.Resize(ref _tokens, _tokens.Length * 2);
        _tokens[_length++] = token;
        return _batch.Logits(0);
    }

    /// <summary>
    /// Scores the nodes in <paramref name="frontier"/> of <paramref name="tree"/>, whose root is the last cached token:
    /// one batch holds every frontier node and its uncached ancestors with their tree parents, so each node attends
    /// to its own path only. Nothing is committed. Returns the batch; frontier node i's logits are
    /// <c>Logits(rowOf(frontier[i]))</c>, read through <see cref="RowOf"/>.
    /// </summary>
    public ForwardBatch Evaluate(DraftTree tree, ReadOnlySpan<int> frontier)
    {
        int count = tree.Count;
        if (_rowOf.Length < count) { _rowOf = new int[count * 2]; _needed = new bool[count * 2]; }
        Array.Clear(_needed, 0, count);
        var parents = tree.Parents;
        foreach (int f in frontier)
            for (int a = f; a > 0 && !_needed[a]; a = parents[a]) _needed[a] = true;
        _batch.Clear();
        var depths = tree.Depths;
        var tokens = tree.Tokens;
        int rootPosition = _length - 1;
        // Nodes are numbered parents-first, so walking by index adds every parent row before its children.
        for (int i = 1; i < count; i++)
        {
            if (!_needed[i]) { _rowOf[i] = -1; continue; }
            bool isFrontier = frontier.Contains(i);
            int parentRow = parents[i] == 0 ? -1 : _rowOf[parents[i]];
            _rowOf[i] = _batch.Add(Map(tokens[i]), Cache, rootPosition + depths[i], parentRow, isFrontier);
        }
        if (_batch.Count > 0) Model.Forward(_batch);
        return _batch;
    }

    /// <summary>Batch row of a node scored by the last <see cref="Evaluate"/>.</summary>
    public int RowOf(int node) => _rowOf[node];

    public void Dispose()
    {
        if (_ownsModel) Model.Dispose();
    }
}
