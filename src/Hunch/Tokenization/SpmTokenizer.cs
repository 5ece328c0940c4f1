using Hunch.Gguf;

namespace Hunch.Tokenization;

/// <summary>
/// SentencePiece-style tokenizer (<c>tokenizer.ggml.model = llama</c>) as llama.cpp implements it: optional space
/// prefix, spaces escaped to U+2581, score-ordered bigram merging over UTF-8 characters, byte fallback.
/// </summary>
internal sealed class SpmTokenizer : VocabularyTokenizer
{
    static ReadOnlySpan<byte> EscapedSpace => [0xE2, 0x96, 0x81];

    readonly int[] _byteTokens = new int[256];

    /// <summary>Whether a space is put in front of text at the start and after special tokens.</summary>
    public bool AddSpacePrefix { get; }

    public SpmTokenizer(GgufFile file, Action<string>? warn) : base(file, warn)
    {
        int n = Texts.Length;
        AddSpacePrefix = file.GetBool("tokenizer.ggml.add_space_prefix", true);

        // Byte tokens must be named <0xNN>: their value is parsed from the name when printing.
        for (int i = 0; i < n; i++)
        {
            if ((Attributes[i] & TokenAttributes.Byte) == 0) continue;
            if (!TryParseByteName(Texts[i], out _))
                throw new GgufException($"token {i} is a byte token but is named '{Texts[i]}' instead of <0xNN>", -1, "tokenizer.ggml.tokens");
        }

        // Byte fallback: <0xNN> first, then the single-byte string, as llama.cpp's byte_to_token tries them.
        Span<byte> name = stackalloc byte[6];
        for (int b = 0; b < 256; b++)
        {
            "<0x"u8.CopyTo(name);
            name[3] = (byte)"0123456789ABCDEF"[b >> 4];
            name[4] = (byte)"0123456789ABCDEF"[b & 15];
            name[5] = (byte)'>';
            int id = TokenToId.Get(name);
            if (id < 0) id = TokenToId.Get([(byte)b]);
            _byteTokens[b] = id;
        }

        BosId = n > 1 ? 1 : -1;
        EosId = n > 2 ? 2 : -1;
        UnknownId = 0;
        FinishLoading(file, defaultAddBos: true, defaultAddEos: false);
    }

    static bool TryParseByteName(string text, out byte value)
    {
        value = 0;
        if (text.Length != 6 || !text.StartsWith("<0x", StringComparison.Ordinal) || text[5] != '>') return false;
        if (!char.IsAsciiHexDigit(text[3]) || !char.IsAsciiHexDigit(text[4])) return false;
        value = (byte)(Convert.ToByte(text.Substring(3, 2), 16));
        return true;
    }

    protected override void AppendPiece(int id, List<byte> output)
    {
        var attr = Attributes[id];
        if ((attr & (TokenAttributes.Unknown | TokenAttributes.Control | TokenAttributes.UserDefined)) != 0)
        {
            output.AddRange(TextBytes[id]);
        }
        else if ((attr & TokenAttributes.Normal) != 0)
        {
            var t = TextBytes[id].AsSpan();
            for (int i = 0; i < t.Length; i++)
            {
                if (i + 2 < t.Length && t[i] == 0xE2 && t[i + 1] == 0x96 && t[i + 2] == 0x81) { output.Add((byte)' '); i += 2; }
                else output.Add(t[i]);
            }
        }
        else if ((attr & TokenAttributes.Byte) != 0)
        {
            TryParseByteName(Texts[id], out var b);
            output.Add(b);
        }
    }

    protected override void TokenizeFragment(ReadOnlySpan<byte> text, bool afterSpecial, List<int> output)
    {
        // Escape: optional leading space, then every space becomes U+2581.
        int spaces = 0;
        foreach (var b in text) if (b == ' ') spaces++;
        bool prefix = AddSpacePrefix && afterSpecial;
        int length = text.Length + spaces * 2 + (prefix ? 3 : 0);
        var buf = new byte[length];
        int w = 0;
        if (prefix) { EscapedSpace.CopyTo(buf); w = 3; }
        foreach (var b in text)
        {
            if (b == ' ') { EscapedSpace.CopyTo(buf.AsSpan(w)); w += 3; }
            else buf[w++] = b;
        }

        // Symbols: one per UTF-8 character, as a doubly linked list over the buffer.
        var start = new int[length];
        var size = new int[length];
        var prev = new int[length];
        var next = new int[length];
        int count = 0;
        for (int off = 0; off < length;)
        {
            int len = Math.Min(CodepointInfo.Utf8Length(buf[off]), length - off);
            start[count] = off; size[count] = len;
            prev[count] = count - 1;
            off += len;
            next[count] = off == length ? -1 : count + 1;
            count++;
        }

        var queue = new MergeQueue();
        void TryAddBigram(int left, int right)
        {
            if (left < 0 || right < 0) return;
            int sz = size[left] + size[right];
            int token = TokenToId.Get(buf.AsSpan(start[left], sz));
            if (token < 0) return;
            queue.Push(MergeQueue.ScoreKey(Scores[token], left), right, sz);
        }

        for (int i = 1; i < count; i++) TryAddBigram(i - 1, i);

        while (queue.TryPop(out int l, out int r, out int bigramSize))
        {
            if (size[l] == 0 || size[r] == 0 || size[l] + size[r] != bigramSize) continue;
            size[l] += size[r];
            size[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            TryAddBigram(prev[l], l);
            TryAddBigram(l, next[l]);
        }

        // Resegment: every merged symbol is a token by construction; single characters that are not
        // fall back to byte tokens.
        for (int i = 0; i != -1 && count > 0; i = next[i])
        {
            var piece = buf.AsSpan(start[i], size[i]);
            int token = TokenToId.Get(piece);
            if (token >= 0) { output.Add(token); continue; }
            foreach (var b in piece)
            {
                int id = _byteTokens[b];
                if (id < 0) id = UnknownId;
                if (id < 0) throw new InvalidOperationException($"the vocabulary has no token for byte 0x{b:X2} and no unknown token");
                output.Add(id);
            }
        }
    }
}
