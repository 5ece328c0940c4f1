using Hunch.Gguf;

namespace Hunch.Kernels.Quant;

/// <summary>
/// Weight quantizers following llama.cpp's reference algorithms (ggml-quants.c, <c>quantize_row_*_ref</c>), used
/// to build synthetic quantized models and test data. Q4_K and Q6_K search for the scale that minimises a weighted
/// squared error (<c>make_qkx2_quants</c> / <c>make_qx_quants</c>), as llama-quantize does without an importance matrix.
/// </summary>
internal static unsafe class WeightQuantizer
{
    const float GroupMaxEps = 1e-15f;

    public static bool Quantize(GgmlType type, float* x, byte* y, int columns)
    {
        switch (type)
        {
            case GgmlType.Q8_0: for (int b = 0; b < columns / 32; b++) Q8_0(x + 32 * b, y + 34 * b); return true;
            case GgmlType.Q4_0: for (int b = 0; b < columns / 32; b++) Q4_0(x + 32 * b, y + 18 * b); return true;
            case GgmlType.Q4_1: for (int b = 0; b < columns / 32; b++) Q4_1(x + 32 * b, y + 20 * b); return true;
            case GgmlType.Q5_0: for (int b = 0; b < columns / 32; b++) Q5_0(x + 32 * b, y + 22 * b); return true;
            case GgmlType.Q5_1: for (int b = 0; b < columns / 32; b++) Q5_1(x + 32 * b, y + 24 * b); return true;
            case GgmlType.Q4_K: for (int b = 0; b < columns / 256; b++) Q4_K(x + 256 * b, y + 144 * b); return true;
            case GgmlType.Q6_K: for (int b = 0; b < columns / 256; b++) Q6_K(x + 256 * b, y + 210 * b); return true;
            case GgmlType.Q8_K: ActivationQuantizer.QuantizeQ8_K(x, columns, y); return true;
            default: return false;
        }
    }

    static ushort Half(float f) => Numerics.FloatToHalf(f);

    /// <summary>Truncating float-to-int as C's cast, clamped to [lo, hi] (NaN gives lo).</summary>
    static int Trunc(float v, int lo, int hi)
    {
        if (!(v >= lo)) return lo;
        return v >= hi ? hi : (int)v;
    }

    static void Q8_0(float* x, byte* y)
    {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
        float d = amax / 127f;
        float id = d != 0 ? 1f / d : 0f;
        *(ushort*)y = Half(d);
        for (int j = 0; j < 32; j++)
        {
            // roundf: half away from zero.
            float r = MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
            ((sbyte*)(y + 2))[j] = (sbyte)Math.Clamp(float.IsNaN(r) ? 0 : (int)r, -127, 127);
        }
    }

    static void Q4_0(float* x, byte* y)
    {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
            if (amax < MathF.Abs(x[j])) { amax = MathF.Abs(x[j]); max = x[j]; }
        float d = max / -8f;
        float id = d != 0 ? 1f / d : 0f;
        *(ushort*)y = Half(d);
        for (int j = 0; j < 16; j++)
        {
            int q0 = Trunc(x[j] * id + 8.5f, 0, 15);
            int q1 = Trunc(x[j + 16] * id + 8.5f, 0, 15);
            y[2 + j] = (byte)(q0 | (q1 << 4));
        }
    }

    static void Q4_1(float* x, byte* y)
    {
        float min = float.MaxValue, max = float.MinValue;
        for (int j = 0; j < 32; j++) { min = MathF.Min(min, x[j]); max = MathF.Max(max, x[j]); }
        float d = (max - min) / 15f;
        float id = d != 0 ? 1f / d : 0f;
        ((ushort*)y)[0] = Half(d);
        ((ushort*)y)[1] = Half(min);
        for (int j = 0; j < 16; j++)
        {
            int q0 = Trunc((x[j] - min) * id + 0.5f, 0, 15);
            int q1 = Trunc((x[j + 16] - min) * id + 0.5f, 0, 15);
            y[4 + j] = (byte)(q0 | (q1 << 4));
        }
    }

