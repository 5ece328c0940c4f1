using System.CommandLine;
using Hunch.Api;
using Hunch.Server;
using Microsoft.Extensions.Hosting;

namespace Hunch.Cli.Commands;

/// <summary><c>hunch serve</c>: an OpenAI-compatible HTTP server (chat and text completions, streaming, metrics).</summary>
static class ServeCommand
{
    public static Command Create()
    {
        var model = Cli.ModelOption();
        var threads = Cli.ThreadsOption();
        var host = new Option<string>("--host") { Description = "address to bind (loopback by default; 0.0.0.0 exposes the server to the network)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "port (0: any free port)", DefaultValueFactory = _ => 8080 };
        var draft = new Option<string>("--draft") { Description = "default drafter for requests that name none (auto, none, recycling, lookup, ...)", DefaultValueFactory = _ => "auto" };
        var nodes = new Option<int>("--tree-nodes") { Description = "most draft nodes per request and step", DefaultValueFactory = _ => 16 };
        var apiKey = new Option<string?>("--api-key") { Description = "require Authorization: Bearer KEY on /v1 (default: $HUNCH_API_KEY, else none)" };
        var parallel = new Option<int>("--parallel", "-np") { Description = "requests generating at once (sequence slots)", DefaultValueFactory = _ => 8 };
        var queue = new Option<int>("--queue") { Description = "requests waiting for a slot before new ones get 429", DefaultValueFactory = _ => 64 };
        var ctx = new Option<int>("--ctx", "-c") { Description = "context size per request (0: the model's)", DefaultValueFactory = _ => 0 };
        var alias = new Option<string?>("--alias") { Description = "model id reported to clients (default: the model's name)" };
        var verbose = new Option<bool>("--verbose") { Description = "log every request" };

        var cmd = new Command("serve", "Serve a GGUF model over an OpenAI-compatible HTTP API.")
        {
            model, threads, host, port, draft, nodes, apiKey, parallel, queue, ctx, alias, verbose,
        };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            int p = r.GetValue(port);
            if (p is < 0 or > 65535) throw new UserException($"--port {p} must be in 0..65535");
            int np = r.GetValue(parallel);
            if (np is < 1 or > 256) throw new UserException($"--parallel {np} must be in 1..256");
            int q = r.GetValue(queue);
            if (q is < 0 or > 100_000) throw new UserException($"--queue {q} must be in 0..100000");
            int treeNodes = r.GetValue(nodes);
            if (treeNodes is < 1 or > 1024) throw new UserException($"--tree-nodes {treeNodes} must be in 1..1024");
            int c = r.GetValue(ctx);
            if (c < 0) throw new UserException($"--ctx {c} must not be negative");

            var hm = HunchModel.Load(Cli.ResolveModel(r.GetValue(model)), r.GetValue(threads));
            var options = new EngineOptions
            {
                Parallel = np,
                QueueLimit = q,
                ContextSize = c,
                DefaultDrafter = r.GetValue(draft)!,
                MaxDraftNodes = treeNodes,
            };
            using var engine = new HunchEngine(hm, options, ownsModel: true);
            string id = r.GetValue(alias) ?? hm.Name;
            string? key = r.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("HUNCH_API_KEY");
            var app = HunchServer.Create(engine, new ServerOptions
            {
                Host = r.GetValue(host)!, Port = p, ApiKey = string.IsNullOrEmpty(key) ? null : key, ModelId = id, Verbose = r.GetValue(verbose),
            });
            app.Start();
            foreach (var address in HunchServer.Addresses(app))
                Console.Error.WriteLine($"hunch: serving {id} on {address} (parallel {np}, context {engine.ContextSize}, draft {options.DefaultDrafter}{(key is null ? "" : ", API key required")}); Ctrl+C stops");
            app.WaitForShutdown();
            return 0;
        }));
        return cmd;
    }
}
