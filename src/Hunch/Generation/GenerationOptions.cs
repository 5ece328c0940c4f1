using Hunch.Sampling;

namespace Hunch.Generation;

/// <summary>Options of one generation request.</summary>
public sealed record GenerationOptions
{
    /// <summary>Most tokens to generate.</summary>
    public int MaxTokens { get; init; } = 128;
    /// <summary>How tokens are chosen.</summary>
    public SamplingOptions Sampling { get; init; } = SamplingOptions.Greedy;
    /// <summary>Stop at an end-of-generation token (it is not emitted).</summary>
    public bool StopAtEndOfGeneration { get; init; } = true;
    /// <summary>Context size in tokens (0: the model's context length).</summary>
    public int ContextSize { get; init; }
    /// <summary>When prompt plus <see cref="MaxTokens"/> exceeds the context: keep the last prompt tokens instead of failing.</summary>
    public bool TruncatePrompt { get; init; }
    /// <summary>Most nodes in a draft tree, root included.</summary>
    public int MaxDraftNodes { get; init; } = 128;
    /// <summary>Rows per prefill forward.</summary>
    public int PrefillChunk { get; init; } = 64;
    /// <summary>Constrained decoding (grammar, JSON schema): prunes drafts and masks logits at every tree node.
    /// Stateful: reset by each request, so one request at a time per constraint object.</summary>
    public Hunch.Grammar.ITokenConstraint? Constraint { get; init; }
}

/// <summary>Why generation ended.</summary>
public enum FinishReason
{
    /// <summary>The token budget was reached.</summary>
    Length,
    /// <summary>The model produced an end-of-generation token, or the caller asked to stop.</summary>
    Stop,
    /// <summary>Cancelled through the cancellation token.</summary>
    Cancelled,
}

/// <summary>Measurements of one request.</summary>
public sealed class GenerationStats
{
    /// <summary>Tokens in the prompt (after truncation).</summary>
    public int PromptTokens { get; set; }
    /// <summary>Tokens generated.</summary>
    public int GeneratedTokens { get; set; }
    /// <summary>Prompt processing time.</summary>
    public double PrefillMs { get; set; }
    /// <summary>Generation time after the prompt.</summary>
    public double DecodeMs { get; set; }
    /// <summary>Forward passes during generation (speculative steps).</summary>
    public int Steps { get; set; }
    /// <summary>Draft nodes proposed (root excluded).</summary>
    public long DraftedTokens { get; set; }
    /// <summary>Draft tokens accepted.</summary>
    public long AcceptedTokens { get; set; }
    /// <summary>Rows scored by the target (roots plus draft nodes).</summary>
    public long ScoredTokens { get; set; }
    /// <summary>How many steps accepted 0, 1, 2, ... draft tokens.</summary>
    public int[] AcceptHistogram { get; set; } = new int[1];
    /// <summary>Time spent drafting.</summary>
    public double DraftMs { get; set; }
    /// <summary>Time spent in target forwards during generation.</summary>
    public double ForwardMs { get; set; }
    /// <summary>Time spent verifying, committing and letting the drafter observe.</summary>
    public double VerifyMs { get; set; }
    /// <summary>The drafter's name.</summary>
    public string Drafter { get; set; } = "none";

    /// <summary>Tokens emitted per step (accepted drafts plus the extra token), as Spec-Bench counts MAT.</summary>
    public double MeanAccepted => Steps == 0 ? 0 : (double)GeneratedTokens / Steps;
    /// <summary>Target rows scored per emitted token.</summary>
    public double ScoredPerToken => GeneratedTokens == 0 ? 0 : (double)ScoredTokens / GeneratedTokens;
    /// <summary>Generated tokens per second of decode time.</summary>
    public double DecodeTokensPerSecond => DecodeMs <= 0 ? 0 : GeneratedTokens * 1000.0 / DecodeMs;

    internal void CountAccepted(int accepted)
    {
        if (accepted >= AcceptHistogram.Length)
        {
            var h = AcceptHistogram;
            Array.Resize(ref h, accepted + 1);
            AcceptHistogram = h;
        }
        AcceptHistogram[accepted]++;
    }
}

/// <summary>The outcome of one request.</summary>
public sealed class GenerationResult
{
    /// <summary>The prompt's tokens (after truncation).</summary>
    public required int[] PromptTokens { get; init; }
    /// <summary>Generated tokens (an end-of-generation token is not included).</summary>
    public required int[] Tokens { get; init; }
    /// <summary>Why generation ended.</summary>
    public required FinishReason FinishReason { get; init; }
    /// <summary>Measurements.</summary>
    public required GenerationStats Stats { get; init; }
}
