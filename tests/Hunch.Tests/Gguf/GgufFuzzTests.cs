using System.Diagnostics;
using System.Runtime.InteropServices;
using Hunch.Gguf;
using Xunit.Abstractions;

namespace Hunch.Tests.Gguf;

/// <summary>
/// Seeded mutation fuzzing of the reader over real files: the bundled model and the reference vocabularies.
/// Mutations are applied in place to a native copy and undone afterwards, and parsing goes through
/// <see cref="GgufFile.FromMemory"/>, so the 21 MB model is never copied per input. Every input must either parse
/// into a consistent file or end in a <see cref="GgufException"/>, within a second and a bounded allocation.
/// </summary>
public sealed unsafe class GgufFuzzTests(ITestOutputHelper output)
{
    /// <summary>One seed file in native memory plus where its fields lie.</summary>
    sealed class Seed : IDisposable
    {
        public readonly string Name;
        public readonly byte* Data;
        public readonly long Length;
        public readonly long HeaderEnd;              // data section start: mutations concentrate before it
        public readonly List<long> ValueTypeFields = []; // offset of each metadata value's u32 type
        public readonly List<long> ArrayCountFields = [];
        public readonly List<long> StringLengthFields = [];
        public readonly List<long> TensorDimFields = [];
        public readonly List<long> TensorTypeFields = [];
        public readonly List<long> TensorOffsetFields = [];

        public Seed(string path)
        {
            Name = Path.GetFileName(path);
            var bytes = File.ReadAllBytes(path);
            Length = bytes.Length;
            Data = (byte*)NativeMemory.Alloc((nuint)bytes.Length);
            bytes.CopyTo(new Span<byte>(Data, bytes.Length));
            using var f = GgufFile.FromMemory(Data, Length);
            HeaderEnd = f.DataOffset;
            long pos = 24;
            foreach (var key in f.MetadataKeys)
            {
                StringLengthFields.Add(pos);
                pos += 8 + System.Text.Encoding.UTF8.GetByteCount(key);
                Assert.Equal(pos, f.Metadata[key].Offset);
                ValueTypeFields.Add(pos);
                pos = Walk(f.Metadata[key], pos + 4);
            }
            foreach (var t in f.Tensors)
            {
                StringLengthFields.Add(pos);
                pos += 8 + System.Text.Encoding.UTF8.GetByteCount(t.Name) + 4;
                foreach (var _ in t.Dimensions) { TensorDimFields.Add(pos); pos += 8; }
                TensorTypeFields.Add(pos);
                TensorOffsetFields.Add(pos + 4);
                pos += 12;
            }
            Assert.True(pos <= HeaderEnd && HeaderEnd - pos < f.Alignment, $"{Name}: walked to {pos}, data at {HeaderEnd}");
        }

        /// <summary>Steps over an encoded value (whose type field precedes <paramref name="pos"/>), recording fields.</summary>
        long Walk(GgufValue v, long pos)
        {
            switch (v.Value)
            {
                case string s: StringLengthFields.Add(pos); return pos + 8 + System.Text.Encoding.UTF8.GetByteCount(s);
                case GgufValue[] nested:
                    ArrayCountFields.Add(pos + 4);
                    pos += 12;
                    foreach (var n in nested) pos = Walk(n, pos); // nested elements carry no value-type field
                    return pos;
                case string[] strings:
                    ArrayCountFields.Add(pos + 4);
                    pos += 12;
                    for (int i = 0; i < strings.Length; i++)
                    {
                        // Recording every token's length field would be wasteful; a sample is enough.
                        if (i < 64 || i % 997 == 0) StringLengthFields.Add(pos);
                        pos += 8 + System.Text.Encoding.UTF8.GetByteCount(strings[i]);
                    }
                    return pos;
                case Array a:
                    ArrayCountFields.Add(pos + 4);
                    return pos + 12 + (long)a.Length * Marshal.SizeOf(a.GetType().GetElementType()! == typeof(bool) ? typeof(byte) : a.GetType().GetElementType()!);
                case byte or sbyte or bool: return pos + 1;
                case ushort or short: return pos + 2;
                case uint or int or float: return pos + 4;
                default: return pos + 8;
            }
        }

        public void Dispose() => NativeMemory.Free(Data);
    }

    [StructLayout(LayoutKind.Sequential)]
    struct TimeSpec { public long Seconds, Nanoseconds; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    static extern int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>CPU time of the calling thread on Linux (CLOCK_THREAD_CPUTIME_ID), so the per-input limit measures
    /// the parser's work rather than how loaded the shared machine is; wall-clock time elsewhere.</summary>
    static TimeSpan ThreadTime()
    {
        if (OperatingSystem.IsLinux() && ClockGetTime(3, out var t) == 0) return TimeSpan.FromTicks(t.Seconds * TimeSpan.TicksPerSecond + t.Nanoseconds / 100);
        return Stopwatch.GetElapsedTime(0);
    }

