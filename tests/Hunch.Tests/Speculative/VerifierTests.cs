using Hunch.Sampling;
using Hunch.Speculative;

namespace Hunch.Tests.Speculative;

/// <summary>
/// The verifier alone on toy distributions and hand-made trees, against exactly enumerated target probabilities
/// (the sampler's own <see cref="Sampler.Distribution"/>, so temperature and truncation are the plain ones).
/// Chi-square at significance 0.001; a deliberately biased verifier is shown to fail the same test.
/// </summary>
public class VerifierTests
{
    const int V = 6;

    // Toy target logits after a path: a fixed function of (depth, last token), different at every node.
    static float[] TargetLogits(int depth, int token)
    {
        var l = new float[V];
        for (int v = 0; v < V; v++) l[v] = MathF.Sin(1.7f * v + 0.9f * token + 2.3f * depth) * 2f;
        return l;
    }

    readonly struct ToyLogits(DraftTree tree) : INodeLogits
    {
        public ReadOnlySpan<float> Logits(int node) => TargetLogits(tree.Depths[node], tree.Tokens[node]);
    }

    static double[] Exact(Sampler sampler, int depth, int token)
    {
        var p = new float[V];
        sampler.Distribution(TargetLogits(depth, token), [], p);
        return Array.ConvertAll(p, x => (double)x);
    }

    // Upper 0.001 quantile of chi-square (Wilson-Hilferty; accurate to a few percent for df >= 2).
    static double Critical(int df)
    {
        const double z = 3.0902;
        double a = 2.0 / (9.0 * df);
        return df * Math.Pow(1 - a + z * Math.Sqrt(a), 3);
    }

    static (double Stat, int Df) ChiSquare(long[] observed, double[] expected)
    {
        double stat = 0;
        int cells = 0;
        for (int i = 0; i < observed.Length; i++)
        {
            if (expected[i] <= 0)
            {
                Assert.True(observed[i] == 0, $"cell {i} has probability 0 but was observed {observed[i]} times");
                continue;
            }
            cells++;
            double d = observed[i] - expected[i];
            stat += d * d / expected[i];
        }
        return (stat, cells - 1);
    }

    public static TheoryData<float, int, float> Transforms() => new()
    {
        { 1.0f, 0, 1.0f },
        { 0.7f, 4, 0.9f },
    };

    [Theory]
    [MemberData(nameof(Transforms))]
    public void PointMassTreeEmitsTargetLaw(float temperature, int topK, float topP)
    {
        // Root children {1, 3, 4}; node 1 has children {2, 0}; node 2 has child {5}.
        var opts = new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP, Seed = 11 };
        var sampler = new Sampler(opts, V);
        var verifier = new Verifier(sampler, V);
        var tree = new DraftTree();
        tree.Reset(0);
        int n1 = tree.Add(1, 0); tree.Add(3, 0); tree.Add(4, 0);
        int n2 = tree.Add(2, n1); tree.Add(0, n1);
        tree.Add(5, n2);

        // Exact law of the emitted sequence: walk while the emitted token is a child.
        var cells = new Dictionary<string, double>();
        void Enumerate(int node, double prob, string prefix)
        {
            var p = Exact(sampler, tree.Depths[node], tree.Tokens[node]);
            for (int t = 0; t < V; t++)
            {
                if (p[t] == 0) continue;
                int child = tree.FindChild(node, t);
                if (child >= 0) Enumerate(child, prob * p[t], prefix + t);
                else cells[prefix + t] = prob * p[t];
            }
        }
        Enumerate(0, 1, "");
        Assert.Equal(1.0, cells.Values.Sum(), 5);

