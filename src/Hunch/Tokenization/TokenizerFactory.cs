using Hunch.Gguf;

namespace Hunch.Tokenization;

/// <summary>Creates the tokenizer a GGUF file describes (works on vocabulary-only files too).</summary>
public static class TokenizerFactory
{
    /// <summary>Builds the tokenizer named by <c>tokenizer.ggml.model</c>: <c>llama</c> (SentencePiece-style) or
    /// <c>gpt2</c> (byte-level BPE with the pre-tokenizer named by <c>tokenizer.ggml.pre</c>).</summary>
    /// <param name="file">The GGUF file.</param>
    /// <param name="warn">Receives warnings (for example an unknown pre-tokenizer); null writes them to stderr.</param>
    /// <exception cref="GgufException">The vocabulary metadata is missing, inconsistent or of an unsupported kind.</exception>
    public static ITokenizer FromGguf(GgufFile file, Action<string>? warn = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        var model = file.GetString("tokenizer.ggml.model")
            ?? throw new GgufException("the file has no tokenizer (tokenizer.ggml.model is missing)", -1, "tokenizer.ggml.model");
        return model switch
        {
            "llama" => new SpmTokenizer(file, warn),
            "gpt2" => new BpeTokenizer(file, warn),
            _ => throw new GgufException($"tokenizer model '{model}' is not supported (supported: llama, gpt2)", -1, "tokenizer.ggml.model"),
        };
    }
}
