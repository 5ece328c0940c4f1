using Hunch.Gguf;

namespace Hunch.Tests.Gguf;

public class GgufWriterTests
{
    internal static byte[] ToBytes(GgufWriter w)
    {
        var ms = new MemoryStream();
        w.Write(ms);
        return ms.ToArray();
    }

    /// <summary>Deep equality of two metadata values (floats compared by bits, so NaN payloads count).</summary>
    internal static void AssertSameValue(GgufValue expected, GgufValue actual, string key)
    {
        Assert.True(expected.Type == actual.Type, $"{key}: type {actual.Type}, expected {expected.Type}");
        Assert.True(expected.ElementType == actual.ElementType, $"{key}: element type {actual.ElementType}, expected {expected.ElementType}");
        switch (expected.Value)
        {
            case GgufValue[] e:
                var a = (GgufValue[])actual.Value;
                Assert.Equal(e.Length, a.Length);
                for (int i = 0; i < e.Length; i++) AssertSameValue(e[i], a[i], $"{key}[{i}]");
                break;
            case float[] e: Assert.Equal(Bits(e), Bits((float[])actual.Value)); break;
            case double[] e: Assert.Equal(e.Select(BitConverter.DoubleToInt64Bits), ((double[])actual.Value).Select(BitConverter.DoubleToInt64Bits)); break;
            case float e: Assert.Equal(BitConverter.SingleToInt32Bits(e), BitConverter.SingleToInt32Bits((float)actual.Value)); break;
            case double e: Assert.Equal(BitConverter.DoubleToInt64Bits(e), BitConverter.DoubleToInt64Bits((double)actual.Value)); break;
            case Array e:
                var act = (Array)actual.Value;
                Assert.Equal(e.GetType(), act.GetType());
                Assert.Equal(e.Cast<object>(), act.Cast<object>());
                break;
            default: Assert.Equal(expected.Value, actual.Value); break;
        }
    }

    static int[] Bits(float[] f) => f.Select(BitConverter.SingleToInt32Bits).ToArray();

    /// <summary>Asserts two files have the same metadata (same keys in the same order) and the same tensors.</summary>
    internal static void AssertSameContent(GgufFile expected, GgufFile actual, bool ignoreAlignmentKey = false)
    {
        var ek = expected.MetadataKeys.Where(k => !ignoreAlignmentKey || k != "general.alignment").ToList();
        var ak = actual.MetadataKeys.Where(k => !ignoreAlignmentKey || k != "general.alignment").ToList();
        Assert.Equal(ek, ak);
        foreach (var k in ek) AssertSameValue(expected.Metadata[k], actual.Metadata[k], k);
        Assert.Equal(expected.Tensors.Count, actual.Tensors.Count);
        foreach (var t in expected.Tensors)
        {
            var u = actual.GetTensor(t.Name);
            Assert.Equal(t.Type, u.Type);
            Assert.Equal(t.Dimensions, u.Dimensions);
            Assert.True(expected.GetTensorBytes(t).SequenceEqual(actual.GetTensorBytes(u)), $"tensor {t.Name} bytes differ");
        }
    }

    /// <summary>Copies every key and tensor of <paramref name="source"/> into a new writer.</summary>
    internal static GgufWriter CopyOf(GgufFile source)
    {
        var w = new GgufWriter(source.Alignment);
        foreach (var k in source.MetadataKeys) w.SetMetadata(k, source.Metadata[k]);
        foreach (var t in source.Tensors)
        {
            var info = t;
            w.AddTensor(t.Name, t.Type, t.Dimensions, dst => dst.Write(source.GetTensorBytes(info)));
        }
        return w;
    }

