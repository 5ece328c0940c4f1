namespace Hunch.Tokenization;

/// <summary>
/// A small backtracking regular-expression engine for the pre-tokenizer patterns, reproducing how llama.cpp runs
/// them through <c>std::regex</c> (ECMAScript grammar, leftmost-first alternation, greedy quantifiers).
/// </summary>
/// <remarks>
/// llama.cpp does not match code points directly. When a pattern uses <c>\p{L}</c>, <c>\p{N}</c> or <c>\p{P}</c>
/// it "collapses" the text: ASCII stays, non-ASCII whitespace becomes U+000B and every other non-ASCII code point
/// becomes one placeholder byte per category; the pattern's <c>\p{X}</c> becomes "placeholder or the ASCII members".
/// Otherwise it matches code points as wide characters, non-ASCII whitespace again replaced by U+000B.
/// This engine does the same: <see cref="MapText"/> produces those effective characters and the program matches
/// them literally, so every class behaves exactly as in llama.cpp (<c>\s</c> is the C-locale set).
/// Supported: literals, escapes, classes with ranges and negation, <c>\s \S \d \D \w \W \p{L|N|P|M|S}</c>,
/// groups <c>( )</c> <c>(?: )</c>, lookahead <c>(?= )</c> <c>(?! )</c>, <c>? * + {m} {m,} {m,n}</c> (and lazy
/// forms), <c>^ $ .</c>. A memo of (instruction, position) pairs already explored keeps matching linear in the
/// segment length for any pattern.
/// </remarks>
internal sealed class CodepointRegex
{
    enum Op : byte { Set, Any, Split, Jmp, Match, Begin, End, Look, NegLook }

    readonly record struct Inst(Op Op, int X, int Y);

    /// <summary>A character class over effective characters: inclusive ranges, optionally negated. ASCII is a
    /// bitmap; the rest are merged sorted ranges searched by bisection (some classes have over a hundred).</summary>
    sealed class CharSet
    {
        readonly ulong _ascii0, _ascii1;
        readonly int[] _lo, _hi;
        readonly bool _negated;

        public CharSet(int[] ranges, bool negated)
        {
            _negated = negated;
            var pairs = new List<(int Lo, int Hi)>();
            for (int i = 0; i < ranges.Length; i += 2)
            {
                int lo = ranges[i], hi = ranges[i + 1];
                for (int c = lo; c <= Math.Min(hi, 127); c++)
                {
                    if (c < 64) _ascii0 |= 1UL << c; else _ascii1 |= 1UL << (c - 64);
                }
                if (hi >= 128) pairs.Add((Math.Max(lo, 128), hi));
            }
            pairs.Sort();
            var los = new List<int>(); var his = new List<int>();
            foreach (var (lo, hi) in pairs)
            {
                if (los.Count > 0 && lo <= his[^1] + 1) { his[^1] = Math.Max(his[^1], hi); continue; }
                los.Add(lo); his.Add(hi);
            }
            _lo = los.ToArray(); _hi = his.ToArray();
        }

        public bool Matches(int c)
        {
            bool inside;
            if (c < 128) inside = c < 64 ? (_ascii0 >> c & 1) != 0 : (_ascii1 >> (c - 64) & 1) != 0;
            else
            {
                int a = 0, b = _lo.Length - 1;
                inside = false;
                while (a <= b)
                {
                    int m = (a + b) >> 1;
                    if (c < _lo[m]) b = m - 1;
                    else if (c > _hi[m]) a = m + 1;
                    else { inside = true; break; }
                }
            }
            return inside != _negated;
        }
    }

    // Placeholders of the collapsed representation, per category.
    const int PhOther = 0xD0, PhNumber = 0xD1, PhLetter = 0xD2, PhPunct = 0xD3, PhMark = 0xD4, PhSymbol = 0xD5;

