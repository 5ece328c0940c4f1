using System.Globalization;
using Hunch.Models;
using Hunch.Speculative.Model;
using Hunch.Tokenization;
using Hunch.Training;

namespace Hunch.Speculative.Adapter;

/// <summary>
/// Parses <c>adapter:PATH[+eta=X][+depth=N]</c>: Kangaroo drafting with a trained adapter file (see
/// <see cref="KangarooAdapter"/>). <c>eta</c> is the confidence under which drafting stops (default 0.4, Kangaroo's
/// code default), <c>depth</c> the most drafts per step (default 6). Options follow '+' or ','.
/// </summary>
internal static class AdapterDrafterFactory
{
    public const string Prefix = "adapter:";

    public static IDrafter Create(string spec, TransformerModel target, ITokenizer tokenizer)
    {
        var parts = spec[Prefix.Length..].Split('+', ',');
        string path = parts[0];
        if (path.Length == 0) throw new ArgumentException("adapter: needs a path to an adapter file (adapter:PATH)");
        float eta = 0.4f;
        int depth = 6;
        foreach (var option in parts.AsSpan(1))
        {
            int eq = option.IndexOf('=');
            string key = eq < 0 ? option : option[..eq], value = eq < 0 ? "" : option[(eq + 1)..];
            switch (key)
            {
                case "eta":
                    if (!float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out eta) || !(eta >= 0 && eta < 1))
                        throw new ArgumentException($"eta needs a number in [0, 1), got '{value}'");
                    break;
                case "depth":
                    if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out depth) || depth < 1 || depth > 64)
                        throw new ArgumentException($"depth needs an integer in 1..64, got '{value}'");
                    break;
                default: throw new ArgumentException($"unknown option '{option}' in drafter spec '{spec}' (options: eta=X, depth=N)");
            }
        }
        var adapter = KangarooAdapter.Load(path, target, tokenizer);
        // A chain of fixed maximum length; the confidence stop is Kangaroo's, so the calibrated survival stop is off.
        var shape = new DraftShape { MaxDepth = depth, Width = 1, Threshold = 0, AdaptiveLength = false };
        return new AdapterDrafter(target, adapter, shape, eta, $"adapter:L{adapter.Layer}");
    }
}
