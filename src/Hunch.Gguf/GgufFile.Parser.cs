using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Unicode;

namespace Hunch.Gguf;

public sealed unsafe partial class GgufFile
{
    /// <summary>
    /// Parses the header. Every length and count is checked against the bytes that remain before anything is
    /// allocated, and all size arithmetic is checked 64-bit, so managed allocation stays within a small multiple of
    /// the header's size plus fixed caps (see docs/threat-model.md). Work is linear in the bytes read: no hang.
    /// </summary>
    sealed class Parser(byte* basePtr, long length)
    {
        // Smallest encodings, used to reject counts the remaining bytes cannot hold before allocating for them.
        const int MinKeyValueBytes = 8 + 4 + 1;          // key length, value type, one-byte value
        const int MinTensorInfoBytes = 8 + 4 + 8 + 4 + 8; // name length, n_dims, one dimension, type, offset
        const int MinNestedArrayBytes = 4 + 8;            // element type, count
        const int InitialArrayCapacity = 1024;

        long _pos;
        public uint Version;
        public readonly Dictionary<string, GgufValue> Metadata = new(StringComparer.Ordinal);
        public readonly List<string> Keys = [];
        public readonly List<GgufTensorInfo> Tensors = [];
        public int Alignment = DefaultAlignment;
        public long DataOffset;
        string? _currentItem;

        long Remaining => length - _pos;

        GgufException Error(string message, long offset) => new(message, offset, _currentItem);

        void Need(long bytes, string what)
        {
            if (bytes > Remaining)
                throw Error($"truncated file: {what} needs {bytes} bytes but only {Remaining} remain", _pos);
        }

        byte ReadU8(string what) { Need(1, what); return basePtr[_pos++]; }
        ushort ReadU16(string what) { Need(2, what); var v = Unsafe.ReadUnaligned<ushort>(basePtr + _pos); _pos += 2; return v; }
        uint ReadU32(string what) { Need(4, what); var v = Unsafe.ReadUnaligned<uint>(basePtr + _pos); _pos += 4; return v; }
        ulong ReadU64(string what) { Need(8, what); var v = Unsafe.ReadUnaligned<ulong>(basePtr + _pos); _pos += 8; return v; }

        string ReadString(string what)
        {
            long at = _pos;
            ulong len = ReadU64(what + " length");
            if (len > (ulong)Remaining)
                throw Error($"{what} length {len} exceeds the {Remaining} bytes left in the file", at);
            if (len > MaxStringBytes)
                throw Error($"{what} length {len} exceeds the limit of {MaxStringBytes} bytes", at);
            if (len == 0) return "";
            // Invalid UTF-8 becomes U+FFFD rather than an error: llama.cpp keeps such bytes, and a key or token
            // that does not decode cleanly is the consumer's concern, not a parsing failure.
            var bytes = new ReadOnlySpan<byte>(basePtr + _pos, (int)len);
            _pos += (long)len;
            if (Utf8.IsValid(bytes)) return Encoding.UTF8.GetString(bytes);
            // Encoding.UTF8 allocates about 15 bytes per byte of invalid input on its replacement path; this keeps
            // hostile strings to one UTF-16 buffer (never more chars than bytes) and the string itself.
            var buffer = ArrayPool<char>.Shared.Rent((int)len);
            try
            {
                Utf8.ToUtf16(bytes, buffer, out _, out int written, replaceInvalidSequences: true);
                return new string(buffer, 0, written);
            }
            finally { ArrayPool<char>.Shared.Return(buffer); }
        }

