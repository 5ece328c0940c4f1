using System.Diagnostics;
using Hunch.Api;

namespace Hunch.Server.Tests;

/// <summary><c>dotnet pack</c> produces a package that an ordinary project consumes from a local folder feed.</summary>
public sealed class PackageTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public void Packed_library_is_consumed_from_a_local_feed()
    {
        string work = Path.Combine(Path.GetTempPath(), "hunch-pack-" + Guid.NewGuid().ToString("N")[..8]);
        string feed = Path.Combine(work, "feed"), app = Path.Combine(work, "app");
        Directory.CreateDirectory(feed);
        Directory.CreateDirectory(app);
        // A version no cache can hold yet, so the consumer restores exactly what was just packed.
        string version = "0.1.0-test" + DateTime.UtcNow.ToString("yyyyMMddHHmmss");
        try
        {
            foreach (var project in new[] { "Hunch.Gguf", "Hunch.Kernels", "Hunch" })
                Run("dotnet", $"pack \"{Path.Combine(ServerPaths.Root, "src", project)}\" -c Release -o \"{feed}\" -p:Version={version} -v q -nologo", ServerPaths.Root);
            Assert.True(File.Exists(Path.Combine(feed, $"Hunch.{version}.nupkg")));

            string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <config><add key="globalPackagesFolder" value="{Path.Combine(work, "packages")}" /></config>
                  <packageSources>
                    <clear />
                    <add key="local" value="{feed}" />
                    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
                  </packageSources>
                  <fallbackPackageFolders><add key="cache" value="{cache}" /></fallbackPackageFolders>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <ImplicitUsings>enable</ImplicitUsings>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="Hunch" Version="{version}" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), """
                using Hunch.Api;
                using Microsoft.Extensions.AI;

                using var engine = HunchEngine.Load(args[0], new EngineOptions { Parallel = 2 });
                var result = engine.Complete(new CompletionRequest { Prompt = "def main():\n", MaxTokens = 16 });
                Console.WriteLine("TEXT:" + result.Text.ReplaceLineEndings("\\n"));
                IChatClient chat = new HunchChatClient(engine);
                var reply = await chat.GetResponseAsync("import os", new ChatOptions { Temperature = 0, MaxOutputTokens = 8 });
                Console.WriteLine("CHAT:" + reply.Usage!.OutputTokenCount);
                """);
            string output = Run("dotnet", $"run -c Release -- \"{ServerPaths.BundledModel}\"", app);

            using var engine = HunchEngine.Load(ServerPaths.BundledModel, new EngineOptions { Parallel = 1 });
            string expected = engine.Complete(new CompletionRequest { Prompt = "def main():\n", MaxTokens = 16 }).Text;
            Assert.Contains("TEXT:" + expected.ReplaceLineEndings("\\n") + "\n", output.ReplaceLineEndings("\n"));
            Assert.Matches(@"CHAT:[1-8]\b", output);
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    static string Run(string file, string arguments, string directory)
    {
        var psi = new ProcessStartInfo(file, arguments) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {arguments} failed ({p.ExitCode}):\n{stdout}\n{stderr.Result}");
        return stdout;
    }
}
