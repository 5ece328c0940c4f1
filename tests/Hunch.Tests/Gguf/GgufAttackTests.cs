using System.Diagnostics;
using Hunch.Gguf;

namespace Hunch.Tests.Gguf;

/// <summary>
/// Crafted hostile files, modelled on the classes of bugs published against GGUF readers: each must end in a
/// <see cref="GgufException"/> that names the byte offset (and key or tensor), quickly and without allocating more
/// than a small bound.
/// </summary>
public class GgufAttackTests
{
    const ulong Two63 = 1UL << 63;

    /// <summary>Parses <paramref name="file"/> expecting rejection; checks message, item, offset, time, memory.</summary>
    internal static GgufException Rejects(byte[] file, string fragment, string? item = null, long? offset = null)
    {
        var sw = Stopwatch.StartNew();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<GgufException>(() => { using var f = GgufFile.FromBytes(file); });
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"took {sw.Elapsed}");
        // A hostile count or length must never turn into an allocation: the bound is a small multiple of the file.
        Assert.True(allocated < 64 * 1024 + 8L * file.Length, $"allocated {allocated} bytes for a {file.Length}-byte file");
        Assert.Contains(fragment, e.Message);
        if (item is not null)
        {
            Assert.Equal(item, e.Item);
            Assert.Contains(item, e.Message);
        }
        Assert.True(e.Offset >= 0 && e.Offset <= file.Length, $"offset {e.Offset}");
        Assert.Contains($"at byte {e.Offset}", e.Message);
        if (offset is not null) Assert.Equal(offset.Value, e.Offset);
        return e;
    }

    static RawGguf OneKey() => new RawGguf().Header(0, 1);

    [Fact]
    public void KeyLength2Pow63()
    {
        var f = OneKey().U64(Two63).Zeros(16).ToArray();
        Rejects(f, "metadata key length 9223372036854775808 exceeds", offset: 24);
    }

    [Fact]
    public void StringValueLength2Pow63()
    {
        var f = OneKey().Key("general.name", GgufValueType.String).U64(Two63).Zeros(16).ToArray();
        Rejects(f, "string length 9223372036854775808 exceeds", "general.name", offset: 24 + 8 + 12 + 4);
    }

    [Fact]
    public void StringLengthJustPastEnd()
    {
        var f = OneKey().Key("general.name", GgufValueType.String).U64(17).Zeros(16).ToArray();
        Rejects(f, "string length 17 exceeds the 16 bytes left", "general.name");
    }

    [Fact]
    public void ArrayCount2Pow62()
    {
        var f = OneKey().Key("tokenizer.ggml.tokens", GgufValueType.Array).U32((uint)GgufValueType.String).U64(1UL << 62).Zeros(64).ToArray();
        Rejects(f, "array of 4611686018427387904 String elements cannot fit", "tokenizer.ggml.tokens");
    }

    [Fact]
    public void ArrayCount2Pow62OfBytes()
    {
        var f = OneKey().Key("x.bytes", GgufValueType.Array).U32((uint)GgufValueType.UInt8).U64(1UL << 62).Zeros(64).ToArray();
        Rejects(f, "cannot fit", "x.bytes");
    }

    [Fact]
    public void NestedArrayCountsMultiplyNothing()
    {
        // An array of arrays whose inner counts are each large: every level is bounded by the bytes left.
        var f = OneKey().Key("x.nested", GgufValueType.Array).U32((uint)GgufValueType.Array).U64(2)
            .U32((uint)GgufValueType.UInt64).U64(1UL << 40).Zeros(32).ToArray();
        Rejects(f, "array of 1099511627776 UInt64 elements cannot fit", "x.nested");
    }

    [Fact]
    public void ArraysNestedTooDeep()
    {
        var raw = OneKey().Key("x.deep", GgufValueType.Array);
        for (int i = 0; i < 20; i++) raw.U32((uint)GgufValueType.Array).U64(1);
        Rejects(raw.Zeros(8).ToArray(), "nested deeper", "x.deep");
    }

    [Fact]
    public void KvCount2Pow63() => Rejects(new RawGguf().Header(0, Two63).Zeros(64).ToArray(), "metadata count 9223372036854775808 exceeds", offset: 16);

    [Fact]
    public void TensorCount2Pow63() => Rejects(new RawGguf().Header(Two63, 0).Zeros(64).ToArray(), "tensor count 9223372036854775808 exceeds", offset: 8);

    [Fact]
    public void CountsBeyondFileSize() => Rejects(new RawGguf().Header(1000, 1000).Zeros(64).ToArray(), "cannot fit in a file of", offset: 8);

    [Theory]
    [InlineData(0u)]
    [InlineData(3u)]
    [InlineData(1u << 30)]
    [InlineData(96u)]
    public void AlignmentInvalid(uint alignment)
    {
        var f = OneKey().KvU32("general.alignment", alignment).Zeros(32).ToArray();
        Rejects(f, $"general.alignment {alignment} must be a power of two", "general.alignment", offset: 24 + 8 + 17);
    }

    [Theory]
    [InlineData(GgufValueType.UInt64, "UInt64")]
    [InlineData(GgufValueType.Int32, "Int32")]
    [InlineData(GgufValueType.String, "String")]
    public void AlignmentWrongType(GgufValueType type, string shown)
    {
        var raw = OneKey().Key("general.alignment", type);
        if (type == GgufValueType.UInt64) raw.U64(32);
        else if (type == GgufValueType.Int32) raw.U32(32);
        else raw.Str("32");
        Rejects(raw.Zeros(32).ToArray(), $"general.alignment must be UInt32, found {shown}", "general.alignment");
    }

    [Fact]
    public void AlignmentWrongTypeArray()
    {
        var f = OneKey().Key("general.alignment", GgufValueType.Array).U32((uint)GgufValueType.UInt32).U64(1).U32(32).Zeros(32).ToArray();
        Rejects(f, "found Array of UInt32", "general.alignment");
    }

    [Fact]
    public void AlignmentValidIsHonoured()
    {
        var f = OneKey().KvU32("general.alignment", 64).Align(64).Zeros(64).ToArray();
        using var g = GgufFile.FromBytes(f);
        Assert.Equal(64, g.Alignment);
    }

    static byte[] OneTensor(ulong offset, GgmlType type, ulong[] dims, int dataBytes)
    {
        return new RawGguf().Header(1, 0).TensorInfo("blk.0.attn_q.weight", type, offset, dims).Align().Zeros(dataBytes).ToArray();
    }

    [Fact]
    public void TensorDimension2Pow42Plus1OverflowsSize()
    {
        // elements = (2^42+1) * 2^22 > 2^64: the element count and the byte size both overflow 64 bits.
        var f = OneTensor(0, GgmlType.F32, [(1UL << 42) + 1, 1UL << 22], 64);
        Rejects(f, "tensor size overflows 64 bits", "blk.0.attn_q.weight", offset: 24);
    }

    [Fact]
    public void TensorDimension2Pow42Plus1TimesStrideOverflows()
    {
        // The byte size (4 bytes per element) overflows even though the element count alone would not.
        var f = OneTensor(0, GgmlType.F32, [(1UL << 42) + 1, 1UL << 20], 64);
        Rejects(f, "tensor size overflows 64 bits", "blk.0.attn_q.weight");
    }

    [Fact]
    public void TensorDimension2Pow42Plus1PastEnd()
    {
        var f = OneTensor(0, GgmlType.F32, [(1UL << 42) + 1], 64);
        Rejects(f, "lies past the end", "blk.0.attn_q.weight");
    }

    [Fact]
    public void TensorDimensionNegative()
    {
        var f = OneTensor(0, GgmlType.F32, [ulong.MaxValue, 1], 64);
        Rejects(f, "tensor dimension 0 is 18446744073709551615", "blk.0.attn_q.weight");
    }

    [Fact]
    public void TensorDimensionZero() => Rejects(OneTensor(0, GgmlType.F32, [0], 64), "tensor dimension 0 is 0", "blk.0.attn_q.weight");

    [Fact]
    public void TensorTooManyDimensions() => Rejects(OneTensor(0, GgmlType.F32, [1, 1, 1, 1, 1], 64), "5 dimensions", "blk.0.attn_q.weight");

    [Fact]
    public void TensorPartialBlock() => Rejects(OneTensor(0, GgmlType.Q8_0, [33], 64), "not a multiple of the Q8_0 block size 32", "blk.0.attn_q.weight");

    [Fact]
    public void TensorUnknownType() => Rejects(OneTensor(0, (GgmlType)77, [32], 64), "unsupported tensor type", "blk.0.attn_q.weight");

    [Fact]
    public void TensorOffsetPastEnd() => Rejects(OneTensor(1UL << 40, GgmlType.F32, [8], 64), "lies past the end", "blk.0.attn_q.weight");

    [Fact]
    public void TensorOffsetNearUInt64Max()
    {
        // offset + size wraps around 2^64 to a small number in unchecked arithmetic.
        Rejects(OneTensor(ulong.MaxValue - 31, GgmlType.F32, [8], 64), "lies past the end", "blk.0.attn_q.weight");
    }

    [Fact]
    public void TensorDataOneBytePastEnd() => Rejects(OneTensor(0, GgmlType.F32, [17], 64), "lies past the end", "blk.0.attn_q.weight");

    [Fact]
    public void TensorOffsetMisaligned() => Rejects(OneTensor(4, GgmlType.F32, [8], 64), "not a multiple of the alignment", "blk.0.attn_q.weight");

    [Fact]
    public void TensorsOverlapping()
    {
        var f = new RawGguf().Header(2, 0)
            .TensorInfo("a", GgmlType.F32, 0, 16)
            .TensorInfo("b", GgmlType.F32, 32, 16)
            .Align().Zeros(128).ToArray();
        Rejects(f, "overlaps tensor a", "b");
    }

    [Fact]
    public void TensorsOverlappingSameStart()
    {
        var f = new RawGguf().Header(2, 0)
            .TensorInfo("a", GgmlType.F32, 0, 8)
            .TensorInfo("b", GgmlType.F16, 0, 16)
            .Align().Zeros(64).ToArray();
        Rejects(f, "overlaps tensor a", "b");
    }

    [Fact]
    public void TensorNamesDuplicated()
    {
        var f = new RawGguf().Header(2, 0)
            .TensorInfo("a", GgmlType.F32, 0, 8)
            .TensorInfo("a", GgmlType.F32, 32, 8)
            .Align().Zeros(64).ToArray();
        Rejects(f, "duplicate tensor name", "a");
    }

    [Fact]
    public void MetadataKeysDuplicated()
    {
        var f = new RawGguf().Header(0, 2).KvU32("x.a", 1).KvU32("x.a", 2).ToArray();
        Rejects(f, "duplicate metadata key", "x.a", offset: 24 + 8 + 3 + 4 + 4);
    }

    [Fact]
    public void UnknownValueType()
    {
        var f = OneKey().Key("x.a", (GgufValueType)13).Zeros(8).ToArray();
        Rejects(f, "unknown metadata value type 13", "x.a");
    }

    [Fact]
    public void UnknownArrayElementType()
    {
        var f = OneKey().Key("x.a", GgufValueType.Array).U32(0xFFFFFFFF).U64(1).Zeros(8).ToArray();
        Rejects(f, "unknown array element type 4294967295", "x.a");
    }

    [Fact]
    public void BoolNotZeroOrOne()
    {
        var f = OneKey().Key("x.flag", GgufValueType.Bool).U8(2).Zeros(8).ToArray();
        Rejects(f, "bool value 2", "x.flag");
    }

    [Fact]
    public void NotGguf() => Rejects(new byte[64], "not a GGUF file", offset: 0);

    [Theory]
    [InlineData(1u)]
    [InlineData(4u)]
    public void UnsupportedVersion(uint version) => Rejects(new RawGguf().Header(0, 0, version).Zeros(8).ToArray(), $"unsupported GGUF version {version}", offset: 4);

    [Fact]
    public void BigEndianFile() => Rejects(new RawGguf().Header(0, 0, 0x03000000).Zeros(8).ToArray(), "big-endian", offset: 4);

    [Fact]
    public void TooSmall() => Assert.Throws<GgufException>(() => GgufFile.FromBytes(new byte[10]));

    [Fact]
    public void TokenTypeDeclaredNarrowerThanRead()
    {
        // token_type must be Int32 (llama.cpp demands it); a file declaring UInt8 must not be reinterpreted.
        var f = new RawGguf().Header(0, 2)
            .Key("tokenizer.ggml.tokens", GgufValueType.Array).U32((uint)GgufValueType.String).U64(2).Str("a").Str("b")
            .Key("tokenizer.ggml.token_type", GgufValueType.Array).U32((uint)GgufValueType.UInt8).U64(2).U8(1).U8(6)
            .ToArray();
        using var g = GgufFile.FromBytes(f);
        var e = Assert.Throws<GgufException>(() => g.GetArray<int>("tokenizer.ggml.token_type"));
        Assert.Equal("tokenizer.ggml.token_type", e.Item);
        Assert.Contains("has type Array of UInt8, expected Array of Int32", e.Message);
        Assert.True(e.Offset > 24);
        Assert.Contains($"at byte {e.Offset}", e.Message);
        Assert.Equal(new byte[] { 1, 6 }, g.GetArray<byte>("tokenizer.ggml.token_type"));
    }

    [Fact]
    public void UInt32ArrayIsNotSilentlyReadAsInt32()
    {
        // The runtime's array covariance would let uint[] pass as int[]; the reader must not.
        var f = OneKey().Key("tokenizer.ggml.token_type", GgufValueType.Array).U32((uint)GgufValueType.UInt32).U64(1).U32(0xFFFFFFFF).ToArray();
        using var g = GgufFile.FromBytes(f);
        Assert.Throws<GgufException>(() => g.GetArray<int>("tokenizer.ggml.token_type"));
        Assert.Equal([0xFFFFFFFFu], g.GetArray<uint>("tokenizer.ggml.token_type")!);
    }

    [Fact]
    public void ScalarReadAsWrongKindNamesKeyAndOffset()
    {
        var f = OneKey().KvString("llama.context_length", "many").ToArray();
        using var g = GgufFile.FromBytes(f);
        var e = Assert.Throws<GgufException>(() => g.GetRequiredInt("llama.context_length"));
        Assert.Equal("llama.context_length", e.Item);
        Assert.Equal(24 + 8 + "llama.context_length".Length, e.Offset);
    }

    [Fact]
    public void EveryTruncationOfAValidFileIsRejected()
    {
        var w = new GgufWriter();
        w.SetMetadata("general.architecture", "llama");
        w.SetMetadata("x.nested", new GgufValue[] { GgufValue.From(new[] { 1, 2 }), GgufValue.From(new[] { "a", "bc" }) });
        w.SetMetadata("x.flags", new[] { true, false });
        w.AddTensor("t", GgmlType.F32, [8], new byte[32]);
        var ms = new MemoryStream();
        w.Write(ms);
        var full = ms.ToArray();
        using (GgufFile.FromBytes(full)) { }
        // Every strict prefix that still holds the header must fail with a typed error (the tensor ends the file).
        for (int n = 24; n < full.Length; n++)
            Rejects(full[..n], "");
    }
}

