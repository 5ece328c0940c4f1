using System.Text;

namespace Hunch.Gguf;

public sealed unsafe partial class GgufFile
{
    /// <summary>
    /// Parses the header. Every length and count is checked against the bytes that remain before anything is
    /// allocated, so no allocation exceeds a small multiple of the file size (see docs/threat-model.md).
    /// </summary>
    sealed class Parser(byte* basePtr, long length)
    {
        long _pos;
        public uint Version;
        public readonly Dictionary<string, GgufValue> Metadata = new(StringComparer.Ordinal);
        public readonly List<string> Keys = [];
        public readonly List<GgufTensorInfo> Tensors = [];
        public int Alignment = DefaultAlignment;
        public long DataOffset;
        string? _currentKey;

        long Remaining => length - _pos;

        void Need(long bytes, string what)
        {
            if (bytes < 0 || bytes > Remaining)
                throw new GgufException($"truncated file: {what} needs {bytes} bytes but only {Math.Max(Remaining, 0)} remain", _pos, _currentKey);
        }

        byte ReadU8(string what) { Need(1, what); return basePtr[_pos++]; }
        ushort ReadU16(string what) { Need(2, what); var v = *(ushort*)(basePtr + _pos); _pos += 2; return v; }
        uint ReadU32(string what) { Need(4, what); var v = *(uint*)(basePtr + _pos); _pos += 4; return v; }
        ulong ReadU64(string what) { Need(8, what); var v = *(ulong*)(basePtr + _pos); _pos += 8; return v; }

        string ReadString(string what)
        {
            long at = _pos;
            ulong len = ReadU64(what + " length");
            if (len > (ulong)Remaining)
                throw new GgufException($"{what} length {len} exceeds the {Remaining} bytes left in the file", at, _currentKey);
            var s = Encoding.UTF8.GetString(basePtr + _pos, (int)Math.Min(len, int.MaxValue));
            if (len > int.MaxValue) throw new GgufException($"{what} length {len} is too large", at, _currentKey);
            _pos += (long)len;
            return s;
        }

