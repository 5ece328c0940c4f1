using System.Text;
using Hunch.Gguf;

namespace Hunch.Tokenization;

/// <summary>Per-token attributes, numbered as llama.cpp's <c>llama_token_attr</c>.</summary>
[Flags]
internal enum TokenAttributes
{
    Undefined = 0,
    Unknown = 1 << 0,
    Unused = 1 << 1,
    Normal = 1 << 2,
    Control = 1 << 3,
    UserDefined = 1 << 4,
    Byte = 1 << 5,
    Normalized = 1 << 6,
    LStrip = 1 << 7,
    RStrip = 1 << 8,
    SingleWord = 1 << 9,
}

/// <summary>
/// What SentencePiece-style and BPE vocabularies share, following llama.cpp's <c>llama_vocab</c>: reading and
/// validating the token list, special token ids and flags, splitting special tokens out of text before the
/// model-specific algorithm runs, the token-to-bytes table, and end-of-generation detection.
/// </summary>
internal abstract class VocabularyTokenizer : ITokenizer
{
    protected readonly string[] Texts;
    protected readonly byte[][] TextBytes;
    protected readonly float[] Scores;
    protected readonly TokenAttributes[] Attributes;
    protected readonly ByteStringMap TokenToId;
    readonly bool[] _endOfGeneration;
    int[] _specialTokens = [];
    byte[] _pieceBlob = [];
    int[] _pieceOffsets = [];

    /// <summary>Where warnings go.</summary>
    protected readonly Action<string> Warn;

    /// <inheritdoc/>
    public int VocabularySize => Texts.Length;
    /// <inheritdoc/>
    public int BosId { get; protected set; } = -1;
    /// <inheritdoc/>
    public int EosId { get; protected set; } = -1;
    /// <inheritdoc/>
    public bool AddBos { get; protected set; }
    /// <inheritdoc/>
    public bool AddEos { get; protected set; }

    /// <summary>The unknown token id, or -1.</summary>
    public int UnknownId { get; protected set; } = -1;
    /// <summary>The end-of-turn token id, or -1.</summary>
    public int EotId { get; protected set; } = -1;
    /// <summary>The end-of-message token id, or -1.</summary>
    public int EomId { get; protected set; } = -1;
    /// <summary>The padding token id, or -1.</summary>
    public int PadId { get; protected set; } = -1;

    protected VocabularyTokenizer(GgufFile file, Action<string>? warn)
    {
        Warn = warn ?? (m => Console.Error.WriteLine($"warning: {m}"));
        var tokens = file.GetArray<string>("tokenizer.ggml.tokens")
            ?? throw new GgufException("the vocabulary has no token list", -1, "tokenizer.ggml.tokens");
        int n = tokens.Length;
        if (n == 0) throw new GgufException("the token list is empty", -1, "tokenizer.ggml.tokens");

        var scores = ReadFloats(file, "tokenizer.ggml.scores");
        if (scores is not null && scores.Length != n)
            throw new GgufException($"has {scores.Length} entries but the vocabulary has {n} tokens", -1, "tokenizer.ggml.scores");
        var types = ReadInts(file, "tokenizer.ggml.token_type");
        if (types is not null && types.Length != n)
            throw new GgufException($"has {types.Length} entries but the vocabulary has {n} tokens", -1, "tokenizer.ggml.token_type");

        Texts = new string[n];
        TextBytes = new byte[n][];
        Scores = scores ?? new float[n];
        Attributes = new TokenAttributes[n];
        TokenToId = new ByteStringMap(n);
        for (int i = 0; i < n; i++)
        {
            var t = tokens[i];
            if (t.Length == 0)
            {
                Warn($"empty token at index {i}");
                t = $"[EMPTY_{i}]";
            }
            Texts[i] = t;
            TextBytes[i] = Encoding.UTF8.GetBytes(t);
            // llama.cpp requires unique texts; text decoding can merge distinct invalid-UTF-8 entries, so a
            // repeat is reported rather than fatal, and the later id wins as in llama.cpp's map.
            if (!TokenToId.Set(TextBytes[i], i))
                Warn($"token {i} '{t}' appears twice in the vocabulary (tokenizer.ggml.tokens); text lookups use the later id");
            Attributes[i] = types is null ? TokenAttributes.Normal : types[i] switch
            {
                1 => TokenAttributes.Normal,
                2 => TokenAttributes.Unknown,
                3 => TokenAttributes.Control,
                4 => TokenAttributes.UserDefined,
                5 => TokenAttributes.Unused,
                6 => TokenAttributes.Byte,
                _ => TokenAttributes.Undefined,
            };
        }
        _endOfGeneration = new bool[n];
    }