    readonly Inst[] _prog;
    readonly CharSet[] _sets;
    // What a match can start with: searches skip positions no match can start at.
    readonly int[] _firstSets;
    readonly bool _firstAny, _canMatchEmpty;

    /// <summary>The pattern text.</summary>
    public string Pattern { get; }

    /// <summary>True when the pattern uses Unicode categories and therefore runs on the collapsed text.</summary>
    public bool Collapsed { get; }

    /// <summary>Number of instructions (for sizing the memo).</summary>
    public int ProgramLength => _prog.Length;

    CodepointRegex(string pattern, bool collapsed, Inst[] prog, CharSet[] sets)
    {
        Pattern = pattern; Collapsed = collapsed; _prog = prog; _sets = sets;
        (_firstSets, _firstAny, _canMatchEmpty) = FirstCharacters(prog);
    }

    /// <summary>The character sets the first consumed character must be in (assertions are passed over, which
    /// only widens the answer), and whether a match can consume nothing.</summary>
    static (int[] Sets, bool Any, bool Empty) FirstCharacters(Inst[] prog)
    {
        var sets = new List<int>();
        bool any = false, empty = false;
        var seen = new bool[prog.Length];
        var work = new Stack<int>();
        work.Push(0);
        while (work.Count > 0)
        {
            int pc = work.Pop();
            if (seen[pc]) continue;
            seen[pc] = true;
            var inst = prog[pc];
            switch (inst.Op)
            {
                case Op.Set: if (!sets.Contains(inst.X)) sets.Add(inst.X); break;
                case Op.Any: any = true; break;
                case Op.Match: empty = true; break;
                case Op.Split: work.Push(inst.X); work.Push(inst.Y); break;
                case Op.Jmp: work.Push(inst.X); break;
                default: work.Push(pc + 1); break; // Begin, End, Look, NegLook consume nothing
            }
        }
        return (sets.ToArray(), any, empty);
    }

    bool CanStartWith(int c)
    {
        if (_firstAny) return true;
        foreach (int set in _firstSets) if (_sets[set].Matches(c)) return true;
        return false;
    }

    /// <summary>Whether llama.cpp would run this pattern on the collapsed text.</summary>
    public static bool UsesCategories(string pattern) =>
        pattern.Contains(@"\p{N}", StringComparison.Ordinal) || pattern.Contains(@"\p{L}", StringComparison.Ordinal)
        || pattern.Contains(@"\p{P}", StringComparison.Ordinal) || pattern.Contains(@"\p{M}", StringComparison.Ordinal)
        || pattern.Contains(@"\p{S}", StringComparison.Ordinal);

    /// <summary>Compiles a pattern; throws <see cref="FormatException"/> for syntax this engine does not support.</summary>
    public static CodepointRegex Compile(string pattern)
    {
        bool collapsed = UsesCategories(pattern);
        var parser = new Parser(pattern, collapsed);
        var node = parser.ParseAll();
        var compiler = new Compiler();
        compiler.Emit(node);
        compiler.Add(new Inst(Op.Match, 0, 0));
        compiler.EmitPendingLooks();
        return new CodepointRegex(pattern, collapsed, compiler.Program.ToArray(), parser.Sets.ToArray());
    }

    /// <summary>Maps code points to the effective characters this pattern matches against.</summary>
    public void MapText(ReadOnlySpan<int> cps, Span<int> effective)
    {
        for (int i = 0; i < cps.Length; i++)
        {
            int cp = cps[i];
            if (cp < 128) { effective[i] = cp; continue; }
            if (CodepointInfo.IsWhitespace(cp)) { effective[i] = 0x0B; continue; }
            if (!Collapsed) { effective[i] = cp; continue; }
            effective[i] = CodepointInfo.Category(cp) switch
            {
                CodepointFlags.Number => PhNumber,
                CodepointFlags.Letter => PhLetter,
                CodepointFlags.Punctuation => PhPunct,
                CodepointFlags.Mark => PhMark,
                CodepointFlags.Symbol => PhSymbol,
                _ => PhOther,
            };
        }
    }

