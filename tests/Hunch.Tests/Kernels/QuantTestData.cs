using Hunch.Gguf;
using Hunch.Kernels;

namespace Hunch.Tests.Kernels;

/// <summary>Random and edge-case rows for the quantized kernel tests, plus an independent decoder of the block
/// layouts (written from the format description, separately from the library's kernels).</summary>
public static unsafe class QuantTestData
{
    public static readonly GgmlType[] WeightTypes =
    [
        GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
    ];

    public static IEnumerable<object[]> WeightTypeData() => WeightTypes.Select(t => new object[] { t });

    public static int BlockSize(GgmlType t) => GgmlTypeInfo.Layout(t).BlockSize;

    public enum Kind { Random, Quantized, ZeroScales, Extreme, AllEqual }

    public static readonly Kind[] Kinds = [Kind.Random, Kind.Quantized, Kind.ZeroScales, Kind.Extreme, Kind.AllEqual];

    /// <summary>Offsets of the f16 scale fields inside a block of each type.</summary>
    static int[] ScaleOffsets(GgmlType t) => t switch
    {
        GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q5_0 => [0],
        GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K => [0, 2],
        GgmlType.Q2_K => [80, 82],
        GgmlType.Q3_K => [108],
        GgmlType.Q6_K => [208],
        _ => throw new ArgumentException(t.ToString()),
    };