    /// <summary>An optional array of numbers as floats (files use f32; f64 is accepted).</summary>
    static float[]? ReadFloats(GgufFile file, string key)
    {
        var v = file.Find(key);
        return v?.Value switch
        {
            null => null,
            float[] f => f,
            double[] d => Array.ConvertAll(d, x => (float)x),
            _ => throw new GgufException($"is {v.Type} of {v.ElementType}, expected an array of Float32", -1, key),
        };
    }

    /// <summary>An optional array of integers as ints (files use i32; other integer widths are accepted).</summary>
    static int[]? ReadInts(GgufFile file, string key)
    {
        var v = file.Find(key);
        return v?.Value switch
        {
            null => null,
            int[] i => i,
            uint[] u => Array.ConvertAll(u, x => x > int.MaxValue ? -1 : (int)x),
            short[] h => Array.ConvertAll(h, x => (int)x),
            ushort[] h => Array.ConvertAll(h, x => (int)x),
            sbyte[] b => Array.ConvertAll(b, x => (int)x),
            byte[] b => Array.ConvertAll(b, x => (int)x),
            long[] l => Array.ConvertAll(l, x => x is < int.MinValue or > int.MaxValue ? -1 : (int)x),
            ulong[] l => Array.ConvertAll(l, x => x > int.MaxValue ? -1 : (int)x),
            _ => throw new GgufException($"is {v.Type} of {v.ElementType}, expected an array of Int32", -1, key),
        };
    }

    /// <summary>Reads an optional special-token id; an id outside the vocabulary is an error.</summary>
    protected int ReadSpecialId(GgufFile file, string key, int fallback)
    {
        var v = file.Find(key);
        if (v is null) return fallback;
        if (!v.TryGetInt64(out long id)) throw new GgufException($"has type {v.Type}, expected an integer token id", -1, key);
        if (id < 0 || id >= Texts.Length)
            throw new GgufException($"token id {id} is outside the vocabulary of {Texts.Length} tokens", -1, key);
        return (int)id;
    }

    /// <summary>The special-token ids, flags, control-looking tokens and caches, in llama.cpp's order.
    /// Called by the derived constructor once its own defaults are set.</summary>
    protected void FinishLoading(GgufFile file, bool defaultAddBos, bool defaultAddEos)
    {
        BosId = ReadSpecialId(file, "tokenizer.ggml.bos_token_id", BosId);
        EosId = ReadSpecialId(file, "tokenizer.ggml.eos_token_id", EosId);
        EotId = ReadSpecialId(file, "tokenizer.ggml.eot_token_id", EotId);
        EomId = ReadSpecialId(file, "tokenizer.ggml.eom_token_id", EomId);
        UnknownId = ReadSpecialId(file, "tokenizer.ggml.unknown_token_id", UnknownId);
        PadId = ReadSpecialId(file, "tokenizer.ggml.padding_token_id", PadId);
        int fimPad = ReadSpecialId(file, "tokenizer.ggml.fim_pad_token_id", -1);
        int fimRep = ReadSpecialId(file, "tokenizer.ggml.fim_rep_token_id", -1);
        int fimSep = ReadSpecialId(file, "tokenizer.ggml.fim_sep_token_id", -1);
        AddBos = file.GetBool("tokenizer.ggml.add_bos_token", defaultAddBos);
        AddEos = file.GetBool("tokenizer.ggml.add_eos_token", defaultAddEos);

        // Tokens llama.cpp recognises by their text: they become control tokens, and the end-of-turn family
        // ends generation.
        string[] eotTexts = ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>"];
        string[] eogTexts = ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>"];
        string[] fimTexts = ["<|fim_prefix|>", "<fim-prefix>", "<｜fim▁begin｜>", "<PRE>", "<|fim_suffix|>", "<fim-suffix>", "<｜fim▁hole｜>", "<SUF>",
            "<|fim_middle|>", "<fim-middle>", "<｜fim▁end｜>", "<MID>", "<|fim_pad|>", "<fim-pad>", "<PAD>",
            "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<|file_sep|>", "<|eom_id|>"];
        if (EotId < 0)
        {
            foreach (var t in eotTexts)
            {
                int id = FindToken(t);
                if (id >= 0) { EotId = id; MakeControl(id); break; }
            }
        }
        foreach (var t in fimTexts)
        {
            int id = FindToken(t);
            if (id >= 0) MakeControl(id);
        }
        foreach (var id in (ReadOnlySpan<int>)[fimPad, fimRep, fimSep]) if (id >= 0) _endOfGeneration[id] = true;
        foreach (var t in eogTexts)
        {
            int id = FindToken(t);
            if (id >= 0) { _endOfGeneration[id] = true; MakeControl(id); }
        }
        foreach (var id in (ReadOnlySpan<int>)[EosId, EotId, EomId]) if (id >= 0) _endOfGeneration[id] = true;

        // Special tokens, longest text first (ties by id, to be deterministic).
        var specials = new List<int>();
        for (int i = 0; i < Texts.Length; i++)
            if ((Attributes[i] & (TokenAttributes.Control | TokenAttributes.UserDefined | TokenAttributes.Unknown)) != 0) specials.Add(i);
        specials.Sort((a, b) => TextBytes[a].Length != TextBytes[b].Length ? TextBytes[b].Length.CompareTo(TextBytes[a].Length) : a.CompareTo(b));
        _specialTokens = specials.ToArray();

        // Per-model attribute fixes llama.cpp applies by name (after the piece cache, which they do not affect).
        var modelName = (file.GetString("general.name") ?? "").ToLowerInvariant();
        var pre = file.GetString("tokenizer.ggml.pre") ?? "";
        if (pre.Contains("jina-v2-de", StringComparison.Ordinal) || pre.Contains("jina-v2-es", StringComparison.Ordinal) || pre.Contains("jina-v2-code", StringComparison.Ordinal))
        {
            int mask = FindToken("<mask>");
            if (mask >= 0) Attributes[mask] |= TokenAttributes.LStrip;
        }
        else if (modelName.Contains("phi-3", StringComparison.Ordinal) || modelName.Contains("phi3", StringComparison.Ordinal))
        {
            foreach (var id in _specialTokens) Attributes[id] |= TokenAttributes.RStrip;
            int eos = FindToken("</s>");
            if (eos >= 0) Attributes[eos] |= TokenAttributes.RStrip;
            foreach (var t in (ReadOnlySpan<string>)["<unk>", "<s>", "<|endoftext|>"])
            {
                int id = FindToken(t);
                if (id >= 0) Attributes[id] &= ~TokenAttributes.RStrip;
            }
        }

        // Token-to-bytes table, computed once (what llama.cpp caches as token_to_piece(special = true)).
        var blob = new List<byte>(Texts.Length * 4);
        _pieceOffsets = new int[Texts.Length + 1];
        for (int i = 0; i < Texts.Length; i++)
        {
            _pieceOffsets[i] = blob.Count;
            AppendPiece(i, blob);
        }
        _pieceOffsets[Texts.Length] = blob.Count;
        _pieceBlob = blob.ToArray();
    }

