using Hunch.Kernels;

namespace Hunch.Tests.Kernels;

/// <summary>ArgMax and TopK (vectorised skipping) against plain scalar scans, on lengths around the vector width,
/// with ties, infinities and NaNs.</summary>
public class SelectionTests
{
    static int ScalarArgMax(float[] x)
    {
        int best = 0;
        float bv = float.NegativeInfinity;
        for (int i = 0; i < x.Length; i++)
            if (x[i] > bv) { bv = x[i]; best = i; }
        return best;
    }

    // Stable selection: larger first, lower index first among equals; NaN never beats a held value.
    static int[] ScalarTopK(float[] x, int k)
    {
        var held = new List<int>();
        for (int i = 0; i < x.Length; i++)
        {
            if (held.Count == k && !(x[i] > x[held[k - 1]])) continue;
            if (held.Count == k) held.RemoveAt(k - 1);
            int pos = held.Count;
            while (pos > 0 && x[i] > x[held[pos - 1]]) pos--;
            held.Insert(pos, i);
        }
        return [.. held];
    }

    static IEnumerable<float[]> Inputs()
    {
        var rng = new Random(11);
        foreach (int n in new[] { 0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 64, 100, 2048 })
            for (int kind = 0; kind < 5; kind++)
            {
                var x = new float[n];
                for (int i = 0; i < n; i++)
                    x[i] = kind switch
                    {
                        0 => (float)rng.NextDouble(),
                        1 => rng.Next(4),                               // many ties
                        2 => i,                                        // increasing: every value is a new best
                        3 => -i,                                       // decreasing
                        _ => rng.Next(6) switch { 0 => float.NaN, 1 => float.NegativeInfinity, 2 => float.PositiveInfinity, _ => rng.Next(3) },
                    };
                yield return x;
            }
    }

    [Fact]
    public void ArgMaxMatchesTheScalarScan()
    {
        foreach (var x in Inputs()) Assert.Equal(ScalarArgMax(x), Ops.ArgMax(x));
    }

    [Fact]
    public void TopKMatchesTheScalarSelection()
    {
        foreach (var x in Inputs())
            foreach (int k in new[] { 1, 2, 8, 20 })
            {
                var got = new int[k];
                int count = Ops.TopK(x, got, k);
                var want = ScalarTopK(x, Math.Min(k, x.Length));
                Assert.Equal(want, got.AsSpan(0, count).ToArray());
            }
    }
}
