using Hunch.Gguf;
using Hunch.Kernels;
using static Hunch.Tests.Kernels.QuantTestData;

namespace Hunch.Tests.Kernels;

public unsafe class QuantizedDotTests
{
    /// <summary>
    /// An independent implementation of llama.cpp's integer scheme from the decoded blocks: per block, 8 exact integer
    /// lane sums (lane = (element mod 32) / 4, elements weighted by their integer sub-block scale), each lane
    /// fused-multiply-added with the block scale, lanes summed (0+4, 2+6 | 1+5, 3+7), plus each type's minimum term.
    /// Q8_0 and Q4_0 instead add each block's whole integer sum, scaled, to lane (block mod 8).
    /// </summary>
    static float LaneReference(GgmlType t, byte[] row, byte[] act, int columns)
    {
        int bs = BlockSize(t);
        var acc = new float[8];
        var accm = new float[4];
        float summs = 0;
        for (int b = 0; b < columns / bs; b++)
        {
            var w = Decode(t, row, b);
            var (qa, da, sa) = DecodeActivation(t, act, b);
            var lanes = new int[8];
            for (int e = 0; e < bs; e++) lanes[e % 32 / 4] += w.Scale[e] * w.Q[e] * qa[e];
            switch (t)
            {
                case GgmlType.Q8_0 or GgmlType.Q4_0:
                    {
                        // Grouped order: the block's whole integer sum goes to lane (block mod 8).
                        int sum = 0;
                        for (int l = 0; l < 8; l++) sum += lanes[l];
                        acc[b % 8] = MathF.FusedMultiplyAdd(w.D * da, sum, acc[b % 8]);
                        break;
                    }
                case GgmlType.Q5_0:
                    AddLanes(acc, w.D * da, lanes);
                    break;
                case GgmlType.Q4_1 or GgmlType.Q5_1:
                    summs = MathF.FusedMultiplyAdd(w.DMin, sa, summs);
                    AddLanes(acc, w.D * da, lanes);
                    break;
                case GgmlType.Q4_K:
                    for (int k = 0; k < 4; k++)
                        accm[k] = MathF.FusedMultiplyAdd(-da * w.DMin, w.Min[2 * k] * SubSum(qa, 2 * k, 32) + w.Min[2 * k + 1] * SubSum(qa, 2 * k + 1, 32), accm[k]);
                    AddLanes(acc, da * w.D, lanes);
                    break;
                case GgmlType.Q5_K:
                    {
                        int mins = 0;
                        for (int s = 0; s < 8; s++) mins += w.Min[s] * SubSum(qa, s, 32);
                        summs = MathF.FusedMultiplyAdd(-da * w.DMin, mins, summs);
                        AddLanes(acc, da * w.D, lanes);
                        break;
                    }
                case GgmlType.Q2_K:
                    {
                        var ml = new int[8];
                        for (int l = 0; l < 8; l++) ml[l] = w.Min[2 * l] * SubSum(qa, 2 * l, 16) + w.Min[2 * l + 1] * SubSum(qa, 2 * l + 1, 16);
                        AddLanes(acc, -da * w.DMin, ml);
                        AddLanes(acc, da * w.D, lanes);
                        break;
                    }
                default:
                    AddLanes(acc, da * w.D, lanes);
                    break;
            }
        }
        float r = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
        if (t == GgmlType.Q4_K) r += (accm[0] + accm[2]) + (accm[1] + accm[3]);
        if (t is GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q5_K) r += summs;
        return r;
    }

    static void AddLanes(float[] acc, float scale, int[] lanes)
    {
        for (int l = 0; l < 8; l++) acc[l] = MathF.FusedMultiplyAdd(scale, lanes[l], acc[l]);
    }

    static int SubSum(int[] q, int index, int size)
    {
        int s = 0;
        for (int e = index * size; e < (index + 1) * size; e++) s += q[e];
        return s;
    }

    /// <summary>Dot of dequantized weights with the dequantized (8-bit) activations, in double.</summary>
    static (double Value, double Magnitude) DequantizedReference(GgmlType t, byte[] row, byte[] act, int columns)
    {
        var w = Dequantize(t, row, columns);
        int bs = GgmlTypeInfo.Layout(RowKernels.ActivationType(t)).BlockSize;
        double sum = 0, mag = 0;
        for (int b = 0; b < columns / bs; b++)
        {
            var (qa, da, _) = DecodeActivation(t, act, b);
            for (int e = 0; e < bs; e++)
            {
                double p = (double)w[b * bs + e] * qa[e] * da;
                sum += p;
                mag += Math.Abs(p);
            }
        }
        return (sum, mag);
    }

