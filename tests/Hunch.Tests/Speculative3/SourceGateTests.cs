using Hunch.Models;
using Hunch.Sampling;
using Hunch.Speculative;
using Hunch.Speculative.Auto;
using Hunch.Speculative.Lookahead;

namespace Hunch.Tests.Speculative3;

public class SourceGateTests
{
    static readonly ModelConfig Config = ModelConfig.FromGguf(Hunch.Gguf.GgufFile.Open(TestPaths.BundledModel));

    [Fact]
    public void PayingSourceStaysOn()
    {
        var g = new SourceGate();
        for (int i = 0; i < 10 * SourceGate.Window; i++)
        {
            g.Record(benefitMs: 0.2, costMs: 0.1);
            Assert.True(g.On);
            if (g.Due) g.Keep();
        }
        Assert.Equal(0, g.SwitchedOff);
    }

    [Fact]
    public void NonPayingSourceIsSwitchedOffAndProbedWithGrowingWaits()
    {
        var g = new SourceGate();
        var waits = new List<int>();
        for (int round = 0; round < 4; round++)
        {
            for (int i = 0; i < SourceGate.Window; i++) g.Record(benefitMs: 0, costMs: 0.1);
            Assert.True(g.Due);
            Assert.True(g.Net < 0);
            g.SwitchOff();
            Assert.False(g.On);
            g.Record(1, 0);                      // ignored while off
            int wait = 0;
            while (!g.TickOff()) wait++;
            Assert.True(g.On);
            Assert.Equal(0, g.Steps);
            waits.Add(wait + 1);
        }
        Assert.Equal([SourceGate.FirstWait, 2 * SourceGate.FirstWait, 4 * SourceGate.FirstWait, 8 * SourceGate.FirstWait], waits);
        // A probe that pays resets the wait.
        for (int i = 0; i < SourceGate.Window; i++) g.Record(benefitMs: 1, costMs: 0.1);
        g.Keep();
        for (int i = 0; i < SourceGate.Window; i++) g.Record(benefitMs: 0, costMs: 1);
        g.SwitchOff();
        int w = 1;
        while (!g.TickOff()) w++;
        Assert.Equal(SourceGate.FirstWait, w);
    }

    // A source that proposes only tokens the "target" never picks.
    sealed class WrongDrafter : IDrafter
    {
        public int Proposals;
        public string Name => "wrong";
        public bool WantsPrefillLogits => false;
        public void Begin(ReadOnlySpan<int> prompt, SamplingOptions sampling) { }
        public void ObservePrefill(ReadOnlySpan<int> prompt, int index, ReadOnlySpan<float> logits) { }
        public void Propose(in DraftContext context, DraftTree tree) { Proposals++; tree.Add(3, 0); }
        public void Observe(DraftTree tree, ForwardBatch batch, ReadOnlySpan<int> acceptedPath, int extraToken) { }
        public void Dispose() { }
    }

    [Fact]
    public void AutoSwitchesOffASourceWhoseTokensAreNeverAcceptedAndKeepsTheOther()
    {
        // Target: after token t comes t + 1 (mod 10). Lookahead learns that from the text; "wrong" always says 3.
        var wrong = new WrongDrafter();
        var lookahead = new LookaheadDrafter(Config.VocabSize, new LookaheadOptions { CostSized = false, Nodes = 9, Depth = 4, Ngram = 2 }, null, null);
        using var auto = new AutoDrafter(Config, [wrong, lookahead], null, 16);
        var tokens = new List<int>();
        for (int i = 0; i < 40; i++) tokens.Add(i % 10);
        auto.Begin([.. tokens], SamplingOptions.Greedy);
        var cache = new Hunch.KvCache.KvCache(Config, 1);
        var batch = new ForwardBatch();
        var tree = new DraftTree();
        int steps = 0, proposalsAtOff = -1;
        for (; steps < 6 * SourceGate.Window; steps++)
        {
            int root = tokens[^1];
            tree.Reset(root);
            auto.Propose(new DraftContext { Tokens = tokens.ToArray(), PromptLength = 40, MaxNodes = 16, MaxDepth = 8, Sampling = SamplingOptions.Greedy }, tree);
            batch.Clear();
            for (int i = 0; i < tree.Count; i++) batch.Add(tree.Tokens[i], cache, i, tree.Parents[i]);
            var logits = batch.LogitBuffer(Config.VocabSize);
            logits.Clear();
            for (int i = 0; i < tree.Count; i++) logits[i * Config.VocabSize + (tree.Tokens[i] + 1) % 10] = 1;
            // Greedy verification: follow the children that equal the target's next token.
            var path = new List<int> { 0 };
            int node = 0;
            while (true)
            {
                int want = (tree.Tokens[node] + 1) % 10, next = tree.FindChild(node, want);
                if (next < 0) break;
                path.Add(next);
                node = next;
            }
            int extra = (tree.Tokens[node] + 1) % 10;
            auto.Observe(tree, batch, [.. path], extra);
            for (int j = 1; j < path.Count; j++) tokens.Add(tree.Tokens[path[j]]);
            tokens.Add(extra);
            if (proposalsAtOff < 0 && !auto.Gates[0].On) proposalsAtOff = wrong.Proposals;
        }
        var gates = auto.Gates;
        Assert.True(gates[0].SwitchedOff >= 1, "the useless source was never switched off");
        Assert.True(gates[1].On, "the paying source was switched off");
        Assert.Equal(0, gates[1].SwitchedOff);
        // While off it is not run, except for probes.
        Assert.True(wrong.Proposals < steps - SourceGate.FirstWait / 2, $"wrong ran {wrong.Proposals} of {steps} steps");
    }
}
