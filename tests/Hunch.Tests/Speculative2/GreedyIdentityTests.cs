using Hunch.Generation;
using Hunch.Models;
using Hunch.Speculative;
using Hunch.Speculative.Model;
using Hunch.Tests.Engine;

namespace Hunch.Tests.Speculative2;

/// <summary>The bundled model and its draft, loaded once for the speculative tests of this folder.</summary>
public sealed class ModelPair : IDisposable
{
    public TransformerModel Target { get; } = TransformerModel.Load(TestPaths.BundledModel);
    public static string DraftPath => TestPaths.SharedModel("pycoder-draft.gguf");

    readonly Dictionary<string, int[]> _plain = [];

    /// <summary>Plain greedy continuation (cached per prompt and length).</summary>
    public int[] PlainGreedy(ReferenceCase rc, int maxTokens)
    {
        string key = rc.Id + "/" + maxTokens;
        lock (_plain)
        {
            if (_plain.TryGetValue(key, out var t)) return t;
            var gen = new Generator(Target, null);
            return _plain[key] = gen.Generate(rc.PromptIds, Options(maxTokens)).Tokens;
        }
    }

    public static GenerationOptions Options(int maxTokens) => new() { MaxTokens = maxTokens, StopAtEndOfGeneration = false };

    public void Dispose() => Target.Dispose();
}

[CollectionDefinition("Speculative2")]
public sealed class Speculative2Collection : ICollectionFixture<ModelPair>;

/// <summary>Greedy speculative decoding with every model-based drafter emits exactly plain greedy decoding's tokens.</summary>
[Collection("Speculative2")]
public class GreedyIdentityTests(ModelPair pair)
{
    public static readonly string[] Specs =
    [
        "model:DRAFT", "model:DRAFT,tree", "model:DRAFT,rsd", "model:DRAFT,beam=3,depth=4",
        "self:skip", "self:exit", "self:exit:4,tree=2",
    ];

    public static IEnumerable<object[]> Drafters() => Specs.Select(s => new object[] { s });

    public static IEnumerable<object[]> AllPromptsAllDrafters() =>
        from s in Specs from c in ReferenceCase.Load() select new object[] { s, c.Id };

    internal static string Resolve(string spec) => spec.Replace("DRAFT", ModelPair.DraftPath);

    [Theory]
    [MemberData(nameof(Drafters))]
    public void GreedyMatchesPlainOnPromptSubset(string spec)
    {
        var cases = ReferenceCase.Load();
        using var drafter = ModelDrafterFactory.Create(Resolve(spec), pair.Target);
        var gen = new Generator(pair.Target, null);
        long drafted = 0;
        // Three prompts spread over the set, one generator so prefix reuse and cache rollback mix.
        for (int i = 5; i < cases.Length; i += 25)
        {
            var rc = cases[i];
            var expected = pair.PlainGreedy(rc, 32);
            var result = gen.Generate(rc.PromptIds, ModelPair.Options(32), drafter);
            Assert.Equal(expected, result.Tokens);
            drafted += result.Stats.DraftedTokens;
        }
        Assert.True(drafted > 0 || spec.StartsWith("self"), $"{spec} drafted nothing");
    }

    [Theory]
    [Trait("Category", "Slow")]
    [MemberData(nameof(AllPromptsAllDrafters))]
    public void GreedyMatchesPlainOnEveryPrompt(string spec, string id)
    {
        var rc = ReferenceCase.Load().Single(c => c.Id == id);
        using var drafter = ModelDrafterFactory.Create(Resolve(spec), pair.Target);
        var gen = new Generator(pair.Target, null);
        var expected = pair.PlainGreedy(rc, rc.Greedy.Length);
        Assert.Equal(expected, gen.Generate(rc.PromptIds, ModelPair.Options(rc.Greedy.Length), drafter).Tokens);
    }
}