    /// <summary>Per-call scratch (backtracking stacks and memo), so one compiled pattern can serve many threads.</summary>
    internal sealed class Scratch
    {
        internal readonly List<int[]> Stacks = [];
        internal ulong[] Memo = [];
    }

    // Above this many memo bits (32 MiB, several million code points in one segment) the memo is skipped rather
    // than allocated without bound; matching then relies on the step limit below.
    const long MaxMemoBits = 256L * 1024 * 1024;

    /// <summary>Splits the segment [start, end) of <paramref name="effective"/> as llama.cpp's
    /// <c>unicode_regex_split_stl</c> does: every match and every gap between matches becomes a piece.
    /// Appends the piece lengths (zero-length matches only cut, they add no piece).</summary>
    public void SplitSegment(ReadOnlySpan<int> effective, int start, int end, List<int> lengths, Scratch scratch)
    {
        int segLen = end - start;
        long bits = (long)_prog.Length * (segLen + 1);
        bool useMemo = bits <= MaxMemoBits;
        if (useMemo)
        {
            int words = (int)((bits + 63) >> 6);
            if (scratch.Memo.Length < words) scratch.Memo = new ulong[Math.Max(words, scratch.Memo.Length * 2)];
            else Array.Clear(scratch.Memo, 0, words);
        }

        int lastEnd = start, searchFrom = start;
        bool notNullFirst = false;
        while (searchFrom <= end)
        {
            int matchStart = -1, matchEnd = -1;
            for (int p = searchFrom; p <= end; p++)
            {
                if (!_canMatchEmpty && (p == end || !CanStartWith(effective[p]))) continue;
                int e = Run(effective, start, end, p, 0, useMemo, notNullFirst && p == searchFrom, scratch, 0, 1000L * (segLen + 1000));
                if (e >= 0) { matchStart = p; matchEnd = e; break; }
            }
            if (matchStart < 0) break;
            if (matchStart > lastEnd) lengths.Add(matchStart - lastEnd);
            if (matchEnd > matchStart) lengths.Add(matchEnd - matchStart);
            lastEnd = matchEnd;
            // States at the match end may lie on the successful path, so they are not known failures.
            if (useMemo) ClearMemoColumn(scratch.Memo, matchEnd - start, segLen + 1);
            notNullFirst = matchEnd == matchStart;
            searchFrom = matchEnd;
        }
        if (lastEnd < end) lengths.Add(end - lastEnd);
    }

    void ClearMemoColumn(ulong[] memo, int column, int width)
    {
        for (int pc = 0; pc < _prog.Length; pc++)
        {
            long bit = (long)pc * width + column;
            memo[bit >> 6] &= ~(1UL << (int)(bit & 63));
        }
    }