    [Fact]
    public void EveryValueTypeRoundTrips()
    {
        var rng = new Random(7);
        var w = new GgufWriter();
        var values = new Dictionary<string, object>
        {
            ["t.u8"] = (byte)200, ["t.i8"] = (sbyte)-100, ["t.u16"] = (ushort)60000, ["t.i16"] = (short)-30000,
            ["t.u32"] = 4000000000u, ["t.i32"] = -2000000000, ["t.f32"] = 3.5e-7f, ["t.bool"] = true,
            ["t.str"] = "héllo ▁wörld \u0000 end", ["t.u64"] = ulong.MaxValue, ["t.i64"] = long.MinValue, ["t.f64"] = Math.PI,
            ["t.nan"] = BitConverter.Int32BitsToSingle(0x7FC01234),
            ["t.empty"] = "",
            ["a.u8"] = new byte[] { 0, 1, 255 }, ["a.i8"] = new sbyte[] { -128, 127 }, ["a.u16"] = new ushort[] { 1, 65535 },
            ["a.i16"] = new short[] { -1, 2 }, ["a.u32"] = new uint[] { 0, uint.MaxValue }, ["a.i32"] = new int[] { int.MinValue, 5 },
            ["a.f32"] = Enumerable.Range(0, 1000).Select(_ => (float)rng.NextDouble()).ToArray(),
            ["a.bool"] = new[] { true, false, true }, ["a.str"] = new[] { "", "a", "▁b", "<0x0A>" },
            ["a.u64"] = new ulong[] { 1UL << 63 }, ["a.i64"] = new long[] { -1 }, ["a.f64"] = new[] { 1e300, -0.0 },
            ["a.empty"] = Array.Empty<float>(),
            ["a.nested"] = new GgufValue[]
            {
                GgufValue.From(new[] { 1, 2, 3 }),
                GgufValue.From(new[] { "x", "yz" }),
                GgufValue.From(new GgufValue[] { GgufValue.From(new[] { 1.5 }), GgufValue.From(Array.Empty<bool>()) }),
            },
        };
        foreach (var (k, v) in values) w.SetMetadata(k, v);
        using var f = GgufFile.FromBytes(ToBytes(w));
        Assert.Equal(3u, f.Version);
        Assert.Equal(values.Keys, f.MetadataKeys);
        foreach (var (k, v) in values) AssertSameValue(GgufValue.From(v), f.Metadata[k], k);
    }

    [Fact]
    public void Version2FilesAreRead()
    {
        // GGUF v2 has v3's layout (64-bit counts and lengths); only the version field differs.
        var w = new GgufWriter();
        w.SetMetadata("general.architecture", "llama");
        w.SetMetadata("x.list", new[] { "a", "b" });
        w.AddTensor("t", GgmlType.F16, [16, 2], Enumerable.Range(0, 64).Select(i => (byte)i).ToArray());
        var bytes = ToBytes(w);
        bytes[4] = 2;
        using var f = GgufFile.FromBytes(bytes);
        Assert.Equal(2u, f.Version);
        Assert.Equal(new[] { "a", "b" }, f.GetArray<string>("x.list"));
        Assert.Equal(Enumerable.Range(0, 64).Select(i => (byte)i), f.GetTensorBytes(f.GetTensor("t")).ToArray());
    }

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    [InlineData(1)]
    [InlineData(4096)]
    public void TensorsOfEveryTypeRoundTripAligned(int alignment)
    {
        var rng = new Random(alignment);
        var w = new GgufWriter(alignment);
        w.SetMetadata("general.architecture", "llama");
        var expected = new Dictionary<string, (GgmlType Type, long[] Dims, byte[] Data)>();
        int i = 0;
        foreach (GgmlType type in Enum.GetValues<GgmlType>())
        {
            if (!GgmlTypeInfo.IsKnown(type)) continue;
            var (bs, _) = GgmlTypeInfo.Layout(type);
            long[] dims = i % 3 == 0 ? [bs * 3] : i % 3 == 1 ? [bs, 5] : [bs * 2, 3, 2];
            var data = new byte[GgufWriter.TensorBytes(type, dims)];
            rng.NextBytes(data);
            string name = $"t{i++}.{type}";
            expected[name] = (type, dims, data);
            if (i % 2 == 0) w.AddTensor(name, type, dims, data);
            else w.AddTensor(name, type, dims, s => { s.Write(data, 0, 1); s.Write(data.AsSpan(1)); });
        }
        var bytes = ToBytes(w);
        using var f = GgufFile.FromBytes(bytes);
        Assert.Equal(alignment, f.Alignment);
        Assert.Equal(alignment != 32, f.Metadata.ContainsKey("general.alignment"));
        Assert.Equal(0, f.DataOffset % alignment);
        Assert.Equal(expected.Keys, f.Tensors.Select(t => t.Name));
        long packed = 0;
        foreach (var t in f.Tensors)
        {
            var (type, dims, data) = expected[t.Name];
            Assert.Equal(type, t.Type);
            Assert.Equal(dims, t.Dimensions);
            Assert.Equal(data, f.GetTensorBytes(t).ToArray());
            // Packed in order, each padded to the alignment, as llama.cpp requires.
            Assert.Equal(packed, t.RelativeOffset);
            packed += (t.ByteSize + alignment - 1) / alignment * alignment;
        }
        Assert.Equal(f.DataOffset + packed, bytes.Length);
    }

