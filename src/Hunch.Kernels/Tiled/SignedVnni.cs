using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Hunch.Kernels.Quant;

namespace Hunch.Kernels.Tiled;

/// <summary>
/// Signed 32-element blocks (Q5_0; Q8_0 and Q4_0 use <see cref="BlockGroups"/>) against up to four Q8_0 activation rows with AVX-VNNI, bit for bit
/// equal to <see cref="DotAvx2.Signed32{TB}"/>. The activation quants are stored offset to unsigned bytes (a + 128)
/// once per call, so each block's lane sums come from one <c>vpdpbusd</c> per token started from the weight
/// block's correction −128·Σq (computed once per block and shared by the tokens), instead of the sign trick per
/// token. Both give the exact integer Σ q·a of each lane, so the float steps that follow (conversion, the
/// block-scale product, the fused multiply-add into one accumulator per token, the final lane sum) are unchanged.
/// </summary>
internal static unsafe class SignedVnni
{
    public static bool IsSupported => AvxVnni.IsSupported && Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Writes the quants of a prepared Q8_0 activation row (<paramref name="nb"/> blocks of 34 bytes) as
    /// unsigned bytes a + 128, 32 per block, to <paramref name="destination"/>.</summary>
    public static void OffsetQuants(byte* activation, int nb, byte* destination)
    {
        var bias = Vector256.Create((byte)0x80);
        for (int b = 0; b < nb; b++)
            Vector256.Store(Vector256.Load(activation + 34 * b + 2) ^ bias, destination + 32 * b);
    }

    /// <summary>result[t] = dot(weight row <paramref name="w"/>, activation row t) for t in [0, tokens), tokens 1..4;
    /// offset quants of row t at <paramref name="actU"/> + t·<paramref name="stride"/>, its float block scales at
    /// <paramref name="actScale"/> + t·<paramref name="nb"/>.</summary>
    public static void Dot<TB>(byte* w, int nb, byte* actU, long stride, float* actScale, int tokens, float* result)
        where TB : struct, DotAvx2.IBlock32
    {
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var acc2 = Vector256<float>.Zero;
        var acc3 = Vector256<float>.Zero;
        var bias = Vector256.Create((byte)0x80);
        byte* a = actU;
        for (int b = 0; b < nb; b++, w += TB.Bytes, a += 32)
        {
            var qx = TB.Load(w);
            float dw = Fp16.ToFloat(*(ushort*)w);
            var corr = Vector256<int>.Zero - AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, bias, qx);
            acc0 = Fma.MultiplyAdd(Vector256.Create(dw * actScale[b]),
                Avx.ConvertToVector256Single(AvxVnni.MultiplyWideningAndAdd(corr, Vector256.Load(a), qx)), acc0);
            if (tokens > 1)
            {
                acc1 = Fma.MultiplyAdd(Vector256.Create(dw * actScale[nb + b]),
                    Avx.ConvertToVector256Single(AvxVnni.MultiplyWideningAndAdd(corr, Vector256.Load(a + stride), qx)), acc1);
                if (tokens > 2)
                {
                    acc2 = Fma.MultiplyAdd(Vector256.Create(dw * actScale[2 * nb + b]),
                        Avx.ConvertToVector256Single(AvxVnni.MultiplyWideningAndAdd(corr, Vector256.Load(a + 2 * stride), qx)), acc2);
                    if (tokens > 3)
                        acc3 = Fma.MultiplyAdd(Vector256.Create(dw * actScale[3 * nb + b]),
                            Avx.ConvertToVector256Single(AvxVnni.MultiplyWideningAndAdd(corr, Vector256.Load(a + 3 * stride), qx)), acc3);
                }
            }
        }
        result[0] = RowKernels.HorizontalSum(acc0);
        if (tokens > 1) result[1] = RowKernels.HorizontalSum(acc1);
        if (tokens > 2) result[2] = RowKernels.HorizontalSum(acc2);
        if (tokens > 3) result[3] = RowKernels.HorizontalSum(acc3);
    }
}
