namespace Hunch.Tokenization;

/// <summary>
/// The regex split that GPT-2-style BPE vocabularies apply before merging, chosen by <c>tokenizer.ggml.pre</c>,
/// reproducing llama.cpp's <c>unicode_regex_split</c>: each pattern in the list refines the pieces the previous one
/// produced; the two patterns llama.cpp runs through hand-written matchers (GPT-2's and Llama 3's) use the same
/// hand-written logic here, the others run on <see cref="CodepointRegex"/> with llama.cpp's text representation.
/// </summary>
internal sealed class PreTokenizer
{
    // Patterns exactly as llama.cpp spells them; the two custom matchers are selected by string equality, as there.
    internal const string Gpt2Pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
    internal const string Llama3Pattern = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    internal const string Qwen2Pattern = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    // DeepSeek LLM's letter class (the cased-letter ranges of its tokenizer.json), written as code points
    // because several of them have canonical look-alikes that editors and normalizers silently replace.
    const string DeepSeekLetters = "A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943";
    // CJK ideographs, U+0800..U+4E00 (sic: a wide range in llama.cpp), and Hangul.
    const string DeepSeekCjk = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";

    static readonly string[] s_default = ["[\\p{P}\\$\\+<=>\\^~\\|]+", Gpt2Pattern, "\\p{N}+", "[0-9][0-9][0-9]"];
    static readonly string[] s_llama3 = [Llama3Pattern];
    static readonly string[] s_qwen2 = [Qwen2Pattern];
    static readonly string[] s_gpt2 = [Gpt2Pattern];
    static readonly string[] s_starcoder = ["\\p{N}", Gpt2Pattern];
    static readonly string[] s_falcon = ["[\\p{P}\\$\\+<=>\\^~\\|`]+", Gpt2Pattern, "[0-9][0-9][0-9]"];
    static readonly string[] s_deepseekCoder = ["[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", DeepSeekCjk, "\\p{N}"];
    static readonly string[] s_deepseekLlm = ["[\r\n]", "\\s?[" + DeepSeekLetters + "]+",
        "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+", "\\s+$", DeepSeekCjk, "\\p{N}+"];
    static readonly string[] s_deepseekV3 = ["\\p{N}{1,3}", "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"];
    static readonly string[] s_poro = [" ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+"];
    static readonly string[] s_viking = [" ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+", "\\p{N}"];
    static readonly string[] s_tekken = ["[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"];
    static readonly string[] s_chameleon = ["<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )",
        "\\p{N}", "[\\p{P}!-/:-@\\[-`{-~]", Gpt2Pattern];

    /// <summary>What a <c>tokenizer.ggml.pre</c> name selects.</summary>
    internal readonly record struct Definition(string Type, string[] Patterns, bool IgnoreMerges, bool AddBos, bool NoBos);

    /// <summary>Resolves a pre-tokenizer name as llama.cpp does; null for an unknown name.</summary>
    internal static Definition? Resolve(string name) => name switch
    {
        "default" => new("default", s_default, false, false, false),
        "llama3" or "llama-v3" or "llama-bpe" or "falcon3" or "falcon-h1" or "pixtral" => new("llama3", s_llama3, true, true, false),
        "deepseek-llm" => new("deepseek-llm", s_deepseekLlm, false, false, false),
        "deepseek-coder" => new("deepseek-coder", s_deepseekCoder, false, false, false),
        "deepseek-v3" => new("deepseek-v3", s_deepseekV3, false, false, false),
        "falcon" => new("falcon", s_falcon, false, false, false),
        "mpt" or "olmo" or "jais" or "gpt-2" or "phi-2" or "jina-es" or "jina-de" or "gigachat" or "jina-v1-en"
            or "jina-v2-es" or "jina-v2-de" or "jina-v2-code" or "roberta-bpe" or "exaone4" => new("gpt-2", s_gpt2, false, false, false),
        "starcoder" or "refact" or "command-r" or "smollm" or "codeshell" or "exaone" or "minerva-7b" => new("starcoder", s_starcoder, false, false, false),
        "qwen2" or "deepseek-r1-qwen" or "stablelm2" or "megrez" => new("qwen2", s_qwen2, false, false, false),
        "dbrx" or "smaug-bpe" => new("llama3", s_llama3, false, false, false),
        "poro-chat" or "bloom" or "gpt3-finnish" => new("poro", s_poro, false, false, false),
        "chatglm-bpe" or "glm4" => new("chatglm4", s_llama3, false, false, true),
        "viking" => new("viking", s_viking, false, false, false),
        "tekken" => new("tekken", s_tekken, true, true, false),
        "chameleon" => new("chameleon", s_chameleon, false, true, false),
        _ => null,
    };

