using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using GpuNet.Nn;

namespace GpuNet.Benchmarking;

// The workloads of `gpunet bench` and of bench/GpuNet.Benchmarks (both reference this library), and
// the same-run baselines they are judged against: the machine's FMA peak, memcpy bandwidth and the
// system BLAS. This machine class is shared and noisy, so every figure is a ratio to a baseline
// measured in the same process a moment earlier.

/// <summary>The system BLAS through P/Invoke (Debian's OpenBLAS), or nothing when it is not installed.</summary>
internal static unsafe class OpenBlas
{
    private static readonly nint s_handle = Load();
    private static readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> s_sgemm;
    private static readonly delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void> s_dgemm;
    private static readonly delegate* unmanaged<int, void> s_setThreads;

    static OpenBlas()
    {
        if (s_handle == 0) return;
        if (NativeLibrary.TryGetExport(s_handle, "cblas_sgemm", out var s)) s_sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)s;
        if (NativeLibrary.TryGetExport(s_handle, "cblas_dgemm", out var d)) s_dgemm = (delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void>)d;
        if (NativeLibrary.TryGetExport(s_handle, "openblas_set_num_threads", out var t)) s_setThreads = (delegate* unmanaged<int, void>)t;
    }

    private static nint Load()
    {
        foreach (var name in new[] { "libopenblas.so.0", "libopenblas.so", "/usr/lib/x86_64-linux-gnu/libopenblas.so.0", "libopenblas.dylib", "libopenblas.dll" })
            if (NativeLibrary.TryLoad(name, out var h)) return h;
        return 0;
    }

    /// <summary>True when libopenblas was found.</summary>
    public static bool Available => s_sgemm != null;

    /// <summary>Sets OpenBLAS's thread count.</summary>
    public static void SetThreads(int n)
    {
        if (s_setThreads != null) s_setThreads(n);
    }

    private const int RowMajor = 101, NoTrans = 111, Trans = 112;

    /// <summary>C[m,n] = A[m,k]·B[k,n] (or Bᵀ with B stored [n,k] when <paramref name="transB"/>), row-major.</summary>
    public static void Sgemm(int m, int n, int k, float* a, float* b, float* c, bool transB = false) =>
        s_sgemm(RowMajor, NoTrans, transB ? Trans : NoTrans, m, n, k, 1f, a, k, b, transB ? k : n, 0f, c, n);

    /// <summary>Double-precision <see cref="Sgemm"/>.</summary>
    public static void Dgemm(int m, int n, int k, double* a, double* b, double* c) =>
        s_dgemm(RowMajor, NoTrans, NoTrans, m, n, k, 1.0, a, k, b, n, 0.0, c, n);
}

/// <summary>The MLP training steps measured against TorchSharp's figures.</summary>
internal sealed class MlpStep : IDisposable
{
    private readonly Mlp _model;
    private readonly Optimizer _optimizer;
    private readonly CrossEntropyLoss _loss = new();
    private readonly Tensor _x, _y;

    /// <summary>An MLP of <paramref name="sizes"/> with SGD (momentum 0.9) or Adam, on a fixed random batch.</summary>
    public MlpStep(int[] sizes, int batch, bool adam, Device device)
    {
        _model = new Mlp(sizes, seed: 1, device: device);
        _optimizer = adam ? new Adam(_model.Parameters(), 1e-3) : new SGD(_model.Parameters(), 0.01, momentum: 0.9);
        _x = Tensor.Randn([batch, sizes[0]], seed: 2, device: device).DetachFromScope();
        using var labels = Tensor.Rand([batch], seed: 3, low: 0, high: sizes[^1] - 1e-3, device: device);
        _y = labels.To(DType.Int32).DetachFromScope();
    }

    /// <summary>Forward, loss, backward and optimizer step, with every temporary returned to the pool.</summary>
    public void Step()
    {
        using var scope = Tensor.NewScope();
        var logits = _model.Forward(_x);
        var loss = _loss.Forward(logits, _y);
        _optimizer.ZeroGrad();
        loss.Backward();
        _optimizer.Step();
    }

    public void Dispose()
    {
        _x.Dispose();
        _y.Dispose();
        _optimizer.Dispose();
        _model.Dispose();
    }
}

/// <summary>One headline figure with the same-run baseline it is judged against.</summary>
/// <param name="Name">What was measured.</param>
/// <param name="Value">The figure.</param>
/// <param name="Unit">Its unit.</param>
/// <param name="Baseline">What it is compared with (empty when nothing).</param>
/// <param name="BaselineValue">The baseline's figure, in the same unit (NaN when none).</param>
internal sealed record BenchRow(string Name, double Value, string Unit, string Baseline = "", double BaselineValue = double.NaN)
{
    /// <summary>Value / baseline (NaN when there is no baseline). For times, baseline / value, so above 1 is always better.</summary>
    public double Ratio => double.IsNaN(BaselineValue) ? double.NaN : Unit is "ms" or "µs" or "s" ? BaselineValue / Value : Value / BaselineValue;
}

