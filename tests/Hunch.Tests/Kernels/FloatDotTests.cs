using System.Runtime.Intrinsics;
using Hunch.Gguf;
using Hunch.Kernels;

namespace Hunch.Tests.Kernels;

/// <summary>F32, F16 and BF16 dot products at every length 0..256 against a scalar emulation of their fixed
/// reduction order (bitwise) and against a double-precision sum (tolerance).</summary>
public unsafe class FloatDotTests
{
    /// <summary>The documented order: blocks of 32 (F32) or 16 (F16/BF16) into 8-lane accumulators with FMA, 8-blocks
    /// (F32) into the first, lanes summed in RowKernels.HorizontalSum's tree, then the scalar tail with FMA.</summary>
    static float Emulate(GgmlType t, float[] a, float[] b)
    {
        int n = a.Length, i = 0;
        var acc = new float[4, 8];
        int step = t == GgmlType.F32 ? 32 : 16;
        for (; i + step <= n; i += step)
            for (int k = 0; k < step / 8; k++)
                for (int l = 0; l < 8; l++) acc[k, l] = MathF.FusedMultiplyAdd(a[i + 8 * k + l], b[i + 8 * k + l], acc[k, l]);
        if (t == GgmlType.F32)
            for (; i + 8 <= n; i += 8)
                for (int l = 0; l < 8; l++) acc[0, l] = MathF.FusedMultiplyAdd(a[i + l], b[i + l], acc[0, l]);
        var v = new float[8];
        for (int l = 0; l < 8; l++) v[l] = t == GgmlType.F32 ? (acc[0, l] + acc[1, l]) + (acc[2, l] + acc[3, l]) : acc[0, l] + acc[1, l];
        float s0 = v[0] + v[4], s1 = v[1] + v[5], s2 = v[2] + v[6], s3 = v[3] + v[7];
        float sum = (s0 + s2) + (s1 + s3);
        for (; i < n; i++) sum = MathF.FusedMultiplyAdd(a[i], b[i], sum);
        return sum;
    }

    [Theory]
    [InlineData(GgmlType.F32)]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.BF16)]
    public void DotAtEveryLengthMatchesScalarOrder(GgmlType type)
    {
        var rng = new Random(5 + (int)type);
        for (int n = 0; n <= 256; n++)
        {
            var x = QuantTestData.Floats(rng, n);
            var wf = QuantTestData.Floats(rng, n);
            if (n > 3) { wf[1] = 0; x[2] = -0f; wf[3] = 6e-8f; } // zero, negative zero and an f16 subnormal
            var row = new byte[n * (type == GgmlType.F32 ? 4 : 2)];
            var act = new byte[RowKernels.ActivationRowBytes(type, n)];
            float dot;
            fixed (float* px = x) fixed (float* pw = wf) fixed (byte* pr = row) fixed (byte* pa = act)
            {
                RowKernels.QuantizeRow(type, pw, pr, n);
                RowKernels.PrepareActivation(type, px, n, pa);
                dot = RowKernels.Dot(type, pr, pa, n);
            }
            // The stored (rounded) values are what is multiplied.
            var a = QuantTestData.Dequantize(type, row, n);
            var b = new float[n];
            fixed (byte* pa = act) fixed (float* pb = b) RowKernels.DequantizeRow(type, pa, pb, n);
            float expected = Emulate(type, a, b);
            Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(dot), $"{type} n={n}: {dot:R} vs {expected:R}");
            double exact = 0, mag = 0;
            for (int i = 0; i < n; i++) { exact += (double)a[i] * b[i]; mag += Math.Abs((double)a[i] * b[i]); }
            Assert.True(Math.Abs(dot - exact) <= 1e-6 * mag + 1e-30, $"{type} n={n}: {dot} vs {exact}");
        }
    }

    [Fact]
    public void HalfConversionIsExactForEveryValue()
    {
        for (int h = 0; h < 65536; h++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)h);
            float got = Hunch.Kernels.Quant.Fp16.ToFloat((ushort)h);
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(got));
            else Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(got));
        }
        for (int h = 0; h < 65536; h += 8)
        {
            var v = System.Runtime.Intrinsics.Vector256.Create((uint)h, (uint)h + 1, (uint)h + 2, (uint)h + 3, (uint)h + 4, (uint)h + 5, (uint)h + 6, (uint)h + 7);
            var f = Hunch.Kernels.Quant.Fp16.ToFloat(v);
            for (int l = 0; l < 8; l++)
            {
                float expected = (float)BitConverter.UInt16BitsToHalf((ushort)(h + l));
                if (float.IsNaN(expected)) Assert.True(float.IsNaN(f.GetElement(l)));
                else Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(f.GetElement(l)));
            }
        }
    }
}
