using Hunch.Kernels;

namespace Hunch.Models;

public sealed unsafe partial class TransformerModel
{
    /// <summary>
    /// Attention for every (row, head) pair, one chunk each. A row's keys are visited in logical order: the
    /// committed rows of its sequence, then its ancestors by depth, then itself — never in slot order — so the
    /// scores, the softmax and the weighted sum of values reduce in the same order whether the row is decoded
    /// alone, in a chunk, or inside a draft tree.
    /// </summary>
    sealed class AttentionJob(TransformerModel model) : IParallelJob
    {
        int[] _pathStart = new int[16];
        int[] _pathLength = new int[16];
        int[] _pathSlots = new int[64];
        ForwardBatch _batch = null!;
        int _layer;

        [ThreadStatic] static float[]? t_scores;

        public void Prepare(ForwardBatch batch)
        {
            _batch = batch;
            int n = batch.Count;
            if (_pathStart.Length < n) { _pathStart = new int[n * 2]; _pathLength = new int[n * 2]; }
            int total = 0;
            for (int i = 0; i < n; i++)
            {
                int depth = 0;
                for (int a = i; a >= 0; a = batch.Parents[a]) depth++;
                _pathStart[i] = total;
                _pathLength[i] = depth;
                total += depth;
            }
            if (_pathSlots.Length < total) _pathSlots = new int[total * 2];
            for (int i = 0; i < n; i++)
            {
                // Fill from the end so the slots come out root-first (increasing depth).
                int w = _pathStart[i] + _pathLength[i];
                int committed = batch.Caches[i].Length;
                for (int a = i; a >= 0; a = batch.Parents[a]) _pathSlots[--w] = committed + batch.LocalIndex[a];
            }
        }

        public void Run(int layer, int rows)
        {
            _layer = layer;
            // Size hint: query rows x heads x keys of the first row (rows of one batch see similar key counts).
            long keys = _batch.Caches[0].Length + rows;
            model.Pool.Run(this, rows * model.Config.HeadCount, keys * rows * model.Config.HeadCount * model.Config.HeadDim);
        }

        public void Execute(int chunk)
        {
            var c = model.Config;
            int row = chunk / c.HeadCount;
            int head = chunk % c.HeadCount;
            int hd = c.HeadDim;
            int kvDim = c.KvDim;
            int kvHead = head / (c.HeadCount / c.KvHeadCount);
            var cache = _batch.Caches[row];
            int committed = cache.Length;
            int pathLen = _pathLength[row];
            int pathStart = _pathStart[row];
            int keys = committed + pathLen;
            var scores = t_scores;
            if (scores is null || scores.Length < keys) t_scores = scores = new float[Math.Max(keys, 1024)];

            float* q = model._ws.Q + (long)row * c.QDim + head * hd;
            float* outp = model._ws.Att + (long)row * c.QDim + head * hd;
            float scale = 1f / MathF.Sqrt(hd);
            fixed (float* kBase = cache.Keys[_layer], vBase = cache.Values[_layer], s = scores)
            {
                float max = float.NegativeInfinity;
                for (int j = 0; j < keys; j++)
                {
                    int slot = j < committed ? j : _pathSlots[pathStart + j - committed];
                    float sc = RowKernels.DotF32(q, kBase + (long)slot * kvDim + kvHead * hd, hd) * scale;
                    s[j] = sc;
                    if (sc > max) max = sc;
                }
                float sum = 0;
                for (int j = 0; j < keys; j++)
                {
                    float e = MathF.Exp(s[j] - max);
                    s[j] = e;
                    sum += e;
                }
                float inv = 1f / sum;
                new Span<float>(outp, hd).Clear();
                for (int j = 0; j < keys; j++)
                {
                    int slot = j < committed ? j : _pathSlots[pathStart + j - committed];
                    Ops.Axpy(s[j] * inv, vBase + (long)slot * kvDim + kvHead * hd, outp, hd);
                }
            }
        }
    }
}
