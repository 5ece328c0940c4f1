using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;

namespace Hunch.Gguf;

/// <summary>
/// A GGUF file opened read-only and memory-mapped. Metadata and tensor infos are parsed up front with every
/// count, length and offset checked against the file size; tensor data is exposed as views into the mapping
/// (no copies). Dispose to unmap: views must not be used afterwards.
/// </summary>
public sealed unsafe partial class GgufFile : IDisposable
{
    /// <summary>The file's magic number, "GGUF" read little-endian.</summary>
    public const uint Magic = 0x46554747;

    /// <summary>Default data alignment when <c>general.alignment</c> is absent.</summary>
    public const int DefaultAlignment = 32;

    /// <summary>Most dimensions a tensor may have (ggml's GGML_MAX_DIMS).</summary>
    public const int MaxDimensions = 4;

    /// <summary>Deepest nesting of arrays accepted in metadata.</summary>
    public const int MaxArrayDepth = 8;

    /// <summary>Most tensors a file may declare (real models have a few thousand at most).</summary>
    public const int MaxTensorCount = 1 << 16;

    /// <summary>Most metadata entries a file may declare (real models have well under a hundred).</summary>
    public const int MaxMetadataCount = 1 << 16;

    /// <summary>Longest string (key, value, array element or tensor name) accepted, in bytes.</summary>
    public const int MaxStringBytes = 1 << 26;

    /// <summary>Largest <c>general.alignment</c> accepted.</summary>
    public const int MaxAlignment = 1 << 16;

    readonly MemoryMappedFile? _map;
    readonly MemoryMappedViewAccessor? _view;
    readonly byte* _base;
    readonly long _length;
    readonly Dictionary<string, GgufTensorInfo> _tensorsByName;
    bool _disposed;

    /// <summary>Path the file was opened from (null for in-memory buffers).</summary>
    public string? Path { get; }

    /// <summary>GGUF version (2 or 3).</summary>
    public uint Version { get; }

    /// <summary>File size in bytes.</summary>
    public long Length => _length;

    /// <summary>Metadata key-value pairs in file order.</summary>
    public IReadOnlyDictionary<string, GgufValue> Metadata { get; }

    /// <summary>Metadata keys in file order.</summary>
    public IReadOnlyList<string> MetadataKeys { get; }

    /// <summary>Tensor infos in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>Alignment of tensor data.</summary>
    public int Alignment { get; }

    /// <summary>Absolute offset of the data section.</summary>
    public long DataOffset { get; }

    GgufFile(string? path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* basePtr, long length)
    {
        Path = path;
        _map = map;
        _view = view;
        _base = basePtr;
        _length = length;
        var parser = new Parser(basePtr, length);
        parser.Parse();
        Version = parser.Version;
        Metadata = parser.Metadata;
        MetadataKeys = parser.Keys;
        Tensors = parser.Tensors;
        Alignment = parser.Alignment;
        DataOffset = parser.DataOffset;
        _tensorsByName = new Dictionary<string, GgufTensorInfo>(parser.Tensors.Count, StringComparer.Ordinal);
        foreach (var t in parser.Tensors) _tensorsByName[t.Name] = t;
    }

