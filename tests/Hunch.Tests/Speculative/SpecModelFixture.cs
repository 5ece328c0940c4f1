using Hunch.Generation;
using Hunch.Kernels;
using Hunch.Models;
using Hunch.Sampling;
using Hunch.Speculative;
using Hunch.Tests.Engine;

namespace Hunch.Tests.Speculative;

/// <summary>One bundled model on a private worker pool for the speculative tests (which run one after another in
/// this collection), plus cached plain-decoding outputs to compare drafters against.</summary>
public class SpecModelFixture : IDisposable
{
    readonly WorkerPool _pool = new(2);
    readonly Dictionary<(string, int, float, ulong), int[]> _plain = [];

    public TransformerModel Model { get; }
    public ReferenceCase[] Cases { get; } = ReferenceCase.Load();

    public SpecModelFixture() => Model = TransformerModel.Load(TestPaths.BundledModel, _pool);

    public static SamplingOptions Sampling(float temperature, ulong seed) =>
        temperature > 0 ? new SamplingOptions { Temperature = temperature, TopP = 0.95f, Seed = seed } : SamplingOptions.Greedy;

    public GenerationResult Run(int[] prompt, int maxTokens, SamplingOptions sampling, IDrafter? drafter, Generator? generator = null)
    {
        generator ??= new Generator(Model, null);
        return generator.Generate(prompt, new GenerationOptions { MaxTokens = maxTokens, Sampling = sampling, StopAtEndOfGeneration = false }, drafter);
    }

    /// <summary>Plain decoding output (no drafter) for a case, computed once.</summary>
    public int[] Plain(ReferenceCase rc, int maxTokens, float temperature, ulong seed)
    {
        var key = (rc.Id, maxTokens, temperature, seed);
        lock (_plain)
        {
            if (!_plain.TryGetValue(key, out var tokens))
                _plain[key] = tokens = Run(rc.PromptIds, maxTokens, Sampling(temperature, seed), null).Tokens;
            return tokens;
        }
    }

    public void Dispose()
    {
        Model.Dispose();
        _pool.Dispose();
    }
}

[CollectionDefinition("spec-model")]
public sealed class SpecModelCollection : ICollectionFixture<SpecModelFixture>;
