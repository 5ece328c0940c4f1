using System.Text;
using System.Text.RegularExpressions;
using Hunch.Gguf;
using Hunch.Tokenization;

namespace Hunch.Tests.Tokenization;

/// <summary>The pre-tokenizer split: the regex engine against .NET's, llama.cpp's hand-written matchers against the
/// engine, pre-tokenizer selection and the unknown-name fallback.</summary>
public class PreTokenizerTests
{
    static int[] Codepoints(string s) => s.EnumerateRunes().Select(r => r.Value).ToArray();

    static List<string> EngineSplit(string pattern, string text)
    {
        var re = CodepointRegex.Compile(pattern);
        var cps = Codepoints(text);
        var eff = new int[cps.Length];
        re.MapText(cps, eff);
        var lengths = new List<int>();
        re.SplitSegment(eff, 0, cps.Length, lengths, new CodepointRegex.Scratch());
        return Pieces(cps, lengths);
    }

    static List<string> Pieces(int[] cps, List<int> lengths)
    {
        var result = new List<string>();
        int pos = 0;
        foreach (var len in lengths)
        {
            var sb = new StringBuilder();
            for (int i = pos; i < pos + len; i++) sb.Append(char.ConvertFromUtf32(cps[i]));
            result.Add(sb.ToString());
            pos += len;
        }
        Assert.Equal(cps.Length, pos);
        return result;
    }

    /// <summary>Matches and the gaps between them, as llama.cpp's split does, with .NET's regex.</summary>
    static List<string> DotNetSplit(string pattern, string text)
    {
        var result = new List<string>();
        int last = 0;
        foreach (Match m in Regex.Matches(text, pattern, RegexOptions.ECMAScript))
        {
            if (m.Index > last) result.Add(text[last..m.Index]);
            if (m.Length > 0) result.Add(m.Value);
            last = m.Index + m.Length;
        }
        if (last < text.Length) result.Add(text[last..]);
        return result;
    }

    static string RandomText(Random rng, string alphabet, int maxLength)
    {
        int n = rng.Next(maxLength + 1);
        var sb = new StringBuilder();
        var runes = alphabet.EnumerateRunes().ToArray();
        for (int i = 0; i < n; i++) sb.Append(runes[rng.Next(runes.Length)].ToString());
        return sb.ToString();
    }

    public static TheoryData<string> AsciiPatterns() =>
    [
        PreTokenizer.Gpt2Pattern, PreTokenizer.Llama3Pattern, PreTokenizer.Qwen2Pattern,
        "[0-9][0-9][0-9]", "[\r\n]", "\\s+$", "([\\t\\n]|    |  )", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
    ];