    /// <summary>Opens and parses a GGUF file.</summary>
    /// <exception cref="GgufException">The file is malformed, truncated or unsupported.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static GgufFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"model file not found: {path}", path);
        long length = new FileInfo(path).Length;
        if (length < 24) throw new GgufException($"file is too small to be GGUF ({length} bytes)", 0);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            p += view.PointerOffset;
            return new GgufFile(path, map, view, p, length);
        }
        catch
        {
            if (view is not null)
            {
                view.SafeMemoryMappedViewHandle.ReleasePointer();
                view.Dispose();
            }
            map?.Dispose();
            throw;
        }
    }

    /// <summary>Parses a GGUF image held in native memory owned by the caller (used by tests and fuzzing).</summary>
    public static GgufFile FromMemory(byte* data, long length)
    {
        if (length < 24) throw new GgufException($"file is too small to be GGUF ({length} bytes)", 0);
        return new GgufFile(null, null, null, data, length);
    }

    /// <summary>Parses a GGUF image from a managed array (copied into native memory owned by the result).</summary>
    public static GgufFile FromBytes(ReadOnlySpan<byte> bytes)
    {
        var len = Math.Max(bytes.Length, 1);
        var mem = (byte*)NativeMemory.Alloc((nuint)len);
        bytes.CopyTo(new Span<byte>(mem, bytes.Length));
        try
        {
            var f = FromMemory(mem, bytes.Length);
            f._ownedNative = mem;
            return f;
        }
        catch
        {
            NativeMemory.Free(mem);
            throw;
        }
    }

    byte* _ownedNative;

    /// <summary>Finds a tensor by name, or null.</summary>
    public GgufTensorInfo? FindTensor(string name) => _tensorsByName.GetValueOrDefault(name);

    /// <summary>Finds a tensor by name or throws a <see cref="GgufException"/> naming it.</summary>
    public GgufTensorInfo GetTensor(string name) =>
        FindTensor(name) ?? throw new GgufException("required tensor is missing", -1, name);

    /// <summary>Raw pointer to a tensor's data; valid until the file is disposed.</summary>
    public byte* GetTensorPointer(GgufTensorInfo tensor)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _base + tensor.FileOffset;
    }

    /// <summary>A tensor's bytes as a span (tensors over 2 GiB must use <see cref="GetTensorPointer"/>).</summary>
    public ReadOnlySpan<byte> GetTensorBytes(GgufTensorInfo tensor)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (tensor.ByteSize > int.MaxValue) throw new NotSupportedException($"tensor {tensor.Name} is larger than 2 GiB; use GetTensorPointer");
        return new ReadOnlySpan<byte>(_base + tensor.FileOffset, (int)tensor.ByteSize);
    }

    /// <summary>Metadata value or null.</summary>
    public GgufValue? Find(string key) => Metadata.GetValueOrDefault(key);

    static GgufException WrongType(GgufValue v, string key, string expected) =>
        new($"metadata value has type {v.TypeName}, expected {expected}", v.Offset, key);

    /// <summary>A string metadata value, or <paramref name="fallback"/> when absent.</summary>
    public string? GetString(string key, string? fallback = null)
    {
        var v = Find(key);
        if (v is null) return fallback;
        return v.Value as string ?? throw WrongType(v, key, "String");
    }

    /// <summary>An integer metadata value (any integer type), or <paramref name="fallback"/> when absent.</summary>
    public long GetInt(string key, long fallback)
    {
        var v = Find(key);
        if (v is null) return fallback;
        return v.TryGetInt64(out var x) ? x : throw WrongType(v, key, "an integer");
    }

    /// <summary>An integer metadata value that must be present.</summary>
    public long GetRequiredInt(string key)
    {
        var v = Find(key) ?? throw new GgufException("required metadata key is missing", -1, key);
        return v.TryGetInt64(out var x) ? x : throw WrongType(v, key, "an integer");
    }

    /// <summary>A floating-point metadata value (any number type), or <paramref name="fallback"/> when absent.</summary>
    public double GetFloat(string key, double fallback)
    {
        var v = Find(key);
        if (v is null) return fallback;
        return v.TryGetDouble(out var x) ? x : throw WrongType(v, key, "a number");
    }

    /// <summary>A boolean metadata value, or <paramref name="fallback"/> when absent.</summary>
    public bool GetBool(string key, bool fallback)
    {
        var v = Find(key);
        if (v is null) return fallback;
        return v.Value is bool b ? b : throw WrongType(v, key, "Bool");
    }

    /// <summary>An array metadata value whose elements are exactly the CLR type <typeparamref name="T"/>
    /// (<c>int</c> for Int32, <c>uint</c> for UInt32, <c>string</c>, <c>float</c>, ...), or null when absent.
    /// An array declared with any other element type is an error, as in llama.cpp: a <c>token_type</c> array
    /// stored as UInt8 is not silently read as Int32.</summary>
    public T[]? GetArray<T>(string key)
    {
        var v = Find(key);
        if (v is null) return null;
        // Compare exact types: the runtime lets a uint[] pass as int[] (and byte[] as sbyte[]) through a cast.
        if (v.Value.GetType() == typeof(T[])) return (T[])v.Value;
        throw WrongType(v, key, $"Array of {typeof(T).Name}");
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
        if (_ownedNative is not null) NativeMemory.Free(_ownedNative);
    }
}
