using Hunch.Kernels.Quant;
using Hunch.Kernels.Tiled;

namespace Hunch.Tests.Kernels;

/// <summary>The vector paths that prepare activation rows (Q8_0 and Q8_K quantization, the grouped layout of
/// <see cref="BlockGroups"/>) against their scalar definitions, byte for byte, on ordinary rows and on the blocks
/// that must fall back: zeros, NaN, infinities, ties at .5, maxima so small that 127/amax overflows, and equal
/// positive and negative maxima (Q8_K takes the sign of the first).</summary>
public unsafe class ActivationPreparationTests
{
    static IEnumerable<float[]> Rows(int columns)
    {
        var rng = new Random(columns);
        foreach (double scale in new[] { 1.0, 1e-3, 1e4, 3e37 })
        {
            var x = new float[columns];
            for (int i = 0; i < columns; i++) x[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
            yield return x;
        }
        var special = new float[columns];
        for (int i = 0; i < columns; i++) special[i] = (float)(rng.NextDouble() * 2 - 1);
        int blocks = columns / 32;
        // Block 0 all zero; 1 with a NaN; 2 with +inf; 3 ties: amax 127 so id = 1 and x.5 values round to even.
        Array.Clear(special, 0, 32);
        if (blocks > 1) special[32 + 5] = float.NaN;
        if (blocks > 2) special[64 + 7] = float.PositiveInfinity;
        if (blocks > 3)
            for (int j = 0; j < 32; j++) special[96 + j] = j == 0 ? 127f : (j % 2 == 0 ? 1 : -1) * (j + 0.5f);
        // Block 4: maximum 1e-39 (subnormal): 127/amax is infinite. Block 5: -m before +m.
        if (blocks > 4) for (int j = 0; j < 32; j++) special[128 + j] = j == 3 ? 1e-39f : 0f;
        if (blocks > 5) { special[160 + 2] = -50f; special[160 + 9] = 50f; }
        yield return special;
        // Q8_K blocks (256): one all zero, one with -m first, one with a NaN.
        var k = new float[columns];
        for (int i = 0; i < columns; i++) k[i] = (float)(rng.NextDouble() * 2 - 1);
        if (columns >= 512) { Array.Clear(k, 0, 256); k[256 + 3] = -9f; k[256 + 100] = 9f; }
        if (columns >= 768) k[512 + 17] = float.NaN;
        yield return k;
    }

    [Theory]
    [InlineData(Hunch.Gguf.GgmlType.Q8_0, 32)]
    [InlineData(Hunch.Gguf.GgmlType.Q8_0, 256)]
    [InlineData(Hunch.Gguf.GgmlType.Q8_0, 1024)]
    [InlineData(Hunch.Gguf.GgmlType.Q8_0, 2816)]
    [InlineData(Hunch.Gguf.GgmlType.Q8_K, 256)]
    [InlineData(Hunch.Gguf.GgmlType.Q8_K, 1024)]
    [InlineData(Hunch.Gguf.GgmlType.Q8_K, 2816)]
    public void Vector_quantization_equals_the_scalar_definition(Hunch.Gguf.GgmlType type, int columns)
    {
        bool q80 = type == Hunch.Gguf.GgmlType.Q8_0;
        int bytes = q80 ? columns / 32 * ActivationQuantizer.Q8_0Bytes : columns / 256 * ActivationQuantizer.Q8_KBytes;
        foreach (var x in Rows(columns))
        {
            var fast = new byte[bytes];
            var reference = new byte[bytes];
            fixed (float* px = x) fixed (byte* pf = fast) fixed (byte* pr = reference)
            {
                if (q80)
                {
                    ActivationQuantizer.QuantizeQ8_0(px, columns, pf);
                    ActivationQuantizer.QuantizeQ8_0(px, columns, pr, vectors: false);
                }
                else
                {
                    ActivationQuantizer.QuantizeQ8_K(px, columns, pf);
                    ActivationQuantizer.QuantizeQ8_K(px, columns, pr, vectors: false);
                }
            }
            Assert.Equal(reference, fast);
        }
    }

    [Theory]
    [InlineData(32)]
    [InlineData(256)]
    [InlineData(288)]
    [InlineData(1024)]
    [InlineData(2816)]
    public void Grouped_layout_equals_the_scalar_definition(int columns)
    {
        int nb = columns / 32;
        foreach (var type in new[] { Hunch.Gguf.GgmlType.Q8_0, Hunch.Gguf.GgmlType.Q4_0 })
        foreach (var x in Rows(columns))
        {
            var q = new byte[nb * ActivationQuantizer.Q8_0Bytes];
            var fast = new byte[BlockGroups.ArrangedBytes(nb)];
            var reference = new byte[fast.Length];
            fixed (float* px = x) fixed (byte* pq = q) fixed (byte* pf = fast) fixed (byte* pr = reference)
            {
                ActivationQuantizer.QuantizeQ8_0(px, columns, pq);
                BlockGroups.Arrange(type, pq, nb, pf);
                BlockGroups.Arrange(type, pq, nb, pr, vectors: false);
            }
            Assert.Equal(reference, fast);
        }
    }

    /// <summary>Float-to-half rounding of rows (F16 weights see activations rounded to 16 bits): every 4099th float
    /// bit pattern (about a million, all exponents, both signs, NaN and infinities among them), the half range's
    /// boundaries, and exact ties between two halves, in rows whose lengths leave a scalar tail.</summary>
    [Fact]
    public void Float_to_half_rows_equal_the_scalar_conversion_bit_for_bit()
    {
        var values = new List<float>();
        for (long b = 0; b <= uint.MaxValue; b += 4099) values.Add(BitConverter.UInt32BitsToSingle((uint)b));
        foreach (float f in new[] { 65504f, 65519.99f, 65520f, 65536f, 6.1035156e-05f, 6.1035152e-05f, 5.9604645e-08f,
                     2.9802322e-08f, 2.9802326e-08f, 1e-45f, 0f, -0f, float.Epsilon, float.MaxValue, float.NaN })
        {
            values.Add(f);
            values.Add(-f);
        }
        // Ties: halfway between consecutive halves (normal and subnormal), both parities.
        for (uint h = 0; h < 0x7BFF; h += 37)
        {
            float lo = (float)BitConverter.UInt16BitsToHalf((ushort)h), hi = (float)BitConverter.UInt16BitsToHalf((ushort)(h + 1));
            values.Add((float)(((double)lo + hi) / 2));
        }
        var x = values.ToArray();
        var vector = new ushort[x.Length];
        var scalar = new ushort[x.Length];
        // An odd split so that both the vector body and the scalar tail see every kind of value.
        foreach (int length in new[] { x.Length, 13 })
            fixed (float* px = x)
            fixed (ushort* pv = vector, ps = scalar)
            {
                for (int start = 0; start + length <= x.Length; start += length)
                {
                    Fp16.FromFloats(px + start, length, pv + start);
                    Fp16.FromFloats(px + start, length, ps + start, vectors: false);
                }
                for (int i = 0; i < x.Length - x.Length % length; i++)
                    if (vector[i] != scalar[i])
                        Assert.Fail($"{x[i]:R} (0x{BitConverter.SingleToUInt32Bits(x[i]):X8}): vector 0x{vector[i]:X4}, scalar 0x{scalar[i]:X4}");
            }
    }
}
