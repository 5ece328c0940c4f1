using System.Runtime.InteropServices;
using Hunch.Gguf;
using Hunch.Models;

namespace Hunch.Tests.Engine;

/// <summary>The engine against a plain scalar transformer written here from the architecture notes (llama: adjacent-pair
/// rope; qwen2: q/k/v biases and NeoX rope), on synthetic models of several shapes.</summary>
public class ScalarReferenceTests
{
    sealed class Naive(GgufFile f)
    {
        readonly int D = (int)f.GetRequiredInt($"{f.GetString("general.architecture")}.embedding_length");
        readonly string Arch = f.GetString("general.architecture")!;

        float[] T(string name)
        {
            var t = f.GetTensor(name);
            Assert.Equal(GgmlType.F32, t.Type);
            return MemoryMarshal.Cast<byte, float>(f.GetTensorBytes(t)).ToArray();
        }
        float[]? Opt(string name) => f.FindTensor(name) is null ? null : T(name);
        long I(string k) => f.GetRequiredInt($"{Arch}.{k}");

        static float[] MatVec(float[] w, float[] x, int rows, int cols, float[]? bias)
        {
            var y = new float[rows];
            for (int r = 0; r < rows; r++)
            {
                double s = 0;
                for (int c = 0; c < cols; c++) s += (double)w[r * cols + c] * x[c];
                y[r] = (float)s + (bias?[r] ?? 0);
            }
            return y;
        }

        static float[] RmsNorm(float[] x, float[] w, float eps)
        {
            double ss = 0;
            foreach (var v in x) ss += (double)v * v;
            float scale = (float)(1 / Math.Sqrt(ss / x.Length + eps));
            return x.Select((v, i) => v * scale * w[i]).ToArray();
        }

        void Rope(float[] v, int heads, int hd, int pos, bool neox, float freqBase)
        {
            for (int h = 0; h < heads; h++)
                for (int k = 0; k < hd / 2; k++)
                {
                    double theta = pos * Math.Pow(freqBase, -2.0 * k / hd);
                    int i0 = h * hd + (neox ? k : 2 * k), i1 = h * hd + (neox ? k + hd / 2 : 2 * k + 1);
                    double a = v[i0], b = v[i1];
                    v[i0] = (float)(a * Math.Cos(theta) - b * Math.Sin(theta));
                    v[i1] = (float)(a * Math.Sin(theta) + b * Math.Cos(theta));
                }
        }

