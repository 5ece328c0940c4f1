using Hunch.Gguf;

namespace Hunch.Speculative.Model;

/// <summary>A draft model cannot draft for a target: their vocabularies differ.</summary>
public sealed class DraftModelIncompatibleException(string message) : InvalidOperationException(message);

/// <summary>
/// How a draft model's vocabulary compares with a target's, by llama.cpp's rules for speculative decoding: same
/// tokenizer type, same BOS/EOS ids and add-BOS/add-EOS flags, vocabulary sizes within
/// <see cref="MaxVocabularySizeDifference"/>, and identical token texts from id <see cref="FirstCheckedToken"/> on
/// (over the shorter vocabulary). Pre-tokenizer and chat template differences are reported but do not block
/// drafting: token ids are what the draft consumes.
/// </summary>
public sealed class DraftCompatibility
{
    /// <summary>Largest allowed difference of vocabulary sizes (llama.cpp: SPEC_VOCAB_MAX_SIZE_DIFFERENCE).</summary>
    public const int MaxVocabularySizeDifference = 128;
    /// <summary>First token id whose text is compared (llama.cpp: SPEC_VOCAB_CHECK_START_TOKEN_ID).</summary>
    public const int FirstCheckedToken = 5;

    /// <summary>Tokenizer model of the target and the draft (<c>tokenizer.ggml.model</c>).</summary>
    public required (string? Target, string? Draft) TokenizerModel { get; init; }
    /// <summary>Pre-tokenizer names (<c>tokenizer.ggml.pre</c>).</summary>
    public required (string? Target, string? Draft) PreTokenizer { get; init; }
    /// <summary>Vocabulary sizes (length of <c>tokenizer.ggml.tokens</c>).</summary>
    public required (int Target, int Draft) VocabularySize { get; init; }
    /// <summary>BOS ids (-1 when absent).</summary>
    public required (long Target, long Draft) Bos { get; init; }
    /// <summary>EOS ids (-1 when absent).</summary>
    public required (long Target, long Draft) Eos { get; init; }
    /// <summary>Add-BOS flags.</summary>
    public required (bool Target, bool Draft) AddBos { get; init; }
    /// <summary>Add-EOS flags.</summary>
    public required (bool Target, bool Draft) AddEos { get; init; }
    /// <summary>Whether the chat templates are equal (both absent counts as equal).</summary>
    public required bool SameChatTemplate { get; init; }
    /// <summary>First token id (from <see cref="FirstCheckedToken"/>) whose text differs, or -1.</summary>
    public required int FirstDifferentToken { get; init; }
    /// <summary>The texts of <see cref="FirstDifferentToken"/> in the target and the draft.</summary>
    public (string? Target, string? Draft) FirstDifferentTexts { get; init; }
    /// <summary>Token ids whose texts differ, counted over the shared range.</summary>
    public required int DifferentTokenCount { get; init; }
    /// <summary>Reasons the draft cannot be used (empty when compatible).</summary>
    public required IReadOnlyList<string> Problems { get; init; }
    /// <summary>Differences that do not block drafting.</summary>
    public required IReadOnlyList<string> Notes { get; init; }

    /// <summary>True when the draft may draft for the target.</summary>
    public bool Compatible => Problems.Count == 0;

    /// <summary>Compares two models' vocabularies from their GGUF metadata.</summary>
    public static DraftCompatibility Compare(GgufFile target, GgufFile draft)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(draft);
        var problems = new List<string>();
        var notes = new List<string>();
        string? tm = target.GetString("tokenizer.ggml.model"), dm = draft.GetString("tokenizer.ggml.model");
        string? tp = target.GetString("tokenizer.ggml.pre"), dp = draft.GetString("tokenizer.ggml.pre");
        var tt = target.GetArray<string>("tokenizer.ggml.tokens");
        var dt = draft.GetArray<string>("tokenizer.ggml.tokens");
        long tb = target.GetInt("tokenizer.ggml.bos_token_id", -1), db = draft.GetInt("tokenizer.ggml.bos_token_id", -1);
        long te = target.GetInt("tokenizer.ggml.eos_token_id", -1), de = draft.GetInt("tokenizer.ggml.eos_token_id", -1);
        // llama.cpp's defaults when the flags are absent: SentencePiece adds BOS, the others do not.
        bool tab = target.GetBool("tokenizer.ggml.add_bos_token", tm == "llama"), dab = draft.GetBool("tokenizer.ggml.add_bos_token", dm == "llama");
        bool tae = target.GetBool("tokenizer.ggml.add_eos_token", false), dae = draft.GetBool("tokenizer.ggml.add_eos_token", false);
        string? tc = target.GetString("tokenizer.chat_template"), dc = draft.GetString("tokenizer.chat_template");

