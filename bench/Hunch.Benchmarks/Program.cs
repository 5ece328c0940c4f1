using BenchmarkDotNet.Running;

// Run by hand: dotnet run -c Release --project bench/Hunch.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Hunch.Benchmarks.MatMulBenchmarks).Assembly).Run(args);