        var keys = cells.Keys.ToList();
        var observed = new long[keys.Count];
        const int N = 40000;
        var history = new int[16];
        var path = new int[8];
        for (int trial = 0; trial < N; trial++)
        {
            history[0] = 0;
            int len = verifier.Verify(tree, new ToyLogits(tree), history, 1, path, out int extra);
            var s = "";
            for (int i = 1; i < len; i++) s += tree.Tokens[path[i]];
            s += extra;
            int idx = keys.IndexOf(s);
            Assert.True(idx >= 0, $"emitted {s}, which has probability 0");
            observed[idx]++;
        }
        var (stat, df) = ChiSquare(observed, keys.Select(k => cells[k] * N).ToArray());
        Assert.True(stat < Critical(df), $"chi-square {stat:F1} > {Critical(df):F1} (df {df})");
    }

    [Fact]
    public void PointMassVerificationReproducesPlainSampling()
    {
        // Same seed: the emitted tokens equal what plain sampling draws node after node (one draw per token).
        var opts = new SamplingOptions { Temperature = 0.9f, Seed = 5 };
        var spec = new Sampler(opts, V);
        var plain = new Sampler(opts, V);
        var verifier = new Verifier(spec, V);
        var tree = new DraftTree();
        var history = new int[16];
        var path = new int[8];
        int matchedDepth = 0;
        for (int step = 0; step < 2000; step++)
        {
            int root = step % V;
            tree.Reset(root);
            for (int t = 0; t < V; t += 2) { int c = tree.Add(t, 0); tree.Add((t + 1) % V, c); }
            int len = verifier.Verify(tree, new ToyLogits(tree), history, 1, path, out int extra);
            // Plain sampling along the same walk.
            int node = 0;
            for (int i = 1; i <= len; i++)
            {
                int t = plain.Sample(TargetLogits(tree.Depths[node], tree.Tokens[node]), []);
                int expected = i < len ? tree.Tokens[path[i]] : extra;
                Assert.Equal(expected, t);
                if (i < len) node = path[i];
            }
            matchedDepth += len - 1;
        }
        Assert.True(matchedDepth > 100);
    }

    // Draft distributions: deliberately far from the target so that a wrong rule shows.
    static double[] DraftQ(int depth, int token)
    {
        var q = new double[V];
        double s = 0;
        for (int v = 0; v < V; v++) { q[v] = Math.Exp(Math.Cos(0.8 * v + 1.3 * token + depth)); s += q[v]; }
        for (int v = 0; v < V; v++) q[v] /= s;
        return q;
    }

    static int Draw(ref Rng rng, double[] q)
    {
        double u = rng.NextDouble() * q.Sum(), c = 0;
        for (int i = 0; i < q.Length; i++) { c += q[i]; if (u < c && q[i] > 0) return i; }
        for (int i = q.Length - 1; ; i--) if (q[i] > 0) return i;
    }

    // Builds a tree whose root has `siblings` children drawn from q without replacement, and whose first child
    // has one child drawn from its own q; each child carries the exact q it was drawn from.
    static void DraftWithQ(DraftTree tree, ref Rng rng, int siblings)
    {
        tree.Reset(0);
        var q = DraftQ(0, 0);
        var remaining = (double[])q.Clone();
        int first = -1;
        for (int k = 0; k < siblings; k++)
        {
            double mass = remaining.Sum();
            var qk = remaining.Select(x => x / mass).ToArray();
            int x = Draw(ref rng, qk);
            int node = tree.Add(x, 0, Array.ConvertAll(qk, v => (float)v));
            if (first < 0) first = node;
            remaining[x] = 0;
        }
        var q2 = DraftQ(1, tree.Tokens[first]);
        tree.Add(Draw(ref rng, q2), first, Array.ConvertAll(q2, v => (float)v));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void RecursiveRejectionKeepsTargetLaw(int siblings)
    {
        var opts = new SamplingOptions { Temperature = 1.0f, Seed = 21 };
        var sampler = new Sampler(opts, V);
        var verifier = new Verifier(sampler, V);
        var tree = new DraftTree();
        var drafterRng = new Rng(77);
        var history = new int[16];
        var path = new int[8];
        const int N = 40000;
        var first = new long[V];
        var second = new long[V * V];      // (first token, second token) when the walk continued into a depth-1 node
        var continued = new long[V];
        for (int trial = 0; trial < N; trial++)
        {
            DraftWithQ(tree, ref drafterRng, siblings);
            int len = verifier.Verify(tree, new ToyLogits(tree), history, 1, path, out int extra);
            int t1 = len > 1 ? tree.Tokens[path[1]] : extra;
            first[t1]++;
            if (len > 1)
            {
                int t2 = len > 2 ? tree.Tokens[path[2]] : extra;
                continued[t1]++;
                second[t1 * V + t2]++;
            }
        }
        var p0 = Exact(sampler, 0, 0);
        var (s1, df1) = ChiSquare(first, p0.Select(p => p * N).ToArray());
        Assert.True(s1 < Critical(df1), $"first token: chi-square {s1:F1} > {Critical(df1):F1}");

        // Given the walk entered depth-1 node x, the next token follows the target after x.
        var expected2 = new double[V * V];
        int df2 = 0;
        double s2 = 0;
        for (int x = 0; x < V; x++)
        {
            if (continued[x] < 50) continue;
            var px = Exact(sampler, 1, x);
            var (s, df) = ChiSquare(second.AsSpan(x * V, V).ToArray(), px.Select(p => p * continued[x]).ToArray());
            s2 += s;
            df2 += df;
        }
        Assert.True(df2 > 0);
        Assert.True(s2 < Critical(df2), $"second token: chi-square {s2:F1} > {Critical(df2):F1}");
    }

    [Fact]
    public void BiasedVerifierFailsTheSameTest()
    {
        // A common mistake: accept a drafted token with min(1, p/q) but, after rejections, draw the correction
        // from p instead of the residual norm(max(0, p - q)). The first token's law then departs from p.
        var opts = new SamplingOptions { Temperature = 1.0f, Seed = 21 };
        var sampler = new Sampler(opts, V);
        var rng = new Rng(3);
        var drafterRng = new Rng(77);
        var tree = new DraftTree();
        const int N = 40000;
        var first = new long[V];
        var p0 = Exact(sampler, 0, 0);
        for (int trial = 0; trial < N; trial++)
        {
            DraftWithQ(tree, ref drafterRng, 1);
            int c = tree.FirstChild(0);
            int x = tree.Tokens[c];
            double qx = tree.Q(c)![x];
            int t1 = rng.NextDouble() < Math.Min(1, p0[x] / qx) ? x : Draw(ref rng, p0);
            first[t1]++;
        }
        var (stat, df) = ChiSquare(first, p0.Select(p => p * N).ToArray());
        Assert.True(stat > Critical(df), $"the biased verifier passed: chi-square {stat:F1} <= {Critical(df):F1}");
    }
}
