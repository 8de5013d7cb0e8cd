using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

using GpuNet.Kernels;
using GpuNet.Kernels.Ilgpu;

namespace GpuNet.Benchmarking;

/// <summary>One GEMM implementation timed at one size.</summary>
/// <param name="Size">n of the n×n·n×n float32 product.</param>
/// <param name="Kernel">Implementation: cuBLAS, Reg8 (8×8 register tiles), Reg4 (4×4), Tile (one output per thread).</param>
/// <param name="Milliseconds">Best mean time per product over the repetitions (launches queued back to back, then one synchronisation).</param>
/// <param name="GFlops">2n³ / time, in GFLOP/s.</param>
/// <param name="PercentOfCuBlas">This kernel's GFLOP/s as a percentage of cuBLAS's at the same size; null without cuBLAS.</param>
/// <param name="MaxRelativeDifference">max |c − c_ref| / max |c_ref| against the first implementation run at this size (cuBLAS when present).</param>
public sealed record GemmTiming(int Size, string Kernel, double Milliseconds, double GFlops, double? PercentOfCuBlas, double MaxRelativeDifference);

/// <summary>The outcome of <see cref="GpuGemmComparison.Run"/>.</summary>
/// <param name="Device">Device name and spec.</param>
/// <param name="CuBlas">cuBLAS status on the device (its version, or why it is not used).</param>
/// <param name="Date">When the run started (UTC).</param>
/// <param name="Timings">One row per size and implementation.</param>
public sealed record GemmComparisonResult(string Device, string CuBlas, DateTimeOffset Date, IReadOnlyList<GemmTiming> Timings)
{
    /// <summary>Largest <see cref="GemmTiming.MaxRelativeDifference"/> that still counts as agreement (float32, n ≤ 4096).</summary>
    public const double AgreementTolerance = 1e-3;

    /// <summary>Largest difference accepted from TF32 tensor-core products (10-bit mantissa inputs).</summary>
    public const double Tf32AgreementTolerance = 1e-2;

    /// <summary>True when every implementation agreed with the reference implementation at every size (TF32 rows within their own tolerance).</summary>
    public bool AllAgree => Timings.All(t => t.MaxRelativeDifference <= (t.Kernel.EndsWith("TF32", StringComparison.Ordinal) ? Tf32AgreementTolerance : AgreementTolerance));

    /// <summary>Indented JSON (camelCase), for <c>--json</c> files.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase });

    /// <summary>A plain-text table, one line per timing.</summary>
    public string ToTable()
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"GEMM float32 on {Device} ({CuBlas}), {Date:u}");
        sb.AppendLine("     n  kernel         ms     GFLOP/s  % cuBLAS  max rel diff");
        foreach (var t in Timings)
            sb.AppendLine(CultureInfo.InvariantCulture, $"{t.Size,6}  {t.Kernel,-8} {t.Milliseconds,9:F3} {t.GFlops,11:F1} {(t.PercentOfCuBlas is { } p ? p.ToString("F1", CultureInfo.InvariantCulture) : "-"),9}  {t.MaxRelativeDifference:E2}");
        sb.AppendLine(AllAgree ? "all implementations agree" : $"DISAGREEMENT above {AgreementTolerance:E0}");
        return sb.ToString();
    }
}

/// <summary>
/// Side-by-side GEMM timings on an ILGPU device: cuBLAS (CUDA only) against the register-tiled
/// ILGPU kernels and the one-output-per-thread tiles, on square float32 products. The figure of
/// merit is the 8×8 register-tiled kernel's share of cuBLAS at 4096³ (target ≥ 50%). Called by
/// <c>gpunet bench --device cuda --gemm-compare</c> and by <c>bench/gpu-check.sh</c>.
/// </summary>
public static class GpuGemmComparison
{
    /// <summary>The sizes timed when none are given.</summary>
    public static IReadOnlyList<int> DefaultSizes { get; } = [1024, 2048, 4096];