    public static IEnumerable<object[]> Cases()
    {
        foreach (var t in WeightTypes)
            foreach (var kind in Kinds)
                yield return [t, kind];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DotMatchesPortableAndLaneReferenceExactly(GgmlType type, Kind kind)
    {
        var rng = new Random((int)type * 31 + (int)kind);
        int bs = BlockSize(type);
        foreach (int blocks in new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 19 })
        {
            int columns = blocks * bs;
            for (int variant = 0; variant < 6; variant++)
            {
                var row = WeightRow(type, columns, kind, rng);
                var act = Prepare(type, Activation(columns, variant, rng));
                float dot = Dot(type, row, act, columns);
                float portable;
                fixed (byte* pr = row) fixed (byte* pa = act) portable = RowKernels.DotPortable(type, pr, pa, columns);
                float reference = LaneReference(type, row, act, columns);
                Assert.True(BitConverter.SingleToInt32Bits(dot) == BitConverter.SingleToInt32Bits(portable),
                    $"{type} {kind} {columns} v{variant}: vector {dot:R} portable {portable:R}");
                Assert.True(BitConverter.SingleToInt32Bits(dot) == BitConverter.SingleToInt32Bits(reference),
                    $"{type} {kind} {columns} v{variant}: kernel {dot:R} lane reference {reference:R}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DotMatchesDequantizedProduct(GgmlType type, Kind kind)
    {
        var rng = new Random((int)type * 17 + (int)kind);
        int bs = BlockSize(type);
        for (int blocks = 1; blocks <= 8; blocks++)
        {
            int columns = blocks * bs;
            for (int variant = 0; variant < 6; variant++)
            {
                // Q8_1 stores s = d·Σq as f16, which overflows for activations of ±3e4 (as in llama.cpp).
                if (variant == 2 && type is GgmlType.Q4_1 or GgmlType.Q5_1) continue;
                var row = WeightRow(type, columns, kind, rng);
                var act = Prepare(type, Activation(columns, variant, rng));
                float dot = Dot(type, row, act, columns);
                var (value, magnitude) = DequantizedReference(type, row, act, columns);
                // Only float rounding separates the two (the products are the same numbers): a few ulps of the
                // magnitude per block scale and accumulation step. Q4_1/Q5_1 use the stored f16 d·Σq.
                double tol = 2e-6 * magnitude + 1e-30;
                if (type is GgmlType.Q4_1 or GgmlType.Q5_1) tol = 2e-3 * magnitude + MinimumTermTolerance(type, row, act, columns);
                Assert.True(Math.Abs(dot - value) <= tol, $"{type} {kind} {columns} v{variant}: {dot} vs {value} (tol {tol})");
            }
        }
    }

    /// <summary>The difference between the stored s = f16(d·Σq) of Q8_1 blocks and f16(d)·Σq (f16 roundings of d
    /// and of s; d can even flush to zero while s does not), times the weight minimum.</summary>
    static double MinimumTermTolerance(GgmlType t, byte[] row, byte[] act, int columns)
    {
        double tol = 0;
        for (int b = 0; b < columns / 32; b++)
        {
            var (q, d, s) = DecodeActivation(t, act, b);
            tol += Math.Abs(Decode(t, row, b).DMin) * (Math.Abs(s - (double)d * q.Sum()) + Math.Abs(s) * 1e-3 + 1e-9);
        }
        return tol;
    }

    [Theory]
    [MemberData(nameof(WeightTypeData), MemberType = typeof(QuantTestData))]
    public void DotIsCloseToFloatProductWithinActivationQuantization(GgmlType type)
    {
        var rng = new Random((int)type);
        int bs = BlockSize(type);
        int abs = GgmlTypeInfo.Layout(RowKernels.ActivationType(type)).BlockSize;
        for (int blocks = 1; blocks <= 8; blocks++)
        {
            int columns = blocks * bs;
            var row = WeightRow(type, columns, Kind.Random, rng);
            var x = Floats(rng, columns);
            float dot = Dot(type, row, Prepare(type, x), columns);
            var w = Dequantize(type, row, columns);
            double exact = 0, bound = 0, magnitude = 0;
            for (int b = 0; b < columns / abs; b++)
            {
                float amax = 0;
                for (int e = 0; e < abs; e++) amax = Math.Max(amax, Math.Abs(x[b * abs + e]));
                for (int e = 0; e < abs; e++)
                {
                    int i = b * abs + e;
                    exact += (double)w[i] * x[i];
                    magnitude += Math.Abs((double)w[i] * x[i]);
                    // Each activation is off by at most half a quantization step (plus the f16 rounding of d).
                    bound += Math.Abs(w[i]) * (amax / 127.0 * 0.5 + Math.Abs(x[i]) * 1e-3) + Math.Abs((double)w[i] * x[i]) * 1e-5;
                }
            }
            Assert.True(Math.Abs(dot - exact) <= bound + 1e-12, $"{type} {columns}: {dot} vs {exact} (bound {bound})");
            Assert.True(bound < 0.2 * magnitude, $"the bound itself is meaningful ({bound} vs {magnitude})");
        }
    }

    [Theory]
    [MemberData(nameof(WeightTypeData), MemberType = typeof(QuantTestData))]
    public void DotRowsOfSeveralActivationsEqualsSingleDots(GgmlType type)
    {
        var rng = new Random(7 + (int)type);
        int columns = 4 * BlockSize(type);
        // Q4_K and the grouped Q8_0/Q4_0 kernel take up to 16 rows per call, the others up to 4.
        int most = type is GgmlType.Q4_K or GgmlType.Q8_0 or GgmlType.Q4_0 ? 16 : 4;
        var row = WeightRow(type, columns, Kind.Random, rng);
        long actBytes = RowKernels.ActivationRowBytes(type, columns);
        var acts = new byte[most * actBytes];
        for (int t = 0; t < most; t++) Prepare(type, Floats(rng, columns)).CopyTo(acts, t * actBytes);
        var scales = new float[most * (columns / 32)];
        fixed (byte* pr = row) fixed (byte* pa = acts) fixed (float* ps = scales)
        {
            if (RowKernels.UsesActivationScales(type))
                for (int t = 0; t < most; t++) RowKernels.ActivationScales(type, pa + t * actBytes, columns, ps + t * (columns / 32));
            float* r = stackalloc float[16];
            for (int tokens = 1; tokens <= most; tokens++)
            {
                RowKernels.DotRows(type, pr, pa, actBytes, ps, columns, tokens, r);
                for (int t = 0; t < tokens; t++)
                    Assert.Equal(BitConverter.SingleToInt32Bits(RowKernels.Dot(type, pr, pa + t * actBytes, columns)), BitConverter.SingleToInt32Bits(r[t]));
            }
        }
    }

    [Fact]
    public void ActivationQuantizersFollowLlamaCppRules()
    {
        var rng = new Random(3);
        var x = Floats(rng, 512);
        x[5] = 0; x[40] = -2.5f;
        // Q8_0 (and Q8_1's quants): d = f16(amax/127), q = round-half-even(x·127/amax).
        foreach (var wt in new[] { GgmlType.Q8_0, GgmlType.Q4_1 })
        {
            var act = Prepare(wt, x);
            for (int b = 0; b < 16; b++)
            {
                var (q, d, s) = DecodeActivation(wt, act, b);
                float amax = 0;
                for (int e = 0; e < 32; e++) amax = Math.Max(amax, Math.Abs(x[32 * b + e]));
                Assert.Equal((float)(Half)(amax / 127f), d);
                for (int e = 0; e < 32; e++) Assert.Equal((int)MathF.Round(x[32 * b + e] * (127f / amax)), q[e]);
                if (wt == GgmlType.Q4_1) Assert.Equal((float)(Half)(amax / 127f * q.Sum()), s);
            }
        }
        // Q8_K: scale from the signed extreme, d = 1/(−127/max), bsums = sums of 16.
        {
            var act = Prepare(GgmlType.Q4_K, x);
            for (int b = 0; b < 2; b++)
            {
                var (q, d, _) = DecodeActivation(GgmlType.Q4_K, act, b);
                float max = 0;
                for (int e = 0; e < 256; e++) if (Math.Abs(x[256 * b + e]) > Math.Abs(max)) max = x[256 * b + e];
                float iscale = -127f / max;
                Assert.Equal(1 / iscale, d);
                for (int e = 0; e < 256; e++) Assert.Equal(Math.Min(127, (int)MathF.Round(iscale * x[256 * b + e])), q[e]);
                for (int g = 0; g < 16; g++)
                    Assert.Equal(q.Skip(16 * g).Take(16).Sum(), BitConverter.ToInt16(act, 292 * b + 260 + 2 * g));
            }
        }
        // All-zero blocks give zero scales and quants.
        var zeros = new float[256];
        Assert.All(Prepare(GgmlType.Q6_K, zeros), v => Assert.Equal(0, v));
        Assert.All(Prepare(GgmlType.Q8_0, zeros), v => Assert.Equal(0, v));
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, 0.5 / 127)]
    [InlineData(GgmlType.Q4_0, 1.0 / 8)] // the extreme maps to −8, so +amax clamps to 7: one full step
    [InlineData(GgmlType.Q4_1, 0.5 / 15 * 2)]
    [InlineData(GgmlType.Q5_0, 1.0 / 16)]
    [InlineData(GgmlType.Q5_1, 0.5 / 31 * 2)]
    public void QuantizeRowRoundTripsWithinHalfAStep(GgmlType type, double relativeStep)
    {
        var rng = new Random(11);
        for (int blocks = 1; blocks <= 8; blocks++)
        {
            var x = Floats(rng, 32 * blocks);
            var row = new byte[GgmlTypeInfo.RowBytes(type, x.Length)];
            fixed (float* px = x) fixed (byte* pr = row) RowKernels.QuantizeRow(type, px, pr, x.Length);
            var y = Dequantize(type, row, x.Length);
            for (int b = 0; b < blocks; b++)
            {
                float amax = 0;
                for (int e = 0; e < 32; e++) amax = Math.Max(amax, Math.Abs(x[32 * b + e]));
                for (int e = 0; e < 32; e++)
                    Assert.True(Math.Abs(x[32 * b + e] - y[32 * b + e]) <= amax * (relativeStep * 1.01 + 2e-3) + 1e-7, $"{type} block {b} element {e}: {x[32 * b + e]} -> {y[32 * b + e]}");
            }
        }
    }

    [Theory]
    [InlineData(GgmlType.Q4_K, 0.12)]
    [InlineData(GgmlType.Q6_K, 0.03)]
    public void KQuantizersRoundTripWithSmallError(GgmlType type, double maxRelativeRmse)
    {
        var rng = new Random(13);
        var x = Floats(rng, 256 * 4);
        var row = new byte[GgmlTypeInfo.RowBytes(type, x.Length)];
        fixed (float* px = x) fixed (byte* pr = row) RowKernels.QuantizeRow(type, px, pr, x.Length);
        var y = Dequantize(type, row, x.Length);
        double err = 0, norm = 0;
        for (int i = 0; i < x.Length; i++) { err += (x[i] - y[i]) * (x[i] - y[i]); norm += x[i] * x[i]; }
        Assert.True(Math.Sqrt(err / norm) < maxRelativeRmse, $"{type}: relative rmse {Math.Sqrt(err / norm)}");
        // A zero row quantizes to zeros.
        var z = new float[256];
        var zr = new byte[GgmlTypeInfo.RowBytes(type, 256)];
        fixed (float* pz = z) fixed (byte* pr = zr) RowKernels.QuantizeRow(type, pz, pr, 256);
        Assert.All(Dequantize(type, zr, 256), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void BadShapesAndTypesThrowTypedExceptions()
    {
        var x = new float[40];
        var buf = new byte[100];
        fixed (float* px = x) fixed (byte* pb = buf)
        {
            var p = (nint)pb; var q = (nint)px;
            Assert.Throws<ArgumentException>(() => RowKernels.QuantizeRow(GgmlType.Q8_0, (float*)q, (byte*)p, 40));
            Assert.Throws<NotSupportedException>(() => RowKernels.QuantizeRow(GgmlType.IQ2_XS, (float*)q, (byte*)p, 32));
            Assert.Throws<ArgumentException>(() => RowKernels.Dot(GgmlType.Q4_K, (byte*)p, (byte*)p, 100));
            Assert.Throws<NotSupportedException>(() => RowKernels.Dot(GgmlType.IQ4_XS, (byte*)p, (byte*)p, 256));
        }
    }
}
