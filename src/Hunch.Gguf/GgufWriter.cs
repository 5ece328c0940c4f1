using System.Runtime.InteropServices;
using System.Text;

namespace Hunch.Gguf;

/// <summary>Writes a tensor's bytes to <paramref name="destination"/> (exactly the tensor's byte size).</summary>
public delegate void TensorDataWriter(Stream destination);

/// <summary>
/// Builds a GGUF version 3 file: metadata of any value type, then tensors of any <see cref="GgmlType"/> given as raw
/// bytes (or streamed by a callback, so models larger than memory can be written). Tensor data is packed in the
/// order tensors were added, each padded to the alignment, as llama.cpp's reader requires. Standard keys must carry
/// the exact types llama.cpp demands (<see cref="GgufKeyTypes"/>).
/// </summary>
public sealed class GgufWriter
{
    /// <summary>llama.cpp rejects tensor names of 64 bytes or more (GGML_MAX_NAME).</summary>
    public const int MaxTensorNameBytes = 63;

    readonly List<(string Key, GgufValue Value)> _metadata = [];
    readonly Dictionary<string, int> _keyIndex = new(StringComparer.Ordinal);
    readonly List<PendingTensor> _tensors = [];
    readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);

    sealed record PendingTensor(string Name, GgmlType Type, long[] Dimensions, long ByteSize, ReadOnlyMemory<byte>? Data, TensorDataWriter? Writer);

    /// <summary>Creates a writer whose tensor data is aligned to <paramref name="alignment"/> bytes (a power of
    /// two up to <see cref="GgufFile.MaxAlignment"/>); a value other than 32 is recorded as <c>general.alignment</c>.</summary>
    public GgufWriter(int alignment = GgufFile.DefaultAlignment)
    {
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0 || alignment > GgufFile.MaxAlignment)
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, $"alignment must be a power of two between 1 and {GgufFile.MaxAlignment}");
        Alignment = alignment;
        if (alignment != GgufFile.DefaultAlignment) SetMetadata("general.alignment", (uint)alignment);
    }

    /// <summary>Alignment of the data section and of every tensor.</summary>
    public int Alignment { get; }

    /// <summary>Metadata keys in the order they will be written.</summary>
    public IEnumerable<string> Keys { get { foreach (var (k, _) in _metadata) yield return k; } }

    /// <summary>Sets a metadata value (replacing an earlier value for the same key in place).</summary>
    /// <exception cref="ArgumentException">The value's CLR type does not match its GGUF type, or a standard key
    /// has a type llama.cpp would reject.</exception>
    public void SetMetadata(string key, GgufValue value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (key.Length == 0) throw new ArgumentException("metadata key must not be empty", nameof(key));
        if (!value.IsConsistent()) throw new ArgumentException($"value for {key} declares {value.TypeName} but holds {value.Value.GetType().Name}", nameof(value));
        if (GgufKeyTypes.Check(key, value) is { } expected)
            throw new ArgumentException($"{key} must be {expected} (llama.cpp rejects other types), got {value.TypeName}", nameof(value));
        if (key == "general.alignment" && (uint)value.Value != (uint)Alignment)
            throw new ArgumentException($"general.alignment {value.Value} differs from the writer's alignment {Alignment}", nameof(value));
        if (value.Value is string[] strings)
            foreach (var s in strings) if (s is null) throw new ArgumentException($"string array {key} contains null", nameof(value));
        if (_keyIndex.TryGetValue(key, out int i)) _metadata[i] = (key, value);
        else
        {
            _keyIndex[key] = _metadata.Count;
            _metadata.Add((key, value));
        }
    }

    /// <summary>Sets a metadata value from a CLR value (see <see cref="GgufValue.From"/> for the type mapping).</summary>
    public void SetMetadata(string key, object value) => SetMetadata(key, value as GgufValue ?? GgufValue.From(value));

    /// <summary>Removes a metadata key if present.</summary>
    public bool RemoveMetadata(string key)
    {
        if (!_keyIndex.Remove(key, out int i)) return false;
        _metadata.RemoveAt(i);
        for (int j = i; j < _metadata.Count; j++) _keyIndex[_metadata[j].Key] = j;
        return true;
    }

    /// <summary>Adds a tensor whose bytes are given (their length must equal the size its type and shape imply).</summary>
    /// <param name="name">Unique tensor name, under 64 bytes.</param>
    /// <param name="type">Element type.</param>
    /// <param name="dimensions">Dimensions in ggml order (row length first), 1 to 4 of them.</param>
    /// <param name="data">The tensor's bytes, kept by reference until <see cref="Write(Stream)"/>.</param>
    public void AddTensor(string name, GgmlType type, ReadOnlySpan<long> dimensions, ReadOnlyMemory<byte> data)
    {
        long size = CheckTensor(name, type, dimensions);
        if (data.Length != size) throw new ArgumentException($"tensor {name} needs {size} bytes, {data.Length} given", nameof(data));
        _tensors.Add(new PendingTensor(name, type, dimensions.ToArray(), size, data, null));
        _tensorNames.Add(name);
    }

    /// <summary>Adds a tensor whose bytes <paramref name="writer"/> streams when the file is written; it must write
    /// exactly the size the type and shape imply.</summary>
    public void AddTensor(string name, GgmlType type, ReadOnlySpan<long> dimensions, TensorDataWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        long size = CheckTensor(name, type, dimensions);
        _tensors.Add(new PendingTensor(name, type, dimensions.ToArray(), size, null, writer));
        _tensorNames.Add(name);
    }

    /// <summary>Bytes a tensor of this type and shape occupies.</summary>
    public static long TensorBytes(GgmlType type, ReadOnlySpan<long> dimensions)
    {
        long rows = 1;
        for (int d = 1; d < dimensions.Length; d++) rows = checked(rows * dimensions[d]);
        return checked(GgmlTypeInfo.RowBytes(type, dimensions[0]) * rows);
    }

    long CheckTensor(string name, GgmlType type, ReadOnlySpan<long> dimensions)
    {
        ArgumentNullException.ThrowIfNull(name);
        int nameBytes = Encoding.UTF8.GetByteCount(name);
        if (nameBytes is 0 or > MaxTensorNameBytes) throw new ArgumentException($"tensor name '{name}' must be 1..{MaxTensorNameBytes} bytes", nameof(name));
        if (_tensorNames.Contains(name)) throw new ArgumentException($"duplicate tensor name {name}", nameof(name));
        if (dimensions.Length is 0 or > GgufFile.MaxDimensions) throw new ArgumentException($"tensor {name} has {dimensions.Length} dimensions (1..{GgufFile.MaxDimensions} allowed)", nameof(dimensions));
        foreach (var d in dimensions) if (d <= 0) throw new ArgumentException($"tensor {name} has dimension {d}", nameof(dimensions));
        if (!GgmlTypeInfo.IsKnown(type)) throw new ArgumentException($"tensor {name} has unknown type {type}", nameof(type));
        try { return TensorBytes(type, dimensions); }
        catch (OverflowException) { throw new ArgumentException($"tensor {name} is too large", nameof(dimensions)); }
        catch (ArgumentException e) { throw new ArgumentException($"tensor {name}: {e.Message}", nameof(dimensions)); }
    }

    /// <summary>Writes the file to <paramref name="path"/>, through a temporary file renamed on success so a
    /// failure never leaves a truncated model behind.</summary>
    public void Write(string path)
    {
        string partial = path + ".partial";
        try
        {
            using (var fs = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
                Write(fs);
            File.Move(partial, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(partial); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>Writes the file to a stream.</summary>
    public void Write(Stream stream)
    {
        var header = new MemoryStream();
        var w = new BinaryWriter(header, Encoding.UTF8, leaveOpen: true);
        w.Write(GgufFile.Magic);
        w.Write(3u);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            WriteString(w, key);
            w.Write((uint)value.Type);
            WriteValue(w, value);
        }
        long offset = 0;
        foreach (var t in _tensors)
        {
            WriteString(w, t.Name);
            w.Write((uint)t.Dimensions.Length);
            foreach (var d in t.Dimensions) w.Write((ulong)d);
            w.Write((uint)t.Type);
            w.Write((ulong)offset);
            offset = checked(offset + Pad(t.ByteSize));
        }
        w.Flush();
        var padding = new byte[Alignment];
        header.Write(padding, 0, (int)(Pad(header.Length) - header.Length));
        header.Position = 0;
        header.CopyTo(stream);

        foreach (var t in _tensors)
        {
            if (t.Data is { } data) stream.Write(data.Span);
            else
            {
                var counting = new CountingStream(stream, t.ByteSize, t.Name);
                t.Writer!(counting);
                if (counting.Written != t.ByteSize)
                    throw new InvalidOperationException($"tensor {t.Name}: the data writer wrote {counting.Written} bytes, {t.ByteSize} expected");
            }
            stream.Write(padding, 0, (int)(Pad(t.ByteSize) - t.ByteSize));
        }
        stream.Flush();
    }

    long Pad(long n) => checked((n + Alignment - 1) / Alignment * Alignment);

    static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    static void WriteValue(BinaryWriter w, GgufValue v)
    {
        if (v.Type != GgufValueType.Array)
        {
            WriteScalar(w, v.Value);
            return;
        }
        w.Write((uint)v.ElementType);
        var a = (Array)v.Value;
        w.Write((ulong)a.Length);
        switch (v.Value)
        {
            case string[] strings: foreach (var s in strings) WriteString(w, s); break;
            case GgufValue[] nested: foreach (var n in nested) WriteValue(w, n); break;
            case bool[] bools: foreach (var b in bools) w.Write(b ? (byte)1 : (byte)0); break;
            // Numeric arrays go out as their raw little-endian bytes (the machine is little-endian, as GGUF is).
            case byte[] x: w.Write(x); break;
            case sbyte[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            case ushort[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            case short[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            case uint[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            case int[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            case float[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            case ulong[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            case long[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            case double[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            default: throw new ArgumentException($"{a.GetType().Name} cannot be stored in GGUF");
        }
    }

    static void WriteScalar(BinaryWriter w, object x)
    {
        switch (x)
        {
            case byte b: w.Write(b); break;
            case sbyte b: w.Write(b); break;
            case ushort b: w.Write(b); break;
            case short b: w.Write(b); break;
            case uint b: w.Write(b); break;
            case int b: w.Write(b); break;
            case float b: w.Write(b); break;
            case bool b: w.Write(b ? (byte)1 : (byte)0); break;
            case string s: WriteString(w, s); break;
            case ulong b: w.Write(b); break;
            case long b: w.Write(b); break;
            case double b: w.Write(b); break;
            default: throw new ArgumentException($"{x.GetType().Name} cannot be stored in GGUF");
        }
    }

    /// <summary>Passes writes through while counting them, refusing to write past a tensor's size.</summary>
    sealed class CountingStream(Stream inner, long limit, string name) : Stream
    {
        public long Written;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Written; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (Written + buffer.Length > limit)
                throw new InvalidOperationException($"tensor {name}: the data writer wrote more than the tensor's {limit} bytes");
            inner.Write(buffer);
            Written += buffer.Length;
        }
    }
}
