namespace Hunch.Tokenization;

/// <summary>
/// Binary min-heap of candidate merges for the SentencePiece and BPE merge loops. The key packs the priority in
/// the high 32 bits and the left symbol index in the low 32 bits, so ties go to the leftmost pair, as in llama.cpp.
/// </summary>
internal sealed class MergeQueue
{
    struct Entry
    {
        public long Key;
        public int Right;
        public int Size;
        public int Result;
    }

    Entry[] _items = new Entry[64];
    int _count;

    public int Count => _count;

    public void Clear() => _count = 0;

    /// <summary>Key for a BPE merge: lower rank first.</summary>
    public static long RankKey(int rank, int left) => ((long)rank << 32) | (uint)left;

    /// <summary>Key for a SentencePiece merge: higher score first (compared as C++ compares floats: -0 equals +0).</summary>
    public static long ScoreKey(float score, int left)
    {
        if (score == 0f) score = 0f;
        int bits = BitConverter.SingleToInt32Bits(score);
        // Monotone map from float order to signed int order, then negated so the highest score is smallest.
        int ordered = bits >= 0 ? bits : bits ^ 0x7FFFFFFF;
        int descending = ~ordered;
        return ((long)descending << 32) | (uint)left;
    }

    public void Push(long key, int right, int size, int result = 0)
    {
        if (_count == _items.Length) Array.Resize(ref _items, _count * 2);
        int i = _count++;
        var items = _items;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (items[parent].Key <= key) break;
            items[i] = items[parent];
            i = parent;
        }
        items[i] = new Entry { Key = key, Right = right, Size = size, Result = result };
    }

    public bool TryPop(out int left, out int right, out int size) => TryPop(out left, out right, out size, out _);

    public bool TryPop(out int left, out int right, out int size, out int result)
    {
        if (_count == 0) { left = right = size = result = 0; return false; }
        var items = _items;
        var top = items[0];
        left = (int)(uint)top.Key;
        right = top.Right;
        size = top.Size;
        result = top.Result;
        var last = items[--_count];
        int i = 0;
        int n = _count;
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= n) break;
            if (child + 1 < n && items[child + 1].Key < items[child].Key) child++;
            if (items[child].Key >= last.Key) break;
            items[i] = items[child];
            i = child;
        }
        if (n > 0) items[i] = last;
        return true;
    }
}
