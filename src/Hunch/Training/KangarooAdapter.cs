using Hunch.Gguf;
using Hunch.Kernels;
using Hunch.Models;
using Hunch.Tokenization;

namespace Hunch.Training;

/// <summary>
/// Kangaroo's adapter (docs/self-speculation.md): one attention block without its MLP, with two RMSNorms and its
/// own KV cache, mapping the target's residual stream after layer <see cref="Layer"/> to a state that the target's
/// frozen final norm and output matrix turn into a prediction of the full model's next token:
/// a = h + Wo·Attn(RoPE(Wq x), RoPE(Wk x), Wv x) with x = RMSNorm₁(h), then z = FinalNorm(RMSNorm₂(a)) → logits.
/// Attention is causal multi-head attention (the target's head count, full q/k/v/o of size d×d, adjacent-pair RoPE
/// with the target's base). Wo starts at zero and both gains at one, so the untrained adapter is plain early exit at
/// the same layer. Forward and backward are written by hand for exactly these modules (no autograd).
/// </summary>
public sealed unsafe class KangarooAdapter
{
    /// <summary>Hidden size d.</summary>
    public int Hidden { get; }
    /// <summary>Attention heads.</summary>
    public int Heads { get; }
    /// <summary>Per-head width (d / heads).</summary>
    public int HeadDim => Hidden / Heads;
    /// <summary>The target layer whose output the adapter reads (1..L-1: the first <c>Layer</c> layers run).</summary>
    public int Layer { get; }
    /// <summary>RoPE frequency base.</summary>
    public float RopeBase { get; }
    /// <summary>RMSNorm epsilon (the target's).</summary>
    public float Eps { get; }

    /// <summary>Parameter tensors, in the order of <see cref="ParameterNames"/>: g1 [d], Wq, Wk, Wv, Wo [d×d] row-major
    /// (y = W x), g2 [d].</summary>
    internal readonly float[][] Parameters;
    /// <summary>Names of <see cref="Parameters"/> (also the tensor names in files).</summary>
    internal static readonly string[] ParameterNames = ["adapter.norm1", "adapter.wq", "adapter.wk", "adapter.wv", "adapter.wo", "adapter.norm2"];
    /// <summary>Which parameters take weight decay (matrices, not gains).</summary>
    internal static readonly bool[] Decays = [false, true, true, true, true, false];

    internal float[] G1 => Parameters[0];
    internal float[] Wq => Parameters[1];
    internal float[] Wk => Parameters[2];
    internal float[] Wv => Parameters[3];
    internal float[] Wo => Parameters[4];
    internal float[] G2 => Parameters[5];

    float[] _cos = [], _sin = [];
    int _ropePositions;

    /// <summary>Creates an adapter: gains one, Wo zero (so it starts as plain early exit), Wq/Wk/Wv uniform in
    /// ±1/√d from <paramref name="seed"/>.</summary>
    public KangarooAdapter(int hidden, int heads, int layer, float ropeBase, float eps, ulong seed = 1)
    {
        if (hidden is < 2 or > 1 << 14) throw new ArgumentOutOfRangeException(nameof(hidden));
        if (heads < 1 || hidden % heads != 0 || (hidden / heads) % 2 != 0) throw new ArgumentException($"hidden size {hidden} must split into {heads} heads of even width");
        if (layer < 1) throw new ArgumentOutOfRangeException(nameof(layer), "the adapter reads the output of layer 1 or later");
        Hidden = hidden;
        Heads = heads;
        Layer = layer;
        RopeBase = ropeBase;
        Eps = eps;
        int d = hidden;
        Parameters = [new float[d], new float[d * d], new float[d * d], new float[d * d], new float[d * d], new float[d]];
        Array.Fill(G1, 1f);
        Array.Fill(G2, 1f);
        var rng = new Sampling.Rng(seed);
        float scale = 1f / MathF.Sqrt(d);
        foreach (var w in new[] { Wq, Wk, Wv })
            for (int i = 0; i < w.Length; i++) w[i] = (float)((rng.NextUInt64() >> 11) * (1.0 / (1UL << 53)) * 2 - 1) * scale;
    }