    /// <summary>Random floats: mostly normal-ish with occasional outliers.</summary>
    public static float[] Floats(Random rng, int n, float scale = 1f)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u = rng.NextDouble() * 2 - 1;
            x[i] = (float)(u * u * u * scale * (rng.Next(50) == 0 ? 8 : 1));
        }
        return x;
    }

    /// <summary>One weight row of <paramref name="columns"/> elements of the given kind.</summary>
    public static byte[] WeightRow(GgmlType t, int columns, Kind kind, Random rng)
    {
        var (bs, bb) = GgmlTypeInfo.Layout(t);
        int nb = columns / bs;
        var row = new byte[nb * bb];
        switch (kind)
        {
            case Kind.Quantized when RowKernels.CanQuantize(t):
                {
                    var x = Floats(rng, columns, 0.05f);
                    fixed (float* px = x) fixed (byte* pr = row) RowKernels.QuantizeRow(t, px, pr, columns);
                    return row;
                }
            case Kind.Extreme:
                // Every quant at one of its two extreme encodings, scales at large finite values.
                for (int i = 0; i < row.Length; i++) row[i] = rng.Next(2) == 0 ? (byte)0x00 : (byte)0xFF;
                if (t == GgmlType.Q8_0) for (int i = 0; i < row.Length; i++) row[i] = rng.Next(2) == 0 ? (byte)0x80 : (byte)0x7F;
                SetScales(t, row, nb, bb, () => Numerics.FloatToHalf(rng.Next(2) == 0 ? 60000f : -60000f));
                return row;
            case Kind.AllEqual:
                {
                    byte v = (byte)rng.Next(256);
                    Array.Fill(row, v);
                    ushort h = Numerics.FloatToHalf(0.01f);
                    SetScales(t, row, nb, bb, () => h);
                    return row;
                }
            default:
                rng.NextBytes(row);
                SetScales(t, row, nb, bb, kind == Kind.ZeroScales
                    ? () => (ushort)(rng.Next(2) == 0 ? 0 : 0x8000)
                    : () => Numerics.FloatToHalf((float)((rng.NextDouble() * 2 - 1) * 0.01)));
                return row;
        }
    }

    static void SetScales(GgmlType t, byte[] row, int nb, int bb, Func<ushort> next)
    {
        var offsets = ScaleOffsets(t);
        for (int b = 0; b < nb; b++)
            foreach (int o in offsets) BitConverter.TryWriteBytes(row.AsSpan(b * bb + o, 2), next());
    }

    /// <summary>Activation floats of a kind: random, all zero, huge or tiny magnitudes, all equal, a single spike.</summary>
    public static float[] Activation(int columns, int variant, Random rng)
    {
        var x = new float[columns];
        switch (variant % 6)
        {
            case 0: return Floats(rng, columns);
            case 1: return x;
            case 2: for (int i = 0; i < columns; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * 3e4f; return x;
            case 3: for (int i = 0; i < columns; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * 1e-6f; return x;
            case 4: Array.Fill(x, -0.75f); return x;
            default: x[rng.Next(columns)] = 5f; return x;
        }
    }

    public static byte[] Prepare(GgmlType weightType, float[] x)
    {
        var act = new byte[RowKernels.ActivationRowBytes(weightType, x.Length)];
        fixed (float* px = x) fixed (byte* pa = act) RowKernels.PrepareActivation(weightType, px, x.Length, pa);
        return act;
    }

    public static float Dot(GgmlType t, byte[] row, byte[] act, int columns)
    {
        fixed (byte* pr = row) fixed (byte* pa = act) return RowKernels.Dot(t, pr, pa, columns);
    }

    public static float[] Dequantize(GgmlType t, byte[] row, int columns)
    {
        var y = new float[columns];
        fixed (byte* pr = row) fixed (float* py = y) RowKernels.DequantizeRow(t, pr, py, columns);
        return y;
    }

    static float H(byte[] b, int o) => (float)BitConverter.ToHalf(b, o);

    /// <summary>A decoded weight block: integer quant and integer sub-block scale per element, sub-block minimum
    /// (per 32 for Q4_K/Q5_K, per 16 for Q2_K), and the block's float scales.</summary>
    public sealed class Block
    {
        public int[] Q = [];
        public int[] Scale = [];
        public int[] Min = [];
        public float D, DMin;
    }

    public static Block Decode(GgmlType t, byte[] row, int block)
    {
        int bb = GgmlTypeInfo.Layout(t).BlockBytes;
        var b = row.AsSpan(block * bb, bb).ToArray();
        int n = BlockSize(t);
        var blk = new Block { Q = new int[n], Scale = new int[n] };
        Array.Fill(blk.Scale, 1);
        switch (t)
        {
            case GgmlType.Q8_0:
                blk.D = H(b, 0);
                for (int e = 0; e < 32; e++) blk.Q[e] = (sbyte)b[2 + e];
                break;
            case GgmlType.Q4_0:
                blk.D = H(b, 0);
                for (int e = 0; e < 32; e++) blk.Q[e] = (e < 16 ? b[2 + e] & 15 : b[2 + e - 16] >> 4) - 8;
                break;
            case GgmlType.Q4_1:
                blk.D = H(b, 0); blk.DMin = H(b, 2);
                for (int e = 0; e < 32; e++) blk.Q[e] = e < 16 ? b[4 + e] & 15 : b[4 + e - 16] >> 4;
                break;
            case GgmlType.Q5_0:
                {
                    blk.D = H(b, 0);
                    uint qh = BitConverter.ToUInt32(b, 2);
                    for (int e = 0; e < 32; e++) blk.Q[e] = ((e < 16 ? b[6 + e] & 15 : b[6 + e - 16] >> 4) | (int)((qh >> e) & 1) << 4) - 16;
                    break;
                }
            case GgmlType.Q5_1:
                {
                    blk.D = H(b, 0); blk.DMin = H(b, 2);
                    uint qh = BitConverter.ToUInt32(b, 4);
                    for (int e = 0; e < 32; e++) blk.Q[e] = (e < 16 ? b[8 + e] & 15 : b[8 + e - 16] >> 4) | (int)((qh >> e) & 1) << 4;
                    break;
                }
            case GgmlType.Q4_K:
            case GgmlType.Q5_K:
                {
                    blk.D = H(b, 0); blk.DMin = H(b, 2);
                    blk.Min = new int[8];
                    var sc = new int[8];
                    for (int j = 0; j < 8; j++)
                    {
                        // 6-bit scale and minimum pairs, packed as in the format description.
                        if (j < 4) { sc[j] = b[4 + j] & 63; blk.Min[j] = b[4 + j + 4] & 63; }
                        else
                        {
                            sc[j] = (b[4 + j + 4] & 15) | ((b[4 + j - 4] >> 6) << 4);
                            blk.Min[j] = (b[4 + j + 4] >> 4) | ((b[4 + j] >> 6) << 4);
                        }
                    }
                    int qs = t == GgmlType.Q4_K ? 16 : 48;
                    for (int e = 0; e < 256; e++)
                    {
                        int sb = e / 32, l = e % 32, c = sb / 2;
                        int q = sb % 2 == 0 ? b[qs + 32 * c + l] & 15 : b[qs + 32 * c + l] >> 4;
                        if (t == GgmlType.Q5_K) q |= ((b[16 + l] >> sb) & 1) << 4;
                        blk.Q[e] = q;
                        blk.Scale[e] = sc[sb];
                    }
                    break;
                }
            case GgmlType.Q6_K:
                blk.D = H(b, 208);
                for (int e = 0; e < 256; e++)
                {
                    int n128 = e / 128, r = e % 128, k = r / 32, l = r % 32;
                    int lo = (b[64 * n128 + (k & 1) * 32 + l] >> ((k >> 1) * 4)) & 15;
                    int hi = (b[128 + 32 * n128 + l] >> (2 * k)) & 3;
                    blk.Q[e] = (lo | hi << 4) - 32;
                    blk.Scale[e] = (sbyte)b[192 + e / 16];
                }
                break;
            case GgmlType.Q2_K:
                blk.D = H(b, 80); blk.DMin = H(b, 82);
                blk.Min = new int[16];
                for (int g = 0; g < 16; g++) blk.Min[g] = b[g] >> 4;
                for (int e = 0; e < 256; e++)
                {
                    int n128 = e / 128, r = e % 128, shift = r / 32, l = r % 32;
                    blk.Q[e] = (b[16 + 32 * n128 + l] >> (2 * shift)) & 3;
                    blk.Scale[e] = b[e / 16] & 15;
                }
                break;
            case GgmlType.Q3_K:
                {
                    blk.D = H(b, 108);
                    var sc = new int[16];
                    for (int g = 0; g < 16; g++)
                    {
                        // Low 4 bits: byte g (g < 8) low nibble or byte g-8 high nibble; high 2 bits from bytes 8..11.
                        int low = g < 8 ? b[96 + g] & 15 : b[96 + g - 8] >> 4;
                        int high = (b[96 + 8 + g % 4] >> (2 * (g / 4))) & 3;
                        sc[g] = (low | high << 4) - 32;
                    }
                    for (int e = 0; e < 256; e++)
                    {
                        int n128 = e / 128, r = e % 128, shift = r / 32, l = r % 32;
                        int bit = 4 * n128 + shift;
                        blk.Q[e] = ((b[32 + 32 * n128 + l] >> (2 * shift)) & 3) - (((b[l] >> bit) & 1) != 0 ? 0 : 4);
                        blk.Scale[e] = sc[e / 16];
                    }
                    break;
                }
            default: throw new ArgumentException(t.ToString());
        }
        return blk;
    }

    /// <summary>A decoded activation block: quants, scale d, and (Q8_1) the stored d·Σq.</summary>
    public static (int[] Q, float D, float S) DecodeActivation(GgmlType weightType, byte[] act, int block)
    {
        var at = RowKernels.ActivationType(weightType);
        int bb = GgmlTypeInfo.Layout(at).BlockBytes, n = GgmlTypeInfo.Layout(at).BlockSize;
        int o = block * bb;
        var q = new int[n];
        switch (at)
        {
            case GgmlType.Q8_0:
                for (int e = 0; e < 32; e++) q[e] = (sbyte)act[o + 2 + e];
                return (q, H(act, o), 0);
            case GgmlType.Q8_1:
                for (int e = 0; e < 32; e++) q[e] = (sbyte)act[o + 4 + e];
                return (q, H(act, o), H(act, o + 2));
            default:
                for (int e = 0; e < 256; e++) q[e] = (sbyte)act[o + 4 + e];
                return (q, BitConverter.ToSingle(act, o), 0);
        }
    }
}