    /// <summary>Runs the program from <paramref name="pc0"/> at <paramref name="startPos"/>; returns the match end or -1.</summary>
    int Run(ReadOnlySpan<int> s, int segStart, int segEnd, int startPos, int pc0, bool useMemo, bool notNull, Scratch scratch, int depth, long maxSteps)
    {
        if (depth > 16) throw new InvalidOperationException("regex lookaround nesting too deep");
        while (scratch.Stacks.Count <= depth) scratch.Stacks.Add(new int[64]);
        var stack = scratch.Stacks[depth];
        int sp = 0;
        stack[sp++] = pc0; stack[sp++] = startPos;
        int width = segEnd - segStart + 1;
        var memo = scratch.Memo;
        long steps = 0;
        while (sp > 0)
        {
            int pos = stack[--sp];
            int pc = stack[--sp];
            while (true)
            {
                if (useMemo)
                {
                    long bit = (long)pc * width + (pos - segStart);
                    ref ulong w = ref memo[bit >> 6];
                    ulong m = 1UL << (int)(bit & 63);
                    if ((w & m) != 0) break;
                    w |= m;
                }
                else if (++steps > maxSteps) throw new InvalidOperationException($"pre-tokenizer pattern needs too many steps on a {segEnd - segStart}-character piece of text");

                var inst = _prog[pc];
                bool ok;
                switch (inst.Op)
                {
                    case Op.Set:
                        ok = pos < segEnd && _sets[inst.X].Matches(s[pos]);
                        if (ok) { pc++; pos++; continue; }
                        break;
                    case Op.Any:
                        ok = pos < segEnd && s[pos] != '\n' && s[pos] != '\r' && s[pos] != 0x2028 && s[pos] != 0x2029;
                        if (ok) { pc++; pos++; continue; }
                        break;
                    case Op.Split:
                        if (sp + 2 > stack.Length) { Array.Resize(ref stack, stack.Length * 2); scratch.Stacks[depth] = stack; }
                        stack[sp++] = inst.Y; stack[sp++] = pos;
                        pc = inst.X;
                        continue;
                    case Op.Jmp:
                        pc = inst.X;
                        continue;
                    case Op.Match:
                        if (notNull && pos == startPos) break;
                        return pos;
                    case Op.Begin:
                        if (pos == segStart) { pc++; continue; }
                        break;
                    case Op.End:
                        if (pos == segEnd) { pc++; continue; }
                        break;
                    case Op.Look:
                    case Op.NegLook:
                        {
                            bool found = Run(s, segStart, segEnd, pos, inst.X, false, false, scratch, depth + 1, maxSteps) >= 0;
                            stack = scratch.Stacks[depth];
                            if (found == (inst.Op == Op.Look)) { pc++; continue; }
                            break;
                        }
                }
                break;
            }
        }
        return -1;
    }

    // ---------------------------------------------------------------- parsing

    abstract record Node;
    sealed record SetNode(int Set) : Node;
    sealed record AnyNode : Node;
    sealed record SeqNode(List<Node> Items) : Node;
    sealed record AltNode(List<Node> Options) : Node;
    sealed record RepeatNode(Node Body, int Min, int Max, bool Greedy) : Node;
    sealed record LookNode(Node Body, bool Negated) : Node;
    sealed record AnchorNode(bool Begin) : Node;

    sealed class Parser(string pattern, bool collapsed)
    {
        readonly int[] _cps = ToCodepoints(pattern);
        int _i;
        public readonly List<CharSet> Sets = [];

        static int[] ToCodepoints(string s)
        {
            var list = new List<int>(s.Length);
            foreach (var r in s.EnumerateRunes()) list.Add(r.Value);
            return list.ToArray();
        }

        FormatException Error(string what) => new($"unsupported regex {what} at {_i} in: {pattern}");

        public Node ParseAll()
        {
            var n = ParseAlt();
            if (_i != _cps.Length) throw Error("')'");
            return n;
        }

        Node ParseAlt()
        {
            var options = new List<Node> { ParseSeq() };
            while (_i < _cps.Length && _cps[_i] == '|') { _i++; options.Add(ParseSeq()); }
            return options.Count == 1 ? options[0] : new AltNode(options);
        }

        Node ParseSeq()
        {
            var items = new List<Node>();
            while (_i < _cps.Length && _cps[_i] != '|' && _cps[_i] != ')')
            {
                var atom = ParseAtom();
                items.Add(ParseQuantifier(atom));
            }
            return new SeqNode(items);
        }

        Node ParseQuantifier(Node atom)
        {
            while (_i < _cps.Length)
            {
                int c = _cps[_i];
                int min, max;
                if (c == '?') { min = 0; max = 1; _i++; }
                else if (c == '*') { min = 0; max = -1; _i++; }
                else if (c == '+') { min = 1; max = -1; _i++; }
                else if (c == '{' && TryParseCount(out min, out max)) { }
                else break;
                bool greedy = true;
                if (_i < _cps.Length && _cps[_i] == '?') { greedy = false; _i++; }
                if (atom is LookNode or AnchorNode) throw Error("quantified assertion");
                atom = new RepeatNode(atom, min, max, greedy);
            }
            return atom;
        }