    static void Q5_0(float* x, byte* y)
    {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
            if (amax < MathF.Abs(x[j])) { amax = MathF.Abs(x[j]); max = x[j]; }
        float d = max / -16f;
        float id = d != 0 ? 1f / d : 0f;
        *(ushort*)y = Half(d);
        uint qh = 0;
        for (int j = 0; j < 16; j++)
        {
            int q0 = Trunc(x[j] * id + 16.5f, 0, 31);
            int q1 = Trunc(x[j + 16] * id + 16.5f, 0, 31);
            y[6 + j] = (byte)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= (uint)((q0 >> 4) & 1) << j;
            qh |= (uint)((q1 >> 4) & 1) << (j + 16);
        }
        *(uint*)(y + 2) = qh;
    }

    static void Q5_1(float* x, byte* y)
    {
        float min = float.MaxValue, max = float.MinValue;
        for (int j = 0; j < 32; j++) { min = MathF.Min(min, x[j]); max = MathF.Max(max, x[j]); }
        float d = (max - min) / 31f;
        float id = d != 0 ? 1f / d : 0f;
        ((ushort*)y)[0] = Half(d);
        ((ushort*)y)[1] = Half(min);
        uint qh = 0;
        for (int j = 0; j < 16; j++)
        {
            int q0 = Trunc((x[j] - min) * id + 0.5f, 0, 31);
            int q1 = Trunc((x[j + 16] - min) * id + 0.5f, 0, 31);
            y[8 + j] = (byte)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= (uint)((q0 >> 4) & 1) << j;
            qh |= (uint)((q1 >> 4) & 1) << (j + 16);
        }
        *(uint*)(y + 4) = qh;
    }

    static void Q4_K(float* x, byte* y)
    {
        byte* L = stackalloc byte[256];
        byte* laux = stackalloc byte[32];
        float* weights = stackalloc float[32];
        float* mins = stackalloc float[8];
        float* scales = stackalloc float[8];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) sumX2 += x[32 * j + l] * x[32 * j + l];
            float avX = MathF.Sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = avX + MathF.Abs(x[32 * j + l]);
            scales[j] = MakeQkx2Quants(32, 15, x + 32 * j, weights, L + 32 * j, out mins[j], laux, -1f, 0.1f, 20);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        byte* packed = y + 4;
        new Span<byte>(packed, 12).Clear();
        for (int j = 0; j < 8; j++)
        {
            int ls = Math.Min(63, ActivationQuantizer.NearestInt(invScale * scales[j]));
            int lm = Math.Min(63, ActivationQuantizer.NearestInt(invMin * mins[j]));
            if (j < 4)
            {
                packed[j] = (byte)ls;
                packed[j + 4] = (byte)lm;
            }
            else
            {
                packed[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                packed[j - 4] |= (byte)((ls >> 4) << 6);
                packed[j] |= (byte)((lm >> 4) << 6);
            }
        }
        ((ushort*)y)[0] = Half(maxScale / 63f);
        ((ushort*)y)[1] = Half(maxMin / 63f);
        for (int j = 0; j < 8; j++)
        {
            Dequantizer.ScaleMinK4(j, packed, out int sc, out int m);
            float d = Fp16.ToFloat(((ushort*)y)[0]) * sc;
            if (d == 0) continue;
            float dm = Fp16.ToFloat(((ushort*)y)[1]) * m;
            for (int i = 0; i < 32; i++)
                L[32 * j + i] = (byte)Math.Clamp(ActivationQuantizer.NearestInt((x[32 * j + i] + dm) / d), 0, 15);
        }
        byte* q = y + 16;
        for (int j = 0; j < 256; j += 64, q += 32)
            for (int l = 0; l < 32; l++) q[l] = (byte)(L[j + l] | (L[j + l + 32] << 4));
    }

