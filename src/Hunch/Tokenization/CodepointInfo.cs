using System.Globalization;

namespace Hunch.Tokenization;

/// <summary>Unicode category flags of a code point, grouped the way llama.cpp's unicode tables group them
/// (one category bit per code point, plus a separate whitespace bit).</summary>
[Flags]
internal enum CodepointFlags : byte
{
    None = 0,
    Undefined = 1,
    Number = 2,
    Letter = 4,
    Separator = 8,
    Mark = 16,
    Punctuation = 32,
    Symbol = 64,
    Control = 128,
}

/// <summary>Code point classification used by the pre-tokenizers.</summary>
internal static class CodepointInfo
{
    // One byte per BMP code point: category flag; whitespace is kept in a separate bit array because
    // every category bit is already used. Built once; about 72 KiB.
    static readonly byte[] s_bmpCategory = BuildBmp();
    static readonly ulong[] s_bmpWhitespace = BuildWhitespace();

    static byte[] BuildBmp()
    {
        var t = new byte[0x10000];
        for (int cp = 0; cp < t.Length; cp++) t[cp] = (byte)FromCategory(CharUnicodeInfo.GetUnicodeCategory(cp));
        return t;
    }

    static ulong[] BuildWhitespace()
    {
        var bits = new ulong[0x10000 / 64];
        // The Unicode White_Space property, which is what llama.cpp's whitespace table holds.
        ReadOnlySpan<int> ws = [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680,
            0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
            0x2028, 0x2029, 0x202F, 0x205F, 0x3000];
        foreach (var cp in ws) bits[cp >> 6] |= 1UL << (cp & 63);
        return bits;
    }

    static CodepointFlags FromCategory(UnicodeCategory c) => c switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CodepointFlags.Letter,
        UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => CodepointFlags.Mark,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CodepointFlags.Number,
        UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
            or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation => CodepointFlags.Punctuation,
        UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol
            or UnicodeCategory.OtherSymbol => CodepointFlags.Symbol,
        UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => CodepointFlags.Separator,
        // llama.cpp's table was generated with Python's regex module, whose \p{C} also covers unassigned code points.
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate
            or UnicodeCategory.OtherNotAssigned => CodepointFlags.Control,
        _ => CodepointFlags.Undefined,
    };

    /// <summary>The category flag of a code point (exactly one bit set for valid code points).</summary>
    public static CodepointFlags Category(int cp)
    {
        if ((uint)cp < 0x10000u) return (CodepointFlags)s_bmpCategory[cp];
        if ((uint)cp > 0x10FFFFu) return CodepointFlags.Control;
        return FromCategory(CharUnicodeInfo.GetUnicodeCategory(cp));
    }

    /// <summary>True for code points with the Unicode White_Space property.</summary>
    public static bool IsWhitespace(int cp) => (uint)cp < 0x10000u && (s_bmpWhitespace[cp >> 6] & (1UL << (cp & 63))) != 0;

    public static bool IsLetter(int cp) => Category(cp) == CodepointFlags.Letter;
    public static bool IsNumber(int cp) => Category(cp) == CodepointFlags.Number;

    /// <summary>Decodes UTF-8 into code points the way llama.cpp's <c>unicode_cpts_from_utf8</c> does for valid
    /// input; an invalid sequence becomes U+FFFD for its first byte and decoding resumes at the next byte.</summary>
    public static int Decode(ReadOnlySpan<byte> utf8, List<int> output)
    {
        int n = 0, i = 0;
        while (i < utf8.Length)
        {
            var status = System.Text.Rune.DecodeFromUtf8(utf8[i..], out var rune, out int used);
            output.Add(status == System.Buffers.OperationStatus.Done ? rune.Value : 0xFFFD);
            i += Math.Max(used, 1);
            n++;
        }
        return n;
    }

    /// <summary>Length of the UTF-8 sequence a lead byte announces, as llama.cpp's <c>unicode_len_utf8</c>
    /// computes it (continuation and invalid bytes count as 1).</summary>
    public static int Utf8Length(byte lead) => (lead >> 4) switch { 12 or 13 => 2, 14 => 3, 15 => 4, _ => 1 };

    /// <summary>Writes a code point as UTF-8; returns the byte count.</summary>
    public static int EncodeUtf8(int cp, Span<byte> dst)
    {
        if (cp < 0x80) { dst[0] = (byte)cp; return 1; }
        if (cp < 0x800) { dst[0] = (byte)(0xC0 | (cp >> 6)); dst[1] = (byte)(0x80 | (cp & 0x3F)); return 2; }
        if (cp < 0x10000)
        {
            dst[0] = (byte)(0xE0 | (cp >> 12)); dst[1] = (byte)(0x80 | ((cp >> 6) & 0x3F)); dst[2] = (byte)(0x80 | (cp & 0x3F));
            return 3;
        }
        dst[0] = (byte)(0xF0 | (cp >> 18)); dst[1] = (byte)(0x80 | ((cp >> 12) & 0x3F));
        dst[2] = (byte)(0x80 | ((cp >> 6) & 0x3F)); dst[3] = (byte)(0x80 | (cp & 0x3F));
        return 4;
    }
}