        public float[] LastLogits(int[] tokens)
        {
            int layers = (int)I("block_count"), heads = (int)I("attention.head_count"), kvHeads = (int)I("attention.head_count_kv");
            int hd = D / heads, ff = (int)I("feed_forward_length");
            float eps = (float)f.GetFloat($"{Arch}.attention.layer_norm_rms_epsilon", 1e-5);
            float freqBase = (float)f.GetFloat($"{Arch}.rope.freq_base", 10000);
            bool neox = Arch == "qwen2";
            var emb = T("token_embd.weight");
            int vocab = emb.Length / D;
            var xs = tokens.Select(t => emb.AsSpan(t * D, D).ToArray()).ToList();
            for (int l = 0; l < layers; l++)
            {
                string p = $"blk.{l}.";
                var ks = new List<float[]>(); var vs = new List<float[]>(); var qs = new List<float[]>();
                for (int i = 0; i < xs.Count; i++)
                {
                    var h = RmsNorm(xs[i], T(p + "attn_norm.weight"), eps);
                    var q = MatVec(T(p + "attn_q.weight"), h, heads * hd, D, Opt(p + "attn_q.bias"));
                    var k = MatVec(T(p + "attn_k.weight"), h, kvHeads * hd, D, Opt(p + "attn_k.bias"));
                    var v = MatVec(T(p + "attn_v.weight"), h, kvHeads * hd, D, Opt(p + "attn_v.bias"));
                    Rope(q, heads, hd, i, neox, freqBase);
                    Rope(k, kvHeads, hd, i, neox, freqBase);
                    qs.Add(q); ks.Add(k); vs.Add(v);
                }
                for (int i = 0; i < xs.Count; i++)
                {
                    var att = new float[heads * hd];
                    for (int h = 0; h < heads; h++)
                    {
                        int kv = h / (heads / kvHeads);
                        var scores = new double[i + 1];
                        for (int j = 0; j <= i; j++)
                        {
                            double s = 0;
                            for (int c = 0; c < hd; c++) s += (double)qs[i][h * hd + c] * ks[j][kv * hd + c];
                            scores[j] = s / Math.Sqrt(hd);
                        }
                        double max = scores.Max(), sum = scores.Sum(s => Math.Exp(s - max));
                        for (int j = 0; j <= i; j++)
                        {
                            double w = Math.Exp(scores[j] - max) / sum;
                            for (int c = 0; c < hd; c++) att[h * hd + c] += (float)(w * vs[j][kv * hd + c]);
                        }
                    }
                    var o = MatVec(T(p + "attn_output.weight"), att, D, heads * hd, Opt(p + "attn_output.bias"));
                    for (int c = 0; c < D; c++) xs[i][c] += o[c];
                    var h2 = RmsNorm(xs[i], T(p + "ffn_norm.weight"), eps);
                    var g = MatVec(T(p + "ffn_gate.weight"), h2, ff, D, null);
                    var u = MatVec(T(p + "ffn_up.weight"), h2, ff, D, null);
                    var a = g.Select((z, c) => (float)(z / (1 + Math.Exp(-z))) * u[c]).ToArray();
                    var d = MatVec(T(p + "ffn_down.weight"), a, D, ff, null);
                    for (int c = 0; c < D; c++) xs[i][c] += d[c];
                }
            }
            var last = RmsNorm(xs[^1], T("output_norm.weight"), eps);
            var output = Opt("output.weight") ?? emb;
            return MatVec(output, last, vocab, D, null);
        }
    }

    [Theory]
    [InlineData("qwen2", 64, 4, 2, false)]
    [InlineData("qwen2", 96, 6, 3, true)]
    [InlineData("llama", 64, 4, 1, false)]
    [InlineData("llama", 128, 8, 8, true)]
    public void EngineMatchesAScalarTransformer(string arch, int width, int heads, int kvHeads, bool tied)
    {
        var path = Path.Combine(Path.GetTempPath(), $"hunch-scalar-{Guid.NewGuid():N}.gguf");
        try
        {
            SyntheticModel.Write(path, new SyntheticModelOptions
            {
                Architecture = arch, EmbeddingSize = width, LayerCount = 2, HeadCount = heads, KvHeadCount = kvHeads,
                FeedForwardSize = width * 2 + 32, VocabSize = 300, ContextLength = 64, Seed = 7, TiedEmbeddings = tied,
                RopeBase = arch == "qwen2" ? 1_000_000f : 10000f,
            });
            using var file = GgufFile.Open(path);
            using var model = TransformerModel.Load(file, new Hunch.Kernels.WorkerPool(1));
            Assert.Equal(arch == "qwen2", model.Config.RopeNeox);
            var tokens = new[] { 5, 17, 260, 99, 3, 42, 7, 150, 8, 11 };
            var batch = new ForwardBatch();
            batch.AddSequence(tokens, model.CreateCache(), 0);
            model.Forward(batch);
            var got = batch.Logits(batch.Count - 1).ToArray();
            var expected = new Naive(file).LastLogits(tokens);
            double scale = Math.Max(1e-3, expected.Max(Math.Abs));
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(got[i] - expected[i]) <= 2e-4 * scale + 1e-5, $"logit {i}: engine {got[i]} vs scalar {expected[i]}");
        }
        finally { File.Delete(path); }
    }
}