    static float MakeQkx2Quants(int n, int nmax, float* x, float* weights, byte* L, out float theMin, byte* laux,
        float rmin, float rdelta, int nstep)
    {
        float min = x[0], max = x[0];
        float sumW = weights[0];
        float sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            for (int i = 0; i < n; i++) L[i] = 0;
            theMin = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestMad = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Clamp(ActivationQuantizer.NearestInt(iscale * (x[i] - min)), 0, nmax);
            L[i] = (byte)l;
            float diff = scale * L[i] + min - x[i];
            bestMad += weights[i] * (diff * diff);
        }
        for (int step = 0; step <= nstep; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Clamp(ActivationQuantizer.NearestInt(iscale * (x[i] - min)), 0, nmax);
                laux[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }
            float D = sumW * sumL2 - sumL * sumL;
            if (D > 0)
            {
                float thisScale = (sumW * sumXL - sumX * sumL) / D;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / D;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float mad = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * laux[i] + thisMin - x[i];
                    mad += weights[i] * (diff * diff);
                }
                if (mad < bestMad)
                {
                    for (int i = 0; i < n; i++) L[i] = laux[i];
                    bestMad = mad;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin = -min;
        return scale;
    }

    static void Q6_K(float* x, byte* y)
    {
        sbyte* L = stackalloc sbyte[256];
        float* scales = stackalloc float[16];
        float maxScale = 0, maxAbsScale = 0;
        for (int ib = 0; ib < 16; ib++)
        {
            float scale = MakeQxQuants(16, 32, x + 16 * ib, L + 16 * ib);
            scales[ib] = scale;
            if (MathF.Abs(scale) > maxAbsScale) { maxAbsScale = MathF.Abs(scale); maxScale = scale; }
        }
        if (!(maxAbsScale >= GroupMaxEps))
        {
            new Span<byte>(y, 210).Clear();
            return;
        }
        float iscale = -128f / maxScale;
        *(ushort*)(y + 208) = Half(1 / iscale);
        sbyte* sc = (sbyte*)(y + 192);
        for (int ib = 0; ib < 16; ib++) sc[ib] = (sbyte)Math.Clamp(ActivationQuantizer.NearestInt(iscale * scales[ib]), -128, 127);
        float dAll = Fp16.ToFloat(*(ushort*)(y + 208));
        for (int j = 0; j < 16; j++)
        {
            float d = dAll * sc[j];
            if (d == 0) continue;
            for (int i = 0; i < 16; i++)
                L[16 * j + i] = (sbyte)(Math.Clamp(ActivationQuantizer.NearestInt(x[16 * j + i] / d), -32, 31) + 32);
        }
        byte* ql = y;
        byte* qh = y + 128;
        for (int j = 0; j < 256; j += 128, ql += 64, qh += 32)
        {
            for (int l = 0; l < 32; l++)
            {
                int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
                ql[l] = (byte)((q1 & 0xF) | ((q3 & 0xF) << 4));
                ql[l + 32] = (byte)((q2 & 0xF) | ((q4 & 0xF) << 4));
                qh[l] = (byte)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
        }
    }

    /// <summary>llama.cpp's make_qx_quants with rmse_type 1 (weights x²) and no importance matrix; L receives q + nmax.</summary>
    static float MakeQxQuants(int n, int nmax, float* x, sbyte* L)
    {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (!(amax >= GroupMaxEps))
        {
            for (int i = 0; i < n; i++) L[i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Clamp(ActivationQuantizer.NearestInt(iscale * x[i]), -nmax, nmax - 1);
            L[i] = (sbyte)(l + nmax);
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0f;
        float best = scale * sumlx;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            iscale = -(nmax + 0.1f * step) / max;
            sumlx = suml2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Clamp(ActivationQuantizer.NearestInt(iscale * x[i]), -nmax, nmax - 1);
                float w = x[i] * x[i];
                sumlx += w * x[i] * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2)
            {
                for (int i = 0; i < n; i++)
                    L[i] = (sbyte)(nmax + Math.Clamp(ActivationQuantizer.NearestInt(iscale * x[i]), -nmax, nmax - 1));
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }
}