    int FindToken(string text) => TokenToId.Get(Encoding.UTF8.GetBytes(text));

    void MakeControl(int id)
    {
        if ((Attributes[id] & TokenAttributes.Control) == 0)
            Attributes[id] = TokenAttributes.Control;
    }

    /// <summary>Appends the bytes token <paramref name="id"/> prints as (with special tokens shown).</summary>
    protected abstract void AppendPiece(int id, List<byte> output);

    /// <summary>Tokenizes one raw-text fragment (no special tokens inside).</summary>
    /// <param name="text">The fragment's UTF-8 bytes.</param>
    /// <param name="afterSpecial">True at the start of the text or right after a special token.</param>
    /// <param name="output">Where the ids go.</param>
    protected abstract void TokenizeFragment(ReadOnlySpan<byte> text, bool afterSpecial, List<int> output);

    /// <inheritdoc/>
    public int[] Encode(string text, bool addSpecial = true, bool parseSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var utf8 = Encoding.UTF8.GetBytes(text);
        var output = new List<int>(utf8.Length / 3 + 4);
        EncodeUtf8(utf8, addSpecial, parseSpecial, output);
        return output.ToArray();
    }

    /// <summary>Tokenizes UTF-8 text into <paramref name="output"/>.</summary>
    internal void EncodeUtf8(ReadOnlySpan<byte> utf8, bool addSpecial, bool parseSpecial, List<int> output)
    {
        if (addSpecial && AddBos)
        {
            if (BosId < 0) throw new InvalidOperationException("the vocabulary asks for a BOS token but has none");
            output.Add(BosId);
        }
        bool afterSpecial = true;
        foreach (var (offset, length, token) in Partition(utf8, parseSpecial))
        {
            if (token >= 0) { output.Add(token); afterSpecial = true; continue; }
            TokenizeFragment(utf8.Slice(offset, length), afterSpecial, output);
            afterSpecial = false;
        }
        if (addSpecial && AddEos)
        {
            if (EosId < 0) throw new InvalidOperationException("the vocabulary asks for an EOS token but has none");
            output.Add(EosId);
        }
    }

    static bool IsCSpace(byte b) => b == ' ' || (b >= 9 && b <= 13);