        bool TryParseCount(out int min, out int max)
        {
            int save = _i;
            min = max = 0;
            _i++;
            if (!ReadInt(out min)) { _i = save; return false; }
            if (_i < _cps.Length && _cps[_i] == '}') { _i++; max = min; return true; }
            if (_i < _cps.Length && _cps[_i] == ',')
            {
                _i++;
                if (_i < _cps.Length && _cps[_i] == '}') { _i++; max = -1; return true; }
                if (ReadInt(out max) && _i < _cps.Length && _cps[_i] == '}' && max >= min) { _i++; return true; }
            }
            throw Error("counted repetition");
        }

        bool ReadInt(out int v)
        {
            v = 0; int start = _i;
            while (_i < _cps.Length && _cps[_i] is >= '0' and <= '9' && _i - start < 4) { v = v * 10 + (_cps[_i] - '0'); _i++; }
            return _i > start;
        }

        Node ParseAtom()
        {
            int c = _cps[_i];
            switch (c)
            {
                case '(':
                    {
                        _i++;
                        int kind = 0; // 0 group, 1 lookahead, 2 negative lookahead
                        if (_i < _cps.Length && _cps[_i] == '?')
                        {
                            if (_i + 1 >= _cps.Length) throw Error("group");
                            int k = _cps[_i + 1];
                            if (k == ':') kind = 0;
                            else if (k == '=') kind = 1;
                            else if (k == '!') kind = 2;
                            else throw Error("group kind");
                            _i += 2;
                        }
                        var body = ParseAlt();
                        if (_i >= _cps.Length || _cps[_i] != ')') throw Error("unclosed group");
                        _i++;
                        return kind == 0 ? body : new LookNode(body, kind == 2);
                    }
                case '[': return ParseClass();
                case '.': _i++; return new AnyNode();
                case '^': _i++; return new AnchorNode(true);
                case '$': _i++; return new AnchorNode(false);
                case '\\':
                    {
                        var ranges = new List<int>();
                        _i++;
                        bool negatedClass = ParseEscape(ranges, out bool isClass);
                        return new SetNode(AddSet(ranges, isClass && negatedClass));
                    }
                case '*' or '+' or '?':
                    throw Error("quantifier without operand");
                default:
                    _i++;
                    if (collapsed && c >= 128) throw Error("non-ASCII literal together with \\p classes");
                    return new SetNode(AddSet(new[] { c, c }, false));
            }
        }

        int AddSet(List<int> ranges, bool negated) => AddSet(ranges.ToArray(), negated);

        int AddSet(int[] ranges, bool negated)
        {
            Sets.Add(new CharSet(ranges, negated));
            return Sets.Count - 1;
        }

        /// <summary>Parses an escape after the backslash; adds its ranges. Returns true when it is a negated
        /// class escape (\S, \D, \W) whose ranges were added un-negated.</summary>
        bool ParseEscape(List<int> ranges, out bool isClass)
        {
            if (_i >= _cps.Length) throw Error("trailing backslash");
            int c = _cps[_i++];
            isClass = true;
            switch (c)
            {
                case 's': AddSpace(ranges); return false;
                case 'S': AddSpace(ranges); return true;
                case 'd': ranges.AddRange(['0', '9']); return false;
                case 'D': ranges.AddRange(['0', '9']); return true;
                case 'w': AddWord(ranges); return false;
                case 'W': AddWord(ranges); return true;
                case 'p':
                    {
                        if (_i + 2 >= _cps.Length || _cps[_i] != '{' || _cps[_i + 2] != '}') throw Error("\\p class");
                        int cat = _cps[_i + 1];
                        _i += 3;
                        if (!collapsed) throw Error("\\p class");
                        AddCategory(ranges, cat);
                        return false;
                    }
            }
            isClass = false;
            int lit = c switch
            {
                'r' => '\r', 'n' => '\n', 't' => '\t', 'v' => '\v', 'f' => '\f', '0' => 0,
                'x' => ReadHex(2), 'u' => ReadHex(4),
                _ when c < 128 && !char.IsAsciiLetterOrDigit((char)c) => c,
                _ => throw Error($"escape \\{(char)c}"),
            };
            ranges.Add(lit); ranges.Add(lit);
            return false;
        }

