using System.Runtime.InteropServices;
using Hunch.Kernels;
using Hunch.Models;
using Cache = Hunch.KvCache.KvCache;

namespace Hunch.Tests.Engine;

/// <summary>
/// Lossless speculation rests on this: a row's logits are bitwise identical whether it is computed alone, at the
/// end of a causal chunk, inside a draft tree, beside another sequence's rows, or with any thread count.
/// </summary>
public sealed class BatchInvarianceTests : IDisposable
{
    readonly WorkerPool _pool1 = new(1);
    readonly WorkerPool _pool2 = new(2);
    readonly TransformerModel _model;
    readonly int[] _prompt;

    public BatchInvarianceTests()
    {
        _model = TransformerModel.Load(TestPaths.BundledModel, _pool2);
        _prompt = ReferenceCase.Load()[3].PromptIds[..40];
    }

    public void Dispose()
    {
        _model.Dispose();
        _pool1.Dispose();
        _pool2.Dispose();
    }

    static Cache Prefilled(TransformerModel model, ReadOnlySpan<int> tokens)
    {
        var cache = model.CreateCache(256);
        var b = new ForwardBatch();
        b.AddSequence(tokens, cache, 0);
        model.Forward(b);
        cache.CommitInPlace(tokens.Length);
        return cache;
    }

    static void AssertBitwise(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        var e = MemoryMarshal.Cast<float, int>(expected);
        var a = MemoryMarshal.Cast<float, int>(actual);
        for (int i = 0; i < e.Length; i++)
            Assert.True(e[i] == a[i], $"{what}: logit {i} differs ({expected[i]:R} vs {actual[i]:R})");
    }

    // Logits of the last prompt token decoded alone after the committed prefix.
    float[] Alone(TransformerModel model)
    {
        var cache = Prefilled(model, _prompt.AsSpan(0, _prompt.Length - 1));
        var b = new ForwardBatch();
        b.Add(_prompt[^1], cache, _prompt.Length - 1);
        model.Forward(b);
        return b.Logits(0).ToArray();
    }

    [Fact]
    public void RowAloneEqualsRowAtEndOfCausalChunk()
    {
        var alone = Alone(_model);
        var cache = Prefilled(_model, _prompt.AsSpan(0, _prompt.Length - 7));
        var b = new ForwardBatch();
        b.AddSequence(_prompt.AsSpan(_prompt.Length - 7), cache, _prompt.Length - 7);
        _model.Forward(b);
        AssertBitwise(alone, b.Logits(b.Count - 1), "causal chunk");
    }

    [Fact]
    public void TreeNodesEqualTheirPathsDecodedAlone()
    {
        int p = _prompt.Length - 1;
        var alone = Alone(_model);
        var cache = Prefilled(_model, _prompt.AsSpan(0, p));
        var tree = new ForwardBatch();
        int root = tree.Add(_prompt[^1], cache, p);
        tree.Add(11, cache, p + 1, root);
        int mid = tree.Add(22, cache, p + 1, root);
        tree.Add(33, cache, p + 2, mid);
        int deep = tree.Add(44, cache, p + 2, mid);
        _model.Forward(tree);
        AssertBitwise(alone, tree.Logits(root), "tree root");

        // The depth-2 node equals plain decoding of root -> 22 -> 44 one token at a time.
        var seq = Prefilled(_model, _prompt.AsSpan(0, p));
        var b = new ForwardBatch();
        float[] last = [];
        int[] path = [_prompt[^1], 22, 44];
        for (int i = 0; i < path.Length; i++)
        {
            b.Clear();
            b.Add(path[i], seq, p + i);
            _model.Forward(b);
            seq.CommitInPlace(1);
            last = b.Logits(0).ToArray();
        }
        AssertBitwise(last, tree.Logits(deep), "tree node at depth 2");
    }

    [Fact]
    public void RowBesideAnotherSequenceEqualsRowAlone()
    {
        var alone = Alone(_model);
        var other = Prefilled(_model, _prompt.AsSpan(5, 20));
        var cache = Prefilled(_model, _prompt.AsSpan(0, _prompt.Length - 1));
        var b = new ForwardBatch();
        b.AddSequence([7, 8, 9], other, 20, allLogits: true);
        int row = b.Add(_prompt[^1], cache, _prompt.Length - 1);
        b.Add(10, other, 23, 2);
        _model.Forward(b);
        AssertBitwise(alone, b.Logits(row), "beside another sequence");
    }

    [Fact]
    public void ThreadCountDoesNotChangeLogits()
    {
        using var single = TransformerModel.Load(TestPaths.BundledModel, _pool1);
        AssertBitwise(Alone(_model), Alone(single), "1 vs 2 threads");
        // A wide batch splits into many chunks; the split must not matter either.
        float[] Wide(TransformerModel m)
        {
            var cache = Prefilled(m, _prompt.AsSpan(0, 8));
            var b = new ForwardBatch();
            b.AddSequence(_prompt.AsSpan(8, 24), cache, 8, allLogits: true);
            m.Forward(b);
            return b.Logits(17).ToArray();
        }
        AssertBitwise(Wide(_model), Wide(single), "chunk of 24 rows, 1 vs 2 threads");
    }
}
