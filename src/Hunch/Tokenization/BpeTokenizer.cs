using System.Text;
using Hunch.Gguf;

namespace Hunch.Tokenization;

/// <summary>
/// GPT-2-style byte-level BPE (<c>tokenizer.ggml.model = gpt2</c>) as llama.cpp implements it: the pre-tokenizer
/// named by <c>tokenizer.ggml.pre</c> splits the text, each piece's bytes are mapped to GPT-2's printable code
/// points, and adjacent symbols are merged lowest rank first (rank = index in <c>tokenizer.ggml.merges</c>).
/// </summary>
internal sealed class BpeTokenizer : VocabularyTokenizer
{
    // GPT-2's reversible byte <-> code point table.
    static readonly int[] s_byteToCodepoint = BuildByteTable();
    static readonly Dictionary<int, byte> s_codepointToByte = BuildReverse();
    // The UTF-8 bytes of each byte's code point (1 or 2 bytes), packed: length in the low byte.
    static readonly byte[][] s_byteToUtf8 = BuildUtf8Table();

    static int[] BuildByteTable()
    {
        var t = new int[256];
        var assigned = new bool[256];
        for (int b = '!'; b <= '~'; b++) { t[b] = b; assigned[b] = true; }
        for (int b = 0xA1; b <= 0xAC; b++) { t[b] = b; assigned[b] = true; }
        for (int b = 0xAE; b <= 0xFF; b++) { t[b] = b; assigned[b] = true; }
        int n = 0;
        for (int b = 0; b < 256; b++) if (!assigned[b]) t[b] = 256 + n++;
        return t;
    }

    static Dictionary<int, byte> BuildReverse()
    {
        var d = new Dictionary<int, byte>(256);
        for (int b = 0; b < 256; b++) d[s_byteToCodepoint[b]] = (byte)b;
        return d;
    }

    static byte[][] BuildUtf8Table()
    {
        var t = new byte[256][];
        Span<byte> tmp = stackalloc byte[4];
        for (int b = 0; b < 256; b++)
        {
            int n = CodepointInfo.EncodeUtf8(s_byteToCodepoint[b], tmp);
            t[b] = tmp[..n].ToArray();
        }
        return t;
    }

    readonly PreTokenizer _pre;
    readonly bool _ignoreMerges;
    // Every string that appears in a merge gets a piece id: its token id when it is a token, otherwise an id
    // past the vocabulary. A merge is then a pair of piece ids.
    readonly ByteStringMap _pieces;
    readonly Dictionary<long, int> _ranks;

    /// <summary>The pre-tokenizer type in use.</summary>
    public string PreTokenizerType => _pre.Type;

    public BpeTokenizer(GgufFile file, Action<string>? warn) : base(file, warn)
    {
        var merges = file.GetArray<string>("tokenizer.ggml.merges")
            ?? throw new GgufException("a gpt2 (BPE) vocabulary needs merges", -1, "tokenizer.ggml.merges");

        int n = Texts.Length;
        _pieces = new ByteStringMap(n + merges.Length);
        for (int i = 0; i < n; i++) _pieces.Set(TextBytes[i], i, overwrite: false);
        int nextPiece = n;
        _ranks = new Dictionary<long, int>(merges.Length);
        for (int i = 0; i < merges.Length; i++)
        {
            var bytes = Encoding.UTF8.GetBytes(merges[i]);
            int space = bytes.Length > 1 ? bytes.AsSpan(1).IndexOf((byte)' ') : -1;
            ReadOnlySpan<byte> first = default, second = default;
            if (space >= 0)
            {
                first = bytes.AsSpan(0, space + 1);
                second = bytes.AsSpan(space + 2);
            }
            int a = PieceId(first, ref nextPiece), b = PieceId(second, ref nextPiece);
            _ranks.TryAdd(((long)a << 32) | (uint)b, i);
        }

        var preName = file.GetString("tokenizer.ggml.pre");
        PreTokenizer.Definition def;
        if (preName is null)
        {
            Warn("tokenizer.ggml.pre is missing; using the 'default' pre-tokenizer (tokenization may differ from the model's)");
            def = PreTokenizer.Default;
        }
        else if (PreTokenizer.Resolve(preName) is { } known) def = known;
        else
        {
            Warn($"unknown pre-tokenizer '{preName}' (tokenizer.ggml.pre); using the 'default' rule, so tokenization may differ from the model's");
            def = PreTokenizer.Default;
        }
        _pre = new PreTokenizer(def);
        _ignoreMerges = def.IgnoreMerges;

        BosId = def.NoBos || n <= 11 ? -1 : 11;
        EosId = n <= 11 ? -1 : 11;
        FinishLoading(file, defaultAddBos: def.AddBos, defaultAddEos: false);
    }