    static readonly ulong[] Huge =
    [
        0, 1, 2, 3, 31, 32, 33, 63, 64, 255, 256, 65535, 65536, 1UL << 31, (1UL << 31) - 1, 1UL << 32, (1UL << 32) - 1,
        1UL << 42, (1UL << 42) + 1, 1UL << 62, 1UL << 63, (1UL << 63) - 1, ulong.MaxValue, ulong.MaxValue - 31,
    ];

    /// <summary>Mutates <paramref name="s"/> in place (recording undo entries) and returns the length to parse.</summary>
    /// <remarks>A vocabulary file is metadata from end to end (30k-100k strings, tens of milliseconds to parse), so
    /// most of its inputs are a prefix window of up to 256 KiB, mutated inside the window; one in fifty is whole.</remarks>
    static long Mutate(Seed s, Random rng, List<(long Pos, byte Old)> undo, List<string> log)
    {
        long length = s.Length;
        if (s.HeaderEnd > 1 << 18 && rng.Next(50) != 0)
        {
            length = 24 + rng.Next(1 << 18);
            log.Add($"window {length}");
        }
        long window = Math.Min(length, s.HeaderEnd);
        int count = 1 + rng.Next(4);
        for (int m = 0; m < count; m++)
        {
            int kind = rng.Next(100);
            if (kind < 30)
            {
                long pos = HeaderPos(s, rng, window);
                int bit = rng.Next(8);
                Poke(s, pos, (byte)(s.Data[pos] ^ (1 << bit)), undo);
                log.Add($"flip {pos}:{bit}");
            }
            else if (kind < 38)
            {
                long pos = HeaderPos(s, rng, window);
                byte v = (byte)rng.Next(256);
                Poke(s, pos, v, undo);
                log.Add($"byte {pos}={v}");
            }
            else if (kind < 48)
            {
                length = rng.Next(4) == 0 ? 1 + (long)(rng.NextDouble() * (length - 1)) : 1 + (long)(rng.NextDouble() * window);
                log.Add($"truncate {length}");
            }
            else if (kind < 62) PokeU64(s, Pick(s.ArrayCountFields, rng, window), HugeOrNear(rng, s), undo, log, "array count");
            else if (kind < 72) PokeU64(s, Pick(s.StringLengthFields, rng, window), HugeOrNear(rng, s), undo, log, "string length");
            else if (kind < 80) PokeU32(s, Pick(s.ValueTypeFields, rng, window), (uint)(rng.Next(4) == 0 ? rng.Next() : rng.Next(15)), undo, log, "value type");
            else if (kind < 84) PokeU64(s, 8 + 8 * rng.Next(2), HugeOrNear(rng, s), undo, log, "count");
            else if (kind < 88 && s.TensorDimFields.Count > 0) PokeU64(s, Pick(s.TensorDimFields, rng, window), HugeOrNear(rng, s), undo, log, "dim");
            else if (kind < 91 && s.TensorTypeFields.Count > 0) PokeU32(s, Pick(s.TensorTypeFields, rng, window), (uint)rng.Next(40), undo, log, "tensor type");
            else if (kind < 96 && s.TensorOffsetFields.Count > 1)
            {
                // Overlap: point one tensor at another's data, or somewhere arbitrary.
                long field = Pick(s.TensorOffsetFields, rng, window);
                ulong value = rng.Next(2) == 0 ? *(ulong*)(s.Data + Pick(s.TensorOffsetFields, rng, window)) : HugeOrNear(rng, s);
                PokeU64(s, field, value, undo, log, "tensor offset");
            }
            else
            {
                // A run of random bytes in the header.
                long pos = HeaderPos(s, rng, window);
                int n = 1 + rng.Next(16);
                for (int i = 0; i < n && pos + i < s.Length; i++) Poke(s, pos + i, (byte)rng.Next(256), undo);
                log.Add($"run {pos}+{n}");
            }
        }
        return length;
    }

    static long HeaderPos(Seed s, Random rng, long window) =>
        rng.Next(10) == 0 ? (long)(rng.NextDouble() * s.Length) : (long)(rng.NextDouble() * window);

    /// <summary>A recorded field offset inside the window (the lists are in file order).</summary>
    static long Pick(List<long> l, Random rng, long window)
    {
        int n = l.BinarySearch(window);
        n = n < 0 ? ~n : n;
        return n == 0 ? 8 : l[rng.Next(n)];
    }

    static ulong HugeOrNear(Random rng, Seed s) => rng.Next(3) switch
    {
        0 => Huge[rng.Next(Huge.Length)],
        1 => (ulong)(s.Length + rng.Next(-64, 64)),
        _ => (ulong)rng.Next(0, 1 << 20),
    };

    static void Poke(Seed s, long pos, byte v, List<(long, byte)> undo)
    {
        if (pos < 0 || pos >= s.Length) return;
        undo.Add((pos, s.Data[pos]));
        s.Data[pos] = v;
    }

    static void PokeU64(Seed s, long pos, ulong v, List<(long, byte)> undo, List<string> log, string what)
    {
        for (int i = 0; i < 8; i++) Poke(s, pos + i, (byte)(v >> (8 * i)), undo);
        log.Add($"{what} {pos}={v}");
    }

