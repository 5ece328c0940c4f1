using System.Text.Json;
using Hunch.Tests.Engine;

namespace Hunch.Tests.Cli;

public class CliTests
{
    [Theory]
    [InlineData("short-continue-00")]
    [InlineData("long-continue-00")]
    public void RunJsonReproducesLlamaCppGreedyContinuation(string id)
    {
        var rc = ReferenceCase.Load().Single(c => c.Id == id);
        var r = CliRunner.Run("run", "--json", "-n", "64", "-p", rc.Prompt);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal(rc.PromptIds, root.GetProperty("prompt_token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        var tokens = root.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int n = GreedyReferenceTests.ComparableLength(rc.Margins, 0.001f);
        Assert.Equal(rc.Greedy.Take(n), tokens.Take(n));
        var stats = root.GetProperty("stats");
        Assert.Equal(rc.PromptIds.Length, stats.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(tokens.Length, stats.GetProperty("generated_tokens").GetInt32());
        foreach (var key in new[] { "prefill_ms", "decode_ms", "decode_tok_s" }) Assert.True(stats.GetProperty(key).GetDouble() >= 0);
        Assert.False(string.IsNullOrEmpty(root.GetProperty("text").GetString()));
        Assert.Single(r.Stdout.Trim().Split('\n'));
    }

    [Fact]
    public void RunStreamsText()
    {
        var r = CliRunner.Run("run", "-n", "16", "-p", "import os\n");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.False(string.IsNullOrWhiteSpace(r.Stdout));
    }

    [Fact]
    public void InfoDescribesTheBundledModel()
    {
        var r = CliRunner.Run("info");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("llama", r.Stdout);
        Assert.Contains("6 layers", r.Stdout);
        Assert.Contains("blk.0.attn_q.weight", r.Stdout);
    }

    [Fact]
    public void TokenizeWorksOnAVocabularyOnlyFile()
    {
        var vocab = Path.Combine(TestPaths.Shared, "reference", "tokenizers", "vocab-llama-spm.gguf");
        var r = CliRunner.Run("tokenize", "-m", vocab, "-p", "Hello world", "--json", "--no-special");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.True(doc.RootElement.GetProperty("token_ids").GetArrayLength() > 0);
    }

    [Theory]
    [InlineData("run", "-m", "/nonexistent/model.gguf", "-p", "x")]
    [InlineData("info", "/nonexistent/model.gguf")]
    [InlineData("run", "-p", "def f(x):", "-n", "1000")]
    [InlineData("run", "-p", "def f(x):", "--top-p", "0")]
    [InlineData("run", "-p", "def f(x):", "--draft", "no-such-drafter")]
    public void UserMistakesPrintOneLineAndExitNonZero(params string[] args)
    {
        var r = CliRunner.Run(args);
        Assert.NotEqual(0, r.ExitCode);
        var lines = r.Stderr.Trim().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("error:", lines[0]);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public void TruncateKeepsTheLastPromptTokens()
    {
        var prompt = string.Concat(Enumerable.Repeat("x = 1\n", 200));
        var r = CliRunner.Run("run", "--json", "-p", prompt, "-n", "8", "--ctx", "64", "--truncate");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal(56, doc.RootElement.GetProperty("prompt_token_ids").GetArrayLength());
    }

    [Fact]
    public void AHostileFileIsAClearError()
    {
        var path = Path.Combine(Path.GetTempPath(), $"hunch-truncated-{Guid.NewGuid():N}.gguf");
        try
        {
            using (var src = File.OpenRead(TestPaths.BundledModel))
            using (var dst = File.Create(path))
            {
                var buf = new byte[100_000];
                int n = src.Read(buf, 0, buf.Length);
                dst.Write(buf, 0, n);
            }
            var r = CliRunner.Run("run", "-m", path, "-p", "x");
            Assert.NotEqual(0, r.ExitCode);
            Assert.StartsWith("error: GGUF", r.Stderr.Trim());
        }
        finally { File.Delete(path); }
    }
}
