using BenchmarkDotNet.Running;
using GpuNet;
using GpuNet.Benchmarking;

// `dotnet run -c Release --project bench/GpuNet.Benchmarks -- headline [groups…]` prints the quick
// headline table (the same suite as `gpunet bench`); anything else goes to BenchmarkDotNet's switcher,
// e.g. `-- --filter '*Gemm*'`.
if (args.Length > 0 && args[0] == "headline")
{
    var rows = Headline.Run(Device.Default, quick: false, r =>
        Console.WriteLine($"{r.Name,-62} {r.Value,10:F2} {r.Unit,-8} {r.Baseline,-34} {r.BaselineValue,10:F2} {r.Ratio,6:F2}"), args[1..]);
    return;
}
// `-- loop small|big SECONDS` repeats one MLP training step for a profiler (dotnet-trace collect -- …).
if (args.Length > 0 && args[0] == "loop")
{
    if (args.Length > 1 && args[1] is "add" or "addgrad")
    {
        using var a = Tensor.Rand([1024], seed: 1, requiresGrad: args[1] == "addgrad");
        using var b = Tensor.Rand([1024], seed: 2);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        long ops = 0;
        while (watch.Elapsed.TotalSeconds < 10) { for (int i = 0; i < 1000; i++) { using var y = a + b; } ops += 1000; }
        Console.WriteLine($"{watch.Elapsed.TotalMilliseconds * 1e3 / ops:F3} µs per op");
        return;
    }
    bool big = args.Length > 1 && args[1] == "big";
    double seconds = args.Length > 2 ? double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10;
    using var step = big ? new MlpStep([1024, 4096, 4096, 10], 4096, adam: true, Device.Default) : new MlpStep([784, 256, 256, 10], 128, adam: false, Device.Default);
    var sw = System.Diagnostics.Stopwatch.StartNew();
    int steps = 0;
    while (sw.Elapsed.TotalSeconds < seconds) { step.Step(); steps++; }
    var pool = Device.Default.Pool;
    Console.WriteLine($"{steps} steps, {sw.Elapsed.TotalMilliseconds / steps:F3} ms per step; pool allocations {pool.Allocations}, live {pool.LiveBuffers} buffers, GCs gen0/1/2 {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}, allocated {GC.GetTotalAllocatedBytes() / steps / 1024} KiB per step");
    return;
}
// Without libopenblas the OpenBLAS baselines are filtered out (the GpuNet rows still run).
BenchmarkDotNet.Configs.IConfig config = BenchmarkDotNet.Configs.DefaultConfig.Instance;
if (!OpenBlas.Available)
{
    Console.WriteLine("OpenBLAS not found (apt-get install libopenblas0-pthread): skipping the OpenBLAS baselines.");
    config = BenchmarkDotNet.Configs.ConfigExtensions.AddFilter(config, new BenchmarkDotNet.Filters.SimpleFilter(b => b.Descriptor.WorkloadMethod.Name != "OpenBlasGemm"));
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);

public partial class Program;
