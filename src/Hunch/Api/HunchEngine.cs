using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Hunch.Generation;
using Hunch.Models;
using Hunch.Speculative;
using Hunch.Tokenization;

namespace Hunch.Api;

/// <summary>
/// A model ready to serve many requests at once, from any thread. One engine thread runs the model: each shared
/// forward carries one step of every generating request (its draft tree, or one root when it does not
/// speculate) plus prompt chunks of requests still prefilling, so requests advance together and fairly.
/// Every request gets its own sequence slot (KV cache) and drafter; a finished request leaves its rows in the
/// slot so a later request sharing the prompt prefix (the next chat turn) skips recomputing it. Requests beyond
/// the slots wait in a bounded queue; beyond that <see cref="Start"/> throws <see cref="QueueFullException"/>.
/// Results are exactly those of a request run alone (the forward is batch-invariant).
/// </summary>
/// <example>
/// <code>
/// using var engine = new HunchEngine(model, tokenizer);
/// var result = engine.Complete(new CompletionRequest { Prompt = "def add(a, b):", MaxTokens = 32 });
/// await foreach (var update in engine.StreamAsync(new CompletionRequest { Prompt = "import os" }))
///     Console.Write(update.Text);
/// </code>
/// </example>
public sealed partial class HunchEngine : IDisposable
{
    readonly TransformerModel _model;
    readonly ITokenizer _tokenizer;
    readonly EngineOptions _options;
    readonly bool _ownsModel;
    readonly HunchModel? _hunchModel;
    readonly int _ctx;
    readonly SequenceSlot?[] _slots;
    readonly bool[] _slotBusy;
    readonly object _lock = new();
    readonly Queue<Job> _queue = new();
    readonly List<Job> _active = [];
    readonly ManualResetEventSlim _wake = new(false);
    readonly Thread _thread;
    volatile bool _disposed;

    /// <summary>Creates an engine over a loaded model and its tokenizer.</summary>
    /// <param name="model">The target model.</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="options">Settings (null: defaults).</param>
    /// <param name="ownsModel">Dispose <paramref name="model"/> with the engine.</param>
    public HunchEngine(TransformerModel model, ITokenizer tokenizer, EngineOptions? options = null, bool ownsModel = false)
        : this(model, tokenizer, options, ownsModel, null, false)
    {
    }

