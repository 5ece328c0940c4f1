using System.Diagnostics;
using System.Text.Json;
using Hunch.Generation;
using Hunch.Grammar;
using Hunch.Models;
using Hunch.Sampling;
using Hunch.Speculative;
using Xunit.Abstractions;
using static Hunch.Tests.Grammar.GrammarTestSupport;

namespace Hunch.Tests.Grammar;

/// <summary>
/// Constrained generation with the bundled model: generated JSON schemas, every output validates, and the
/// speculative run (draft pruning + per-node masking) is token-identical to plain constrained decoding.
/// </summary>
public class ConstrainedGenerationTests(ITestOutputHelper output)
{
    const int Budget = 120;
    static TransformerModel? s_model;
    static readonly object s_lock = new();

    /// <summary>A fixed draft tree every step (the automatic mode may decide drafting does not pay on a busy
    /// machine, which would leave speculation untested), and a recycling table seeded from the prompt.</summary>
    static readonly DrafterOptions AlwaysDraft = new() { Tree = DraftTreeMode.Reference, SeedFromPrefill = true };

    static readonly DrafterOptions LookupFixed = new() { Tree = DraftTreeMode.Fixed };

    static TransformerModel Model()
    {
        lock (s_lock) return s_model ??= TransformerModel.Load(TestPaths.BundledModel);
    }

    static int[] Prompt(int i)
    {
        var cases = Engine.ReferenceCase.Load();
        var ids = cases[i % cases.Length].PromptIds;
        return ids.Length > 48 ? [ids[0], .. ids[^47..]] : ids;
    }

    public static IEnumerable<object[]> DefaultCases() => Enumerable.Range(0, 20).Select(i => new object[] { i });
    public static IEnumerable<object[]> SlowCases() => Enumerable.Range(20, 80).Select(i => new object[] { i });

    [Theory]
    [MemberData(nameof(DefaultCases))]
    public void SchemaCaseValidatesAndSpeculationIsIdentical(int seed) => RunCase(seed);

    [Theory]
    [Trait("Category", "Slow")]
    [MemberData(nameof(SlowCases))]
    public void SchemaCaseValidatesAndSpeculationIsIdenticalSlow(int seed) => RunCase(seed);

    void RunCase(int seed)
    {
        var (schema, maxBytes) = SchemaGenerator.Make(seed, Budget);
        var vocab = BundledVocabulary();
        var grammar = JsonSchemaGrammar.Compile(schema);
        var gen = new Generator(Model(), null);
        var prompt = Prompt(seed);
        var plain = gen.Generate(prompt, new GenerationOptions { MaxTokens = maxBytes + 1, Constraint = new GrammarConstraint(grammar, vocab) });
        using var drafter = seed % 2 == 0 ? DrafterFactory.Create("recycling", Model(), AlwaysDraft) : DrafterFactory.Create("lookup", Model(), LookupFixed);
        var spec = gen.Generate(prompt, new GenerationOptions { MaxTokens = maxBytes + 1, Constraint = new GrammarConstraint(grammar, vocab) }, drafter);
        string text = Decode(vocab, plain.Tokens);
        output.WriteLine($"drafter {drafter.Name}\nschema {schema}\noutput {text}\nplain {plain.Tokens.Length} tokens {plain.Stats.Steps} steps; spec {spec.Stats.Steps} steps, drafted {spec.Stats.DraftedTokens}, accepted {spec.Stats.AcceptedTokens}");
        Assert.Equal(FinishReason.Stop, plain.FinishReason);
        using var schemaDoc = JsonDocument.Parse(schema);
        using var doc = JsonDocument.Parse(text);
        Assert.Null(MiniSchemaValidator.Validate(schemaDoc.RootElement, doc.RootElement));
        Assert.Equal(plain.Tokens, spec.Tokens);
    }

    [Fact]
    public void SeededSamplingIsIdenticalWithSpeculation()
    {
        var vocab = BundledVocabulary();
        var grammar = JsonSchemaGrammar.AnyJson();
        var gen = new Generator(Model(), null);
        for (int seed = 1; seed <= 3; seed++)
        {
            var sampling = new SamplingOptions { Temperature = 0.9f, TopK = 40, TopP = 0.95f, Seed = (ulong)seed };
            var o1 = new GenerationOptions { MaxTokens = 40, Sampling = sampling, Constraint = new GrammarConstraint(grammar, vocab) };
            var o2 = o1 with { Constraint = new GrammarConstraint(grammar, vocab) };
            var plain = gen.Generate(Prompt(seed), o1);
            using var drafter = DrafterFactory.Create("recycling", Model(), AlwaysDraft);
            var spec = gen.Generate(Prompt(seed), o2, drafter);
            output.WriteLine(Decode(vocab, plain.Tokens));
            Assert.Equal(plain.Tokens, spec.Tokens);
            // Whatever the sample, the text is a prefix of a JSON object (or a whole one).
            var m = new GrammarMatcher(grammar, vocab);
            var s = m.Initial;
            foreach (int t in plain.Tokens) s = m.Advance(s, t) ?? throw new Xunit.Sdk.XunitException($"token {t} violates the grammar");
        }
    }