    /// <summary>The default rule, used when the name is missing or unknown.</summary>
    internal static Definition Default => Resolve("default")!.Value;

    enum RuleKind { Gpt2, Llama3, Regex }

    readonly RuleKind[] _kinds;
    readonly CodepointRegex?[] _regexes;
    readonly bool _needCollapsed, _needWide;

    /// <summary>The resolved type name (for diagnostics).</summary>
    public string Type { get; }

    public PreTokenizer(Definition def)
    {
        Type = def.Type;
        _kinds = new RuleKind[def.Patterns.Length];
        _regexes = new CodepointRegex?[def.Patterns.Length];
        for (int i = 0; i < def.Patterns.Length; i++)
        {
            var p = def.Patterns[i];
            if (p == Gpt2Pattern) _kinds[i] = RuleKind.Gpt2;
            else if (p == Llama3Pattern) _kinds[i] = RuleKind.Llama3;
            else
            {
                _kinds[i] = RuleKind.Regex;
                var re = CodepointRegex.Compile(p);
                _regexes[i] = re;
                if (re.Collapsed) _needCollapsed = true; else _needWide = true;
            }
        }
    }

    /// <summary>Scratch buffers of one <see cref="Split"/> call.</summary>
    internal sealed class Scratch
    {
        internal List<int> A = [], B = [];
        internal int[] Collapsed = [], Wide = [];
        internal readonly CodepointRegex.Scratch Regex = new();
    }

    /// <summary>Splits code points into pre-tokens; returns the list of piece lengths (owned by the scratch).</summary>
    public List<int> Split(ReadOnlySpan<int> cps, Scratch scratch)
    {
        var current = scratch.A;
        var next = scratch.B;
        current.Clear();
        current.Add(cps.Length);

        if (_needCollapsed || _needWide)
        {
            if (scratch.Collapsed.Length < cps.Length) { scratch.Collapsed = new int[cps.Length]; scratch.Wide = new int[cps.Length]; }
        }
        bool collapsedReady = false, wideReady = false;

        for (int r = 0; r < _kinds.Length; r++)
        {
            next.Clear();
            int start = 0;
            Span<int> effective = default;
            if (_kinds[r] == RuleKind.Regex)
            {
                var re = _regexes[r]!;
                if (re.Collapsed)
                {
                    effective = scratch.Collapsed.AsSpan(0, cps.Length);
                    if (!collapsedReady) { re.MapText(cps, effective); collapsedReady = true; }
                }
                else
                {
                    effective = scratch.Wide.AsSpan(0, cps.Length);
                    if (!wideReady) { re.MapText(cps, effective); wideReady = true; }
                }
            }
            foreach (int len in current)
            {
                int end = start + len;
                switch (_kinds[r])
                {
                    case RuleKind.Gpt2: SplitGpt2(cps, start, end, next); break;
                    case RuleKind.Llama3: SplitLlama3(cps, start, end, next); break;
                    default: _regexes[r]!.SplitSegment(effective, start, end, next, scratch.Regex); break;
                }
                start = end;
            }
            (current, next) = (next, current);
        }
        scratch.A = current;
        scratch.B = next;
        return current;
    }

    // Flags of a position, with "outside the segment" as an empty set (llama.cpp's OUT_OF_RANGE).
    static bool InRange(int pos, int start, int end) => pos >= start && pos < end;
    static bool Letter(ReadOnlySpan<int> c, int pos, int s, int e) => InRange(pos, s, e) && CodepointInfo.IsLetter(c[pos]);
    static bool Number(ReadOnlySpan<int> c, int pos, int s, int e) => InRange(pos, s, e) && CodepointInfo.IsNumber(c[pos]);
    static bool Space(ReadOnlySpan<int> c, int pos, int s, int e) => InRange(pos, s, e) && CodepointInfo.IsWhitespace(c[pos]);
    // "not whitespace, letter or number, and inside the segment"
    static bool Other(ReadOnlySpan<int> c, int pos, int s, int e) =>
        InRange(pos, s, e) && !CodepointInfo.IsWhitespace(c[pos]) && (CodepointInfo.Category(c[pos]) & (CodepointFlags.Letter | CodepointFlags.Number)) == 0;

