namespace Hunch.Tokenization;

/// <summary>Kinds of vocabulary entries, numbered as <c>tokenizer.ggml.token_type</c> numbers them.</summary>
public enum TokenKind
{
    /// <summary>Not set in the file.</summary>
    Undefined = 0,
    /// <summary>Ordinary text piece.</summary>
    Normal = 1,
    /// <summary>The unknown token.</summary>
    Unknown = 2,
    /// <summary>Control tokens such as BOS/EOS and chat markers (parsed only when asked, printed only when asked).</summary>
    Control = 3,
    /// <summary>Tokens added by the user; always split out of text and printed verbatim.</summary>
    UserDefined = 4,
    /// <summary>Unused slot.</summary>
    Unused = 5,
    /// <summary>A single raw byte, named <c>&lt;0xNN&gt;</c>.</summary>
    Byte = 6,
}

/// <summary>Converts text to token ids and back, exactly as llama.cpp does for the same GGUF vocabulary.</summary>
public interface ITokenizer
{
    /// <summary>Number of tokens in the vocabulary.</summary>
    int VocabularySize { get; }

    /// <summary>Beginning-of-sequence token id, or -1.</summary>
    int BosId { get; }

    /// <summary>End-of-sequence token id, or -1.</summary>
    int EosId { get; }

    /// <summary>Whether <see cref="Encode"/> prepends BOS when <c>addSpecial</c> is true.</summary>
    bool AddBos { get; }

    /// <summary>Whether <see cref="Encode"/> appends EOS when <c>addSpecial</c> is true.</summary>
    bool AddEos { get; }

    /// <summary>Tokenizes text. <paramref name="addSpecial"/> adds BOS/EOS as the vocabulary asks;
    /// <paramref name="parseSpecial"/> lets control-token text in <paramref name="text"/> become control tokens.</summary>
    int[] Encode(string text, bool addSpecial = true, bool parseSpecial = false);

    /// <summary>The raw bytes a token stands for when printed (control tokens give none unless <paramref name="special"/>).</summary>
    ReadOnlySpan<byte> TokenBytes(int token, bool special = false);

    /// <summary>The vocabulary's text for a token (as stored in the GGUF file).</summary>
    string TokenText(int token);

    /// <summary>The kind of a token.</summary>
    TokenKind Kind(int token);

    /// <summary>True for tokens that end generation (EOS, EOT and other end-of-generation markers).</summary>
    bool IsEndOfGeneration(int token);
}