    /// <summary>An adapter shaped for <paramref name="model"/> reading layer <paramref name="layer"/>.</summary>
    public static KangarooAdapter ForModel(TransformerModel model, int layer, ulong seed = 1)
    {
        var c = model.Config;
        if (layer < 1 || layer >= c.LayerCount) throw new ArgumentException($"adapter layer {layer} must be in 1..{c.LayerCount - 1} for this {c.LayerCount}-layer model");
        return new KangarooAdapter(c.EmbeddingSize, c.HeadCount, layer, c.RopeBase, c.RmsEps, seed);
    }

    /// <summary>Trainable parameters.</summary>
    public long ParameterCount
    {
        get { long n = 0; foreach (var p in Parameters) n += p.Length; return n; }
    }

    // ---------------------------------------------------------------- RoPE

    void EnsureRope(int positions)
    {
        if (positions <= _ropePositions) return;
        int n = Math.Max(positions, Math.Max(64, _ropePositions * 2));
        int half = HeadDim / 2;
        var cos = new float[n * half];
        var sin = new float[n * half];
        for (int p = 0; p < n; p++)
            for (int i = 0; i < half; i++)
            {
                double angle = p * Math.Pow(RopeBase, -2.0 * i / HeadDim);
                cos[p * half + i] = (float)Math.Cos(angle);
                sin[p * half + i] = (float)Math.Sin(angle);
            }
        _cos = cos;
        _sin = sin;
        _ropePositions = n;
    }

    /// <summary>Rotates adjacent pairs of each head of <paramref name="x"/> (width d) by position; sign -1 inverts.</summary>
    void Rope(float* x, int position, float sign)
    {
        int half = HeadDim / 2, hd = HeadDim;
        fixed (float* cs = _cos, sn = _sin)
        {
            float* c = cs + position * half, s = sn + position * half;
            for (int h = 0; h < Heads; h++)
            {
                float* v = x + h * hd;
                for (int i = 0; i < half; i++)
                {
                    float a = v[2 * i], b = v[2 * i + 1], si = sign * s[i];
                    v[2 * i] = a * c[i] - b * si;
                    v[2 * i + 1] = a * si + b * c[i];
                }
            }
        }
    }

    // ---------------------------------------------------------------- building blocks

    /// <summary>y = W x for a d×d row-major matrix.</summary>
    static void MatVec(float* w, float* x, float* y, int d)
    {
        for (int r = 0; r < d; r++) y[r] = RowKernels.DotF32(w + (long)r * d, x, d);
    }

    /// <summary>dx += Wᵀ dy for a d×d row-major matrix.</summary>
    static void MatVecTransposedAdd(float* w, float* dy, float* dx, int d)
    {
        for (int r = 0; r < d; r++)
            if (dy[r] != 0) Ops.Axpy(dy[r], w + (long)r * d, dx, d);
    }

    /// <summary>RMSNorm forward: y = g ⊙ x · r with r = 1/√(mean(x²) + eps); returns r.</summary>
    internal static float RmsForward(float* x, float* g, float* y, int d, float eps)
    {
        double ss = 0;
        for (int i = 0; i < d; i++) ss += (double)x[i] * x[i];
        float r = (float)(1.0 / Math.Sqrt(ss / d + eps));
        for (int i = 0; i < d; i++) y[i] = g[i] * x[i] * r;
        return r;
    }

    /// <summary>
    /// RMSNorm backward: given dy, writes (or adds, <paramref name="accumulate"/>) dx and adds dg (when not null).
    /// dx = r·(g⊙dy) − x·r³·Σ(g⊙dy⊙x)/d; dg = dy ⊙ x·r.
    /// </summary>
    internal static void RmsBackward(float* x, float* g, float r, float* dy, float* dx, float* dg, int d, bool accumulate)
    {
        double dot = 0;
        for (int i = 0; i < d; i++) dot += (double)g[i] * dy[i] * x[i];
        float c = (float)(dot * r * r * r / d);
        for (int i = 0; i < d; i++)
        {
            float v = r * g[i] * dy[i] - x[i] * c;
            dx[i] = accumulate ? dx[i] + v : v;
            if (dg is not null) dg[i] += dy[i] * x[i] * r;
        }
    }

    // ---------------------------------------------------------------- training forward/backward over a sequence

