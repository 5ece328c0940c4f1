using System.Buffers.Binary;

namespace Hunch.Speculative;

/// <summary>
/// Token Recycling's adjacency matrix: for every token, the <see cref="Width"/> token ids the model most recently
/// ranked highest right after it (column 0 = rank 1), or <see cref="Empty"/>. int32, so 8 columns cost 32 bytes
/// per vocabulary entry (1 MB at 32k tokens). A table may be private to one request or shared by many drafters
/// (a warm table): concurrent writers may interleave inside a row, which can only change acceptance, never output
/// (each slot is one atomic int write, so a read always sees valid ids; readers deduplicate siblings).
/// </summary>
public sealed class RecyclingTable
{
    /// <summary>Successors kept per token.</summary>
    public const int Width = 8;
    /// <summary>Marker of an unfilled slot.</summary>
    public const int Empty = -1;
    /// <summary>Largest vocabulary a table accepts (bounds allocation from a file header).</summary>
    public const int MaxVocabulary = 1 << 22;

    static ReadOnlySpan<byte> Magic => "HRTB"u8;
    const int Version = 1;
    const int HeaderBytes = 16;

    internal readonly int[] Successors;

    /// <summary>Vocabulary size this table covers.</summary>
    public int VocabularySize { get; }

    /// <summary>Creates an empty table for a vocabulary of <paramref name="vocabularySize"/> tokens.</summary>
    public RecyclingTable(int vocabularySize)
    {
        if (vocabularySize <= 0 || vocabularySize > MaxVocabulary)
            throw new ArgumentOutOfRangeException(nameof(vocabularySize), $"vocabulary size {vocabularySize} must be in 1..{MaxVocabulary}");
        VocabularySize = vocabularySize;
        Successors = new int[vocabularySize * Width];
        Clear();
    }

    /// <summary>Empties every row.</summary>
    public void Clear() => Successors.AsSpan().Fill(Empty);

    /// <summary>The successors recorded for <paramref name="token"/> (may contain <see cref="Empty"/>).</summary>
    public ReadOnlySpan<int> Row(int token) => Successors.AsSpan(token * Width, Width);

    /// <summary>Replaces the row of <paramref name="token"/> with <paramref name="successors"/> (at most <see cref="Width"/>; the rest is emptied).</summary>
    public void Write(int token, ReadOnlySpan<int> successors)
    {
        if ((uint)token >= (uint)VocabularySize) throw new ArgumentOutOfRangeException(nameof(token));
        var row = Successors.AsSpan(token * Width, Width);
        int n = Math.Min(successors.Length, Width);
        for (int i = 0; i < n; i++)
        {
            int s = successors[i];
            row[i] = (uint)s < (uint)VocabularySize ? s : Empty;
        }
        for (int i = n; i < Width; i++) row[i] = Empty;
    }

    /// <summary>Rows holding at least one successor.</summary>
    public int FilledRows
    {
        get
        {
            int n = 0;
            for (int t = 0; t < VocabularySize; t++) if (Successors[t * Width] != Empty) n++;
            return n;
        }
    }

    /// <summary>Copies another table's rows into this one (same vocabulary).</summary>
    public void CopyFrom(RecyclingTable other)
    {
        if (other.VocabularySize != VocabularySize) throw new ArgumentException($"table vocabulary {other.VocabularySize} differs from {VocabularySize}");
        other.Successors.AsSpan().CopyTo(Successors);
    }

    /// <summary>Writes the table to <paramref name="path"/> (through a temporary file, replaced atomically).</summary>
    public void Save(string path)
    {
        var bytes = new byte[HeaderBytes + Successors.Length * 4L];
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), Version);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), VocabularySize);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(12), Width);
        for (int i = 0; i < Successors.Length; i++)
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(HeaderBytes + i * 4), Successors[i]);
        string tmp = path + ".tmp";
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>
    /// Reads a table saved by <see cref="Save"/>. Throws <see cref="InvalidDataException"/> when the file is not a
    /// table, is truncated, holds out-of-range ids, or was built for a vocabulary other than
    /// <paramref name="expectedVocabularySize"/> (0 = accept any).
    /// </summary>
    public static RecyclingTable Load(string path, int expectedVocabularySize = 0)
    {
        using var stream = File.OpenRead(path);
        Span<byte> header = stackalloc byte[HeaderBytes];
        if (stream.ReadAtLeast(header, HeaderBytes, throwOnEndOfStream: false) < HeaderBytes || !header[..4].SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: not a Hunch recycling table");
        int version = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        int vocab = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        int width = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
        if (version != Version) throw new InvalidDataException($"{path}: table version {version} is not supported (expected {Version})");
        if (width != Width) throw new InvalidDataException($"{path}: table width {width} differs from {Width}");
        if (vocab <= 0 || vocab > MaxVocabulary) throw new InvalidDataException($"{path}: vocabulary size {vocab} is out of range");
        if (expectedVocabularySize > 0 && vocab != expectedVocabularySize)
            throw new InvalidDataException($"{path}: table was built for a vocabulary of {vocab} tokens, the model has {expectedVocabularySize}");
        long expectedLength = HeaderBytes + (long)vocab * Width * 4;
        if (stream.Length != expectedLength) throw new InvalidDataException($"{path}: {stream.Length} bytes, expected {expectedLength}");
        var table = new RecyclingTable(vocab);
        var body = new byte[vocab * Width * 4];
        stream.ReadExactly(body);
        for (int i = 0; i < table.Successors.Length; i++)
        {
            int s = BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(i * 4));
            if (s != Empty && (uint)s >= (uint)vocab) throw new InvalidDataException($"{path}: successor id {s} at entry {i} is outside the vocabulary");
            table.Successors[i] = s;
        }
        return table;
    }
}
