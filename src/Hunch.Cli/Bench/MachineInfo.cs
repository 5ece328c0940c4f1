using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Hunch.Cli.Bench;

/// <summary>What the benchmark ran on: CPU, cores, SIMD, and a measured memory bandwidth (the decode roofline).</summary>
public sealed record MachineInfo(string Cpu, int Cores, string Simd, double BandwidthGBs1, double BandwidthGBsAll, int BandwidthThreads)
{
    public static MachineInfo Measure(int threads)
    {
        string cpu = "unknown";
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name", StringComparison.Ordinal)) { cpu = line[(line.IndexOf(':') + 1)..].Trim(); break; }
        }
        catch (IOException) { }
        var simd = new List<string>();
        if (Avx2.IsSupported) simd.Add("AVX2");
        if (Fma.IsSupported) simd.Add("FMA");
        if (Avx512F.IsSupported) simd.Add("AVX-512");
        if (AvxVnni.IsSupported) simd.Add("AVX-VNNI");
        if (simd.Count == 0) simd.Add(Vector256.IsHardwareAccelerated ? "Vector256" : "scalar");
        int t = threads > 0 ? threads : Environment.ProcessorCount;
        return new MachineInfo(cpu, Environment.ProcessorCount, string.Join("+", simd), Bandwidth(1), Bandwidth(t), t);
    }

    /// <summary>Streaming read bandwidth in GB/s over a buffer far larger than the caches (best of a few passes).</summary>
    public static unsafe double Bandwidth(int threads)
    {
        const long bytes = 256L << 20;
        var buffer = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        try
        {
            new Span<byte>(buffer, (int)Math.Min(bytes, int.MaxValue)).Fill(1);
            double best = 0;
            for (int pass = 0; pass < 4; pass++)
            {
                var sw = Stopwatch.StartNew();
                long per = bytes / threads;
                var tasks = new Thread[threads];
                var sums = new float[threads];
                for (int i = 0; i < threads; i++)
                {
                    int id = i;
                    tasks[i] = new Thread(() => sums[id] = Sum((float*)(buffer + id * per), per / 4));
                    tasks[i].Start();
                }
                foreach (var th in tasks) th.Join();
                double gbs = bytes / sw.Elapsed.TotalSeconds / 1e9;
                if (pass > 0) best = Math.Max(best, gbs);
            }
            return best;
        }
        finally { NativeMemory.AlignedFree(buffer); }
    }

    static unsafe float Sum(float* p, long n)
    {
        var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        for (long i = 0; i + 32 <= n; i += 32)
        {
            a0 += Vector256.Load(p + i); a1 += Vector256.Load(p + i + 8);
            a2 += Vector256.Load(p + i + 16); a3 += Vector256.Load(p + i + 24);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3);
    }
}
