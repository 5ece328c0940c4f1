using System.Globalization;
using System.Runtime.CompilerServices;
using Hunch.Models;
using Hunch.Speculative.Auto;
using Hunch.Tokenization;

namespace Hunch.Speculative.Lookahead;

/// <summary>
/// Specs of the lookahead family, reached through <see cref="DrafterFactory"/>:
/// <c>lookahead[:ngram=3,depth=8,nodes=48,branches=4,corpus=PATH,tree=auto|fixed]</c>,
/// <c>jacobi[:ngram=4,window=6,pool=6,depth=8,nodes=48,tree=auto|fixed]</c> and
/// <c>auto[:nodes=48,sources=recycling+lookup+lookahead+jacobi,tree=auto|fixed]</c>.
/// </summary>
internal static class LookaheadFactory
{
    public static readonly string[] Names = ["lookahead", "jacobi", "auto"];
    public static readonly string[] DefaultAutoSources = ["recycling", "lookahead"];
    const long MaxCorpusBytes = 64L << 20;
    const int CorpusTrieCapacity = 1 << 22;

    static readonly ConditionalWeakTable<TransformerModel, Dictionary<string, NgramTrie>> s_corpora = new();
    static readonly Lock s_lock = new();

    public static bool Handles(string spec)
    {
        string name = NameOf(spec);
        return Array.IndexOf(Names, name) >= 0;
    }

    static string NameOf(string spec)
    {
        spec = spec.Trim();
        int colon = spec.IndexOf(':');
        return (colon < 0 ? spec : spec[..colon]).Trim().ToLowerInvariant();
    }

    /// <summary>Creates the drafter; <paramref name="baseOptions"/> supplies the node cap (TreeNodes) and tree mode.</summary>
    public static IDrafter Create(string spec, TransformerModel model, DrafterOptions? baseOptions)
    {
        string name = NameOf(spec);
        var o = new LookaheadOptions { Ngram = name == "jacobi" ? 4 : 3 };
        if (baseOptions is { TreeNodes: > 0 }) o = o with { Nodes = Math.Min(baseOptions.TreeNodes, 256) };
        if (baseOptions is { Tree: DraftTreeMode.Fixed }) o = o with { CostSized = false };
        string[] sources = DefaultAutoSources;
        int colon = spec.IndexOf(':');
        if (colon >= 0)
        {
            foreach (var part in spec[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                int eq = part.IndexOf('=');
                string key = (eq < 0 ? part : part[..eq]).Trim().ToLowerInvariant();
                string value = eq < 0 ? "" : part[(eq + 1)..].Trim();
                o = key switch
                {
                    "nodes" or "tree-nodes" => o with { Nodes = Int(key, value) },
                    "depth" or "max-depth" => o with { Depth = Int(key, value) },
                    "ngram" => o with { Ngram = Int(key, value) },
                    "branches" => o with { Branches = Int(key, value) },
                    "window" => o with { Window = Int(key, value) },
                    "pool" => o with { Pool = Int(key, value) },
                    "corpus" when name == "lookahead" => o with { Corpus = value.Length > 0 ? value : throw new ArgumentException("corpus= needs a file path") },
                    "tree" => o with { CostSized = DrafterFactory.ParseTree(value) switch
                    {
                        DraftTreeMode.Auto => true,
                        DraftTreeMode.Fixed => false,
                        _ => throw new ArgumentException($"{name} takes tree=auto or tree=fixed"),
                    } },
                    "sources" when name == "auto" => o with { },
                    _ => throw new ArgumentException($"unknown {name} option '{key}' in '{spec}'; known: {Known(name)}"),
                };
                if (key == "sources") sources = ParseSources(value);
            }
        }
        o.Validate();
        var curve = o.CostSized ? ForwardCostCurve.Measure(model) : null;
        int vocab = model.Config.VocabSize;
        switch (name)
        {
            case "lookahead":
                return new LookaheadDrafter(vocab, o, curve, o.Corpus is null ? null : Corpus(model, o));
            case "jacobi":
                return new JacobiDrafter(vocab, o, curve);
            default:
                {
                    var list = new List<IDrafter>();
                    try
                    {
                        var fixedSource = new DrafterOptions { Tree = DraftTreeMode.Fixed, TreeNodes = 33, MaxDepth = o.Depth };
                        var sourceOptions = o with { CostSized = false, Nodes = 33 };
                        foreach (var s in sources)
                            list.Add(s switch
                            {
                                "recycling" => new TokenRecyclingDrafter(model, fixedSource),
                                "lookup" => new PromptLookupDrafter(model, fixedSource),
                                "lookahead" => new LookaheadDrafter(vocab, sourceOptions with { Ngram = 3 }, null, null),
                                _ => new JacobiDrafter(vocab, sourceOptions with { Ngram = 4 }, null),
                            });
                        return new AutoDrafter(model.Config, list, curve, o.Nodes);
                    }
                    catch
                    {
                        foreach (var d in list) d.Dispose();
                        throw;
                    }
                }
        }
    }

    static string Known(string name) => name switch
    {
        "lookahead" => "nodes, depth, ngram, branches, corpus, tree",
        "jacobi" => "nodes, depth, ngram, window, pool, tree",
        _ => "nodes, depth, sources, tree",
    };

    static string[] ParseSources(string value)
    {
        var names = value.Split(['+', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string[] allowed = ["recycling", "lookup", "lookahead", "jacobi"];
        if (names.Length == 0) throw new ArgumentException($"auto sources= is empty; choose from {string.Join("+", allowed)}");
        for (int i = 0; i < names.Length; i++)
        {
            names[i] = names[i].ToLowerInvariant();
            if (Array.IndexOf(allowed, names[i]) < 0) throw new ArgumentException($"unknown auto source '{names[i]}'; choose from {string.Join("+", allowed)}");
        }
        return names.Distinct().ToArray();
    }

    // The corpus trie is built once per model and file and shared by every drafter reading it (read-only).
    static NgramTrie Corpus(TransformerModel model, LookaheadOptions o)
    {
        string path = Path.GetFullPath(o.Corpus!);
        lock (s_lock)
        {
            var byPath = s_corpora.GetValue(model, _ => []);
            string key = path + "|" + (o.Ngram + o.Depth).ToString(CultureInfo.InvariantCulture);
            if (byPath.TryGetValue(key, out var trie)) return trie;
            var info = new FileInfo(path);
            if (!info.Exists) throw new FileNotFoundException($"lookahead corpus '{path}' does not exist", path);
            if (info.Length > MaxCorpusBytes) throw new InvalidDataException($"lookahead corpus '{path}' is {info.Length} bytes; the limit is {MaxCorpusBytes}");
            string text = File.ReadAllText(path);
            var tokenizer = TokenizerFactory.FromGguf(model.File);
            trie = new NgramTrie(model.Config.VocabSize, o.Ngram + o.Depth, CorpusTrieCapacity);
            trie.AppendStream(tokenizer.Encode(text, addSpecial: false));
            byPath[key] = trie;
            return trie;
        }
    }

    static int Int(string key, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new ArgumentException($"drafter option {key}={value}: not an integer");
}