    HunchEngine(TransformerModel model, ITokenizer tokenizer, EngineOptions? options, bool ownsModel, HunchModel? hunchModel, bool ownsHunchModel)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        options ??= new EngineOptions();
        if (options.Parallel is < 1 or > 256) throw new ArgumentOutOfRangeException(nameof(options), $"parallel {options.Parallel} must be in 1..256");
        if (options.QueueLimit is < 0 or > 100_000) throw new ArgumentOutOfRangeException(nameof(options), $"queue limit {options.QueueLimit} must be in 0..100000");
        if (options.MaxDraftNodes is < 1 or > 1024) throw new ArgumentOutOfRangeException(nameof(options), $"max draft nodes {options.MaxDraftNodes} must be in 1..1024");
        if (options.MaxBatchRows is < 1 or > 4096) throw new ArgumentOutOfRangeException(nameof(options), $"max batch rows {options.MaxBatchRows} must be in 1..4096");
        if (options.ContextSize < 0) throw new ArgumentOutOfRangeException(nameof(options), "context size must not be negative");
        _model = model;
        _tokenizer = tokenizer;
        _options = options;
        _ownsModel = ownsModel;
        _hunchModel = hunchModel;
        _ownsHunchModel = ownsHunchModel;
        _ctx = options.ContextSize > 0 ? Math.Min(options.ContextSize, model.Config.ContextLength) : model.Config.ContextLength;
        // Fail on an unknown default drafter now rather than on the first request.
        CreateDrafter(options.DefaultDrafter).Dispose();
        _slots = new SequenceSlot?[options.Parallel];
        _slotBusy = new bool[options.Parallel];
        _thread = new Thread(Run) { IsBackground = true, Name = "hunch-engine" };
        _thread.Start();
    }

    /// <summary>Creates an engine over a loaded model; chat requests use its chat template.</summary>
    /// <param name="model">The model.</param>
    /// <param name="options">Settings (null: defaults).</param>
    /// <param name="ownsModel">Dispose <paramref name="model"/> with the engine.</param>
    /// <remarks>Without <see cref="EngineOptions.DrafterFactory"/>, drafters come from <see cref="Drafters.Create"/>
    /// (none, recycling, lookup with options, model:PATH, self:..., heads:PATH). Recycling drafters share one table
    /// per model: every drafter runs on the engine thread, so sharing is safe, and requests learn from each other.</remarks>
    public HunchEngine(HunchModel model, EngineOptions? options = null, bool ownsModel = false)
        : this(ArgumentNullExceptionGuard(model).Transformer, model.Tokenizer, WithDefaultDrafters(model, options), false, model, ownsModel)
    {
    }

    static HunchModel ArgumentNullExceptionGuard(HunchModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model;
    }

    static EngineOptions WithDefaultDrafters(HunchModel model, EngineOptions? options)
    {
        options ??= new EngineOptions();
        if (options.DrafterFactory is not null) return options;
        // Auto-sized drafters time the model's forward once (cached per model). Measure now, before the engine
        // thread starts: a drafter created later for a request must not run a forward beside the engine's.
        ForwardCostCurve.Measure(model.Transformer);
        int nodes = options.MaxDraftNodes;
        return options with
        {
            DrafterFactory = spec => Drafters.Create(spec == "recycling" ? "recycling:shared=true" : spec, model, nodes),
        };
    }

    readonly bool _ownsHunchModel;

    /// <summary>Loads a GGUF model and starts an engine that owns it.</summary>
    /// <param name="path">GGUF file.</param>
    /// <param name="options">Settings (null: defaults).</param>
    /// <param name="threads">Compute threads (0: all cores).</param>
    public static HunchEngine Load(string path, EngineOptions? options = null, int threads = 0)
    {
        var model = HunchModel.Load(path, threads);
        try { return new HunchEngine(model, options, ownsModel: true); }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The loaded model facade, when the engine was created from one.</summary>
    public HunchModel? HunchModel => _hunchModel;

    /// <summary>The model.</summary>
    public TransformerModel Model => _model;
    /// <summary>The tokenizer.</summary>
    public ITokenizer Tokenizer => _tokenizer;
    /// <summary>Settings in force.</summary>
    public EngineOptions Options => _options;
    /// <summary>Context size per request in tokens.</summary>
    public int ContextSize => _ctx;

    /// <summary>
    /// Validates and queues a request; the returned stream yields its updates as they are generated.
    /// Cancelling <paramref name="cancellationToken"/> stops generation and frees the slot at the next step.
    /// </summary>
    /// <exception cref="InvalidRequestException">A field is out of range, the prompt is empty or does not fit the context.</exception>
    /// <exception cref="QueueFullException">Too many requests are waiting.</exception>
    public CompletionStream Start(CompletionRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_disposed, this);
        const string promptParam = "prompt";
        int[] prompt = request.PromptTokens ?? _tokenizer.Encode(request.Prompt ?? "", addSpecial: true, parseSpecial: true);
        if (prompt.Length == 0) throw new InvalidRequestException("the prompt is empty (it has no tokens)", promptParam);
        foreach (int t in prompt)
            if ((uint)t >= (uint)_model.Config.VocabSize) throw new InvalidRequestException($"prompt token {t} is outside the vocabulary (0..{_model.Config.VocabSize - 1})", promptParam);
        if (prompt.Length >= _ctx)
            throw new InvalidRequestException($"the prompt has {prompt.Length} tokens but the context holds {_ctx} (at least one must be left to generate)", promptParam);
        int maxTokens = request.MaxTokens ?? _ctx - prompt.Length;
        if (maxTokens < 1) throw new InvalidRequestException($"max tokens {maxTokens} must be at least 1", "max_tokens");
        if (prompt.Length + maxTokens > _ctx)
            throw new InvalidRequestException($"the prompt ({prompt.Length} tokens) plus max tokens ({maxTokens}) exceeds the context of {_ctx} tokens", "max_tokens");
        try { request.Sampling.Validate(); }
        catch (ArgumentException e) { throw new InvalidRequestException(e.Message, "sampling"); }
        if (request.TopLogprobs is < 0 or > 20) throw new InvalidRequestException($"top logprobs {request.TopLogprobs} must be in 0..20", "top_logprobs");
        if (request.Stop.Count > 16) throw new InvalidRequestException($"at most 16 stop strings are allowed ({request.Stop.Count} given)", "stop");
        foreach (var s in request.Stop)
            if (s is null || s.Length > 1024) throw new InvalidRequestException("stop strings must be non-null and at most 1024 characters", "stop");

        var drafter = CreateDrafter(request.Drafter ?? _options.DefaultDrafter);
        var job = new Job(this, prompt, maxTokens, request, drafter);
        lock (_lock)
        {
            // Refuse when this request would have to wait and the waiting room is full.
            if (Waiting(extra: 1) > _options.QueueLimit)
            {
                _rejected++;
                drafter.Dispose();
                throw new QueueFullException($"the server is busy: {_queue.Count} requests are waiting (queue limit {_options.QueueLimit}); retry later");
            }
            _queue.Enqueue(job);
            _requestsTotal++;
        }
        if (cancellationToken.CanBeCanceled)
            job.Registration = cancellationToken.Register(static j => ((Job)j!).Cancel(), job);
        _wake.Set();
        return job.Stream;
    }

    /// <summary>Generates a completion and waits for it.</summary>
    public Task<CompletionResult> CompleteAsync(CompletionRequest request, CancellationToken cancellationToken = default)
        => Start(request, cancellationToken).Completion;

    /// <summary>Generates a completion synchronously.</summary>
    public CompletionResult Complete(CompletionRequest request, CancellationToken cancellationToken = default)
        => CompleteAsync(request, cancellationToken).GetAwaiter().GetResult();

    /// <summary>Streams a completion; the last update carries the <see cref="CompletionUpdate.Result"/>.
    /// Leaving the loop early cancels generation.</summary>
    public async IAsyncEnumerable<CompletionUpdate> StreamAsync(CompletionRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var stream = Start(request, cts.Token);
        try
        {
            await foreach (var update in stream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                yield return update;
        }
        finally
        {
            await cts.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Builds a completion request for a chat: the messages formatted with the model's chat template (or, for
    /// models without one, the plain "user: ...\nassistant:" transcript, whose next speaker labels are stop strings).
    /// </summary>
    public CompletionRequest CreateChatRequest(IReadOnlyList<ChatTurn> messages) => CreateChatRequest(messages, null);

    /// <summary>
    /// Builds a completion request for a chat whose template also sees <paramref name="tools"/> (OpenAI's
    /// <c>tools</c> array, as the template variable <c>tools</c>); null for no tools. Messages keep their extra
    /// fields (<see cref="ChatTurn.Extra"/>: <c>tool_calls</c>, <c>tool_call_id</c>) for the template.
    /// </summary>
    public CompletionRequest CreateChatRequest(IReadOnlyList<ChatTurn> messages, System.Text.Json.Nodes.JsonNode? tools)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0) throw new InvalidRequestException("at least one message is required", "messages");
        if (_options.ChatFormatter is { } format)
            return new CompletionRequest { Prompt = format(messages) };
        var list = new List<Chat.ChatMessage>(messages.Count);
        foreach (var m in messages) list.Add(new Chat.ChatMessage(m.Role, m.Content) { Extra = m.Extra });
        if (_hunchModel is { } hm)
        {
            int[] ids;
            try
            {
                if (tools is null) ids = hm.EncodeChat(list);
                else
                {
                    int bos = _tokenizer.BosId, eos = _tokenizer.EosId;
                    string text = hm.ChatTemplate.Render(new Chat.ChatTemplateContext
                    {
                        Messages = list,
                        AddGenerationPrompt = true,
                        BosToken = bos >= 0 ? _tokenizer.TokenText(bos) : null,
                        EosToken = eos >= 0 ? _tokenizer.TokenText(eos) : null,
                        Tools = tools,
                    });
                    ids = _tokenizer.Encode(text, addSpecial: true, parseSpecial: true);
                    // The template may write BOS itself; the tokenizer then adds a second one.
                    if (ids.Length >= 2 && _tokenizer.AddBos && ids[0] == bos && ids[1] == bos) ids = ids[1..];
                }
            }
            catch (Chat.ChatTemplateException e) { throw new InvalidRequestException("the chat template refused the messages: " + e.Message, "messages"); }
            // A base model's plain transcript ("user: ...\nassistant:") would go on to write the next user turn.
            return new CompletionRequest { PromptTokens = ids, Stop = hm.ChatTemplateSource is null ? FallbackStops : [] };
        }
        return new CompletionRequest { Prompt = Chat.ChatTemplate.PlainFallback.Render(list, addGenerationPrompt: true), Stop = FallbackStops };
    }

    static readonly string[] FallbackStops = ["\nuser:", "\nsystem:"];

    /// <summary>Current counters.</summary>
    public EngineMetrics GetMetrics()
    {
        lock (_lock)
        {
            return new EngineMetrics
            {
                RequestsTotal = _requestsTotal,
                RequestsRejected = _rejected,
                Active = _activeCount,
                QueueDepth = Waiting(),
                GeneratedTokens = _generated,
                PromptTokensProcessed = _promptProcessed,
                PromptTokensCached = _promptCached,
                TokensPerSecond = RecentRate(),
                Forwards = _forwards,
                Drafters = new Dictionary<string, SpeculationStats>(_drafterStats),
            };
        }
    }

    /// <summary>Stops the engine thread; requests still running end as cancelled.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _wake.Set();
        _thread.Join();
        if (_ownsModel) _model.Dispose();
        if (_ownsHunchModel) _hunchModel!.Dispose();
    }

    IDrafter CreateDrafter(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name == "none") return new NoDrafter();
        IDrafter? drafter;
        try { drafter = _options.DrafterFactory?.Invoke(name); }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or NotSupportedException or Gguf.GgufException)
        {
            throw new InvalidRequestException($"drafter '{name}': {e.Message}", "speculation");
        }
        return drafter ?? throw new InvalidRequestException($"unknown drafter '{name}'", "speculation");
    }

    /// <summary>Requests that will have to wait for a slot (call under the lock).</summary>
    int Waiting(int extra = 0)
    {
        int busy = 0;
        foreach (var b in _slotBusy) if (b) busy++;
        return Math.Max(0, busy + _queue.Count + extra - _slotBusy.Length);
    }

    /// <summary>One request from queue to completion.</summary>
    sealed class Job
    {
        readonly HunchEngine _engine;
        public readonly int[] Prompt;
        public readonly int MaxTokens;
        public readonly CompletionRequest Request;
        public readonly IDrafter Drafter;
        public readonly Channel<CompletionUpdate> Updates = Channel.CreateUnbounded<CompletionUpdate>(new UnboundedChannelOptions { SingleWriter = true });
        public readonly TaskCompletionSource<CompletionResult> Result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly CompletionStream Stream;
        public readonly TextAssembler Text;
        public readonly List<TokenLogprob>? Logprobs;
        public CancellationTokenRegistration Registration;
        public GenerationSession? Session;
        volatile bool _cancelled;

        public Job(HunchEngine engine, int[] prompt, int maxTokens, CompletionRequest request, IDrafter drafter)
        {
            _engine = engine;
            Prompt = prompt;
            MaxTokens = maxTokens;
            Request = request;
            Drafter = drafter;
            Text = new TextAssembler(engine._tokenizer, request.Stop);
            Logprobs = request.TopLogprobs is null ? null : [];
            Stream = new CompletionStream(prompt.Length, Updates.Reader, Result.Task);
        }

        public bool Cancelled => _cancelled;

        public void Cancel()
        {
            _cancelled = true;
            _engine._wake.Set();
        }
    }
}

/// <summary>A running request: its updates as they come, and its final result.</summary>
public sealed class CompletionStream
{
    readonly ChannelReader<CompletionUpdate> _reader;

    internal CompletionStream(int promptTokens, ChannelReader<CompletionUpdate> reader, Task<CompletionResult> completion)
    {
        PromptTokens = promptTokens;
        _reader = reader;
        Completion = completion;
    }

    /// <summary>Tokens in the prompt.</summary>
    public int PromptTokens { get; }

    /// <summary>Completes with the result (also when cancelled: <see cref="CompletionFinish.Cancelled"/>).</summary>
    public Task<CompletionResult> Completion { get; }

    /// <summary>Reads the updates; the last one carries the result.</summary>
    public IAsyncEnumerable<CompletionUpdate> ReadAllAsync(CancellationToken cancellationToken = default) => _reader.ReadAllAsync(cancellationToken);
}
