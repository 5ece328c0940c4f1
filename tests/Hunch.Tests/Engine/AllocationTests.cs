using Hunch.Models;
using Hunch.Sampling;
using Hunch.Speculative;

namespace Hunch.Tests.Engine;

/// <summary>After warm-up, decode and verify steps allocate nothing on the calling thread.</summary>
public class AllocationTests
{
    [Theory]
    [InlineData(0f)]
    [InlineData(0.8f)]
    public void HundredDecodeAndVerifyStepsAllocateNothing(float temperature)
    {
        using var model = TransformerModel.Load(TestPaths.BundledModel);
        var cfg = model.Config;
        var cache = model.CreateCache(512);
        var batch = new ForwardBatch();
        var tree = new DraftTree();
        var sampler = new Sampler(new SamplingOptions { Temperature = temperature, TopP = 0.95f, Seed = 3 }, cfg.VocabSize);
        var verifier = new Verifier(sampler, cfg.VocabSize);
        var history = new int[1024];
        var path = new int[16];
        int length = 0;
        history[length++] = 281;

        void Step()
        {
            if (length > 100) { cache.Truncate(0); length = 1; }
            tree.Reset(history[length - 1]);
            int a = tree.Add(13, 0);
            tree.Add(281, a);
            tree.Add(260, 0);
            batch.Clear();
            for (int i = 0; i < tree.Count; i++) batch.Add(tree.Tokens[i], cache, length - 1 + tree.Depths[i], tree.Parents[i]);
            model.Forward(batch);
            int n = verifier.Verify(tree, batch, history, length, path, out int extra);
            cache.Commit(path.AsSpan(0, n));
            for (int i = 1; i < n; i++) history[length + i - 1] = tree.Tokens[path[i]];
            length += n - 1;
            history[length++] = extra;
        }

        // Warm-up long enough for the cache to reach its working size (it grows in chunks) and the JIT to settle.
        for (int i = 0; i < 120; i++) Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) Step();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }
}
