using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using GpuNet.Benchmarking;

namespace GpuNet.Cli.Commands;

/// <summary><c>gpunet bench</c>: headline throughput figures, each beside a baseline measured in the same run.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var device = new Option<string?>("--device") { Description = "cpu, ilgpu-cpu, cuda[:i], opencl[:i] (default: GPUNET_DEVICE, else the best found)." };
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file." };
        var quick = new Option<bool>("--quick") { Description = "A shorter run: fewer sizes, no large MLP (always on ilgpu-cpu, a simulator: small GEMMs, no MLP)." };
        var gemmCompare = new Option<bool>("--gemm-compare") { Description = "Instead of the headline suite: cuBLAS against GpuNet's ILGPU GEMM kernels at 1024, 2048, 4096 (an ILGPU device: cuda, opencl, ilgpu-cpu)." };
        var sizes = new Option<int[]>("--sizes") { Description = "Matrix sizes for --gemm-compare (default 1024 2048 4096).", AllowMultipleArgumentsPerToken = true };
        var only = new Option<string[]>("--only") { Description = "Groups to run: gemm, memory, overhead, mlp (default: all).", AllowMultipleArgumentsPerToken = true };
        var command = new Command("bench", "Measure GEMM GFLOP/s (against the FMA peak and OpenBLAS), elementwise and reduction GB/s (against memcpy), per-op overhead and MLP training steps.")
        {
            device, json, quick, only, gemmCompare, sizes,
        };
        command.SetAction(parse =>
        {
            Device dev;
            try { dev = parse.GetValue(device) is { } spec ? Device.Get(spec) : Device.Default; }
            catch (ArgumentException e) { return CommandLineHost.Usage(e.Message); }
            if (parse.GetValue(gemmCompare))
            {
                if (dev.Kind == DeviceKind.Cpu) return CommandLineHost.Usage("--gemm-compare needs an ILGPU device (--device cuda, opencl or ilgpu-cpu).");
                var result = GpuGemmComparison.Run(dev, parse.GetValue(sizes) is { Length: > 0 } n ? n : null, progress: Console.Out);
                Console.Write(result.ToTable());
                if (parse.GetValue(json) is { } comparePath) File.WriteAllText(comparePath, result.ToJson());
                return result.AllAgree ? 0 : 1;
            }
            var groups = parse.GetValue(only) ?? [];
            foreach (var g in groups)
                if (g is not ("gemm" or "memory" or "overhead" or "mlp")) return CommandLineHost.Usage($"--only: unknown group '{g}' (expected gemm, memory, overhead or mlp).");
            Console.WriteLine($"gpunet bench on {dev.Name} ({dev}), {Environment.ProcessorCount} threads, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
            Console.WriteLine("Medians of repeated runs; ratio > 1 is better than the baseline.");
            Console.WriteLine($"{"workload",-62} {"value",12}  {"baseline",-34} {"base value",10} {"ratio",6}");
            var rows = Headline.Run(dev, parse.GetValue(quick), r => Console.WriteLine(Format(r)), groups);
            if (parse.GetValue(json) is { } path)
            {
                var doc = new
                {
                    date = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
                    device = dev.Name,
                    threads = Environment.ProcessorCount,
                    rows = rows.Select(r => new { name = r.Name, value = r.Value, unit = r.Unit, baseline = r.Baseline, baselineValue = double.IsNaN(r.BaselineValue) ? (double?)null : r.BaselineValue, ratio = double.IsNaN(r.Ratio) ? (double?)null : r.Ratio }),
                };
                File.WriteAllText(path, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
                Console.WriteLine($"wrote {path}");
            }
            return 0;
        });
        return command;
    }

    private static string Format(BenchRow r)
    {
        string v = $"{r.Value:F2} {r.Unit}";
        string b = double.IsNaN(r.BaselineValue) ? "" : $"{r.BaselineValue:F2}";
        string ratio = double.IsNaN(r.Ratio) ? "" : $"{r.Ratio:F2}";
        return $"{r.Name,-62} {v,12}  {r.Baseline,-34} {b,10} {ratio,6}";
    }
}
