using Hunch.Generation;
using Hunch.Kernels;
using Hunch.Models;
using Hunch.Sampling;
using Hunch.Speculative;
using Hunch.Speculative.Auto;
using Hunch.Speculative.Lookahead;
using Hunch.Tests.Engine;

namespace Hunch.Tests.Speculative3;

/// <summary>The bundled model on a private pool for the lookahead/jacobi/auto tests, with cached plain outputs.</summary>
public sealed class Spec3Fixture : IDisposable
{
    readonly WorkerPool _pool = new(2);
    readonly Dictionary<(string, int, float, ulong), int[]> _plain = [];

    public TransformerModel Model { get; }

    public Spec3Fixture() => Model = TransformerModel.Load(TestPaths.BundledModel, _pool);

    /// <summary>A GPU-like cost curve (extra rows nearly free), so the cost-sized drafters really draft whatever
    /// this machine's load; the measured curve may rightly decide that drafting does not pay.</summary>
    internal static readonly ForwardCostCurve Flat = new([1, 2, 4, 8, 16, 32, 64], [10, 10, 10, 10.1, 10.2, 10.4, 10.8]);

    public static SamplingOptions Sampling(float temperature, ulong seed) =>
        temperature > 0 ? new SamplingOptions { Temperature = temperature, TopP = 0.95f, Seed = seed } : SamplingOptions.Greedy;

    public GenerationResult Run(int[] prompt, int maxTokens, SamplingOptions sampling, IDrafter? drafter, Generator? generator = null)
    {
        generator ??= new Generator(Model, null);
        return generator.Generate(prompt, new GenerationOptions { MaxTokens = maxTokens, Sampling = sampling, StopAtEndOfGeneration = false }, drafter);
    }

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

    /// <summary>Drafters under test by name: "X:flat" sizes X's tree under <see cref="Flat"/>; anything else goes
    /// through the registry.</summary>
    internal IDrafter Create(string spec)
    {
        int vocab = Model.Config.VocabSize;
        return spec switch
        {
            "lookahead:flat" => new LookaheadDrafter(vocab, new LookaheadOptions(), Flat, null),
            "jacobi:flat" => new JacobiDrafter(vocab, new LookaheadOptions { Ngram = 4 }, Flat),
            "auto:flat" => new AutoDrafter(Model.Config,
                [
                    new TokenRecyclingDrafter(Model, new DrafterOptions { Tree = DraftTreeMode.Fixed, TreeNodes = 33 }),
                    new PromptLookupDrafter(Model, new DrafterOptions { Tree = DraftTreeMode.Fixed, TreeNodes = 33 }),
                    new LookaheadDrafter(vocab, new LookaheadOptions { CostSized = false, Nodes = 33 }, null, null),
                    new JacobiDrafter(vocab, new LookaheadOptions { CostSized = false, Nodes = 33, Ngram = 4 }, null),
                ], Flat, 48),
            _ => DrafterFactory.Create(spec, Model),
        };
    }

    public void Dispose()
    {
        Model.Dispose();
        _pool.Dispose();
    }
}

[CollectionDefinition("spec3-model")]
public sealed class Spec3Collection : ICollectionFixture<Spec3Fixture>;