    [Theory]
    [InlineData("llama.context_length", 384)]
    [InlineData("qwen2.block_count", 6L)]
    [InlineData("llama.rope.freq_base", 10000.0)]
    [InlineData("llama.attention.layer_norm_rms_epsilon", 1e-5)]
    [InlineData("tokenizer.ggml.bos_token_id", 1)]
    [InlineData("tokenizer.ggml.add_bos_token", 1u)]
    [InlineData("general.architecture", 5u)]
    [InlineData("general.file_type", 1)]
    public void StandardKeysDemandExactTypes(string key, object wrong)
    {
        var w = new GgufWriter();
        var e = Assert.Throws<ArgumentException>(() => w.SetMetadata(key, wrong));
        Assert.Contains(key, e.Message);
    }

    [Fact]
    public void StandardArraysDemandExactElementTypes()
    {
        var w = new GgufWriter();
        Assert.Throws<ArgumentException>(() => w.SetMetadata("tokenizer.ggml.token_type", new byte[] { 1 }));
        Assert.Throws<ArgumentException>(() => w.SetMetadata("tokenizer.ggml.token_type", new uint[] { 1 }));
        Assert.Throws<ArgumentException>(() => w.SetMetadata("tokenizer.ggml.scores", new double[] { 1 }));
        Assert.Throws<ArgumentException>(() => w.SetMetadata("tokenizer.ggml.tokens", "a"));
        Assert.Throws<ArgumentException>(() => w.SetMetadata("general.alignment", 64u));
        Assert.Throws<ArgumentException>(() => w.SetMetadata("t.bad", new GgufValue(GgufValueType.UInt32, "x")));
        Assert.Throws<ArgumentException>(() => w.SetMetadata("t.null", new string[] { "a", null! }));
        // The right types are accepted, including per-layer arrays where llama.cpp allows them.
        w.SetMetadata("tokenizer.ggml.token_type", new[] { 1, 6 });
        w.SetMetadata("tokenizer.ggml.scores", new[] { 0f, -1f });
        w.SetMetadata("llama.feed_forward_length", new uint[] { 704, 704 });
        w.SetMetadata("llama.attention.head_count", 4u);
        w.SetMetadata("llama.rope.freq_base", 10000f);
    }

    [Fact]
    public void TensorArgumentsAreChecked()
    {
        var w = new GgufWriter();
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", GgmlType.F32, [4], new byte[15]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", GgmlType.Q8_0, [16], new byte[17]));
        Assert.Throws<ArgumentException>(() => w.AddTensor(new string('x', 64), GgmlType.F32, [1], new byte[4]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", GgmlType.F32, [1, 1, 1, 1, 1], new byte[4]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", GgmlType.F32, [0], new byte[0]));
        w.AddTensor("t", GgmlType.F32, [1], new byte[4]);
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", GgmlType.F32, [1], new byte[4]));
        w.AddTensor("short", GgmlType.F32, [4], s => s.Write(new byte[8]));
        Assert.Throws<InvalidOperationException>(() => ToBytes(w));
        var w2 = new GgufWriter();
        w2.AddTensor("long", GgmlType.F32, [1], s => s.Write(new byte[8]));
        Assert.Throws<InvalidOperationException>(() => ToBytes(w2));
    }

    [Fact]
    public void BundledModelRewritesIdentically()
    {
        using var src = GgufFile.Open(TestPaths.BundledModel);
        string path = Path.Combine(Path.GetTempPath(), $"hunch-rewrite-{Environment.ProcessId}.gguf");
        try
        {
            CopyOf(src).Write(path);
            using var copy = GgufFile.Open(path);
            AssertSameContent(src, copy);
            Assert.Equal(src.DataOffset, copy.DataOffset);
            // gguf-py and this writer lay the file out the same way, so the copy is the original byte for byte.
            Assert.True(File.ReadAllBytes(TestPaths.BundledModel).AsSpan().SequenceEqual(File.ReadAllBytes(path)), "rewritten bundled model differs from the original");
        }
        finally { File.Delete(path); }
    }

    public static TheoryData<string> VocabFiles() =>
        new(Directory.GetFiles(Path.Combine(TestPaths.Shared, "reference", "tokenizers"), "vocab-*.gguf").Select(Path.GetFileName).Order()!);

    [Theory]
    [MemberData(nameof(VocabFiles))]
    public void VocabularyFilesRoundTrip(string file)
    {
        var original = File.ReadAllBytes(Path.Combine(TestPaths.Shared, "reference", "tokenizers", file));
        using var src = GgufFile.FromBytes(original);
        var bytes = ToBytes(CopyOf(src));
        using var copy = GgufFile.FromBytes(bytes);
        AssertSameContent(src, copy);
    }
}