    int PieceId(ReadOnlySpan<byte> text, ref int nextPiece)
    {
        int id = _pieces.Get(text);
        if (id >= 0) return id;
        _pieces.Set(text, nextPiece);
        return nextPiece++;
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
            Span<byte> tmp = stackalloc byte[4];
            foreach (var rune in Texts[id].EnumerateRunes())
            {
                if (s_codepointToByte.TryGetValue(rune.Value, out var b)) { output.Add(b); continue; }
                // As llama.cpp's llama_decode_text: unmappable code points are shown, not dropped.
                output.AddRange("[UNK_BYTE_0x"u8);
                int len = CodepointInfo.EncodeUtf8(rune.Value, tmp);
                for (int k = 0; k < len; k++) output.AddRange(Encoding.ASCII.GetBytes(tmp[k].ToString("x2")));
                output.AddRange(TextBytes[id]);
                output.Add((byte)']');
            }
        }
    }

    protected override void TokenizeFragment(ReadOnlySpan<byte> text, bool afterSpecial, List<int> output)
    {
        var cps = new List<int>(text.Length);
        CodepointInfo.Decode(text, cps);
        var cpSpan = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(cps);
        var lengths = _pre.Split(cpSpan, new PreTokenizer.Scratch());

        var word = new List<byte>(64);
        var session = new MergeSession();
        Span<byte> utf8 = stackalloc byte[4];
        int pos = 0;
        foreach (int len in lengths)
        {
            word.Clear();
            for (int k = pos; k < pos + len; k++)
            {
                int n = CodepointInfo.EncodeUtf8(cpSpan[k], utf8);
                for (int j = 0; j < n; j++) word.AddRange(s_byteToUtf8[utf8[j]]);
            }
            pos += len;
            if (word.Count > 0) MergeWord(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(word), session, output);
        }
    }

    sealed class MergeSession
    {
        public int[] Start = new int[64], Size = new int[64], Prev = new int[64], Next = new int[64];
        public readonly MergeQueue Queue = new();

        public void Ensure(int n)
        {
            if (Start.Length >= n) return;
            int m = Math.Max(n, Start.Length * 2);
            Start = new int[m]; Size = new int[m]; Prev = new int[m]; Next = new int[m];
        }
    }

    void MergeWord(ReadOnlySpan<byte> word, MergeSession s, List<int> output)
    {
        if (_ignoreMerges)
        {
            int whole = TokenToId.Get(word);
            if (whole >= 0) { output.Add(whole); return; }
        }

        s.Ensure(word.Length);
        var start = s.Start; var size = s.Size; var prev = s.Prev; var next = s.Next;
        int count = 0;
        for (int off = 0; off < word.Length;)
        {
            int len = Math.Min(CodepointInfo.Utf8Length(word[off]), word.Length - off);
            start[count] = off; size[count] = len; prev[count] = count - 1;
            off += len;
            next[count] = off == word.Length ? -1 : count + 1;
            count++;
        }

        var queue = s.Queue;
        queue.Clear();
        for (int i = 1; i < count; i++) AddBigram(word, s, i - 1, i);

        while (queue.TryPop(out int l, out int r, out int bigramSize))
        {
            if (size[l] == 0 || size[r] == 0 || size[l] + size[r] != bigramSize) continue;
            size[l] += size[r];
            size[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            AddBigram(word, s, prev[l], l);
            AddBigram(word, s, l, next[l]);
        }

        for (int i = 0; i != -1; i = next[i])
        {
            if (size[i] == 0) continue;
            var piece = word.Slice(start[i], size[i]);
            int token = TokenToId.Get(piece);
            if (token >= 0) { output.Add(token); continue; }
            // As llama.cpp: a symbol that is not a token is emitted byte by byte where such tokens exist.
            foreach (var b in piece)
            {
                int id = TokenToId.Get([b]);
                if (id >= 0) output.Add(id);
            }
        }
    }

    void AddBigram(ReadOnlySpan<byte> word, MergeSession s, int left, int right)
    {
        if (left < 0 || right < 0) return;
        int a = _pieces.Get(word.Slice(s.Start[left], s.Size[left]));
        if (a < 0) return;
        int b = _pieces.Get(word.Slice(s.Start[right], s.Size[right]));
        if (b < 0) return;
        if (!_ranks.TryGetValue(((long)a << 32) | (uint)b, out int rank)) return;
        s.Queue.Push(MergeQueue.RankKey(rank, left), right, s.Size[left] + s.Size[right]);
    }
}
