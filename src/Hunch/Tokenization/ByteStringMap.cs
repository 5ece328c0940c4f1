namespace Hunch.Tokenization;

/// <summary>An immutable-after-build hash map from byte strings to ids, looked up by span without allocating
/// (llama.cpp's tokenizers work on UTF-8 byte strings; so do these lookups).</summary>
internal sealed class ByteStringMap
{
    byte[] _blob = new byte[1024];
    int _blobLength;
    int[] _offsets = new int[16];   // per entry: start in blob
    int[] _lengths = new int[16];
    int[] _values = new int[16];
    int _count;
    int[] _buckets = [];            // open addressing: entry index + 1, 0 = empty
    int _mask;

    public int Count => _count;

    public ByteStringMap(int capacity)
    {
        int size = 16;
        while (size < capacity * 2) size <<= 1;
        _buckets = new int[size];
        _mask = size - 1;
    }

    static int Hash(ReadOnlySpan<byte> key)
    {
        // Eight bytes at a time, multiply-xorshift mixing; keys are short token texts.
        ulong h = 0x9E3779B97F4A7C15UL ^ (ulong)key.Length;
        while (key.Length >= 8)
        {
            h = (h ^ System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(key)) * 0xFF51AFD7ED558CCDUL;
            h ^= h >> 32;
            key = key[8..];
        }
        ulong tail = 0;
        for (int i = 0; i < key.Length; i++) tail |= (ulong)key[i] << (8 * i);
        h = (h ^ tail) * 0xC4CEB9FE1A85EC53UL;
        h ^= h >> 29;
        return (int)h;
    }

    /// <summary>Looks a key up; returns -1 when absent.</summary>
    public int Get(ReadOnlySpan<byte> key)
    {
        int h = Hash(key) & _mask;
        while (true)
        {
            int e = _buckets[h];
            if (e == 0) return -1;
            e--;
            if (_lengths[e] == key.Length && _blob.AsSpan(_offsets[e], _lengths[e]).SequenceEqual(key)) return _values[e];
            h = (h + 1) & _mask;
        }
    }

    /// <summary>Adds a key or overwrites its value (returns true when it was new).</summary>
    public bool Set(ReadOnlySpan<byte> key, int value, bool overwrite = true)
    {
        if ((_count + 1) * 2 > _buckets.Length) Grow();
        int h = Hash(key) & _mask;
        while (true)
        {
            int e = _buckets[h];
            if (e == 0) break;
            e--;
            if (_lengths[e] == key.Length && _blob.AsSpan(_offsets[e], _lengths[e]).SequenceEqual(key))
            {
                if (overwrite) _values[e] = value;
                return false;
            }
            h = (h + 1) & _mask;
        }
        if (_count == _offsets.Length)
        {
            Array.Resize(ref _offsets, _count * 2);
            Array.Resize(ref _lengths, _count * 2);
            Array.Resize(ref _values, _count * 2);
        }
        if (_blobLength + key.Length > _blob.Length) Array.Resize(ref _blob, Math.Max(_blob.Length * 2, _blobLength + key.Length));
        key.CopyTo(_blob.AsSpan(_blobLength));
        _offsets[_count] = _blobLength;
        _lengths[_count] = key.Length;
        _values[_count] = value;
        _blobLength += key.Length;
        _count++;
        _buckets[h] = _count;
        return true;
    }

    void Grow()
    {
        var old = _buckets;
        _buckets = new int[old.Length * 2];
        _mask = _buckets.Length - 1;
        for (int i = 0; i < _count; i++)
        {
            int h = Hash(_blob.AsSpan(_offsets[i], _lengths[i])) & _mask;
            while (_buckets[h] != 0) h = (h + 1) & _mask;
            _buckets[h] = i + 1;
        }
    }
}
