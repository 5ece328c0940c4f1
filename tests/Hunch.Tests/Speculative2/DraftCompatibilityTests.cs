using Hunch.Gguf;
using Hunch.Speculative.Model;

namespace Hunch.Tests.Speculative2;

/// <summary>The draft vocabulary check (llama.cpp's rules) on the real draft and on edited copies of its metadata.</summary>
[Collection("Speculative2")]
public class DraftCompatibilityTests(ModelPair pair)
{
    [Fact]
    public void BundledDraftIsCompatibleWithTheBundledModel()
    {
        using var draft = GgufFile.Open(ModelPair.DraftPath);
        var report = DraftCompatibility.Compare(pair.Target.File, draft);
        Assert.True(report.Compatible, report.Describe());
        Assert.Equal(-1, report.FirstDifferentToken);
        Assert.Equal(report.VocabularySize.Target, report.VocabularySize.Draft);
        Assert.Equal(pair.Target.Config.VocabSize, report.VocabularySize.Target);
        Assert.Contains("compatible", report.Describe());
    }

    [Fact]
    public void ChangedTokenTextIsReportedWithItsId()
    {
        string path = EditedDraft(tokens: t => { t[777] = t[777] + "_x"; t[900] = "zz"; });
        try
        {
            using var draft = GgufFile.Open(path);
            var report = DraftCompatibility.Compare(pair.Target.File, draft);
            Assert.False(report.Compatible);
            Assert.Equal(777, report.FirstDifferentToken);
            Assert.Equal(2, report.DifferentTokenCount);
            var e = Assert.Throws<DraftModelIncompatibleException>(() => ModelDrafterFactory.Create("model:" + path, pair.Target));
            Assert.Contains("token 777 differs", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TokensBelowFiveAreNotComparedButSpecialIdsAre()
    {
        string path = EditedDraft(tokens: t => t[3] = "<changed>");
        string path2 = EditedDraft(set: w => w.SetMetadata("tokenizer.ggml.eos_token_id", GgufValue.From(5u)));
        try
        {
            using (var draft = GgufFile.Open(path))
                Assert.True(DraftCompatibility.Compare(pair.Target.File, draft).Compatible);
            using var draft2 = GgufFile.Open(path2);
            var report = DraftCompatibility.Compare(pair.Target.File, draft2);
            Assert.False(report.Compatible);
            Assert.Contains(report.Problems, p => p.Contains("special tokens differ"));
        }
        finally { File.Delete(path); File.Delete(path2); }
    }

    [Fact]
    public void VocabularySizeDifferenceOver128IsRejectedAndUpTo128Allowed()
    {
        string small = EditedDraft(tokens: null, resize: -100);
        string tiny = EditedDraft(tokens: null, resize: -129);
        try
        {
            using (var a = GgufFile.Open(small))
            {
                var r = DraftCompatibility.Compare(pair.Target.File, a);
                Assert.True(r.Compatible, r.Describe());
                Assert.Contains(r.Notes, n => n.Contains("differ by 100"));
            }
            using var b = GgufFile.Open(tiny);
            Assert.Contains(DraftCompatibility.Compare(pair.Target.File, b).Problems, p => p.Contains("differ by 129"));
        }
        finally { File.Delete(small); File.Delete(tiny); }
    }

    [Fact]
    public void TokenizerTypeAndTemplateDifferencesAreReported()
    {
        string path = EditedDraft(set: w =>
        {
            w.SetMetadata("tokenizer.ggml.model", GgufValue.From("gpt2"));
            w.SetMetadata("tokenizer.chat_template", GgufValue.From("{{ messages }}"));
            w.SetMetadata("tokenizer.ggml.pre", GgufValue.From("qwen2"));
        });
        try
        {
            using var draft = GgufFile.Open(path);
            var r = DraftCompatibility.Compare(pair.Target.File, draft);
            Assert.Contains(r.Problems, p => p.Contains("tokenizer types differ"));
            Assert.False(r.SameChatTemplate);
            Assert.Contains(r.Notes, n => n.Contains("pre-tokenizers differ"));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void MalformedSpecsGiveClearErrors()
    {
        Assert.Throws<ArgumentException>(() => ModelDrafterFactory.Create("model:", pair.Target));
        Assert.Throws<ArgumentException>(() => ModelDrafterFactory.Create("model:" + ModelPair.DraftPath + ",width=99", pair.Target));
        Assert.Throws<ArgumentException>(() => ModelDrafterFactory.Create("model:" + ModelPair.DraftPath + ",bogus", pair.Target));
        Assert.Throws<ArgumentException>(() => ModelDrafterFactory.Create("self:exit:6", pair.Target));
        Assert.Throws<ArgumentException>(() => ModelDrafterFactory.Create("self:jump", pair.Target));
        Assert.Throws<FileNotFoundException>(() => ModelDrafterFactory.Create("model:/nonexistent/draft.gguf", pair.Target));
    }

    /// <summary>Writes a metadata-only copy of the draft (the check reads metadata only) with edits.</summary>
    static string EditedDraft(Action<string[]>? tokens = null, Action<GgufWriter>? set = null, int resize = 0)
    {
        using var src = GgufFile.Open(ModelPair.DraftPath);
        var w = new GgufWriter();
        foreach (var key in src.MetadataKeys) w.SetMetadata(key, src.Metadata[key]);
        if (tokens is not null || resize != 0)
        {
            var t = (string[])src.GetArray<string>("tokenizer.ggml.tokens")!.Clone();
            tokens?.Invoke(t);
            if (resize != 0) Array.Resize(ref t, t.Length + resize);
            w.SetMetadata("tokenizer.ggml.tokens", GgufValue.From(t));
            foreach (var key in new[] { "tokenizer.ggml.scores", "tokenizer.ggml.token_type" }) w.RemoveMetadata(key);
        }
        set?.Invoke(w);
        string path = Path.Combine(Path.GetTempPath(), $"hunch-draft-{Guid.NewGuid():N}.gguf");
        w.Write(path);
        return path;
    }
}