    [Theory]
    [MemberData(nameof(AsciiPatterns))]
    public void EngineAgreesWithDotNetRegexOnAsciiText(string pattern)
    {
        // Build the .NET form by hand for the category patterns (the class text differs in and out of brackets).
        string dotnet = pattern
            .Replace(@"[^\r\n\p{L}\p{N}]", @"[^\r\nA-Za-z0-9]")
            .Replace(@"[^\s\p{L}\p{N}]", @"[^\sA-Za-z0-9]")
            .Replace(@"\p{L}", "[A-Za-z]").Replace(@"\p{N}", "[0-9]");
        var rng = new Random(1234);
        const string alphabet = "aZx0 19  \t\n\r'sStTrReEvVmMlLdD.,!?$+<=>^~|`_-()[]{}\"IMGABZ";
        for (int k = 0; k < 3000; k++)
        {
            var text = RandomText(rng, alphabet, 24);
            Assert.Equal(DotNetSplit(dotnet, text), EngineSplit(pattern, text));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void HandWrittenMatchersAgreeWithTheirPatterns(bool llama3)
    {
        var pattern = llama3 ? PreTokenizer.Llama3Pattern : PreTokenizer.Gpt2Pattern;
        var rng = new Random(99);
        // Letters, numbers, punctuation, symbols, marks and whitespace, in and out of ASCII.
        const string alphabet = "aZé日Ж 9٣½  \t\n\r\u00A0\u3000'sStTreEvVmlLdD.,!?$+~—«»🦙\u0301\u200D";
        for (int k = 0; k < 3000; k++)
        {
            var text = RandomText(rng, alphabet, 20);
            var cps = Codepoints(text);
            var lengths = new List<int>();
            if (llama3) PreTokenizer.SplitLlama3(cps, 0, cps.Length, lengths);
            else PreTokenizer.SplitGpt2(cps, 0, cps.Length, lengths);
            Assert.Equal(EngineSplit(pattern, text), Pieces(cps, lengths));
        }
    }

    [Fact]
    public void DeepSeekLetterClassHasItsExactCodePoints()
    {
        // Code points whose canonical look-alikes differ: they must be inside the class, the look-alikes outside
        // unless they are in the class in their own right.
        var split = (string s) => EngineSplit("\\s?[" + typeof(PreTokenizer).GetField("DeepSeekLetters",
            System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!.GetValue(null) + "]+", s);
        Assert.Equal(["x\u2126\u212Ay"], split("x\u2126\u212Ay"));      // OHM SIGN, KELVIN SIGN
        Assert.Equal(["x\u1F7D\u1FBE"], split("x\u1F7D\u1FBE"));
        Assert.Equal(["x", "\u00D7", "y"], split("x\u00D7y"));           // multiplication sign is not a letter
    }

    [Fact]
    public void PreTokenizerChoiceChangesTheIds()
    {
        // The reference test can tell pre-tokenizers apart: GPT-2's rule on the qwen2 file's texts differs a lot.
        var gpt2 = TokenizerReference.Load("gpt-2");
        var qwen2Expected = TokenizerReference.ExpectedIds("gpt2-merges-pre-qwen2");
        int differing = TokenizerReference.Texts.Count(t => !gpt2.Encode(t.Text, false).AsSpan().SequenceEqual(qwen2Expected[t.Id]));
        Assert.True(differing >= 20, $"only {differing} texts differ");
    }

    static VocabularyImage RebuildWithPre(string vocab, string? pre)
    {
        // The first few thousand tokens and merges are plenty to see which split rule is in use, and keep this fast.
        const int size = 6000;
        using var file = GgufFile.Open(Path.Combine(TokenizerReference.Folder, $"vocab-{vocab}.gguf"));
        var image = new VocabularyImage()
            .String("tokenizer.ggml.model", "gpt2")
            .Strings("tokenizer.ggml.tokens", file.GetArray<string>("tokenizer.ggml.tokens")![..size])
            .Ints("tokenizer.ggml.token_type", file.GetArray<int>("tokenizer.ggml.token_type")![..size])
            .Strings("tokenizer.ggml.merges", file.GetArray<string>("tokenizer.ggml.merges")![..size]);
        if (pre is not null) image.String("tokenizer.ggml.pre", pre);
        return image;
    }

    [Theory]
    [InlineData("no-such-pre-tokenizer")]
    [InlineData(null)]
    public void UnknownOrMissingPreTokenizerWarnsAndUsesTheDefaultRule(string? pre)
    {
        var warnings = new List<string>();
        using var unknownFile = RebuildWithPre("gpt-2", pre).ToFile();
        var unknown = TokenizerFactory.FromGguf(unknownFile, warnings.Add);
        Assert.Single(warnings);
        Assert.Contains("default", warnings[0]);
        if (pre is not null) Assert.Contains(pre, warnings[0]);

        var quiet = new List<string>();
        using var defaultFile = RebuildWithPre("gpt-2", "default").ToFile();
        var byDefault = TokenizerFactory.FromGguf(defaultFile, quiet.Add);
        Assert.Empty(quiet);
        using var gpt2File = RebuildWithPre("gpt-2", "gpt-2").ToFile();
        var gpt2 = TokenizerFactory.FromGguf(gpt2File, quiet.Add);
        int differsFromGpt2 = 0;
        foreach (var (_, text) in TokenizerReference.Texts)
        {
            var ids = unknown.Encode(text, false);
            Assert.Equal(byDefault.Encode(text, false), ids);
            if (!ids.AsSpan().SequenceEqual(gpt2.Encode(text, false))) differsFromGpt2++;
        }
        // The default rule really is a different rule (digit runs and punctuation are split first).
        Assert.True(differsFromGpt2 > 0);
    }

    [Fact]
    public void EveryKnownPreTokenizerNameCompiles()
    {
        string[] names = ["default", "llama3", "llama-v3", "llama-bpe", "falcon3", "deepseek-llm", "deepseek-coder", "deepseek-v3",
            "falcon", "mpt", "starcoder", "gpt-2", "phi-2", "refact", "command-r", "qwen2", "deepseek-r1-qwen", "stablelm2", "olmo",
            "dbrx", "smaug-bpe", "poro-chat", "chatglm-bpe", "viking", "jais", "tekken", "smollm", "codeshell", "bloom",
            "gpt3-finnish", "exaone", "chameleon", "minerva-7b", "megrez"];
        var cps = Codepoints("Hello, World! 123 4567 naïve café 日本語 🦙 <sentinel:12> IMGIMGABZ \n\n  x");
        foreach (var name in names)
        {
            var def = PreTokenizer.Resolve(name);
            Assert.True(def is not null, name);
            var lengths = new PreTokenizer(def.Value).Split(cps, new PreTokenizer.Scratch());
            Assert.Equal(cps.Length, lengths.Sum());
        }
    }
}