        public void Parse()
        {
            uint magic = ReadU32("magic");
            if (magic != Magic) throw new GgufException($"not a GGUF file (magic 0x{magic:X8})", 0);
            Version = ReadU32("version");
            if (Version is < 2 or > 3) throw new GgufException($"unsupported GGUF version {Version} (2 and 3 are supported)", 4);
            long at = _pos;
            ulong tensorCount = ReadU64("tensor count");
            ulong kvCount = ReadU64("metadata count");
            // Each tensor info takes at least 8 (name length) + 4 (dims) + 4 (type) + 8 (offset) bytes, each key-value
            // at least 8 + 4 + 1: counts above what the file can hold are hostile.
            if (tensorCount > (ulong)(Remaining / 24)) throw new GgufException($"tensor count {tensorCount} cannot fit in a file of {length} bytes", at);
            if (kvCount > (ulong)(Remaining / 13)) throw new GgufException($"metadata count {kvCount} cannot fit in a file of {length} bytes", at + 8);

            for (ulong i = 0; i < kvCount; i++)
            {
                _currentKey = null;
                long keyAt = _pos;
                string key = ReadString("metadata key");
                _currentKey = key;
                var type = (GgufValueType)ReadU32("value type");
                var value = ReadValue(type, 0);
                if (!Metadata.TryAdd(key, value)) throw new GgufException("duplicate metadata key", keyAt, key);
                Keys.Add(key);
            }
            _currentKey = null;

            if (Metadata.TryGetValue("general.alignment", out var alignValue))
            {
                if (alignValue.Value is not uint a)
                    throw new GgufException($"general.alignment must be UInt32, found {alignValue.Type}", -1, "general.alignment");
                if (a == 0 || (a & (a - 1)) != 0 || a > 1 << 16)
                    throw new GgufException($"general.alignment {a} must be a power of two between 1 and 65536", -1, "general.alignment");
                Alignment = (int)a;
            }

            var infos = new List<(string Name, long[] Dims, GgmlType Type, ulong Offset, long At)>((int)Math.Min(tensorCount, 1 << 16));
            for (ulong i = 0; i < tensorCount; i++)
            {
                long tensorAt = _pos;
                string name = ReadString("tensor name");
                _currentKey = name;
                uint nDims = ReadU32("tensor dimension count");
                if (nDims is 0 or > MaxDimensions) throw new GgufException($"tensor has {nDims} dimensions (1..{MaxDimensions} allowed)", tensorAt, name);
                var dims = new long[nDims];
                for (int d = 0; d < nDims; d++)
                {
                    ulong n = ReadU64("tensor dimension");
                    if (n == 0 || n > long.MaxValue) throw new GgufException($"tensor dimension {d} is {n}", _pos - 8, name);
                    dims[d] = (long)n;
                }
                var type = (GgmlType)ReadU32("tensor type");
                ulong offset = ReadU64("tensor offset");
                infos.Add((name, dims, type, offset, tensorAt));
            }
            _currentKey = null;

            DataOffset = AlignUp(_pos, Alignment);
            if (DataOffset > length && tensorCount > 0) throw new GgufException("data section starts past the end of the file", _pos);

            var names = new HashSet<string>(StringComparer.Ordinal);
            var ranges = new List<(long Start, long End, string Name)>(infos.Count);
            foreach (var (name, dims, type, offset, at2) in infos)
            {
                if (!names.Add(name)) throw new GgufException("duplicate tensor name", at2, name);
                var (bs, bb) = GgmlTypeInfo.Layout(type);
                if (bs == 0) throw new GgufException($"unsupported tensor type {type} ({(uint)type})", at2, name);
                long bytes;
                try
                {
                    long elements = 1;
                    foreach (var d in dims) elements = checked(elements * d);
                    if (dims[0] % bs != 0) throw new GgufException($"row length {dims[0]} is not a multiple of the {type} block size {bs}", at2, name);
                    bytes = checked(elements / bs * bb);
                }
                catch (OverflowException)
                {
                    throw new GgufException($"tensor size overflows 64 bits (dimensions [{string.Join(", ", dims)}])", at2, name);
                }
                if (offset % (ulong)Alignment != 0) throw new GgufException($"tensor offset {offset} is not aligned to {Alignment}", at2, name);
                if (offset > (ulong)length || bytes > length - DataOffset - (long)Math.Min(offset, (ulong)length) || DataOffset + (long)offset > length)
                    throw new GgufException($"tensor data [{offset}, +{bytes}) lies past the end of the file ({length} bytes, data at {DataOffset})", at2, name);
                long fileOffset = DataOffset + (long)offset;
                Tensors.Add(new GgufTensorInfo { Name = name, Type = type, Dimensions = dims, RelativeOffset = (long)offset, FileOffset = fileOffset, ByteSize = bytes });
                ranges.Add((fileOffset, fileOffset + bytes, name));
            }
            ranges.Sort((a, b) => a.Start.CompareTo(b.Start));
            for (int i = 1; i < ranges.Count; i++)
                if (ranges[i].Start < ranges[i - 1].End)
                    throw new GgufException($"tensor data overlaps tensor {ranges[i - 1].Name}", ranges[i].Start, ranges[i].Name);
        }

        static long AlignUp(long x, int a) => (x + a - 1) / a * a;

