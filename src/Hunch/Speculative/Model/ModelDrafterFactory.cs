using System.Globalization;
using Hunch.Gguf;
using Hunch.Models;
using Hunch.Speculative.Self;

namespace Hunch.Speculative.Model;

/// <summary>
/// Creates the model-based drafters from command-line style specs:
/// <list type="bullet">
/// <item><c>model:PATH</c> — a draft model drafting a chain; options after '+' or ',': <c>tree</c> (top-3 siblings per
/// depth) or <c>width=K</c>, <c>depth=D</c> (length cap), <c>threshold=X</c> (confidence stop), <c>fixed</c> (no
/// adaptive length); <c>rsd</c> or <c>branch=3-2-2-1</c> (RSD-C tree, siblings without replacement);
/// <c>beam=W</c> with <c>depth=D</c> (RSD-S stochastic beam search).</item>
/// <item><c>self:skip</c> — the target skipping sub-layers (skip set searched online), <c>self:exit</c> or
/// <c>self:exit:LAYER</c> — early exit; options <c>depth</c>, <c>width</c>, <c>threshold</c>, <c>fixed</c>, and
/// <c>search=off</c> (keep the first plan: no online search, no switch-off).</item>
/// </list>
/// The draft model's vocabulary is checked against the target's first (<see cref="DraftCompatibility"/>).
/// </summary>
public static class ModelDrafterFactory
{
    // '+' survives comma-separated method lists (hunch bench --methods); ',' reads better on its own.
    static readonly char[] OptionSeparators = ['+', ','];

    /// <summary>True when <paramref name="spec"/> names one of these drafters.</summary>
    public static bool Handles(string spec) =>
        spec.StartsWith("model:", StringComparison.Ordinal) || spec.StartsWith("self:", StringComparison.Ordinal) || spec == "self";

    /// <summary>Creates the drafter a spec names, for <paramref name="target"/>. Throws <see cref="ArgumentException"/>
    /// for a malformed spec, <see cref="DraftModelIncompatibleException"/> for a draft with another vocabulary, and
    /// the loader's exceptions for an unreadable draft file.</summary>
    public static IDrafter Create(string spec, TransformerModel target)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(target);
        if (spec.StartsWith("model:", StringComparison.Ordinal)) return CreateModel(spec["model:".Length..], target, spec);
        if (spec == "self" || spec.StartsWith("self:", StringComparison.Ordinal)) return CreateSelf(spec.Length > 5 ? spec[5..] : "skip", target);
        throw new ArgumentException($"unknown drafter '{spec}' (model-based drafters: model:PATH, self:skip, self:exit[:LAYER])");
    }

    static IDrafter CreateModel(string rest, TransformerModel target, string spec)
    {
        var parts = rest.Split(OptionSeparators);
        string path = parts[0];
        if (path.Length == 0) throw new ArgumentException("model: needs a path to a draft GGUF file (model:PATH)");
        var shape = new DraftShape();
        int[]? branching = null;
        int beam = 0, depth = 0;
        foreach (var option in parts.AsSpan(1))
        {
            var (key, value) = SplitOption(option);
            switch (key)
            {
                case "tree": shape = shape with { Width = value is null ? 3 : ParseInt(key, value, 1, 16) }; break;
                case "chain": shape = shape with { Width = 1 }; break;
                case "rsd": branching = value is null ? [2, 2, 1, 1] : ParseBranching(value); break;
                case "branch": branching = ParseBranching(value ?? throw new ArgumentException("branch needs factors, e.g. branch=3-2-2-1")); break;
                case "beam": beam = ParseInt(key, value, 1, 16); break;
                default:
                    if (!ApplyShapeOption(ref shape, ref depth, key, value))
                        throw new ArgumentException($"unknown option '{option}' in drafter spec '{spec}'");
                    break;
            }
        }
        if (depth > 0) shape = shape with { MaxDepth = depth };

        using (var draftFile = GgufFile.Open(path))
            DraftCompatibility.Compare(target.File, draftFile).ThrowIfIncompatible(path);
        var draft = TransformerModel.Load(path, target.Pool);
        try
        {
            string name = "model:" + Path.GetFileNameWithoutExtension(path);
            if (beam > 0)
                return new RsdDrafter(target, draft, true, new RsdShape { BeamWidth = beam, BeamDepth = depth > 0 ? depth : 5 }, name + ",beam=" + beam);
            if (branching is not null)
                return new RsdDrafter(target, draft, true, new RsdShape { Branching = branching }, name + ",rsd");
            return new DraftModelDrafter(target, draft, true, shape, shape.Width > 1 ? name + ",tree" : name);
        }
        catch
        {
            draft.Dispose();
            throw;
        }
    }

    static IDrafter CreateSelf(string rest, TransformerModel target)
    {
        var parts = rest.Split(OptionSeparators);
        var head = parts[0].Split(':');
        var shape = new DraftShape { Threshold = 0.3 };
        int depth = 0;
        bool search = true;
        foreach (var option in parts.AsSpan(1))
        {
            var (key, value) = SplitOption(option);
            if (key == "tree") { shape = shape with { Width = value is null ? 3 : ParseInt(key, value, 1, 16) }; continue; }
            if (key == "search")
            {
                search = value switch { null or "on" => true, "off" => false, _ => throw new ArgumentException($"search must be on or off, got '{value}'") };
                continue;
            }
            if (!ApplyShapeOption(ref shape, ref depth, key, value))
                throw new ArgumentException($"unknown option '{option}' in drafter spec 'self:{rest}'");
        }
        if (depth > 0) shape = shape with { MaxDepth = depth };
        switch (head[0])
        {
            case "skip" when head.Length == 1:
                return new SelfDrafter(target, SelfDraftMode.SkipLayers, 0, shape, search);
            case "exit" when head.Length <= 2:
                int layer = head.Length == 2 ? ParseInt("exit layer", head[1], 1, 1 << 20) : 0;
                return new SelfDrafter(target, SelfDraftMode.EarlyExit, layer, shape, search);
            default:
                throw new ArgumentException($"unknown self-speculation mode 'self:{parts[0]}' (use self:skip, self:exit or self:exit:LAYER)");
        }
    }

    static bool ApplyShapeOption(ref DraftShape shape, ref int depth, string key, string? value)
    {
        switch (key)
        {
            case "depth": depth = ParseInt(key, value, 1, 64); return true;
            case "width": shape = shape with { Width = ParseInt(key, value, 1, 16) }; return true;
            case "threshold":
                if (value is null || !double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var t) || !(t >= 0 && t < 1))
                    throw new ArgumentException($"threshold needs a number in [0, 1), got '{value}'");
                shape = shape with { Threshold = t };
                return true;
            case "fixed": shape = shape with { AdaptiveLength = false }; return true;
            default: return false;
        }
    }

    static (string Key, string? Value) SplitOption(string option)
    {
        int eq = option.IndexOf('=');
        return eq < 0 ? (option.Trim(), null) : (option[..eq].Trim(), option[(eq + 1)..].Trim());
    }

    static int ParseInt(string key, string? value, int min, int max)
    {
        if (value is null || !int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
            throw new ArgumentException($"{key} needs an integer in {min}..{max}, got '{value}'");
        return v;
    }

    static int[] ParseBranching(string value)
    {
        var items = value.Split('-');
        if (items.Length > 32) throw new ArgumentException("branch lists at most 32 depths");
        var result = new int[items.Length];
        for (int i = 0; i < items.Length; i++) result[i] = ParseInt("branch factor", items[i], 1, 16);
        return result;
    }
}
