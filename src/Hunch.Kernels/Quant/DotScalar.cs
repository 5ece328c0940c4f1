using System.Runtime.CompilerServices;

namespace Hunch.Kernels.Quant;

/// <summary>
/// Portable quantized dot products, bit-for-bit equal to the AVX2 kernels in <see cref="DotAvx2"/>.
/// <para>The scheme is llama.cpp's x86 one: each block contributes an exact integer sum scaled once by
/// (weight scale × activation scale). The integer sums are split into 8 "lanes" exactly as the 256-bit kernels
/// split them (lane l = the products of bytes 4l..4l+3 of every 32-byte chunk, each weighted by its sub-block
/// scale), every lane accumulates its scaled block sums with a fused multiply-add in block order, and the lanes
/// are summed in the fixed tree of <see cref="RowKernels.HorizontalSum"/>. Integer sums are exact, so the only
/// rounding is in that fixed float order, which the vector kernels reproduce exactly. Q8_0 and Q4_0 instead put
/// each block's whole integer sum into lane (block mod 8), the order of <see cref="Tiled.BlockGroups"/>.</para>
/// </summary>
internal static unsafe class DotScalar
{
    struct Acc
    {
        public fixed float L[8];

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Add(float scale, int* lanes)
        {
            for (int l = 0; l < 8; l++) L[l] = MathF.FusedMultiplyAdd(scale, lanes[l], L[l]);
        }