        GgufValue ReadValue(GgufValueType type, int depth)
        {
            long at = _pos;
            switch (type)
            {
                case GgufValueType.UInt8: return new(type, ReadU8("uint8"));
                case GgufValueType.Int8: return new(type, (sbyte)ReadU8("int8"));
                case GgufValueType.UInt16: return new(type, ReadU16("uint16"));
                case GgufValueType.Int16: return new(type, (short)ReadU16("int16"));
                case GgufValueType.UInt32: return new(type, ReadU32("uint32"));
                case GgufValueType.Int32: return new(type, (int)ReadU32("int32"));
                case GgufValueType.Float32: return new(type, BitConverter.UInt32BitsToSingle(ReadU32("float32")));
                case GgufValueType.UInt64: return new(type, ReadU64("uint64"));
                case GgufValueType.Int64: return new(type, (long)ReadU64("int64"));
                case GgufValueType.Float64: return new(type, BitConverter.UInt64BitsToDouble(ReadU64("float64")));
                case GgufValueType.Bool:
                    {
                        byte b = ReadU8("bool");
                        if (b > 1) throw new GgufException($"bool value {b} is neither 0 nor 1", at, _currentKey);
                        return new(type, b == 1);
                    }
                case GgufValueType.String: return new(type, ReadString("string"));
                case GgufValueType.Array:
                    {
                        if (depth >= MaxArrayDepth) throw new GgufException($"arrays nested deeper than {MaxArrayDepth}", at, _currentKey);
                        var elem = (GgufValueType)ReadU32("array element type");
                        ulong count = ReadU64("array count");
                        long min = MinElementBytes(elem, at);
                        if (count > (ulong)(Remaining / min))
                            throw new GgufException($"array of {count} {elem} elements cannot fit in the {Remaining} bytes left", at, _currentKey);
                        return new(type, ReadArray(elem, (int)count, depth), elem);
                    }
                default:
                    throw new GgufException($"unknown metadata value type {(uint)type}", at, _currentKey);
            }
        }

        long MinElementBytes(GgufValueType t, long at) => t switch
        {
            GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
            GgufValueType.UInt16 or GgufValueType.Int16 => 2,
            GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
            GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
            GgufValueType.Array => 12,
            _ => throw new GgufException($"unknown array element type {(uint)t}", at, _currentKey),
        };

        object ReadArray(GgufValueType elem, int n, int depth)
        {
            switch (elem)
            {
                case GgufValueType.UInt8: { var a = new byte[n]; for (int i = 0; i < n; i++) a[i] = ReadU8("uint8"); return a; }
                case GgufValueType.Int8: { var a = new sbyte[n]; for (int i = 0; i < n; i++) a[i] = (sbyte)ReadU8("int8"); return a; }
                case GgufValueType.UInt16: { var a = new ushort[n]; for (int i = 0; i < n; i++) a[i] = ReadU16("uint16"); return a; }
                case GgufValueType.Int16: { var a = new short[n]; for (int i = 0; i < n; i++) a[i] = (short)ReadU16("int16"); return a; }
                case GgufValueType.UInt32: { var a = new uint[n]; for (int i = 0; i < n; i++) a[i] = ReadU32("uint32"); return a; }
                case GgufValueType.Int32: { var a = new int[n]; for (int i = 0; i < n; i++) a[i] = (int)ReadU32("int32"); return a; }
                case GgufValueType.Float32: { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = BitConverter.UInt32BitsToSingle(ReadU32("float32")); return a; }
                case GgufValueType.UInt64: { var a = new ulong[n]; for (int i = 0; i < n; i++) a[i] = ReadU64("uint64"); return a; }
                case GgufValueType.Int64: { var a = new long[n]; for (int i = 0; i < n; i++) a[i] = (long)ReadU64("int64"); return a; }
                case GgufValueType.Float64: { var a = new double[n]; for (int i = 0; i < n; i++) a[i] = BitConverter.UInt64BitsToDouble(ReadU64("float64")); return a; }
                case GgufValueType.Bool:
                    {
                        var a = new bool[n];
                        for (int i = 0; i < n; i++)
                        {
                            byte b = ReadU8("bool");
                            if (b > 1) throw new GgufException($"bool value {b} is neither 0 nor 1", _pos - 1, _currentKey);
                            a[i] = b == 1;
                        }
                        return a;
                    }
                case GgufValueType.String: { var a = new string[n]; for (int i = 0; i < n; i++) a[i] = ReadString("string"); return a; }
                case GgufValueType.Array: { var a = new GgufValue[n]; for (int i = 0; i < n; i++) a[i] = ReadValue(GgufValueType.Array, depth + 1); return a; }
                default: throw new GgufException($"unknown array element type {(uint)elem}", _pos, _currentKey);
            }
        }
    }
}