        int ReadHex(int digits)
        {
            int v = 0;
            for (int k = 0; k < digits; k++)
            {
                if (_i >= _cps.Length || !char.IsAsciiHexDigit((char)_cps[_i])) throw Error("hex escape");
                v = v * 16 + Convert.ToInt32(((char)_cps[_i++]).ToString(), 16);
            }
            return v;
        }

        static void AddSpace(List<int> r) { r.AddRange([0x09, 0x0D, 0x20, 0x20]); }
        static void AddWord(List<int> r) { r.AddRange(['0', '9', 'A', 'Z', '_', '_', 'a', 'z']); }

        void AddCategory(List<int> r, int cat)
        {
            switch (cat)
            {
                case 'N': r.AddRange([PhNumber, PhNumber, '0', '9']); break;
                case 'L': r.AddRange([PhLetter, PhLetter, 'A', 'Z', 'a', 'z']); break;
                case 'P':
                    r.AddRange([PhPunct, PhPunct, 0x21, 0x23, 0x25, 0x2A, 0x2C, 0x2F, 0x3A, 0x3B, 0x3F, 0x40,
                        0x5B, 0x5D, 0x5F, 0x5F, 0x7B, 0x7B, 0x7D, 0x7D]);
                    break;
                case 'M': r.AddRange([PhMark, PhMark]); break;
                // llama.cpp's ASCII list for symbols omits '~'; kept identical on purpose.
                case 'S': r.AddRange([PhSymbol, PhSymbol, 0x24, 0x24, 0x2B, 0x2B, 0x3C, 0x3E, 0x5E, 0x5E, 0x60, 0x60, 0x7C, 0x7C]); break;
                default: throw Error($"category \\p{{{(char)cat}}}");
            }
        }

        Node ParseClass()
        {
            _i++; // '['
            bool negated = false;
            if (_i < _cps.Length && _cps[_i] == '^') { negated = true; _i++; }
            var ranges = new List<int>();
            var negatedParts = new List<int>(); // \S \D \W inside a class: stored as a separate complemented set
            bool first = true;
            while (true)
            {
                if (_i >= _cps.Length) throw Error("unclosed class");
                int c = _cps[_i];
                if (c == ']' && !first) { _i++; break; }
                first = false;
                int lo;
                if (c == '\\')
                {
                    _i++;
                    var tmp = new List<int>();
                    bool neg = ParseEscape(tmp, out bool isClass);
                    if (isClass)
                    {
                        if (neg) negatedParts.AddRange(tmp); else ranges.AddRange(tmp);
                        continue;
                    }
                    lo = tmp[0];
                }
                else { lo = c; _i++; }
                if (collapsed && lo >= 128) throw Error("non-ASCII literal together with \\p classes");

                int hi = lo;
                if (_i + 1 < _cps.Length && _cps[_i] == '-' && _cps[_i + 1] != ']')
                {
                    _i++;
                    int c2 = _cps[_i];
                    if (c2 == '\\')
                    {
                        _i++;
                        var tmp = new List<int>();
                        ParseEscape(tmp, out bool isClass2);
                        if (isClass2) throw Error("class range");
                        hi = tmp[0];
                    }
                    else { hi = c2; _i++; }
                    if (hi < lo) throw Error("reversed class range");
                }
                ranges.Add(lo); ranges.Add(hi);
            }
            if (negatedParts.Count > 0)
            {
                // [..\S..]: the complement of \S's ranges joins the positive ranges.
                ranges.AddRange(Complement(negatedParts));
            }
            return new SetNode(AddSet(ranges, negated));
        }