    [Fact]
    public void TestOnlyDrafterWithManyInvalidProposalsStillMatches()
    {
        // A drafter that knows nothing of the grammar: most of its proposals are pruned before the forward.
        var vocab = BundledVocabulary();
        var (schema, maxBytes) = SchemaGenerator.Make(1234, Budget);
        var grammar = JsonSchemaGrammar.Compile(schema);
        var gen = new Generator(Model(), null);
        var plain = gen.Generate(Prompt(3), new GenerationOptions { MaxTokens = maxBytes + 1, Constraint = new GrammarConstraint(grammar, vocab) });
        var spec = gen.Generate(Prompt(3), new GenerationOptions { MaxTokens = maxBytes + 1, Constraint = new GrammarConstraint(grammar, vocab) }, new RecentRepeatDrafter());
        Assert.Equal(plain.Tokens, spec.Tokens);
    }

    [Fact]
    public void EngineRequestWithGrammarValidatesAndSpeculationIsIdentical()
    {
        BundledVocabulary();
        using var engine = new Hunch.Api.HunchEngine(Model(), GrammarTestSupport.Tokenizer!,
            new Hunch.Api.EngineOptions { DrafterFactory = name => DrafterFactory.Create(name, Model(), AlwaysDraft) });
        const string schema = """{"type":"object","properties":{"name":{"type":"string","maxLength":8},"tags":{"type":"array","items":{"type":"string","maxLength":5},"maxItems":3},"n":{"type":"integer"}},"required":["name","tags","n"],"additionalProperties":false}""";
        var grammar = JsonSchemaGrammar.Compile(schema);
        var request = new Hunch.Api.CompletionRequest { Prompt = "# a record\nrecord = ", MaxTokens = 120, Grammar = grammar, Drafter = "none" };
        var plain = engine.Complete(request);
        var spec = engine.Complete(request with { Drafter = "recycling" });
        output.WriteLine(plain.Text);
        using var schemaDoc = JsonDocument.Parse(schema);
        using var doc = JsonDocument.Parse(plain.Text);
        Assert.Null(MiniSchemaValidator.Validate(schemaDoc.RootElement, doc.RootElement));
        Assert.Equal(plain.Tokens, spec.Tokens);
    }

    [Fact]
    public void UnconstrainedOutputIsNotJsonButConstrainedIs()
    {
        // Guards against a constraint that silently does nothing: the code model left alone writes Python.
        var vocab = BundledVocabulary();
        var gen = new Generator(Model(), null);
        var free = gen.Generate(Prompt(0), new GenerationOptions { MaxTokens = 24 });
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(Decode(vocab, free.Tokens)));
        var constrained = gen.Generate(Prompt(0), new GenerationOptions { MaxTokens = 64, Constraint = new GrammarConstraint(JsonSchemaGrammar.Compile("""{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}"""), vocab) });
        using var doc = JsonDocument.Parse(Decode(vocab, constrained.Tokens));
        Assert.Equal(JsonValueKind.Number, doc.RootElement.GetProperty("a").ValueKind);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void MeasureThroughput()
    {
        var vocab = BundledVocabulary();
        var gen = new Generator(Model(), null);
        double[] tps = new double[3];
        long[] tokens = new long[3], ms = new long[3];
        for (int seed = 0; seed < 30; seed++)
        {
            var (schema, maxBytes) = SchemaGenerator.Make(seed, Budget);
            var grammar = JsonSchemaGrammar.Compile(schema);
            var prompt = Prompt(seed);
            for (int mode = 0; mode < 3; mode++)
            {
                var opts = new GenerationOptions { MaxTokens = maxBytes + 1, Constraint = mode == 0 ? null : new GrammarConstraint(grammar, vocab) };
                var sw = Stopwatch.StartNew();
                using var drafter = mode == 2 ? DrafterFactory.Create("recycling", Model(), AlwaysDraft) : null;
                var r = gen.Generate(prompt, mode == 0 ? opts with { MaxTokens = 48 } : opts, drafter);
                tokens[mode] += r.Tokens.Length;
                ms[mode] += (long)r.Stats.DecodeMs;
            }
        }
        for (int mode = 0; mode < 3; mode++) tps[mode] = tokens[mode] * 1000.0 / Math.Max(1, ms[mode]);
        output.WriteLine($"unconstrained {tps[0]:F1} tok/s; constrained plain {tps[1]:F1} tok/s ({tokens[1]} tokens); constrained + speculation {tps[2]:F1} tok/s ({tokens[2]} tokens)");
    }
}