        public void Parse()
        {
            uint magic = ReadU32("magic");
            if (magic != Magic) throw new GgufException($"not a GGUF file (magic 0x{magic:X8})", 0);
            Version = ReadU32("version");
            if (Version is 0x02000000 or 0x03000000)
                throw new GgufException("big-endian GGUF files are not supported", 4);
            if (Version is < 2 or > 3) throw new GgufException($"unsupported GGUF version {Version} (2 and 3 are supported)", 4);
            ulong tensorCount = ReadU64("tensor count");
            ulong kvCount = ReadU64("metadata count");
            if (tensorCount > MaxTensorCount)
                throw new GgufException($"tensor count {tensorCount} exceeds the limit of {MaxTensorCount}", 8);
            if (kvCount > MaxMetadataCount)
                throw new GgufException($"metadata count {kvCount} exceeds the limit of {MaxMetadataCount}", 16);
            if (kvCount * MinKeyValueBytes + tensorCount * MinTensorInfoBytes > (ulong)Remaining)
                throw new GgufException($"{kvCount} metadata entries and {tensorCount} tensor infos cannot fit in a file of {length} bytes", 8);

            long alignmentAt = -1;
            for (ulong i = 0; i < kvCount; i++)
            {
                _currentItem = null;
                long keyAt = _pos;
                string key = ReadString("metadata key");
                _currentItem = key;
                long typeAt = _pos;
                var type = (GgufValueType)ReadU32("value type");
                var value = ReadValue(type, 0, typeAt);
                if (!Metadata.TryAdd(key, value)) throw Error("duplicate metadata key", keyAt);
                Keys.Add(key);
                if (key == "general.alignment") alignmentAt = typeAt;
            }
            _currentItem = null;

            if (Metadata.TryGetValue("general.alignment", out var alignValue))
            {
                if (alignValue.Value is not uint a)
                    throw new GgufException($"general.alignment must be UInt32, found {Describe(alignValue)}", alignmentAt, "general.alignment");
                if (a == 0 || (a & (a - 1)) != 0 || a > MaxAlignment)
                    throw new GgufException($"general.alignment {a} must be a power of two between 1 and {MaxAlignment}", alignmentAt, "general.alignment");
                Alignment = (int)a;
            }

            // Grown as infos are actually read, so a large declared count costs nothing until the bytes back it.
            var infos = new List<(string Name, long[] Dims, GgmlType Type, ulong Offset, long At)>((int)Math.Min(tensorCount, 256));
            for (ulong i = 0; i < tensorCount; i++)
            {
                _currentItem = null;
                long tensorAt = _pos;
                string name = ReadString("tensor name");
                _currentItem = name;
                long dimsAt = _pos;
                uint nDims = ReadU32("tensor dimension count");
                if (nDims is 0 or > MaxDimensions) throw Error($"tensor has {nDims} dimensions (1..{MaxDimensions} allowed)", dimsAt);
                var dims = new long[nDims];
                for (int d = 0; d < dims.Length; d++)
                {
                    long dimAt = _pos;
                    ulong n = ReadU64("tensor dimension");
                    // ggml stores dimensions as int64; zero-sized tensors carry no weights a model could use.
                    if (n == 0 || n > long.MaxValue) throw Error($"tensor dimension {d} is {n} (must be between 1 and 2^63-1)", dimAt);
                    dims[d] = (long)n;
                }
                var type = (GgmlType)ReadU32("tensor type");
                ulong offset = ReadU64("tensor offset");
                infos.Add((name, dims, type, offset, tensorAt));
            }
            _currentItem = null;

            // The data section starts at the first aligned offset after the infos; _pos <= length, so no overflow.
            DataOffset = AlignUp(_pos, Alignment);
            if (tensorCount > 0 && DataOffset > length)
                throw new GgufException($"data section (aligned to {Alignment}) would start at {DataOffset}, past the end of the file ({length} bytes)", _pos);
            long dataBytes = length - DataOffset;

            var ranges = new (long Start, long End, int Index)[infos.Count];
            var seen = new HashSet<string>(infos.Count, StringComparer.Ordinal);
            for (int i = 0; i < infos.Count; i++)
            {
                var (name, dims, type, offset, at) = infos[i];
                _currentItem = name;
                if (!seen.Add(name)) throw Error("duplicate tensor name", at);
                var (bs, bb) = GgmlTypeInfo.Layout(type);
                if (bs == 0) throw Error($"unsupported tensor type {type} ({(uint)type})", at);
                if (dims[0] % bs != 0) throw Error($"row length {dims[0]} is not a multiple of the {type} block size {bs}", at);
                long bytes;
                try
                {
                    bytes = checked(dims[0] / bs * bb);
                    for (int d = 1; d < dims.Length; d++) bytes = checked(bytes * dims[d]);
                    long elements = 1;
                    foreach (var n in dims) elements = checked(elements * n);
                }
                catch (OverflowException)
                {
                    throw Error($"tensor size overflows 64 bits (dimensions [{string.Join(", ", dims)}], type {type})", at);
                }
                if (offset % (ulong)Alignment != 0) throw Error($"tensor offset {offset} is not a multiple of the alignment {Alignment}", at);
                // Both comparisons are between non-negative values no larger than the file size: nothing can wrap.
                if (offset > (ulong)dataBytes || bytes > dataBytes - (long)offset)
                    throw Error($"tensor data [{offset}, {offset}+{bytes}) lies past the end of the data section ({dataBytes} bytes from byte {DataOffset})", at);
                long fileOffset = DataOffset + (long)offset;
                Tensors.Add(new GgufTensorInfo { Name = name, Type = type, Dimensions = dims, RelativeOffset = (long)offset, FileOffset = fileOffset, ByteSize = bytes });
                ranges[i] = (fileOffset, fileOffset + bytes, i);
            }
            _currentItem = null;

            Array.Sort(ranges, (a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : a.Index.CompareTo(b.Index));
            for (int i = 1; i < ranges.Length; i++)
                if (ranges[i].Start < ranges[i - 1].End)
                    throw new GgufException(
                        $"tensor data [{ranges[i].Start}, {ranges[i].End}) overlaps tensor {infos[ranges[i - 1].Index].Name} [{ranges[i - 1].Start}, {ranges[i - 1].End})",
                        infos[ranges[i].Index].At, infos[ranges[i].Index].Name);
        }

        static string Describe(GgufValue v) => v.Type == GgufValueType.Array ? $"Array of {v.ElementType}" : v.Type.ToString();

        static long AlignUp(long x, int a) => (x + a - 1) / a * a;

        GgufValue ReadValue(GgufValueType type, int depth, long at)
        {
            switch (type)
            {
                case GgufValueType.UInt8: return new(type, ReadU8("uint8")) { Offset = at };
                case GgufValueType.Int8: return new(type, (sbyte)ReadU8("int8")) { Offset = at };
                case GgufValueType.UInt16: return new(type, ReadU16("uint16")) { Offset = at };
                case GgufValueType.Int16: return new(type, (short)ReadU16("int16")) { Offset = at };
                case GgufValueType.UInt32: return new(type, ReadU32("uint32")) { Offset = at };
                case GgufValueType.Int32: return new(type, (int)ReadU32("int32")) { Offset = at };
                case GgufValueType.Float32: return new(type, BitConverter.UInt32BitsToSingle(ReadU32("float32"))) { Offset = at };
                case GgufValueType.UInt64: return new(type, ReadU64("uint64")) { Offset = at };
                case GgufValueType.Int64: return new(type, (long)ReadU64("int64")) { Offset = at };
                case GgufValueType.Float64: return new(type, BitConverter.UInt64BitsToDouble(ReadU64("float64"))) { Offset = at };
                case GgufValueType.Bool:
                    {
                        long boolAt = _pos;
                        byte b = ReadU8("bool");
                        if (b > 1) throw Error($"bool value {b} is neither 0 nor 1", boolAt);
                        return new(type, b == 1) { Offset = at };
                    }
                case GgufValueType.String: return new(type, ReadString("string")) { Offset = at };
                case GgufValueType.Array:
                    {
                        if (depth >= MaxArrayDepth) throw Error($"arrays nested deeper than {MaxArrayDepth}", at);
                        long elemAt = _pos;
                        var elem = (GgufValueType)ReadU32("array element type");
                        long countAt = _pos;
                        ulong count = ReadU64("array count");
                        long min = MinElementBytes(elem, elemAt);
                        if (count > (ulong)(Remaining / min))
                            throw Error($"array of {count} {elem} elements cannot fit in the {Remaining} bytes left", countAt);
                        if (count > (ulong)Array.MaxLength)
                            throw Error($"array of {count} elements exceeds the largest array this runtime can hold", countAt);
                        return new(type, ReadArray(elem, (int)count, depth), elem) { Offset = at };
                    }
                default:
                    throw Error($"unknown metadata value type {(uint)type}", at);
            }
        }

        long MinElementBytes(GgufValueType t, long at) => t switch
        {
            GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
            GgufValueType.UInt16 or GgufValueType.Int16 => 2,
            GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
            GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
            GgufValueType.Array => MinNestedArrayBytes,
            _ => throw Error($"unknown array element type {(uint)t}", at),
        };

        object ReadArray(GgufValueType elem, int n, int depth)
        {
            // Scalar arrays are bulk-copied: the count was checked against the remaining bytes above.
            switch (elem)
            {
                case GgufValueType.UInt8: return Copy<byte>(n);
                case GgufValueType.Int8: return Copy<sbyte>(n);
                case GgufValueType.UInt16: return Copy<ushort>(n);
                case GgufValueType.Int16: return Copy<short>(n);
                case GgufValueType.UInt32: return Copy<uint>(n);
                case GgufValueType.Int32: return Copy<int>(n);
                case GgufValueType.Float32: return Copy<float>(n);
                case GgufValueType.UInt64: return Copy<ulong>(n);
                case GgufValueType.Int64: return Copy<long>(n);
                case GgufValueType.Float64: return Copy<double>(n);
                case GgufValueType.Bool:
                    {
                        // Validate before allocating, so a long run of non-bool bytes costs nothing.
                        Need(n, "bool array");
                        for (int i = 0; i < n; i++)
                            if (basePtr[_pos + i] > 1) throw Error($"bool value {basePtr[_pos + i]} (element {i}) is neither 0 nor 1", _pos + i);
                        var a = n == 0 ? [] : new bool[n];
                        for (int i = 0; i < n; i++) a[i] = basePtr[_pos + i] == 1;
                        _pos += n;
                        return a;
                    }
                case GgufValueType.String:
                    {
                        // Walk the length fields first (no allocation): a declared count or a length the bytes do not
                        // back fails here, cheaply, before any string is decoded.
                        long p = _pos;
                        for (int i = 0; i < n; i++)
                        {
                            if (length - p < 8) throw Error($"truncated file: string length of element {i} needs 8 bytes but only {length - p} remain", p);
                            ulong len = Unsafe.ReadUnaligned<ulong>(basePtr + p);
                            if (len > (ulong)(length - p - 8))
                                throw Error($"string length {len} (element {i}) exceeds the {length - p - 8} bytes left in the file", p);
                            if (len > MaxStringBytes) throw Error($"string length {len} (element {i}) exceeds the limit of {MaxStringBytes} bytes", p);
                            p += 8 + (long)len;
                        }
                        var a = n == 0 ? [] : new string[n];
                        for (int i = 0; i < n; i++) a[i] = ReadString("string");
                        return a;
                    }
                case GgufValueType.Array:
                    {
                        var a = n == 0 ? [] : new GgufValue[Math.Min(n, InitialArrayCapacity)];
                        for (int i = 0; i < n; i++)
                        {
                            if (i == a.Length) Array.Resize(ref a, (int)Math.Min(2L * a.Length, n));
                            a[i] = ReadValue(GgufValueType.Array, depth + 1, _pos);
                        }
                        return a;
                    }
                default: throw Error($"unknown array element type {(uint)elem}", _pos);
            }
        }

        T[] Copy<T>(int n) where T : unmanaged
        {
            if (n == 0) return [];
            long bytes = (long)n * sizeof(T);
            Need(bytes, typeof(T).Name + " array");
            var a = new T[n];
            fixed (T* d = a) Buffer.MemoryCopy(basePtr + _pos, d, bytes, bytes);
            _pos += bytes;
            return a;
        }
    }
}