    /// <summary>Hand-written matcher for <see cref="Gpt2Pattern"/>, with llama.cpp's exact control flow.</summary>
    internal static void SplitGpt2(ReadOnlySpan<int> c, int s, int e, List<int> output)
    {
        int prevEnd = s;
        void Add(int end) { if (end > prevEnd) output.Add(end - prevEnd); prevEnd = end; }

        for (int pos = s; pos < e;)
        {
            int cpt = c[pos];
            if (cpt == '\'' && pos + 1 < e)
            {
                int n1 = c[pos + 1];
                if (n1 is 's' or 't' or 'm' or 'd') { pos += 2; Add(pos); continue; }
                if (pos + 2 < e)
                {
                    int n2 = c[pos + 2];
                    if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) { pos += 3; Add(pos); continue; }
                }
            }

            int p2 = cpt == ' ' ? pos + 1 : pos;
            if (Letter(c, p2, s, e))
            {
                pos = p2;
                while (Letter(c, pos, s, e)) pos++;
                Add(pos);
                continue;
            }
            if (Number(c, p2, s, e))
            {
                pos = p2;
                while (Number(c, pos, s, e)) pos++;
                Add(pos);
                continue;
            }
            if (Other(c, p2, s, e))
            {
                pos = p2;
                while (Other(c, pos, s, e)) pos++;
                Add(pos);
                continue;
            }

            int spaces = 0;
            while (Space(c, pos + spaces, s, e)) spaces++;
            if (spaces > 1 && pos + spaces < e) { pos += spaces - 1; Add(pos); continue; }
            if (spaces > 0) { pos += spaces; Add(pos); continue; }
            pos++;
            Add(pos);
        }
    }

    static int AsciiLower(int cp) => cp is >= 'A' and <= 'Z' ? cp + 32 : cp;

    /// <summary>Hand-written matcher for <see cref="Llama3Pattern"/>, with llama.cpp's exact control flow.</summary>
    internal static void SplitLlama3(ReadOnlySpan<int> c, int s, int e, List<int> output)
    {
        int prevEnd = s;
        void Add(int end) { if (end > prevEnd) output.Add(end - prevEnd); prevEnd = end; }

        for (int pos = s; pos < e;)
        {
            int cpt = c[pos];
            if (cpt == '\'' && pos + 1 < e)
            {
                int n1 = AsciiLower(c[pos + 1]);
                if (n1 is 's' or 't' or 'm' or 'd') { pos += 2; Add(pos); continue; }
                if (pos + 2 < e)
                {
                    int n2 = AsciiLower(c[pos + 2]);
                    if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) { pos += 3; Add(pos); continue; }
                }
            }

            // [^\r\n\p{L}\p{N}]?\p{L}+
            bool isNumber = CodepointInfo.IsNumber(cpt);
            if (!(cpt == '\r' || cpt == '\n' || isNumber))
            {
                if (CodepointInfo.IsLetter(cpt) || Letter(c, pos + 1, s, e))
                {
                    pos++;
                    while (Letter(c, pos, s, e)) pos++;
                    Add(pos);
                    continue;
                }
            }

            // \p{N}{1,3}
            if (isNumber)
            {
                int ini = pos;
                while (Number(c, pos, s, e))
                {
                    if (++pos - ini >= 3) { Add(pos); ini = pos; }
                }
                Add(pos);
                continue;
            }

            // <space>?[^\s\p{L}\p{N}]+[\r\n]*
            int p2 = cpt == ' ' ? pos + 1 : pos;
            if (Other(c, p2, s, e))
            {
                pos = p2;
                while (Other(c, pos, s, e)) pos++;
                while (pos < e && (c[pos] == '\r' || c[pos] == '\n')) pos++;
                Add(pos);
                continue;
            }

            int spaces = 0, lastEndRn = 0;
            while (Space(c, pos + spaces, s, e))
            {
                int c2 = c[pos + spaces];
                if (c2 == '\r' || c2 == '\n') lastEndRn = pos + spaces + 1;
                spaces++;
            }
            // \s*[\r\n]+
            if (lastEndRn > 0) { pos = lastEndRn; Add(pos); continue; }
            // \s+(?!\S)
            if (spaces > 1 && pos + spaces < e) { pos += spaces - 1; Add(pos); continue; }
            // \s+
            if (spaces > 0) { pos += spaces; Add(pos); continue; }
            pos++;
            Add(pos);
        }
    }
}
