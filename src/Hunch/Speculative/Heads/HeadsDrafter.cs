using Hunch.Kernels;
using Hunch.Models;
using Hunch.Sampling;
using Hunch.Training;

namespace Hunch.Speculative.Heads;

/// <summary>A drafter that needs the target's final normalised hidden states of the tree rows (the step loop asks the
/// forward to keep them when the drafter implements this).</summary>
public interface IHiddenStateDrafter
{
}

/// <summary>
/// Drafts with trained heads (Medusa, or Hydra's sequentially dependent heads) on the target's last hidden state.
/// After each step it keeps the hidden state of the last accepted node; the next root is the token the target chose
/// there, and head k proposes the token k positions after the root. The tree is grown level by level, best path
/// probability first, under a node budget; the projections of one level share one matrix product. Drafts are point
/// masses (argmax picks), verified by sample-and-match, so output equals plain decoding.
/// </summary>
public sealed class HeadsDrafter : IDrafter, IHiddenStateDrafter
{
    readonly TransformerModel _model;
    readonly DraftHeads _heads;
    readonly int _maxNodes, _branch, _perParent;
    readonly int _d, _v;
    readonly float[] _hidden, _embed, _pre, _inputs, _outs, _logits;
    readonly int[] _top;
    readonly List<(int Node, float Prob)> _level = [], _next = [];
    readonly List<(int Parent, int Token, float Prob)> _candidates = [];
    bool _has;
    int _root;

    /// <summary>Creates the drafter. <paramref name="maxNodes"/> bounds the tree (root excluded).</summary>
    public HeadsDrafter(TransformerModel model, DraftHeads heads, int maxNodes = 12, int branch = 3, int perParent = 4)
    {
        if (heads.Hidden != model.Config.EmbeddingSize) throw new ArgumentException("the heads do not match the model's hidden size");
        _model = model;
        _heads = heads;
        _maxNodes = Math.Max(1, maxNodes);
        _branch = Math.Max(1, branch);
        _perParent = Math.Max(1, perParent);
        _d = model.Config.EmbeddingSize;
        _v = model.Config.VocabSize;
        _hidden = new float[_d];
        _embed = new float[_d];
        _pre = new float[_d];
        _inputs = new float[_branch * _d];
        _outs = new float[_branch * _d];
        _logits = new float[_branch * _v];
        _top = new int[_perParent];
    }

    /// <inheritdoc/>
    public string Name => $"heads:{_heads.Variant.ToString().ToLowerInvariant()}";
    /// <inheritdoc/>
    public bool WantsPrefillLogits => false;
    /// <inheritdoc/>
    public void Begin(ReadOnlySpan<int> prompt, SamplingOptions sampling) => _has = false;
    /// <inheritdoc/>
    public void ObservePrefill(ReadOnlySpan<int> prompt, int index, ReadOnlySpan<float> logits) { }

    /// <inheritdoc/>
    public void Observe(DraftTree tree, ForwardBatch batch, ReadOnlySpan<int> acceptedPath, int extraToken)
    {
        if (!batch.CaptureOutputHidden) { _has = false; return; }
        batch.OutputHidden(acceptedPath[^1]).CopyTo(_hidden);
        _root = extraToken;
        _has = true;
    }

    /// <inheritdoc/>
    public void Propose(in DraftContext context, DraftTree tree)
    {
        if (!_has || tree.Tokens[0] != _root) return;
        int budget = Math.Min(_maxNodes, context.MaxNodes - 1);
        int depthLimit = Math.Min(_heads.HeadCount, context.MaxDepth);
        _level.Clear();
        _level.Add((0, 1f));
        for (int depth = 1; depth <= depthLimit && budget > 0 && _level.Count > 0; depth++)
        {
            int k = depth - 1;
            int parents = Math.Min(_level.Count, depth == 1 ? 1 : _branch);
            // Medusa heads ignore the parent token, so one projection serves every parent at this depth.
            int rows = _heads.Variant == HeadVariant.Medusa ? 1 : parents;
            for (int p = 0; p < rows; p++)
            {
                if (_heads.Variant == HeadVariant.Hydra) _model.Embed(tree.Tokens[_level[p].Node], _embed);
                _heads.Forward(k, _hidden, _embed, _outs.AsSpan(p * _d, _d), _pre);
            }
            _model.ProjectToVocabulary(_outs, rows, _logits);
            _candidates.Clear();
            for (int p = 0; p < parents; p++)
            {
                var logits = _logits.AsSpan((_heads.Variant == HeadVariant.Medusa ? 0 : p) * _v, _v);
                if (_heads.Variant == HeadVariant.Hydra || p == 0) Ops.Softmax(logits);
                int n = Ops.TopK(logits, _top, _perParent);
                for (int j = 0; j < n; j++) _candidates.Add((_level[p].Node, _top[j], _level[p].Prob * logits[_top[j]]));
            }
            _candidates.Sort(static (a, b) => b.Prob.CompareTo(a.Prob));
            _next.Clear();
            int take = Math.Min(budget, _candidates.Count);
            for (int j = 0; j < take; j++)
            {
                var (parent, token, prob) = _candidates[j];
                int before = tree.Count;
                int node = tree.Add(token, parent);
                if (tree.Count > before) { _next.Add((node, prob)); budget--; }
            }
            _level.Clear();
            _level.AddRange(_next);
        }
    }

    /// <inheritdoc/>
    public void Dispose() { }
}