    /// <summary>
    /// Times every GEMM implementation the device has at each size: <paramref name="repetitions"/>
    /// rounds of <paramref name="iterations"/> products queued back to back and one synchronisation,
    /// keeping the best round; after a warm-up product that also compiles the kernel. Each result is
    /// checked against the first implementation's. Progress lines go to <paramref name="progress"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The device is not an ILGPU device (cuda, opencl, ilgpu-cpu).</exception>
    public static GemmComparisonResult Run(Device device, IReadOnlyList<int>? sizes = null, int iterations = 10, int repetitions = 3, TextWriter? progress = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.Backend is not IlgpuBackend be)
            throw new ArgumentException($"GpuGemmComparison: {device} is not an ILGPU device; use cuda, opencl or ilgpu-cpu.", nameof(device));
        if (iterations < 1 || repetitions < 1) throw new ArgumentOutOfRangeException(nameof(iterations), "GpuGemmComparison: iterations and repetitions must be ≥ 1.");
        sizes ??= DefaultSizes;
        var date = DateTimeOffset.UtcNow;
        string cublas = be.CuBlasStatus;
        var kernels = new List<(GemmKernel Kernel, bool Tf32, string Label)>();
        if (device.Kind == DeviceKind.Cuda && be.ChooseGemm(typeof(float), 1, 1024, 1024, 1024) == GemmKernel.CuBlas)
            kernels.AddRange([(GemmKernel.CuBlas, false, "CuBlas"), (GemmKernel.CuBlas, true, "CuBlasTF32")]);
        kernels.AddRange([(GemmKernel.Reg8, false, "Reg8"), (GemmKernel.Reg4, false, "Reg4"), (GemmKernel.Tile, false, "Tile")]);
        var timings = new List<GemmTiming>();
        var saved = be.ForceGemm;
        bool savedTf32 = device.AllowTf32;
        try
        {
            foreach (int n in sizes)
            {
                if (n < 1) throw new ArgumentOutOfRangeException(nameof(sizes), $"GpuGemmComparison: size {n} must be ≥ 1.");
                long count = (long)n * n;
                using var a = be.Allocate(DType.Float32, count);
                using var b = be.Allocate(DType.Float32, count);
                using var c = be.Allocate(DType.Float32, count);
                be.FillRandom(StridedView.Contiguous(a, [n * n]), RandomDistribution.Uniform, 1, 0, -1, 1);
                be.FillRandom(StridedView.Contiguous(b, [n * n]), RandomDistribution.Uniform, 2, 0, -1, 1);
                var av = StridedView.Contiguous(a, [1, n, n]);
                var bv = StridedView.Contiguous(b, [1, n, n]);
                var cv = StridedView.Contiguous(c, [1, n, n]);
                float[]? reference = null;
                double? cublasGflops = null;
                foreach (var (kernel, tf32, label) in kernels)
                {
                    be.ForceGemm = kernel;
                    device.AllowTf32 = tf32;
                    be.MatMul(av, bv, cv); // warm-up (and compilation)
                    be.Synchronize();
                    if (be.LastGemm != kernel) { progress?.WriteLine($"  n={n} {label}: not available (ran {be.LastGemm}), skipped"); continue; }
                    double best = double.MaxValue;
                    for (int r = 0; r < repetitions; r++)
                    {
                        var sw = Stopwatch.StartNew();
                        for (int i = 0; i < iterations; i++) be.MatMul(av, bv, cv);
                        be.Synchronize();
                        best = Math.Min(best, sw.Elapsed.TotalMilliseconds / iterations);
                    }
                    var result = new float[count];
                    be.Download<float>(c, result);
                    reference ??= result;
                    double diff = MaxRelativeDifference(reference, result);
                    double gflops = 2.0 * n * n * (double)n / (best * 1e-3) / 1e9;
                    if (kernel == GemmKernel.CuBlas && !tf32) cublasGflops = gflops;
                    var t = new GemmTiming(n, label, best, gflops, cublasGflops is { } cg ? 100 * gflops / cg : null, diff);
                    timings.Add(t);
                    progress?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  n={n} {label}: {best:F3} ms, {gflops:F1} GFLOP/s{(t.PercentOfCuBlas is { } p ? $" ({p:F1}% of cuBLAS)" : "")}, max rel diff {diff:E2}"));
                }
            }
        }
        finally
        {
            be.ForceGemm = saved;
            device.AllowTf32 = savedTf32;
        }
        return new GemmComparisonResult($"{device.Name} ({device})", cublas, date, timings);
    }

    private static double MaxRelativeDifference(float[] reference, float[] x)
    {
        double scale = 0, diff = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(reference[i]));
            double d = Math.Abs((double)reference[i] - x[i]);
            if (double.IsNaN(d)) return double.NaN;
            diff = Math.Max(diff, d);
        }
        return scale == 0 ? diff : diff / scale;
    }
}
