using System.Text;
using Hunch.Gguf;

namespace Hunch.Tests.Gguf;

/// <summary>Writes GGUF bytes field by field, with no validation, so tests can build hostile files.</summary>
sealed class RawGguf
{
    readonly MemoryStream _ms = new();
    readonly BinaryWriter _w;

    public RawGguf() => _w = new BinaryWriter(_ms, Encoding.UTF8, leaveOpen: true);

    public long Position => _ms.Position;

    public RawGguf Header(ulong tensorCount, ulong kvCount, uint version = 3)
    {
        _w.Write(GgufFile.Magic);
        _w.Write(version);
        _w.Write(tensorCount);
        _w.Write(kvCount);
        return this;
    }

    public RawGguf U8(byte v) { _w.Write(v); return this; }
    public RawGguf U32(uint v) { _w.Write(v); return this; }
    public RawGguf U64(ulong v) { _w.Write(v); return this; }
    public RawGguf F32(float v) { _w.Write(v); return this; }
    public RawGguf Bytes(ReadOnlySpan<byte> b) { _w.Write(b); return this; }

    public RawGguf Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        _w.Write((ulong)b.Length);
        _w.Write(b);
        return this;
    }

    public RawGguf Key(string key, GgufValueType type) => Str(key).U32((uint)type);

    public RawGguf KvU32(string key, uint v) => Key(key, GgufValueType.UInt32).U32(v);
    public RawGguf KvString(string key, string v) => Key(key, GgufValueType.String).Str(v);

    /// <summary>A tensor info with ggml-order dimensions.</summary>
    public RawGguf TensorInfo(string name, GgmlType type, ulong offset, params ulong[] dims)
    {
        Str(name).U32((uint)dims.Length);
        foreach (var d in dims) U64(d);
        return U32((uint)type).U64(offset);
    }

    /// <summary>Pads with zeros to a multiple of <paramref name="alignment"/>.</summary>
    public RawGguf Align(int alignment = 32)
    {
        while (_ms.Position % alignment != 0) _w.Write((byte)0);
        return this;
    }

    public RawGguf Zeros(int n) { _w.Write(new byte[n]); return this; }

    public byte[] ToArray() { _w.Flush(); return _ms.ToArray(); }
}
