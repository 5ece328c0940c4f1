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
    // Every string that appears in a merge, or results from one, gets a piece id: its token id when it is a
    // token, otherwise an id past the vocabulary. A merge is then a pair of piece ids, and its result is known
    // in advance, so the merge loop never hashes text.
    readonly Dictionary<long, long> _merges;   // (left piece, right piece) -> (rank, result piece)
    readonly int[] _bytePiece = new int[256];  // piece id of each byte's GPT-2 character, or -1

    /// <summary>The pre-tokenizer type in use.</summary>
    public string PreTokenizerType => _pre.Type;

    public BpeTokenizer(GgufFile file, Action<string>? warn) : base(file, warn)
    {
        var merges = file.GetArray<string>("tokenizer.ggml.merges")
            ?? throw new GgufException("a gpt2 (BPE) vocabulary needs merges", -1, "tokenizer.ggml.merges");

        int n = Texts.Length;
        var pieces = new ByteStringMap(n + merges.Length);
        // Same id as a text lookup gives (the later one if a text repeats).
        for (int i = 0; i < n; i++) pieces.Set(TextBytes[i], i);
        int nextPiece = n;
        var parts = new (int First, int Second, byte[] Bytes, int Space)[merges.Length];
        for (int i = 0; i < merges.Length; i++)
        {
            // As llama.cpp: split at the first space after the first byte; no space means two empty parts.
            var bytes = Encoding.UTF8.GetBytes(merges[i]);
            int space = bytes.Length > 1 ? bytes.AsSpan(1).IndexOf((byte)' ') : -1;
            ReadOnlySpan<byte> first = default, second = default;
            if (space >= 0)
            {
                first = bytes.AsSpan(0, space + 1);
                second = bytes.AsSpan(space + 2);
            }
            parts[i] = (PieceId(pieces, first, ref nextPiece), PieceId(pieces, second, ref nextPiece), bytes, space);
        }
        _merges = new Dictionary<long, long>(merges.Length);
        for (int i = 0; i < merges.Length; i++)
        {
            var (a, b, bytes, space) = parts[i];
            long key = ((long)a << 32) | (uint)b;
            if (_merges.ContainsKey(key)) continue; // the first rank of a repeated merge counts
            int result;
            if (space < 0) result = PieceId(pieces, default, ref nextPiece);
            else
            {
                var joined = new byte[bytes.Length - 1];
                bytes.AsSpan(0, space + 1).CopyTo(joined);
                bytes.AsSpan(space + 2).CopyTo(joined.AsSpan(space + 1));
                result = PieceId(pieces, joined, ref nextPiece);
            }
            _merges[key] = ((long)i << 32) | (uint)result;
        }
        for (int b = 0; b < 256; b++) _bytePiece[b] = pieces.Get(s_byteToUtf8[b]);

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

    static int PieceId(ByteStringMap pieces, ReadOnlySpan<byte> text, ref int nextPiece)
    {
        int id = pieces.Get(text);
        if (id >= 0) return id;
        pieces.Set(text, nextPiece);
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

        var session = new MergeSession();
        Span<byte> utf8 = stackalloc byte[4];
        int pos = 0;
        foreach (int len in lengths)
        {
            // The word's raw bytes, and their GPT-2 characters (UTF-8) that token texts are written in.
            session.Raw.Clear();
            session.Word.Clear();
            for (int k = pos; k < pos + len; k++)
            {
                int nb = CodepointInfo.EncodeUtf8(cpSpan[k], utf8);
                for (int j = 0; j < nb; j++)
                {
                    session.Raw.Add(utf8[j]);
                    session.Word.AddRange(s_byteToUtf8[utf8[j]]);
                }
            }
            pos += len;
            if (session.Raw.Count > 0) MergeWord(session, output);
        }
    }

    sealed class MergeSession
    {
        public readonly List<byte> Raw = new(64), Word = new(128);
        public int[] Start = new int[64], Size = new int[64], Prev = new int[64], Next = new int[64], Piece = new int[64];
        public readonly MergeQueue Queue = new();

        public void Ensure(int n)
        {
            if (Start.Length >= n) return;
            int m = Math.Max(n, Start.Length * 2);
            Start = new int[m]; Size = new int[m]; Prev = new int[m]; Next = new int[m]; Piece = new int[m];
        }
    }

    void MergeWord(MergeSession s, List<int> output)
    {
        var word = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(s.Word);
        var raw = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(s.Raw);
        if (_ignoreMerges)
        {
            int whole = TokenToId.Get(word);
            if (whole >= 0) { output.Add(whole); return; }
        }

        // One symbol per raw byte (= per GPT-2 character of the word), as llama.cpp starts from UTF-8 characters.
        int count = raw.Length;
        s.Ensure(count);
        var start = s.Start; var size = s.Size; var prev = s.Prev; var next = s.Next; var piece = s.Piece;
        int off = 0;
        for (int i = 0; i < count; i++)
        {
            start[i] = off;
            size[i] = s_byteToUtf8[raw[i]].Length;
            off += size[i];
            piece[i] = _bytePiece[raw[i]];
            prev[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
        }

        var queue = s.Queue;
        queue.Clear();
        for (int i = 1; i < count; i++) AddBigram(s, i - 1, i);

        while (queue.TryPop(out int l, out int r, out int bigramSize, out int result))
        {
            if (size[l] == 0 || size[r] == 0 || size[l] + size[r] != bigramSize) continue;
            size[l] += size[r];
            size[r] = 0;
            piece[l] = result;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            AddBigram(s, prev[l], l);
            AddBigram(s, l, next[l]);
        }

        int vocab = Texts.Length;
        for (int i = 0; i != -1; i = next[i])
        {
            if (size[i] == 0) continue;
            if ((uint)piece[i] < (uint)vocab) { output.Add(piece[i]); continue; }
            // As llama.cpp: a symbol that is not a token is emitted byte by byte where such tokens exist.
            foreach (var b in word.Slice(start[i], size[i]))
            {
                int id = TokenToId.Get([b]);
                if (id >= 0) output.Add(id);
            }
        }
    }

    void AddBigram(MergeSession s, int left, int right)
    {
        if (left < 0 || right < 0) return;
        int a = s.Piece[left], b = s.Piece[right];
        if (a < 0 || b < 0) return;
        if (!_merges.TryGetValue(((long)a << 32) | (uint)b, out long merge)) return;
        s.Queue.Push(MergeQueue.RankKey((int)(merge >> 32), left), right, s.Size[left] + s.Size[right], (int)(uint)merge);
    }
}
