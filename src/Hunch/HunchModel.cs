using Hunch.Gguf;
using Hunch.Kernels;
using Hunch.Models;
using Hunch.Tokenization;

namespace Hunch;

/// <summary>
/// A loaded GGUF model with its tokenizer and chat template: the entry point of the library.
/// <code>
/// using var model = HunchModel.Load("model.gguf");
/// var generator = model.CreateGenerator();
/// var result = generator.Generate(model.Tokenizer.Encode("def add(a, b):"), new GenerationOptions { MaxTokens = 64 });
/// Console.WriteLine(model.Tokenizer.Decode(result.Tokens));
/// </code>
/// </summary>
public sealed class HunchModel : IDisposable
{
    readonly GgufFile _file;
    readonly WorkerPool? _ownedPool;

    /// <summary>The transformer.</summary>
    public TransformerModel Transformer { get; }

    /// <summary>The tokenizer read from the file's metadata.</summary>
    public ITokenizer Tokenizer { get; }

    /// <summary>The file's <c>tokenizer.chat_template</c> text, or null for base models without one.</summary>
    public string? ChatTemplateSource { get; }

    /// <summary>The chat template (the file's, or <see cref="Chat.ChatTemplate.PlainFallback"/> for base models).</summary>
    public Chat.ChatTemplate ChatTemplate => _chatTemplate ??= ChatTemplateSource is null ? Chat.ChatTemplate.PlainFallback : Chat.ChatTemplate.Parse(ChatTemplateSource);
    Chat.ChatTemplate? _chatTemplate;

    /// <summary>The model's name from <c>general.name</c>, or the file name.</summary>
    public string Name { get; }

    /// <summary>Path of the GGUF file.</summary>
    public string Path { get; }

    /// <summary>The GGUF file (metadata and tensor infos).</summary>
    public GgufFile File => _file;

    HunchModel(string path, GgufFile file, WorkerPool? ownedPool, WorkerPool pool)
    {
        _file = file;
        _ownedPool = ownedPool;
        Path = path;
        Tokenizer = TokenizerFactory.FromGguf(file);
        Transformer = TransformerModel.Load(file, pool);
        if (Tokenizer.VocabularySize != Transformer.Config.VocabSize)
        {
            Transformer.Dispose();
            throw new GgufException($"the vocabulary has {Tokenizer.VocabularySize} tokens but token_embd.weight has {Transformer.Config.VocabSize} rows (llama.cpp requires them equal)", -1, "tokenizer.ggml.tokens");
        }
        ChatTemplateSource = file.GetString("tokenizer.chat_template");
        Name = file.GetString("general.name") ?? System.IO.Path.GetFileNameWithoutExtension(path);
    }

    /// <summary>Loads a GGUF model. <paramref name="threads"/> sets the number of compute threads (0: all cores, shared pool).</summary>
    /// <exception cref="GgufException">The file is malformed or uses an unsupported architecture or type.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static HunchModel Load(string path, int threads = 0)
    {
        var file = GgufFile.Open(path);
        WorkerPool? owned = threads > 0 ? new WorkerPool(threads) : null;
        try { return new HunchModel(path, file, owned, owned ?? WorkerPool.Shared); }
        catch
        {
            owned?.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>Renders a conversation with the chat template and tokenizes it (control-token text in the template
    /// becomes control tokens; a BOS the template already wrote is not added twice).</summary>
    public int[] EncodeChat(IEnumerable<Chat.ChatMessage> messages, bool addGenerationPrompt = true)
    {
        int bos = Tokenizer.BosId, eos = Tokenizer.EosId;
        string text = ChatTemplate.Render(messages, addGenerationPrompt,
            bos >= 0 ? Tokenizer.TokenText(bos) : null, eos >= 0 ? Tokenizer.TokenText(eos) : null);
        var ids = Tokenizer.Encode(text, addSpecial: true, parseSpecial: true);
        if (ids.Length >= 2 && Tokenizer.AddBos && ids[0] == bos && ids[1] == bos) ids = ids[1..];
        return ids;
    }

    /// <summary>Creates a generator (one request at a time; create one per concurrent user).</summary>
    public Generation.Generator CreateGenerator() => new(Transformer, Tokenizer);

    /// <inheritdoc/>
    public void Dispose()
    {
        Transformer.Dispose();
        _file.Dispose();
        _ownedPool?.Dispose();
    }
}