    /// <summary>Activations of one sequence kept for the backward pass (reused across calls; grows as needed).</summary>
    internal sealed class Activations
    {
        public int T;
        public float[] X1 = [], Q = [], K = [], V = [], P = [], O = [], A = [], Y2 = [], Z = [];
        public float[] R1 = [], R2 = [], Rf = [];

        public void Ensure(int t, int d, int heads)
        {
            T = t;
            if (R1.Length >= t && P.Length >= heads * t * t) return;
            X1 = new float[t * d]; Q = new float[t * d]; K = new float[t * d]; V = new float[t * d];
            O = new float[t * d]; A = new float[t * d]; Y2 = new float[t * d]; Z = new float[t * d];
            P = new float[heads * t * t];
            R1 = new float[t]; R2 = new float[t]; Rf = new float[t];
        }
    }

    /// <summary>
    /// Forward over one causal sequence of <paramref name="t"/> hidden states (positions 0..t-1): writes the final
    /// normalised states z (the output matrix's input) into <c>act.Z</c>. <paramref name="finalNorm"/> is the target's
    /// frozen final-norm gain.
    /// </summary>
    internal void ForwardSequence(ReadOnlySpan<float> h, int t, ReadOnlySpan<float> finalNorm, Activations act)
    {
        int d = Hidden, hd = HeadDim, H = Heads;
        act.Ensure(t, d, H);
        EnsureRope(t);
        float scale = 1f / MathF.Sqrt(hd);
        fixed (float* ph = h, g1 = G1, g2 = G2, gf = finalNorm, wq = Wq, wk = Wk, wv = Wv, wo = Wo,
               x1 = act.X1, q = act.Q, k = act.K, v = act.V, p = act.P, o = act.O, a = act.A, y2 = act.Y2, z = act.Z)
        {
            for (int i = 0; i < t; i++)
            {
                act.R1[i] = RmsForward(ph + i * d, g1, x1 + i * d, d, Eps);
                MatVec(wq, x1 + i * d, q + i * d, d);
                MatVec(wk, x1 + i * d, k + i * d, d);
                MatVec(wv, x1 + i * d, v + i * d, d);
                Rope(q + i * d, i, 1);
                Rope(k + i * d, i, 1);
            }
            new Span<float>(o, t * d).Clear();
            for (int head = 0; head < H; head++)
                for (int i = 0; i < t; i++)
                {
                    float* row = p + (head * t + i) * t;
                    float max = float.NegativeInfinity;
                    for (int u = 0; u <= i; u++)
                    {
                        row[u] = RowKernels.DotF32(q + i * d + head * hd, k + u * d + head * hd, hd) * scale;
                        if (row[u] > max) max = row[u];
                    }
                    float sum = 0;
                    for (int u = 0; u <= i; u++) { row[u] = MathF.Exp(row[u] - max); sum += row[u]; }
                    float inv = 1f / sum;
                    for (int u = 0; u <= i; u++) { row[u] *= inv; Ops.Axpy(row[u], v + u * d + head * hd, o + i * d + head * hd, hd); }
                    for (int u = i + 1; u < t; u++) row[u] = 0;
                }
            for (int i = 0; i < t; i++)
            {
                MatVec(wo, o + i * d, a + i * d, d);
                Ops.Add(a + i * d, ph + i * d, d);
                act.R2[i] = RmsForward(a + i * d, g2, y2 + i * d, d, Eps);
                act.Rf[i] = RmsForward(y2 + i * d, gf, z + i * d, d, Eps);
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="ForwardSequence"/>: given dL/dz (<paramref name="gradZ"/>, t×d) adds dL/dθ into
    /// <paramref name="grads"/> (shaped like <see cref="Parameters"/>) and, when <paramref name="gradH"/> is not empty,
    /// writes dL/dh. <paramref name="work"/> is scratch of at least 5·t·d floats.
    /// </summary>
    internal void BackwardSequence(ReadOnlySpan<float> h, ReadOnlySpan<float> finalNorm, Activations act, ReadOnlySpan<float> gradZ,
        float[][] grads, Span<float> gradH, Span<float> work)
    {
        int t = act.T, d = Hidden, hd = HeadDim, H = Heads;
        float scale = 1f / MathF.Sqrt(hd);
        if (work.Length < 5 * t * d) throw new ArgumentException("work buffer too small");
        work[..(5 * t * d)].Clear();
        fixed (float* ph = h, g1 = G1, g2 = G2, gf = finalNorm, wq = Wq, wk = Wk, wv = Wv, wo = Wo,
               x1 = act.X1, q = act.Q, k = act.K, v = act.V, p = act.P, o = act.O, a = act.A, y2 = act.Y2,
               dz = gradZ, dh = gradH, w = work,
               dg1 = grads[0], dwq = grads[1], dwk = grads[2], dwv = grads[3], dwo = grads[4], dg2 = grads[5])
        {
            float* da = w, dO = w + t * d, dq = w + 2 * t * d, dk = w + 3 * t * d, dv = w + 4 * t * d;
            float* tmp = stackalloc float[d];
            // Norms and output projection, per row.
            for (int i = 0; i < t; i++)
            {
                RmsBackward(y2 + i * d, gf, act.Rf[i], dz + i * d, tmp, null, d, false);          // frozen final norm
                RmsBackward(a + i * d, g2, act.R2[i], tmp, da + i * d, dg2, d, false);           // RMSNorm₂
                float* dai = da + i * d;
                for (int r = 0; r < d; r++)
                    if (dai[r] != 0) Ops.Axpy(dai[r], o + i * d, dwo + (long)r * d, d);           // dWo += da oᵀ
                MatVecTransposedAdd(wo, dai, dO + i * d, d);                                      // do = Woᵀ da
            }
            // Attention, per head: dP = do·v, dv += Pᵀ do, dS = P ⊙ (dP − Σ P dP), dq += dS k, dk += dSᵀ q (scaled).
            float* dp = stackalloc float[t];
            for (int head = 0; head < H; head++)
                for (int i = 0; i < t; i++)
                {
                    float* row = p + (head * t + i) * t;
                    float* doi = dO + i * d + head * hd;
                    float s = 0;
                    for (int u = 0; u <= i; u++)
                    {
                        dp[u] = RowKernels.DotF32(doi, v + u * d + head * hd, hd);
                        s += row[u] * dp[u];
                        Ops.Axpy(row[u], doi, dv + u * d + head * hd, hd);
                    }
                    for (int u = 0; u <= i; u++)
                    {
                        float ds = row[u] * (dp[u] - s) * scale;
                        if (ds == 0) continue;
                        Ops.Axpy(ds, k + u * d + head * hd, dq + i * d + head * hd, hd);
                        Ops.Axpy(ds, q + i * d + head * hd, dk + u * d + head * hd, hd);
                    }
                }
            // Undo RoPE on the gradients (a rotation's transpose is the opposite rotation), then the projections.
            for (int i = 0; i < t; i++)
            {
                Rope(dq + i * d, i, -1);
                Rope(dk + i * d, i, -1);
                float* xi = x1 + i * d;
                for (int r = 0; r < d; r++)
                {
                    if (dq[i * d + r] != 0) Ops.Axpy(dq[i * d + r], xi, dwq + (long)r * d, d);
                    if (dk[i * d + r] != 0) Ops.Axpy(dk[i * d + r], xi, dwk + (long)r * d, d);
                    if (dv[i * d + r] != 0) Ops.Axpy(dv[i * d + r], xi, dwv + (long)r * d, d);
                }
                new Span<float>(tmp, d).Clear();
                MatVecTransposedAdd(wq, dq + i * d, tmp, d);
                MatVecTransposedAdd(wk, dk + i * d, tmp, d);
                MatVecTransposedAdd(wv, dv + i * d, tmp, d);
                // RMSNorm₁ (gain gradient always; input gradient only when asked), plus the residual path.
                if (gradH.IsEmpty)
                {
                    float r1 = act.R1[i];
                    for (int c = 0; c < d; c++) dg1[c] += tmp[c] * ph[i * d + c] * r1;
                }
                else
                {
                    RmsBackward(ph + i * d, g1, act.R1[i], tmp, dh + i * d, dg1, d, false);
                    Ops.Add(dh + i * d, da + i * d, d);
                }
            }
        }
    }

    // ---------------------------------------------------------------- drafting: one row at a time with a KV cache

    /// <summary>The adapter's own key/value cache for one sequence: rows are positions 0..Length-1. Rolling back is
    /// moving <see cref="Length"/>; storage grows by doubling.</summary>
    public sealed class Cache
    {
        internal float[] Keys = [], Values = [];
        /// <summary>Rows held (positions 0..Length-1).</summary>
        public int Length { get; internal set; }

        internal void Ensure(int rows, int d)
        {
            if (Keys.Length >= rows * d) return;
            int n = Math.Max(rows, Math.Max(64, Keys.Length / Math.Max(1, d) * 2));
            Array.Resize(ref Keys, n * d);
            Array.Resize(ref Values, n * d);
        }

        /// <summary>Keeps rows [0, <paramref name="length"/>).</summary>
        public void Truncate(int length)
        {
            if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length));
            Length = length;
        }
    }

    /// <summary>Scratch of <see cref="Step"/> (one per drafter).</summary>
    internal sealed class StepBuffers(int d)
    {
        public readonly float[] X = new float[d], Q = new float[d], O = new float[d], A = new float[d], Y = new float[d];
        public float[] Scores = new float[64];
    }

    /// <summary>
    /// Appends the row for hidden state <paramref name="h"/> at position <c>cache.Length</c> and, unless
    /// <paramref name="z"/> is empty, writes the final normalised output state (the output matrix's input).
    /// Allocates only when the cache or the score buffer grows.
    /// </summary>
    internal void Step(ReadOnlySpan<float> h, Cache cache, ReadOnlySpan<float> finalNorm, StepBuffers b, Span<float> z)
    {
        int d = Hidden, hd = HeadDim, pos = cache.Length;
        cache.Ensure(pos + 1, d);
        EnsureRope(pos + 1);
        if (b.Scores.Length < pos + 1) b.Scores = new float[Math.Max(pos + 1, b.Scores.Length * 2)];
        float scale = 1f / MathF.Sqrt(hd);
        fixed (float* ph = h, g1 = G1, g2 = G2, gf = finalNorm, wq = Wq, wk = Wk, wv = Wv, wo = Wo,
               keys = cache.Keys, values = cache.Values, x = b.X, q = b.Q, o = b.O, a = b.A, y = b.Y, pz = z, sc = b.Scores)
        {
            RmsForward(ph, g1, x, d, Eps);
            MatVec(wk, x, keys + (long)pos * d, d);
            MatVec(wv, x, values + (long)pos * d, d);
            Rope(keys + (long)pos * d, pos, 1);
            cache.Length = pos + 1;
            if (z.IsEmpty) return;
            MatVec(wq, x, q, d);
            Rope(q, pos, 1);
            new Span<float>(o, d).Clear();
            for (int head = 0; head < Heads; head++)
            {
                float max = float.NegativeInfinity;
                for (int u = 0; u <= pos; u++)
                {
                    sc[u] = RowKernels.DotF32(q + head * hd, keys + (long)u * d + head * hd, hd) * scale;
                    if (sc[u] > max) max = sc[u];
                }
                float sum = 0;
                for (int u = 0; u <= pos; u++) { sc[u] = MathF.Exp(sc[u] - max); sum += sc[u]; }
                float inv = 1f / sum;
                for (int u = 0; u <= pos; u++) Ops.Axpy(sc[u] * inv, values + (long)u * d + head * hd, o + head * hd, hd);
            }
            MatVec(wo, o, a, d);
            Ops.Add(a, ph, d);
            RmsForward(a, g2, y, d, Eps);
            RmsForward(y, gf, pz, d, Eps);
        }
    }

    // ---------------------------------------------------------------- files

    /// <summary>Writes the adapter as a GGUF drafter file tied to its target (architecture, layer, hidden size, head
    /// count, vocabulary size and hash).</summary>
    public void Save(string path, TransformerModel target, ITokenizer tokenizer)
    {
        var w = new GgufWriter();
        const string k = DraftHeads.KeyPrefix;
        w.SetMetadata("general.architecture", "hunch-drafter");
        w.SetMetadata(k + "kind", "adapter");
        w.SetMetadata(k + "adapter.layer", (uint)Layer);
        w.SetMetadata(k + "adapter.heads", (uint)Heads);
        w.SetMetadata(k + "adapter.rope_base", RopeBase);
        w.SetMetadata(k + "adapter.rms_eps", Eps);
        w.SetMetadata(k + "target.architecture", target.Config.Architecture);
        w.SetMetadata(k + "target.layer_count", (uint)target.Config.LayerCount);
        w.SetMetadata(k + "target.hidden_size", (uint)Hidden);
        w.SetMetadata(k + "target.vocab_size", (uint)target.Config.VocabSize);
        w.SetMetadata(k + "target.vocab_hash", DraftHeads.VocabularyHash(tokenizer));
        for (int i = 0; i < Parameters.Length; i++)
        {
            long[] shape = Parameters[i].Length == Hidden ? [Hidden] : [Hidden, Hidden];
            w.AddTensor(ParameterNames[i], GgmlType.F32, shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(Parameters[i].AsSpan()).ToArray());
        }
        string tmp = path + ".tmp";
        w.Write(tmp);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Loads an adapter file, checking that it was trained for <paramref name="target"/>.</summary>
    /// <exception cref="GgufException">Not an adapter file, or made for another model (the message says what differs).</exception>
    public static KangarooAdapter Load(string path, TransformerModel target, ITokenizer tokenizer)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"adapter file not found: {path}", path);
        using var f = GgufFile.Open(path);
        const string k = DraftHeads.KeyPrefix;
        var c = target.Config;
        string kind = f.GetString(k + "kind") ?? "";
        if (kind != "adapter") throw new GgufException($"not an adapter file (hunch.drafter.kind is '{kind}', not 'adapter')", -1, k + "kind");
        string arch = f.GetString(k + "target.architecture") ?? "";
        if (arch != c.Architecture) throw new GgufException($"the adapter was trained for a '{arch}' model, not '{c.Architecture}'", -1, k + "target.architecture");
        long hidden = f.GetRequiredInt(k + "target.hidden_size");
        if (hidden != c.EmbeddingSize) throw new GgufException($"the adapter expects hidden size {hidden}, the model has {c.EmbeddingSize}", -1, k + "target.hidden_size");
        long layers = f.GetRequiredInt(k + "target.layer_count");
        if (layers != c.LayerCount) throw new GgufException($"the adapter was trained for a {layers}-layer model, this one has {c.LayerCount}", -1, k + "target.layer_count");
        if (f.GetInt(k + "target.vocab_size", -1) != c.VocabSize) throw new GgufException("the adapter was trained for another vocabulary size", -1, k + "target.vocab_size");
        if (f.Find(k + "target.vocab_hash")?.Value is not ulong hash || hash != DraftHeads.VocabularyHash(tokenizer))
            throw new GgufException("the adapter was trained for another vocabulary (token texts differ)", -1, k + "target.vocab_hash");
        long layer = f.GetRequiredInt(k + "adapter.layer");
        if (layer < 1 || layer >= c.LayerCount) throw new GgufException($"adapter layer {layer} is out of range for a {c.LayerCount}-layer model", -1, k + "adapter.layer");
        long heads = f.GetRequiredInt(k + "adapter.heads");
        if (heads < 1 || hidden % heads != 0 || hidden / heads % 2 != 0) throw new GgufException($"adapter head count {heads} does not divide hidden size {hidden} into even widths", -1, k + "adapter.heads");
        float ropeBase = f.Find(k + "adapter.rope_base")?.Value is float rb ? rb : throw new GgufException("missing adapter.rope_base", -1, k + "adapter.rope_base");
        float eps = f.Find(k + "adapter.rms_eps")?.Value is float e ? e : throw new GgufException("missing adapter.rms_eps", -1, k + "adapter.rms_eps");
        var result = new KangarooAdapter((int)hidden, (int)heads, (int)layer, ropeBase, eps);
        for (int i = 0; i < result.Parameters.Length; i++)
        {
            var t = f.GetTensor(ParameterNames[i]);
            long[] shape = result.Parameters[i].Length == hidden ? [hidden] : [hidden, hidden];
            if (t.Type != GgmlType.F32 || !t.Dimensions.AsSpan().SequenceEqual(shape))
                throw new GgufException($"tensor must be F32 [{string.Join(", ", shape)}], found {t.Type} [{string.Join(", ", t.Dimensions)}]", t.FileOffset, ParameterNames[i]);
            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(f.GetTensorBytes(t)).CopyTo(result.Parameters[i]);
        }
        return result;
    }
}
