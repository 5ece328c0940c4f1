using System.Diagnostics;
using Hunch.Tokenization;

namespace Hunch.Tests.Tokenization;

/// <summary>Long and degenerate inputs finish in time proportional to their length (no quadratic blow-up in the
/// regex split, the merge loops or special-token splitting) and still round-trip.</summary>
public class LongInputTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var vocab in new[] { "llama-spm", "deepseek-llm", "gpt2-merges-pre-qwen2", "gpt2-merges-pre-llama-bpe", "starcoder" })
            foreach (var kind in new[] { "spaces", "digits", "letters", "newlines", "mixed", "specials" })
                data.Add(vocab, kind);
        return data;
    }

    static string Make(string kind, int n) => kind switch
    {
        "spaces" => new string(' ', n),
        "digits" => new string('7', n),
        "letters" => new string('a', n),
        "newlines" => string.Concat(Enumerable.Repeat(" \n\t", n / 3)),
        "mixed" => string.Concat(Enumerable.Repeat("a1 ,é日🦙'S\r\n ", n / 12)),
        // Many user-defined special tokens (DeepSeek) or text that only looks like them.
        _ => string.Concat(Enumerable.Repeat("õ[PAD1000]</s>x", n / 15)),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void LongInputIsFastAndRoundTrips(string vocab, string kind)
    {
        var tok = TokenizerReference.Load(vocab);
        var text = Make(kind, 30_000);
        var sw = Stopwatch.StartNew();
        var ids = tok.Encode(text, addSpecial: false);
        sw.Stop();
        // Linear work here is a few milliseconds; quadratic work would take minutes. The bound is generous for
        // a loaded machine.
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"{vocab}/{kind}: {sw.Elapsed.TotalMilliseconds:F0} ms");
        var decoded = tok.Decode(ids);
        var expected = tok is SpmTokenizer { AddSpacePrefix: true } ? " " + text : text;
        Assert.Equal(expected, decoded);
    }
}