        /// <summary>The same tree as <see cref="RowKernels.HorizontalSum"/>: upper half onto lower, then pairs.</summary>
        public float Sum()
        {
            float s0 = L[0] + L[4], s1 = L[1] + L[5], s2 = L[2] + L[6], s3 = L[3] + L[7];
            return (s0 + s2) + (s1 + s3);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float H(byte* p) => Fp16.ToFloat(*(ushort*)p);

    /// <summary>Lane sums of one 32-element block: lane l = Σ_{j=4l}^{4l+3} w[j]·a[j].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Lanes32(int* w, sbyte* a, int* lanes)
    {
        for (int l = 0; l < 8; l++)
        {
            int j = 4 * l;
            lanes[l] = w[j] * a[j] + w[j + 1] * a[j + 1] + w[j + 2] * a[j + 2] + w[j + 3] * a[j + 3];
        }
    }

    /// <summary>Q8_0 and Q4_0 use the grouped order of <see cref="Tiled.BlockGroups"/>: block i's exact integer sum
    /// is converted once and fused-multiply-added with (weight scale × activation scale) into lane i mod 8.</summary>
    public static float Q8_0(byte* w, byte* a, int nb)
    {
        Acc acc = default;
        for (int b = 0; b < nb; b++, w += 34, a += 34)
        {
            sbyte* q = (sbyte*)(w + 2);
            sbyte* y = (sbyte*)(a + 2);
            int s = 0;
            for (int j = 0; j < 32; j++) s += q[j] * y[j];
            acc.L[b & 7] = MathF.FusedMultiplyAdd(H(w) * H(a), s, acc.L[b & 7]);
        }
        return acc.Sum();
    }

    /// <summary>See <see cref="Q8_0"/>.</summary>
    public static float Q4_0(byte* w, byte* a, int nb)
    {
        Acc acc = default;
        for (int b = 0; b < nb; b++, w += 18, a += 34)
        {
            sbyte* y = (sbyte*)(a + 2);
            int s = 0;
            for (int j = 0; j < 16; j++) s += ((w[2 + j] & 0x0F) - 8) * y[j] + ((w[2 + j] >> 4) - 8) * y[j + 16];
            acc.L[b & 7] = MathF.FusedMultiplyAdd(H(w) * H(a), s, acc.L[b & 7]);
        }
        return acc.Sum();
    }

    public static float Q5_0(byte* w, byte* a, int nb)
    {
        Acc acc = default;
        int* q = stackalloc int[32];
        int* lanes = stackalloc int[8];
        for (int b = 0; b < nb; b++, w += 22, a += 34)
        {
            uint qh = *(uint*)(w + 2);
            for (int j = 0; j < 16; j++)
            {
                q[j] = ((w[6 + j] & 0x0F) | (int)(((qh >> j) & 1) << 4)) - 16;
                q[j + 16] = ((w[6 + j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) - 16;
            }
            Lanes32(q, (sbyte*)(a + 2), lanes);
            acc.Add(H(w) * H(a), lanes);
        }
        return acc.Sum();
    }

    public static float Q4_1(byte* w, byte* a, int nb)
    {
        Acc acc = default;
        float summs = 0;
        int* q = stackalloc int[32];
        int* lanes = stackalloc int[8];
        for (int b = 0; b < nb; b++, w += 20, a += 36)
        {
            summs = MathF.FusedMultiplyAdd(H(w + 2), H(a + 2), summs);
            for (int j = 0; j < 16; j++)
            {
                q[j] = w[4 + j] & 0x0F;
                q[j + 16] = w[4 + j] >> 4;
            }
            Lanes32(q, (sbyte*)(a + 4), lanes);
            acc.Add(H(w) * H(a), lanes);
        }
        return acc.Sum() + summs;
    }

    public static float Q5_1(byte* w, byte* a, int nb)
    {
        Acc acc = default;
        float summs = 0;
        int* q = stackalloc int[32];
        int* lanes = stackalloc int[8];
        for (int b = 0; b < nb; b++, w += 24, a += 36)
        {
            summs = MathF.FusedMultiplyAdd(H(w + 2), H(a + 2), summs);
            uint qh = *(uint*)(w + 4);
            for (int j = 0; j < 16; j++)
            {
                q[j] = (w[8 + j] & 0x0F) | (int)(((qh >> j) & 1) << 4);
                q[j + 16] = (w[8 + j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            }
            Lanes32(q, (sbyte*)(a + 4), lanes);
            acc.Add(H(w) * H(a), lanes);
        }
        return acc.Sum() + summs;
    }

    /// <summary>Adds one 32-element chunk into the lanes: lanes[l] += Σ_{j=4l}^{4l+3} q[j]·a[j]·scale(l),
    /// where the first four lanes (elements 0..15) use <paramref name="scaleLo"/> and the rest <paramref name="scaleHi"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void AddChunk(int* q, sbyte* a, int scaleLo, int scaleHi, int* lanes)
    {
        for (int l = 0; l < 8; l++)
        {
            int j = 4 * l;
            int s = q[j] * a[j] + q[j + 1] * a[j + 1] + q[j + 2] * a[j + 2] + q[j + 3] * a[j + 3];
            lanes[l] += (l < 4 ? scaleLo : scaleHi) * s;
        }
    }

    public static float Q4_K(byte* w, byte* a, int nb)
    {
        Acc acc = default;
        float m0 = 0, m1 = 0, m2 = 0, m3 = 0;
        int* q = stackalloc int[32];
        int* lanes = stackalloc int[8];
        int* sc = stackalloc int[8];
        int* mn = stackalloc int[8];
        for (int b = 0; b < nb; b++, w += 144, a += 292)
        {
            float ad = *(float*)a;
            float d = ad * H(w);
            float dmin = -ad * H(w + 2);
            for (int j = 0; j < 8; j++) Dequantizer.ScaleMinK4(j, w + 4, out sc[j], out mn[j]);
            short* bs = (short*)(a + 260);
            // Minimums: 4 lanes, lane k = m[2k]·S[2k] + m[2k+1]·S[2k+1] with S the sub-block sums of the activations.
            m0 = MathF.FusedMultiplyAdd(dmin, mn[0] * (bs[0] + bs[1]) + mn[1] * (bs[2] + bs[3]), m0);
            m1 = MathF.FusedMultiplyAdd(dmin, mn[2] * (bs[4] + bs[5]) + mn[3] * (bs[6] + bs[7]), m1);
            m2 = MathF.FusedMultiplyAdd(dmin, mn[4] * (bs[8] + bs[9]) + mn[5] * (bs[10] + bs[11]), m2);
            m3 = MathF.FusedMultiplyAdd(dmin, mn[6] * (bs[12] + bs[13]) + mn[7] * (bs[14] + bs[15]), m3);
            for (int l = 0; l < 8; l++) lanes[l] = 0;
            sbyte* aq = (sbyte*)(a + 4);
            byte* qs = w + 16;
            for (int j = 0; j < 4; j++)
            {
                for (int i = 0; i < 32; i++) q[i] = qs[32 * j + i] & 0x0F;
                AddChunk(q, aq + 64 * j, sc[2 * j], sc[2 * j], lanes);
                for (int i = 0; i < 32; i++) q[i] = qs[32 * j + i] >> 4;
                AddChunk(q, aq + 64 * j + 32, sc[2 * j + 1], sc[2 * j + 1], lanes);
            }
            acc.Add(d, lanes);
        }
        return acc.Sum() + ((m0 + m2) + (m1 + m3));
    }

    public static float Q5_K(byte* w, byte* a, int nb)
    {
        Acc acc = default;
        float summs = 0;
        int* q = stackalloc int[32];
        int* lanes = stackalloc int[8];
        int* sc = stackalloc int[8];
        int* mn = stackalloc int[8];
        for (int b = 0; b < nb; b++, w += 176, a += 292)
        {
            float ad = *(float*)a;
            float d = ad * H(w);
            float dmin = -ad * H(w + 2);
            for (int j = 0; j < 8; j++) Dequantizer.ScaleMinK4(j, w + 4, out sc[j], out mn[j]);
            short* bs = (short*)(a + 260);
            int mins = 0;
            for (int s = 0; s < 8; s++) mins += mn[s] * (bs[2 * s] + bs[2 * s + 1]);
            summs = MathF.FusedMultiplyAdd(dmin, mins, summs);
            for (int l = 0; l < 8; l++) lanes[l] = 0;
            sbyte* aq = (sbyte*)(a + 4);
            byte* qh = w + 16;
            byte* qs = w + 48;
            for (int j = 0; j < 4; j++)
            {
                for (int i = 0; i < 32; i++) q[i] = (qs[32 * j + i] & 0x0F) | (((qh[i] >> (2 * j)) & 1) << 4);
                AddChunk(q, aq + 64 * j, sc[2 * j], sc[2 * j], lanes);
                for (int i = 0; i < 32; i++) q[i] = (qs[32 * j + i] >> 4) | (((qh[i] >> (2 * j + 1)) & 1) << 4);
                AddChunk(q, aq + 64 * j + 32, sc[2 * j + 1], sc[2 * j + 1], lanes);
            }
            acc.Add(d, lanes);
        }
        return acc.Sum() + summs;
    }

    public static float Q6_K(byte* w, byte* a, int nb)
    {
        Acc acc = default;
        int* q = stackalloc int[32];
        int* lanes = stackalloc int[8];
        for (int b = 0; b < nb; b++, w += 210, a += 292)
        {
            float d = *(float*)a * H(w + 208);
            sbyte* sc = (sbyte*)(w + 192);
            sbyte* aq = (sbyte*)(a + 4);
            for (int l = 0; l < 8; l++) lanes[l] = 0;
            for (int n = 0; n < 2; n++)
            {
                byte* ql = w + 64 * n;
                byte* qh = w + 128 + 32 * n;
                for (int k = 0; k < 4; k++)
                {
                    byte* lo = ql + (k & 1) * 32;
                    int nibbleShift = (k >> 1) * 4;
                    for (int i = 0; i < 32; i++)
                        q[i] = (((lo[i] >> nibbleShift) & 0x0F) | (((qh[i] >> (2 * k)) & 3) << 4)) - 32;
                    AddChunk(q, aq + 128 * n + 32 * k, sc[8 * n + 2 * k], sc[8 * n + 2 * k + 1], lanes);
                }
            }
            acc.Add(d, lanes);
        }
        return acc.Sum();
    }

    public static float Q2_K(byte* w, byte* a, int nb)
    {
        Acc acc = default;
        int* q = stackalloc int[32];
        int* lanes = stackalloc int[8];
        for (int b = 0; b < nb; b++, w += 84, a += 292)
        {
            float ad = *(float*)a;
            float d = ad * H(w + 80);
            float dmin = -ad * H(w + 82);
            byte* sc = w;
            short* bs = (short*)(a + 260);
            // Minimums first, into the same 8 lanes: lane l = min[2l]·bsum[2l] + min[2l+1]·bsum[2l+1].
            for (int l = 0; l < 8; l++) lanes[l] = (sc[2 * l] >> 4) * bs[2 * l] + (sc[2 * l + 1] >> 4) * bs[2 * l + 1];
            acc.Add(dmin, lanes);
            for (int l = 0; l < 8; l++) lanes[l] = 0;
            sbyte* aq = (sbyte*)(a + 4);
            for (int n = 0; n < 2; n++)
            {
                byte* qs = w + 16 + 32 * n;
                for (int s = 0; s < 4; s++)
                {
                    for (int i = 0; i < 32; i++) q[i] = (qs[i] >> (2 * s)) & 3;
                    AddChunk(q, aq + 128 * n + 32 * s, sc[8 * n + 2 * s] & 0x0F, sc[8 * n + 2 * s + 1] & 0x0F, lanes);
                }
            }
            acc.Add(d, lanes);
        }
        return acc.Sum();
    }

    public static float Q3_K(byte* w, byte* a, int nb)
    {
        Acc acc = default;
        int* q = stackalloc int[32];
        int* lanes = stackalloc int[8];
        sbyte* sc = stackalloc sbyte[16];
        for (int b = 0; b < nb; b++, w += 110, a += 292)
        {
            float d = *(float*)a * H(w + 108);
            Dequantizer.ScalesQ3K(w + 96, sc);
            byte* hm = w;
            sbyte* aq = (sbyte*)(a + 4);
            for (int l = 0; l < 8; l++) lanes[l] = 0;
            for (int n = 0; n < 2; n++)
            {
                byte* qs = w + 32 + 32 * n;
                for (int s = 0; s < 4; s++)
                {
                    int bit = 4 * n + s;
                    for (int i = 0; i < 32; i++) q[i] = ((qs[i] >> (2 * s)) & 3) - (((hm[i] >> bit) & 1) != 0 ? 0 : 4);
                    AddChunk(q, aq + 128 * n + 32 * s, sc[8 * n + 2 * s], sc[8 * n + 2 * s + 1], lanes);
                }
            }
            acc.Add(d, lanes);
        }
        return acc.Sum();
    }
}
