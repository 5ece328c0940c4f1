using System.Globalization;
using System.Runtime.CompilerServices;
using Hunch.Models;

namespace Hunch.Speculative;

/// <summary>
/// Creates drafters by name, so the CLI, the server and the benchmarks share one registry. A spec is a name
/// optionally followed by options: <c>none</c>, <c>recycling</c>, <c>lookup</c>, <c>lookahead</c>, <c>jacobi</c>,
/// <c>auto</c> (the last three with their own options, see the Lookahead folder), e.g.
/// <c>recycling:tree=reference</c>, <c>recycling:tree=fixed,nodes=16</c>, <c>recycling:table=warm.bin</c>,
/// <c>lookup:ngram=3,min-ngram=1,length=10,branches=4</c>. Options in the spec override
/// <see cref="DrafterOptions"/> passed alongside.
/// </summary>
public static class DrafterFactory
{
    /// <summary>Names of the built-in drafters.</summary>
    public static IReadOnlyList<string> Names { get; } = ["none", "recycling", "lookup", "lookahead", "jacobi", "auto"];

    static readonly ConditionalWeakTable<TransformerModel, RecyclingTable> s_sharedTables = new();
    static readonly Dictionary<string, RecyclingTable> s_fileTables = [];
    static readonly Lock s_lock = new();

    /// <summary>
    /// Creates the drafter described by <paramref name="spec"/> for <paramref name="model"/>. Throws
    /// <see cref="ArgumentException"/> naming the valid choices for an unknown drafter or option, and
    /// <see cref="InvalidDataException"/> for an unreadable table file.
    /// </summary>
    public static IDrafter Create(string spec, TransformerModel model, DrafterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(model);
        if (Lookahead.LookaheadFactory.Handles(spec)) return Lookahead.LookaheadFactory.Create(spec, model, options);
        var (name, opts) = Parse(spec, options ?? new DrafterOptions());
        opts.Validate();
        switch (name)
        {
            case "none":
                return new NoDrafter();
            case "recycling":
                {
                    RecyclingTable? table = null;
                    string? saveTo = null;
                    if (opts.TableFile is { Length: > 0 } file)
                    {
                        table = FileTable(Path.GetFullPath(file), model.Config.VocabSize);
                        saveTo = Path.GetFullPath(file);
                    }
                    else if (opts.SharedTable)
                    {
                        lock (s_lock) table = s_sharedTables.GetValue(model, m => new RecyclingTable(m.Config.VocabSize));
                    }
                    return new TokenRecyclingDrafter(model, opts, table, saveTo);
                }
            case "lookup":
                return new PromptLookupDrafter(model, opts);
            default:
                throw new ArgumentException($"unknown drafter '{name}'; choose one of: {string.Join(", ", Names)}");
        }
    }

    static RecyclingTable FileTable(string path, int vocab)
    {
        lock (s_lock)
        {
            if (s_fileTables.TryGetValue(path, out var t))
            {
                if (t.VocabularySize != vocab) throw new InvalidDataException($"{path}: table is in use for a vocabulary of {t.VocabularySize} tokens, the model has {vocab}");
                return t;
            }
            t = File.Exists(path) ? RecyclingTable.Load(path, vocab) : new RecyclingTable(vocab);
            s_fileTables[path] = t;
            return t;
        }
    }

    /// <summary>Splits a spec into its drafter name and options (spec options override <paramref name="baseOptions"/>).</summary>
    public static (string Name, DrafterOptions Options) Parse(string spec, DrafterOptions baseOptions)
    {
        spec = spec.Trim();
        int colon = spec.IndexOf(':');
        string name = (colon < 0 ? spec : spec[..colon]).Trim().ToLowerInvariant();
        if (name.Length == 0) throw new ArgumentException($"empty drafter name; choose one of: {string.Join(", ", Names)}");
        if (!Names.Contains(name)) throw new ArgumentException($"unknown drafter '{name}'; choose one of: {string.Join(", ", Names)}");
        var o = baseOptions;
        if (colon < 0) return (name, o);
        foreach (var part in spec[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=');
            string key = (eq < 0 ? part : part[..eq]).Trim().ToLowerInvariant();
            string value = eq < 0 ? "true" : part[(eq + 1)..].Trim();
            o = key switch
            {
                "tree" => o with { Tree = ParseTree(value) },
                "nodes" or "tree-nodes" => o with { TreeNodes = Int(key, value) },
                "depth" or "max-depth" => o with { MaxDepth = Int(key, value) },
                "table" or "table-file" => o with { TableFile = value },
                "shared" => o with { SharedTable = Bool(key, value) },
                "seed-prefill" => o with { SeedFromPrefill = Bool(key, value) },
                "ngram" or "max-ngram" => o with { LookupMaxNgram = Int(key, value) },
                "min-ngram" => o with { LookupMinNgram = Int(key, value) },
                "length" or "len" => o with { LookupDraftLength = Int(key, value) },
                "branches" => o with { LookupBranches = Int(key, value) },
                _ => throw new ArgumentException($"unknown drafter option '{key}' in '{spec}'; known: tree, nodes, depth, table, shared, seed-prefill, ngram, min-ngram, length, branches"),
            };
        }
        return (name, o);
    }

    /// <summary>Parses a tree mode: auto, reference or fixed.</summary>
    public static DraftTreeMode ParseTree(string value) => value.Trim().ToLowerInvariant() switch
    {
        "auto" => DraftTreeMode.Auto,
        "reference" or "ref" => DraftTreeMode.Reference,
        "fixed" => DraftTreeMode.Fixed,
        _ => throw new ArgumentException($"unknown tree mode '{value}'; choose auto, reference or fixed"),
    };

    static int Int(string key, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new ArgumentException($"drafter option {key}={value}: not an integer");

    static bool Bool(string key, string value) => value.ToLowerInvariant() switch
    {
        "true" or "1" or "yes" => true,
        "false" or "0" or "no" => false,
        _ => throw new ArgumentException($"drafter option {key}={value}: expected true or false"),
    };
}
