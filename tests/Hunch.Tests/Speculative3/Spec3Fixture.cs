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
public sealed class Spec3Fixture : Hunch.Tests.Speculative.SpecModelFixture
{
    /// <summary>A GPU-like cost curve (extra rows nearly free), so the cost-sized drafters really draft whatever
    /// this machine's load; the measured curve may rightly decide that drafting does not pay.</summary>
    internal static readonly ForwardCostCurve Flat = new([1, 2, 4, 8, 16, 32, 64], [10, 10, 10, 10.1, 10.2, 10.4, 10.8]);

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

}

[CollectionDefinition("spec3-model")]
public sealed class Spec3Collection : ICollectionFixture<Spec3Fixture>;