/// <summary>The headline suite of <c>gpunet bench</c>: each row is a median of repeated runs with its baseline.</summary>
internal static unsafe class Headline
{
    /// <summary>Runs the suite on <paramref name="device"/>; <paramref name="report"/> sees each row as it is measured.</summary>
    public static List<BenchRow> Run(Device device, bool quick, Action<BenchRow> report, string[]? only = null)
    {
        if (device.IsGpu) return GpuHeadline.Run(device, quick, report, only);
        var rows = new List<BenchRow>();
        void Add(BenchRow r) { rows.Add(r); report(r); }
        bool Want(string group) => only is null || only.Length == 0 || only.Contains(group);
        int threads = Environment.ProcessorCount;
        // ILGPU's CPU accelerator simulates a GPU thread by thread (matmul runs at about 0.04 GFLOP/s):
        // it gets small shapes only, so the run ends in minutes rather than hours.
        bool simulator = device.Kind == DeviceKind.IlgpuCpu;
        quick |= simulator;

        double peak1 = double.NaN, peakN = double.NaN;
        if (Want("gemm"))
        {
            peak1 = Baselines.FmaPeakGflops(1);
            Add(new BenchRow("FMA peak, 1 thread (FP32)", peak1, "GFLOP/s"));
            peakN = Baselines.FmaPeakGflops(threads);
            Add(new BenchRow($"FMA peak, {threads} threads (FP32)", peakN, "GFLOP/s"));
            foreach (int n in simulator ? new[] { 64, 128 } : quick ? new[] { 1024 } : new[] { 256, 512, 1024, 2048 })
                Add(Gemm(device, DType.Float32, n, n, n, transB: false, peakN, $"SGEMM {n}³"));
            if (!quick) Add(Gemm(device, DType.Float64, 1024, 1024, 1024, transB: false, peakN / 2, "DGEMM 1024³"));
            if (!simulator) Add(Gemm(device, DType.Float32, 128, 512, 784, transB: true, peakN, "x[128,784]·Wᵀ[784,512]"));
        }
        if (Want("memory"))
        {
            const int n = 16 << 20;
            // The machine is shared: memcpy is measured before and after the workloads and the higher
            // figure is the baseline, so a quiet moment for the baseline can only lower the ratios.
            double memcpyBefore = Baselines.MemcpyGBps(n);
            var measured = new List<(string Name, double GBps)>();
            using var a = Tensor.Rand([n], seed: 1, device: device);
            using var b = Tensor.Rand([n], seed: 2, device: device);
            using (Autograd.NoGrad())
            {
                // Each reads an element of its result: the CPU backend defers a binary op's launch until
                // its result is read (so that a following affine step fuses), and an unread a+b costs nothing.
                double t = Timing.Median(() => { using var ab = a * b; using var y = ab + 1f; ReadOne(y); }, repeats: 9);
                measured.Add(("a*b+1, 16M floats, new output", 3.0 * n * 4 / t / 1e9));
                t = Timing.Median(() => { using var y = a + b; ReadOne(y); }, repeats: 9);
                measured.Add(("a+b, 16M floats, new output", 3.0 * n * 4 / t / 1e9));
                t = Timing.Median(() => { using var ab = a + b; using var y = ab.Relu(); ReadOne(y); }, repeats: 9);
                measured.Add(("relu(a+b), 16M floats, new output", 3.0 * n * 4 / t / 1e9));
                t = Timing.Median(() => { using var s = a.Sum(); }, repeats: 9);
                measured.Add(("sum of 16M floats", 1.0 * n * 4 / t / 1e9));
                using var m = Tensor.Rand([4096, 4096], seed: 3, device: device);
                t = Timing.Median(() => { using var s = m.Sum(0); }, repeats: 9);
                measured.Add(("sum over rows of [4096,4096]", 1.0 * m.NumElements * 4 / t / 1e9));
                using var mt = m.T;
                t = Timing.Median(() => { using var s = mt.Relu(); }, repeats: 5);
                measured.Add(("relu of a transposed [4096,4096]", 2.0 * m.NumElements * 4 / t / 1e9));
            }
            double memcpy = Math.Max(memcpyBefore, Baselines.MemcpyGBps(n));
            Add(new BenchRow("memcpy 16M floats (best of before/after, 1 or all threads)", memcpy, "GB/s"));
            foreach (var (name, gbps) in measured) Add(new BenchRow(name, gbps, "GB/s", "memcpy", memcpy));
        }
        if (Want("overhead"))
        {
            using var a = Tensor.Rand([1024], seed: 1, device: device);
            using var b = Tensor.Rand([1024], seed: 2, device: device);
            using var ag = Tensor.Rand([1024], seed: 1, device: device, requiresGrad: true);
            Action plain = () => { using var y = a + b; };
            Action recorded = () => { using var y = ag + b; };
            int inner = Timing.Calibrate(plain);
            Add(new BenchRow("1024-float add, per op", Timing.Median(plain, repeats: 9, inner: inner) * 1e6, "µs", "TorchSharp (reference machine)", 1.0));
            inner = Timing.Calibrate(recorded);
            Add(new BenchRow("1024-float add, recording, per op", Timing.Median(recorded, repeats: 9, inner: inner) * 1e6, "µs", "TorchSharp (reference machine)", 3.1));
        }
        if (Want("mlp") && !simulator)
        {
            using (var small = new MlpStep([784, 256, 256, 10], 128, adam: false, device))
            {
                // A training step calls hundreds of methods: it takes seconds of steps before tiered
                // compilation has promoted them all, as it would have early in any training run.
                int inner = Math.Max(1, Timing.Calibrate(small.Step, 0.1));
                Add(new BenchRow("MLP 784-256-256-10, batch 128, SGD step", Timing.Median(small.Step, repeats: 9, inner: inner, warmup: 5, warmupSeconds: 2.5) * 1e3, "ms", "TorchSharp (reference machine)", 0.95));
            }
            if (!quick)
            {
                // Start the peak-memory figures afresh: free cached blocks, collect, reset the kernel's RSS high-water mark.
                device.Backend.Pool.Trim();
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                GC.WaitForPendingFinalizers();
                ResetPeakRss();
                using var big = new MlpStep([1024, 4096, 4096, 10], 4096, adam: true, device);
                big.Step();
                device.Backend.Pool.ResetPeak();
                double t = Timing.Median(big.Step, repeats: 3, warmup: 1);
                Add(new BenchRow("MLP 1024-4096-4096-10, batch 4096, Adam step", t * 1e3, "ms", "TorchSharp (reference machine)", 2430));
                Add(new BenchRow("  its peak pool memory (live tensors)", device.Backend.Pool.PeakLiveBytes / 1e6, "MB", "TorchSharp peak (reference machine)", 810));
                Add(new BenchRow("  its process peak RSS (runtime and cached blocks included)", PeakRssBytes() / 1e6, "MB", "TorchSharp peak (reference machine)", 810));
            }
        }
        return rows;
    }

