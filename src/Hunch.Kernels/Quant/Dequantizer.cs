using System.Runtime.CompilerServices;
using Hunch.Gguf;

namespace Hunch.Kernels.Quant;

/// <summary>
/// Block layouts of the quantized weight types (ggml-common.h) and their dequantization to floats, following
/// llama.cpp's reference dequantizers (value = scale · quant − min, evaluated in the same order).
/// </summary>
internal static unsafe class Dequantizer
{
    public static bool Dequantize(GgmlType type, byte* row, float* y, int columns)
    {
        switch (type)
        {
            case GgmlType.Q8_0: for (int b = 0; b < columns / 32; b++) Q8_0(row + b * 34, y + b * 32); return true;
            case GgmlType.Q4_0: for (int b = 0; b < columns / 32; b++) Q4_0(row + b * 18, y + b * 32); return true;
            case GgmlType.Q4_1: for (int b = 0; b < columns / 32; b++) Q4_1(row + b * 20, y + b * 32); return true;
            case GgmlType.Q5_0: for (int b = 0; b < columns / 32; b++) Q5_0(row + b * 22, y + b * 32); return true;
            case GgmlType.Q5_1: for (int b = 0; b < columns / 32; b++) Q5_1(row + b * 24, y + b * 32); return true;
            case GgmlType.Q2_K: for (int b = 0; b < columns / 256; b++) Q2_K(row + b * 84, y + b * 256); return true;
            case GgmlType.Q3_K: for (int b = 0; b < columns / 256; b++) Q3_K(row + b * 110, y + b * 256); return true;
            case GgmlType.Q4_K: for (int b = 0; b < columns / 256; b++) Q4_K(row + b * 144, y + b * 256); return true;
            case GgmlType.Q5_K: for (int b = 0; b < columns / 256; b++) Q5_K(row + b * 176, y + b * 256); return true;
            case GgmlType.Q6_K: for (int b = 0; b < columns / 256; b++) Q6_K(row + b * 210, y + b * 256); return true;
            case GgmlType.Q8_K: for (int b = 0; b < columns / 256; b++) Q8_K(row + b * 292, y + b * 256); return true;
            default: return false;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float H(byte* p) => Fp16.ToFloat(*(ushort*)p);

    /// <summary>The 6-bit scale and minimum of sub-block <paramref name="j"/> packed in the 12 scale bytes of Q4_K/Q5_K.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ScaleMinK4(int j, byte* q, out int scale, out int min)
    {
        if (j < 4)
        {
            scale = q[j] & 63;
            min = q[j + 4] & 63;
        }
        else
        {
            scale = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
            min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }

    /// <summary>The sixteen signed 6-bit scales of a Q3_K block (stored biased by 32 in 12 bytes).</summary>
    public static void ScalesQ3K(byte* packed, sbyte* scales)
    {
        uint a0 = ((uint*)packed)[0], a1 = ((uint*)packed)[1], tmp = ((uint*)packed)[2];
        const uint k1 = 0x03030303, k2 = 0x0f0f0f0f;
        uint* s = (uint*)scales;
        s[0] = (a0 & k2) | (((tmp >> 0) & k1) << 4);
        s[1] = (a1 & k2) | (((tmp >> 2) & k1) << 4);
        s[2] = ((a0 >> 4) & k2) | (((tmp >> 4) & k1) << 4);
        s[3] = ((a1 >> 4) & k2) | (((tmp >> 6) & k1) << 4);
        for (int i = 0; i < 16; i++) scales[i] = (sbyte)(scales[i] - 32);
    }

    static void Q8_0(byte* b, float* y)
    {
        float d = H(b);
        sbyte* q = (sbyte*)(b + 2);
        for (int j = 0; j < 32; j++) y[j] = q[j] * d;
    }

    static void Q4_0(byte* b, float* y)
    {
        float d = H(b);
        byte* q = b + 2;
        for (int j = 0; j < 16; j++)
        {
            y[j] = ((q[j] & 0x0F) - 8) * d;
            y[j + 16] = ((q[j] >> 4) - 8) * d;
        }
    }

    static void Q4_1(byte* b, float* y)
    {
        float d = H(b), m = H(b + 2);
        byte* q = b + 4;
        for (int j = 0; j < 16; j++)
        {
            y[j] = (q[j] & 0x0F) * d + m;
            y[j + 16] = (q[j] >> 4) * d + m;
        }
    }

    static void Q5_0(byte* b, float* y)
    {
        float d = H(b);
        uint qh = *(uint*)(b + 2);
        byte* q = b + 6;
        for (int j = 0; j < 16; j++)
        {
            int h0 = (int)((qh >> j) << 4) & 0x10;
            int h1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = (((q[j] & 0x0F) | h0) - 16) * d;
            y[j + 16] = (((q[j] >> 4) | h1) - 16) * d;
        }
    }

    static void Q5_1(byte* b, float* y)
    {
        float d = H(b), m = H(b + 2);
        uint qh = *(uint*)(b + 4);
        byte* q = b + 8;
        for (int j = 0; j < 16; j++)
        {
            int h0 = (int)((qh >> j) << 4) & 0x10;
            int h1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = ((q[j] & 0x0F) | h0) * d + m;
            y[j + 16] = ((q[j] >> 4) | h1) * d + m;
        }
    }

    static void Q2_K(byte* b, float* y)
    {
        byte* sc = b;
        byte* q = b + 16;
        float d = H(b + 80), min = H(b + 82);
        int s = 0;
        for (int n = 0; n < 2; n++, q += 32)
        {
            for (int shift = 0; shift < 8; shift += 2)
            {
                for (int half = 0; half < 2; half++)
                {
                    byte v = sc[s++];
                    float dl = d * (v & 0xF), ml = min * (v >> 4);
                    for (int l = 0; l < 16; l++) *y++ = dl * ((q[16 * half + l] >> shift) & 3) - ml;
                }
            }
        }
    }

    static void Q3_K(byte* b, float* y)
    {
        byte* hm = b;
        byte* q = b + 32;
        float dAll = H(b + 108);
        sbyte* scales = stackalloc sbyte[16];
        ScalesQ3K(b + 96, scales);
        int s = 0, bit = 0;
        for (int n = 0; n < 2; n++, q += 32)
        {
            for (int shift = 0; shift < 8; shift += 2, bit++)
            {
                for (int half = 0; half < 2; half++)
                {
                    float dl = dAll * scales[s++];
                    for (int l = 16 * half; l < 16 * half + 16; l++)
                        *y++ = dl * (((q[l] >> shift) & 3) - (((hm[l] >> bit) & 1) != 0 ? 0 : 4));
                }
            }
        }
    }

    static void Q4_K(byte* b, float* y)
    {
        float d = H(b), min = H(b + 2);
        byte* scales = b + 4;
        byte* q = b + 16;
        for (int j = 0; j < 4; j++, q += 32)
        {
            ScaleMinK4(2 * j, scales, out int sc1, out int m1i);
            ScaleMinK4(2 * j + 1, scales, out int sc2, out int m2i);
            float d1 = d * sc1, m1 = min * m1i, d2 = d * sc2, m2 = min * m2i;
            for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
        }
    }

    static void Q5_K(byte* b, float* y)
    {
        float d = H(b), min = H(b + 2);
        byte* scales = b + 4;
        byte* qh = b + 16;
        byte* ql = b + 48;
        for (int j = 0; j < 4; j++, ql += 32)
        {
            ScaleMinK4(2 * j, scales, out int sc1, out int m1i);
            ScaleMinK4(2 * j + 1, scales, out int sc2, out int m2i);
            float d1 = d * sc1, m1 = min * m1i, d2 = d * sc2, m2 = min * m2i;
            int u1 = 1 << (2 * j), u2 = 2 << (2 * j);
            for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xF) + ((qh[l] & u1) != 0 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - m2;
        }
    }

    static void Q6_K(byte* b, float* y)
    {
        byte* ql = b;
        byte* qh = b + 128;
        sbyte* sc = (sbyte*)(b + 192);
        float d = H(b + 208);
        for (int n = 0; n < 2; n++, ql += 64, qh += 32, sc += 8, y += 128)
        {
            for (int l = 0; l < 32; l++)
            {
                int s = l / 16;
                int q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[s] * q1;
                y[l + 32] = d * sc[s + 2] * q2;
                y[l + 64] = d * sc[s + 4] * q3;
                y[l + 96] = d * sc[s + 6] * q4;
            }
        }
    }

    static void Q8_K(byte* b, float* y)
    {
        float d = *(float*)b;
        sbyte* q = (sbyte*)(b + 4);
        for (int j = 0; j < 256; j++) y[j] = d * q[j];
    }
}
