namespace Hunch.Sampling;

/// <summary>How the next token is chosen from the model's logits. The transforms run in this order:
/// penalties (over the last <see cref="PenaltyLastN"/> tokens of the token's own history), temperature,
/// top-k, top-p, min-p, then one uniform draw. Temperature 0 means greedy (argmax after penalties).</summary>
public sealed record SamplingOptions
{
    /// <summary>Temperature; 0 or less selects greedy decoding.</summary>
    public float Temperature { get; init; }
    /// <summary>Keep only the K most likely tokens (0 = off).</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set of most likely tokens whose probability reaches P (1 = off).</summary>
    public float TopP { get; init; } = 1f;
    /// <summary>Drop tokens less likely than MinP times the most likely one (0 = off).</summary>
    public float MinP { get; init; }
    /// <summary>Repetition penalty as in llama.cpp: positive logits divided by it, negative ones multiplied (1 = off).</summary>
    public float RepeatPenalty { get; init; } = 1f;
    /// <summary>Subtracted once from the logit of every token present in the window (0 = off).</summary>
    public float PresencePenalty { get; init; }
    /// <summary>Subtracted per occurrence in the window (0 = off).</summary>
    public float FrequencyPenalty { get; init; }
    /// <summary>How many of the latest tokens the penalties look at.</summary>
    public int PenaltyLastN { get; init; } = 64;
    /// <summary>Seed of the sampling random stream.</summary>
    public ulong Seed { get; init; }

    /// <summary>Greedy decoding.</summary>
    public static SamplingOptions Greedy { get; } = new();

    /// <summary>True when no randomness is involved.</summary>
    public bool IsGreedy => Temperature <= 0f;

    /// <summary>True when any penalty is active.</summary>
    public bool HasPenalties => RepeatPenalty != 1f || PresencePenalty != 0f || FrequencyPenalty != 0f;

    /// <summary>Throws <see cref="ArgumentException"/> with a clear message when a value is out of range.</summary>
    public void Validate()
    {
        if (float.IsNaN(Temperature) || Temperature > 100) throw new ArgumentException($"temperature {Temperature} is out of range (0..100)");
        if (TopK < 0) throw new ArgumentException($"top-k {TopK} must be 0 (off) or positive");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top-p {TopP} must be in (0, 1]");
        if (!(MinP >= 0 && MinP <= 1)) throw new ArgumentException($"min-p {MinP} must be in [0, 1]");
        if (!(RepeatPenalty > 0 && RepeatPenalty < 100)) throw new ArgumentException($"repeat penalty {RepeatPenalty} must be positive");
        if (float.IsNaN(PresencePenalty) || Math.Abs(PresencePenalty) > 100) throw new ArgumentException($"presence penalty {PresencePenalty} is out of range");
        if (float.IsNaN(FrequencyPenalty) || Math.Abs(FrequencyPenalty) > 100) throw new ArgumentException($"frequency penalty {FrequencyPenalty} is out of range");
        if (PenaltyLastN < 0) throw new ArgumentException($"penalty window {PenaltyLastN} must not be negative");
    }
}
