using System.Collections.Concurrent;
using System.Text.Json;
using Hunch.Gguf;
using Hunch.Tokenization;

namespace Hunch.Tests.Tokenization;

/// <summary>Loads the shared tokenizer reference material (texts, vocabularies, llama.cpp's ids).</summary>
internal static class TokenizerReference
{
    public static string Folder => Path.Combine(TestPaths.Shared, "reference", "tokenizers");

    public static readonly string[] Vocabularies =
    [
        "llama-spm", "phi-3", "gpt-2", "starcoder", "deepseek-coder", "deepseek-llm", "falcon",
        "gpt2-merges-pre-llama-bpe", "gpt2-merges-pre-qwen2", "gpt2-merges-pre-smollm", "gpt2-merges-pre-deepseek-r1-qwen",
    ];

    static readonly Lazy<(string Id, string Text)[]> s_texts = new(() =>
    {
        var list = new List<(string, string)>();
        foreach (var line in File.ReadLines(Path.Combine(Folder, "texts.jsonl")))
        {
            using var d = JsonDocument.Parse(line);
            list.Add((d.RootElement.GetProperty("id").GetString()!, d.RootElement.GetProperty("text").GetString()!));
        }
        return list.ToArray();
    });

    public static (string Id, string Text)[] Texts => s_texts.Value;

    public static Dictionary<string, int[]> ExpectedIds(string vocab)
    {
        var map = new Dictionary<string, int[]>();
        foreach (var line in File.ReadLines(Path.Combine(Folder, $"vocab-{vocab}.ids.jsonl")))
        {
            using var d = JsonDocument.Parse(line);
            map[d.RootElement.GetProperty("id").GetString()!] =
                d.RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        }
        return map;
    }

    static readonly ConcurrentDictionary<string, ITokenizer> s_tokenizers = new();

    /// <summary>The tokenizer of a reference vocabulary (loaded once per test run; the file is read into memory).</summary>
    public static ITokenizer Load(string vocab) => s_tokenizers.GetOrAdd(vocab, v =>
    {
        using var file = GgufFile.Open(Path.Combine(Folder, $"vocab-{v}.gguf"));
        return TokenizerFactory.FromGguf(file, _ => { });
    });
}
