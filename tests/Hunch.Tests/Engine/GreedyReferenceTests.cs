using Hunch.Generation;
using Hunch.Models;

namespace Hunch.Tests.Engine;

/// <summary>Greedy continuations of the bundled model equal llama.cpp's, compared up to the first step where
/// llama.cpp's own top-2 margin is below the README's tolerance (a tie a correct engine may break either way).</summary>
public class GreedyReferenceTests
{
    public static IEnumerable<object[]> Cases() => ReferenceCase.Load().Select(c => new object[] { c.Id });

    [Theory]
    [MemberData(nameof(Cases))]
    public void GreedyContinuationMatchesLlamaCpp(string id)
    {
        var rc = ReferenceCase.Load().Single(c => c.Id == id);
        using var model = TransformerModel.Load(TestPaths.BundledModel);
        var gen = new Generator(model, null);
        var result = gen.Generate(rc.PromptIds, new GenerationOptions { MaxTokens = rc.Greedy.Length, StopAtEndOfGeneration = false });
        int compare = ComparableLength(rc.Margins, 0.001f);
        Assert.True(compare > 0 || rc.Margins[0] < 0.001f);
        Assert.Equal(rc.Greedy.AsSpan(0, compare).ToArray(), result.Tokens.AsSpan(0, compare).ToArray());
    }

    internal static int ComparableLength(float[] margins, float tau)
    {
        int n = 0;
        while (n < margins.Length && margins[n] >= tau) n++;
        return n;
    }
}