        static int[] Complement(List<int> ranges)
        {
            var pairs = new List<(int lo, int hi)>();
            for (int i = 0; i < ranges.Count; i += 2) pairs.Add((ranges[i], ranges[i + 1]));
            pairs.Sort();
            var result = new List<int>();
            int next = 0;
            foreach (var (lo, hi) in pairs)
            {
                if (lo > next) { result.Add(next); result.Add(lo - 1); }
                next = Math.Max(next, hi + 1);
            }
            if (next <= 0x10FFFF) { result.Add(next); result.Add(0x10FFFF); }
            return result.ToArray();
        }
    }

    // ---------------------------------------------------------------- compiling

    sealed class Compiler
    {
        public readonly List<Inst> Program = [];
        readonly List<(int At, Node Body)> _pendingLooks = [];

        public int Add(Inst i) { Program.Add(i); return Program.Count - 1; }

        public void Emit(Node n)
        {
            switch (n)
            {
                case SetNode s: Add(new Inst(Op.Set, s.Set, 0)); break;
                case AnyNode: Add(new Inst(Op.Any, 0, 0)); break;
                case AnchorNode a: Add(new Inst(a.Begin ? Op.Begin : Op.End, 0, 0)); break;
                case SeqNode q: foreach (var item in q.Items) Emit(item); break;
                case AltNode alt:
                    {
                        var jumps = new List<int>();
                        for (int k = 0; k < alt.Options.Count; k++)
                        {
                            if (k < alt.Options.Count - 1)
                            {
                                int split = Add(new Inst(Op.Split, 0, 0));
                                Emit(alt.Options[k]);
                                jumps.Add(Add(new Inst(Op.Jmp, 0, 0)));
                                Program[split] = new Inst(Op.Split, split + 1, Program.Count);
                            }
                            else Emit(alt.Options[k]);
                        }
                        foreach (var j in jumps) Program[j] = new Inst(Op.Jmp, Program.Count, 0);
                        break;
                    }
                case RepeatNode r:
                    {
                        if (r.Min > 1000 || r.Max > 1000) throw new FormatException("regex repetition count too large");
                        for (int k = 0; k < r.Min; k++) Emit(r.Body);
                        if (r.Max < 0)
                        {
                            int split = Add(new Inst(Op.Split, 0, 0));
                            Emit(r.Body);
                            Add(new Inst(Op.Jmp, split, 0));
                            Program[split] = SplitTo(split + 1, Program.Count, r.Greedy);
                        }
                        else
                        {
                            var splits = new List<int>();
                            for (int k = r.Min; k < r.Max; k++)
                            {
                                splits.Add(Add(new Inst(Op.Split, 0, 0)));
                                Emit(r.Body);
                            }
                            foreach (var sIdx in splits) Program[sIdx] = SplitTo(sIdx + 1, Program.Count, r.Greedy);
                        }
                        break;
                    }
                case LookNode l:
                    _pendingLooks.Add((Add(new Inst(l.Negated ? Op.NegLook : Op.Look, 0, 0)), l.Body));
                    break;
                default: throw new FormatException("unsupported regex node");
            }
        }

        static Inst SplitTo(int body, int exit, bool greedy) => greedy ? new Inst(Op.Split, body, exit) : new Inst(Op.Split, exit, body);

        /// <summary>Lookaround bodies are separate sub-programs after the main one, each ending in Match.</summary>
        public void EmitPendingLooks()
        {
            for (int k = 0; k < _pendingLooks.Count; k++)
            {
                var (at, body) = _pendingLooks[k];
                int start = Program.Count;
                Emit(body);
                Add(new Inst(Op.Match, 0, 0));
                Program[at] = new Inst(Program[at].Op, start, 0);
            }
        }
    }
}