        if (tt is null) problems.Add("the target has no vocabulary (tokenizer.ggml.tokens)");
        if (dt is null) problems.Add("the draft has no vocabulary (tokenizer.ggml.tokens)");
        if (tm != dm) problems.Add($"tokenizer types differ: target '{tm ?? "(none)"}', draft '{dm ?? "(none)"}'");
        if (tab != dab || tae != dae || tb != db || te != de)
            problems.Add($"special tokens differ: target BOS {tb} (add {tab}) EOS {te} (add {tae}), draft BOS {db} (add {dab}) EOS {de} (add {dae})");
        int tn = tt?.Length ?? 0, dn = dt?.Length ?? 0;
        if (Math.Abs(tn - dn) > MaxVocabularySizeDifference)
            problems.Add($"vocabulary sizes differ by {Math.Abs(tn - dn)} (target {tn}, draft {dn}; at most {MaxVocabularySizeDifference} allowed)");
        else if (tn != dn) notes.Add($"vocabulary sizes differ by {Math.Abs(tn - dn)} (target {tn}, draft {dn})");

        int first = -1, differing = 0;
        (string?, string?) firstTexts = default;
        if (tt is not null && dt is not null)
        {
            int shared = Math.Min(tt.Length, dt.Length);
            for (int i = FirstCheckedToken; i < shared; i++)
            {
                if (string.Equals(tt[i], dt[i], StringComparison.Ordinal)) continue;
                differing++;
                if (first < 0) { first = i; firstTexts = (tt[i], dt[i]); }
            }
            if (first >= 0)
                problems.Add($"token {first} differs: target '{tt[first]}', draft '{dt[first]}' ({differing} differing token texts from id {FirstCheckedToken})");
        }
        if (tp != dp) notes.Add($"pre-tokenizers differ: target '{tp ?? "(none)"}', draft '{dp ?? "(none)"}'");
        bool sameTemplate = string.Equals(tc, dc, StringComparison.Ordinal);
        if (!sameTemplate) notes.Add(tc is null || dc is null ? $"only the {(tc is null ? "draft" : "target")} has a chat template" : "chat templates differ");

        return new DraftCompatibility
        {
            TokenizerModel = (tm, dm),
            PreTokenizer = (tp, dp),
            VocabularySize = (tn, dn),
            Bos = (tb, db),
            Eos = (te, de),
            AddBos = (tab, dab),
            AddEos = (tae, dae),
            SameChatTemplate = sameTemplate,
            FirstDifferentToken = first,
            FirstDifferentTexts = firstTexts,
            DifferentTokenCount = differing,
            Problems = problems,
            Notes = notes,
        };
    }

    /// <summary>Throws <see cref="DraftModelIncompatibleException"/> listing every problem when incompatible.</summary>
    public void ThrowIfIncompatible(string draftName)
    {
        if (Compatible) return;
        throw new DraftModelIncompatibleException($"draft model '{draftName}' cannot draft for this target: {string.Join("; ", Problems)}");
    }

    /// <summary>A human-readable report, one fact per line.</summary>
    public string Describe()
    {
        var w = new System.Text.StringBuilder();
        w.AppendLine($"tokenizer:       target {TokenizerModel.Target ?? "(none)"}, draft {TokenizerModel.Draft ?? "(none)"}");
        w.AppendLine($"pre-tokenizer:   target {PreTokenizer.Target ?? "(none)"}, draft {PreTokenizer.Draft ?? "(none)"}");
        w.AppendLine($"vocabulary size: target {VocabularySize.Target}, draft {VocabularySize.Draft}");
        w.AppendLine($"BOS:             target {Bos.Target} (add {AddBos.Target}), draft {Bos.Draft} (add {AddBos.Draft})");
        w.AppendLine($"EOS:             target {Eos.Target} (add {AddEos.Target}), draft {Eos.Draft} (add {AddEos.Draft})");
        w.AppendLine($"chat template:   {(SameChatTemplate ? "same" : "different")}");
        w.AppendLine(FirstDifferentToken < 0
            ? $"token texts:     identical from id {FirstCheckedToken} over the shared range"
            : $"token texts:     {DifferentTokenCount} differ; first at id {FirstDifferentToken}: target '{FirstDifferentTexts.Target}', draft '{FirstDifferentTexts.Draft}'");
        foreach (var n in Notes) w.AppendLine($"note:            {n}");
        foreach (var p in Problems) w.AppendLine($"problem:         {p}");
        w.AppendLine(Compatible ? "result:          compatible" : "result:          INCOMPATIBLE");
        return w.ToString();
    }
}
