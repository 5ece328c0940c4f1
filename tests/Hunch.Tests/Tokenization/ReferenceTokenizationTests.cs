using System.Text;
using System.Text.Json;
using Hunch.Gguf;
using Hunch.Tokenization;

namespace Hunch.Tests.Tokenization;

/// <summary>Token ids identical to llama.cpp's on every reference text, for every reference vocabulary.</summary>
public class ReferenceTokenizationTests
{
    public static TheoryData<string> Vocabularies()
    {
        var data = new TheoryData<string>();
        foreach (var v in TokenizerReference.Vocabularies) data.Add(v);
        return data;
    }

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void MatchesLlamaCppOnEveryText(string vocab)
    {
        var tokenizer = TokenizerReference.Load(vocab);
        var expected = TokenizerReference.ExpectedIds(vocab);
        var texts = TokenizerReference.Texts;
        Assert.Equal(116, texts.Length);
        var failures = new StringBuilder();
        int passed = 0;
        foreach (var (id, text) in texts)
        {
            var ids = tokenizer.Encode(text, addSpecial: false, parseSpecial: false);
            if (ids.AsSpan().SequenceEqual(expected[id])) { passed++; continue; }
            failures.AppendLine($"{id}: expected [{string.Join(",", expected[id])}]");
            failures.AppendLine($"{new string(' ', id.Length)}  actual   [{string.Join(",", ids)}]");
        }
        Assert.True(failures.Length == 0, $"{vocab}: {passed}/{texts.Length} match\n{failures}");
    }

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void DecodingRoundTrips(string vocab)
    {
        var tokenizer = TokenizerReference.Load(vocab);
        bool spacePrefix = tokenizer is SpmTokenizer { AddSpacePrefix: true };
        var failures = new StringBuilder();
        foreach (var (id, text) in TokenizerReference.Texts)
        {
            var ids = tokenizer.Encode(text, addSpecial: false);
            var decoded = tokenizer.Decode(ids);
            // SentencePiece puts one space in front of the text; llama.cpp strips it again when detokenizing.
            var expected = spacePrefix && text.Length > 0 ? " " + text : text;
            if (decoded != expected) failures.AppendLine($"{id}: {JsonSerializer.Serialize(decoded)} != {JsonSerializer.Serialize(expected)}");
        }
        Assert.True(failures.Length == 0, failures.ToString());
    }

    [Fact]
    public void BundledModelPromptIdsMatchLlamaCpp()
    {
        using var file = GgufFile.Open(TestPaths.BundledModel);
        var tokenizer = TokenizerFactory.FromGguf(file);
        Assert.False(tokenizer.AddBos);

        var prompts = new Dictionary<string, string>();
        foreach (var line in File.ReadLines(Path.Combine(TestPaths.Shared, "bench", "code-prompts.jsonl")))
        {
            using var d = JsonDocument.Parse(line);
            prompts[d.RootElement.GetProperty("id").GetString()!] = d.RootElement.GetProperty("prompt").GetString()!;
        }
        int count = 0;
        var failures = new StringBuilder();
        foreach (var line in File.ReadLines(Path.Combine(TestPaths.Shared, "reference", "pycoder", "pycoder-F32.jsonl")))
        {
            using var d = JsonDocument.Parse(line);
            var id = d.RootElement.GetProperty("id").GetString()!;
            var expected = d.RootElement.GetProperty("prompt_token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var actual = tokenizer.Encode(prompts[id], addSpecial: true);
            count++;
            if (!actual.AsSpan().SequenceEqual(expected)) failures.AppendLine(id);
        }
        Assert.Equal(60, count);
        Assert.True(failures.Length == 0, "mismatching prompts:\n" + failures);
    }
}
