using Hunch.Models;

namespace Hunch.KvCache;

/// <summary>
/// The key/value cache of one sequence. Rows [0, <see cref="Length"/>) are committed: they hold the keys and
/// values of the sequence's tokens at their slots. A forward pass writes its rows for this sequence after the
/// committed rows (scratch rows Length, Length+1, ... in batch order); <see cref="Commit"/> then keeps a chosen
/// list of scratch rows by moving them down to the next contiguous slots, and everything else is discarded.
/// Rolling back is moving the <see cref="Length"/> cursor (<see cref="Truncate"/>); nothing is reallocated
/// per step. Storage grows in chunks up to <see cref="Capacity"/>.
/// </summary>
public sealed class KvCache
{
    internal readonly float[][] Keys;
    internal readonly float[][] Values;
    readonly int _kvDim;
    int _allocatedRows;

    /// <summary>Committed rows.</summary>
    public int Length { get; private set; }

    /// <summary>Most rows (committed plus scratch) this cache may hold.</summary>
    public int Capacity { get; }

    /// <summary>The model configuration this cache belongs to.</summary>
    public ModelConfig Config { get; }

    /// <summary>Creates an empty cache for <paramref name="config"/> with room for <paramref name="capacity"/> rows.</summary>
    public KvCache(ModelConfig config, int capacity)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity));
        Config = config;
        Capacity = capacity;
        _kvDim = config.KvDim;
        Keys = new float[config.LayerCount][];
        Values = new float[config.LayerCount][];
        for (int l = 0; l < config.LayerCount; l++) { Keys[l] = []; Values[l] = []; }
    }

    /// <summary>Makes sure rows [0, rows) have storage; throws when beyond <see cref="Capacity"/>.</summary>
    internal void EnsureRows(int rows)
    {
        if (rows > Capacity) throw new ContextOverflowException($"the sequence needs {rows} cache rows but its context holds {Capacity}");
        if (rows <= _allocatedRows) return;
        int newRows = Math.Min(Capacity, Math.Max(rows, Math.Max(64, _allocatedRows * 2)));
        for (int l = 0; l < Keys.Length; l++)
        {
            Array.Resize(ref Keys[l], newRows * _kvDim);
            Array.Resize(ref Values[l], newRows * _kvDim);
        }
        _allocatedRows = newRows;
    }

    /// <summary>Discards committed rows from <paramref name="length"/> on (rollback).</summary>
    public void Truncate(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length), $"cannot truncate to {length}: the cache holds {Length} rows");
        Length = length;
    }

    /// <summary>Commits the first <paramref name="count"/> scratch rows as they are (prefill, plain decoding).</summary>
    public void CommitInPlace(int count)
    {
        if (count < 0 || Length + count > _allocatedRows) throw new ArgumentOutOfRangeException(nameof(count));
        Length += count;
    }

    /// <summary>Commits the scratch rows at the given offsets after <see cref="Length"/> (offsets in any increasing
    /// order, e.g. the accepted path of a draft tree), moving each down to the next free committed slot.</summary>
    public void Commit(ReadOnlySpan<int> scratchOffsets)
    {
        int dst = Length;
        foreach (int off in scratchOffsets)
        {
            int src = Length + off;
            if (off < 0 || src >= _allocatedRows || src < dst) throw new ArgumentOutOfRangeException(nameof(scratchOffsets), $"scratch offset {off} is invalid");
            if (src != dst)
            {
                for (int l = 0; l < Keys.Length; l++)
                {
                    Array.Copy(Keys[l], src * _kvDim, Keys[l], dst * _kvDim, _kvDim);
                    Array.Copy(Values[l], src * _kvDim, Values[l], dst * _kvDim, _kvDim);
                }
            }
            dst++;
        }
        Length = dst;
    }

    /// <summary>Empties the cache.</summary>
    public void Clear() => Length = 0;

    /// <summary>Copies the committed rows of <paramref name="source"/> (same model) into this cache, replacing its content.</summary>
    public void CopyFrom(KvCache source, int rows)
    {
        if (rows > source.Length) throw new ArgumentOutOfRangeException(nameof(rows));
        EnsureRows(rows);
        for (int l = 0; l < Keys.Length; l++)
        {
            Array.Copy(source.Keys[l], Keys[l], rows * _kvDim);
            Array.Copy(source.Values[l], Values[l], rows * _kvDim);
        }
        Length = rows;
    }
}

/// <summary>A sequence needs more positions than its context holds.</summary>
public sealed class ContextOverflowException(string message) : InvalidOperationException(message);