    static void PokeU32(Seed s, long pos, uint v, List<(long, byte)> undo, List<string> log, string what)
    {
        for (int i = 0; i < 4; i++) Poke(s, pos + i, (byte)(v >> (8 * i)), undo);
        log.Add($"{what} {pos}={v}");
    }

    /// <summary>A file that parsed must be internally consistent: every tensor inside the file, no overlaps.</summary>
    static void CheckAccepted(GgufFile f, long length)
    {
        long prevEnd = 0;
        foreach (var t in f.Tensors.OrderBy(t => t.FileOffset))
        {
            Assert.True(t.FileOffset >= f.DataOffset && t.ByteSize > 0 && t.FileOffset + t.ByteSize <= length);
            Assert.True(t.FileOffset >= prevEnd);
            prevEnd = t.FileOffset + t.ByteSize;
            Assert.Equal(GgufWriter.TensorBytes(t.Type, t.Dimensions), t.ByteSize);
        }
        foreach (var (_, v) in f.Metadata) _ = v.ToString();
    }

    void Run(int inputs, int seedBase)
    {
        var paths = new List<string> { TestPaths.BundledModel };
        paths.AddRange(Directory.GetFiles(Path.Combine(TestPaths.Shared, "reference", "tokenizers"), "vocab-*.gguf").Order());
        var seeds = paths.Select(p => new Seed(p)).ToList();
        try
        {
            var undo = new List<(long, byte)>();
            var log = new List<string>();
            int accepted = 0;
            TimeSpan worst = TimeSpan.Zero, worstWall = TimeSpan.Zero;
            double worstAllocRatio = 0;
            var total = Stopwatch.StartNew();
            for (int i = 0; i < inputs; i++)
            {
                var rng = new Random(seedBase + i);
                // The bundled model (header, tensor infos, truncations) gets most inputs; the vocabularies the rest.
                var s = rng.Next(10) < 6 ? seeds[0] : seeds[1 + rng.Next(seeds.Count - 1)];
                undo.Clear();
                log.Clear();
                long length = Mutate(s, rng, undo, log);
                var sw = Stopwatch.StartNew();
                var cpu = ThreadTime();
                long before = GC.GetAllocatedBytesForCurrentThread();
                // How far the parser got: everything it allocated was read from bytes before this point.
                long reached;
                string outcome = "accepted";
                try
                {
                    using var f = GgufFile.FromMemory(s.Data, length);
                    CheckAccepted(f, length);
                    reached = f.DataOffset;
                    accepted++;
                }
                catch (GgufException e)
                {
                    Assert.True(e.Offset >= -1 && e.Offset <= length, $"offset {e.Offset} outside the file: {e.Message}");
                    reached = Math.Max(e.Offset, 0);
                    outcome = e.Message;
                }
                catch (Exception e)
                {
                    Assert.Fail($"input {seedBase + i} ({s.Name}: {string.Join(", ", log)}) threw {e.GetType().Name}: {e}");
                    throw;
                }
                finally
                {
                    for (int u = undo.Count - 1; u >= 0; u--) s.Data[undo[u].Item1] = undo[u].Item2;
                }
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                var elapsed = ThreadTime() - cpu;
                if (elapsed > worst) worst = elapsed;
                if (sw.Elapsed > worstWall) worstWall = sw.Elapsed;
                double ratio = (double)allocated / Math.Max(reached, 4096);
                if (ratio > worstAllocRatio) worstAllocRatio = ratio;
                Assert.True(elapsed < TimeSpan.FromSeconds(1), $"input {seedBase + i} ({s.Name}: {string.Join(", ", log)}) took {elapsed}: {outcome}");
                // Allocation follows the bytes actually parsed (docs/threat-model.md), never a declared count or length.
                Assert.True(allocated <= 12 * reached + (2 << 20),
                    $"input {seedBase + i} ({s.Name}: {string.Join(", ", log)}) allocated {allocated} bytes having parsed {reached}: {outcome}");
            }
            output.WriteLine($"{inputs} inputs in {total.Elapsed.TotalSeconds:F1} s, {accepted} accepted, slowest {worst.TotalMilliseconds:F1} ms CPU ({worstWall.TotalMilliseconds:F1} ms wall), worst allocation {worstAllocRatio:F2} bytes per byte parsed");
            // The mutations must really reach the parser's checks: most inputs are rejected, some survive.
            Assert.True(accepted > 0 && accepted < inputs / 2, $"{accepted} of {inputs} accepted");
        }
        finally
        {
            foreach (var s in seeds) s.Dispose();
        }
    }

    [Fact]
    public void SeedsParse()
    {
        // The fuzz harness's field walk must agree with the parser on every seed (else mutations miss their fields).
        using var s = new Seed(TestPaths.BundledModel);
        Assert.NotEmpty(s.ArrayCountFields);
        Assert.NotEmpty(s.TensorOffsetFields);
    }

    [Fact]
    public void Fuzz20000() => Run(20_000, 1_000_000);

    [Fact]
    [Trait("Category", "Slow")]
    public void Fuzz100000() => Run(100_000, 2_000_000);
}