    /// <summary>Splits text around special tokens as llama.cpp's <c>tokenizer_st_partition</c> does.
    /// Each entry is a raw-text range (token -1) or a special token.</summary>
    internal List<(int Offset, int Length, int Token)> Partition(ReadOnlySpan<byte> utf8, bool parseSpecial)
    {
        var list = new List<(int, int, int)>();
        if (utf8.IsEmpty) return list;
        list.Add((0, utf8.Length, -1));

        // Which bytes and byte pairs occur at all, to skip most special tokens cheaply.
        Span<ulong> present = stackalloc ulong[4];
        foreach (var b in utf8) present[b >> 6] |= 1UL << (b & 63);
        var pairs = new ulong[1024];
        for (int i = 0; i + 1 < utf8.Length; i++)
        {
            int pair = utf8[i] << 8 | utf8[i + 1];
            pairs[pair >> 6] |= 1UL << (pair & 63);
        }

        var next = new List<(int, int, int)>();
        foreach (int id in _specialTokens)
        {
            var attr = Attributes[id];
            if (!parseSpecial && (attr & (TokenAttributes.Control | TokenAttributes.Unknown)) != 0) continue;
            var needle = TextBytes[id];
            if ((present[needle[0] >> 6] & (1UL << (needle[0] & 63))) == 0) continue;
            if (needle.Length > 1)
            {
                int pair = needle[0] << 8 | needle[1];
                if ((pairs[pair >> 6] & (1UL << (pair & 63))) == 0) continue;
            }

            next.Clear();
            bool changed = false;
            foreach (var frag in list)
            {
                var (fo, fl, ft) = frag;
                if (ft >= 0) { next.Add(frag); continue; }
                int baseOff = fo, baseLen = fl;
                while (baseLen > 0)
                {
                    int idx = utf8.Slice(baseOff, baseLen).IndexOf(needle);
                    if (idx < 0) break;
                    changed = true;
                    int match = baseOff + idx;
                    if (match > baseOff)
                    {
                        int leftLen = match - baseOff;
                        if ((attr & TokenAttributes.LStrip) != 0)
                            while (leftLen > 0 && IsCSpace(utf8[baseOff + leftLen - 1])) leftLen--;
                        if (leftLen > 0) next.Add((baseOff, leftLen, -1));
                    }
                    next.Add((0, 0, id));
                    int rightOff = match + needle.Length;
                    int rightLen = baseOff + baseLen - rightOff;
                    if ((attr & TokenAttributes.RStrip) != 0)
                        while (rightLen > 0 && IsCSpace(utf8[rightOff])) { rightOff++; rightLen--; }
                    baseOff = rightOff; baseLen = rightLen;
                }
                if (baseLen > 0) next.Add((baseOff, baseLen, -1));
            }
            if (changed) (list, next) = (next, list);
        }
        return list;
    }

    /// <inheritdoc/>
    public ReadOnlySpan<byte> TokenBytes(int token, bool special = false)
    {
        if ((uint)token >= (uint)Texts.Length) throw new ArgumentOutOfRangeException(nameof(token), token, $"token id outside the vocabulary of {Texts.Length}");
        if (!special && (Attributes[token] & (TokenAttributes.Unknown | TokenAttributes.Control)) != 0) return default;
        return _pieceBlob.AsSpan(_pieceOffsets[token], _pieceOffsets[token + 1] - _pieceOffsets[token]);
    }

    /// <inheritdoc/>
    public string TokenText(int token)
    {
        if ((uint)token >= (uint)Texts.Length) throw new ArgumentOutOfRangeException(nameof(token), token, $"token id outside the vocabulary of {Texts.Length}");
        return Texts[token];
    }

    /// <inheritdoc/>
    public TokenKind Kind(int token)
    {
        if ((uint)token >= (uint)Texts.Length) throw new ArgumentOutOfRangeException(nameof(token), token, $"token id outside the vocabulary of {Texts.Length}");
        var a = Attributes[token];
        if ((a & TokenAttributes.Control) != 0) return TokenKind.Control;
        if ((a & TokenAttributes.Unknown) != 0) return TokenKind.Unknown;
        if ((a & TokenAttributes.UserDefined) != 0) return TokenKind.UserDefined;
        if ((a & TokenAttributes.Byte) != 0) return TokenKind.Byte;
        if ((a & TokenAttributes.Unused) != 0) return TokenKind.Unused;
        if ((a & TokenAttributes.Normal) != 0) return TokenKind.Normal;
        return TokenKind.Undefined;
    }

    /// <inheritdoc/>
    public bool IsEndOfGeneration(int token) => (uint)token < (uint)_endOfGeneration.Length && _endOfGeneration[token];
}