    /// <summary>Reads the first element of the 1-D <paramref name="t"/>, which runs any launch still deferred for it.</summary>
    private static void ReadOne(Tensor t)
    {
        using var first = t[0];
        first.Item<float>();
    }

    /// <summary>One product c = a·b (or a·bᵀ) timed on the device and, when available, with OpenBLAS on the same data.</summary>
    private static BenchRow Gemm(Device device, DType dtype, int m, int n, int k, bool transB, double peak, string name)
    {
        using var a = Tensor.Rand([m, k], seed: 1, dtype: dtype, device: device);
        using var b = Tensor.Rand(transB ? [n, k] : [k, n], seed: 2, dtype: dtype, device: device);
        using var bt = transB ? b.T : null;
        var rhs = bt ?? b;
        double flops = 2.0 * m * n * k;
        int repeats = flops > 4e9 ? 5 : 9;
        using var noGrad = Autograd.NoGrad();
        void Ours() { using var c = a.MatMul(rhs); }
        string label(double g) => $"{name} ({dtype.Name()}, {100 * g / peak:F0}% of FMA peak)";
        if (!OpenBlas.Available)
        {
            double alone = flops / Timing.Median(Ours, repeats, Timing.Calibrate(Ours, 0.05)) / 1e9;
            return new BenchRow(label(alone), alone, "GFLOP/s", "OpenBLAS (not installed)");
        }
        OpenBlas.SetThreads(Environment.ProcessorCount);
        // Host copies for OpenBLAS, pinned for the whole comparison.
        var ha = GCHandle.Alloc(dtype == DType.Float32 ? a.ToArray<float>() : a.ToArray<double>(), GCHandleType.Pinned);
        var hb = GCHandle.Alloc(dtype == DType.Float32 ? b.ToArray<float>() : b.ToArray<double>(), GCHandleType.Pinned);
        var hc = GCHandle.Alloc(dtype == DType.Float32 ? new float[m * n] : new double[m * n], GCHandleType.Pinned);
        double t, tb;
        try
        {
            nint pa = ha.AddrOfPinnedObject(), pb = hb.AddrOfPinnedObject(), pc = hc.AddrOfPinnedObject();
            Action theirs = dtype == DType.Float32
                ? () => OpenBlas.Sgemm(m, n, k, (float*)pa, (float*)pb, (float*)pc, transB)
                : () => OpenBlas.Dgemm(m, n, k, (double*)pa, (double*)pb, (double*)pc);
            (t, tb) = Timing.Interleaved(Ours, theirs, repeats);
        }
        finally
        {
            ha.Free();
            hb.Free();
            hc.Free();
        }
        double gflops = flops / t / 1e9;
        string core = Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE") is { Length: > 0 } ct ? $"OpenBLAS, CORETYPE={ct}" : "OpenBLAS, autodetected core";
        return new BenchRow(label(gflops), gflops, "GFLOP/s", core, flops / tb / 1e9);
    }

    /// <summary>Resets VmHWM to the current resident set (Linux: "5" into /proc/self/clear_refs); no-op elsewhere.</summary>
    public static void ResetPeakRss()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>The process's peak resident set (VmHWM), or the GC's view when /proc is absent.</summary>
    public static long PeakRssBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (IOException) { }
        return Process.GetCurrentProcess().PeakWorkingSet64;
    }
}
