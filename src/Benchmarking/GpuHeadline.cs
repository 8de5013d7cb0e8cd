using GpuNet.Nn;

namespace GpuNet.Benchmarking;

/// <summary>
/// The headline suite on a GPU (CUDA or OpenCL through ILGPU). Launches are asynchronous, so every
/// timed run ends with a synchronisation and the figures are device time plus launch overhead. The
/// host's FMA peak and OpenBLAS are no baselines for a GPU: GEMMs are reported in GFLOP/s on their
/// own (the PyTorch run of the GPU check gives the same-run baseline), and memory-bound ops against
/// a device-to-device copy of the same size. The MLP rows also give the device counters per step:
/// kernel launches, host synchronisations and host↔device bytes.
/// </summary>
internal static class GpuHeadline
{
    /// <summary>Runs the GPU suite on <paramref name="device"/>; <paramref name="report"/> sees each row as it is measured.</summary>
    public static List<BenchRow> Run(Device device, bool quick, Action<BenchRow> report, string[]? only)
    {
        var rows = new List<BenchRow>();
        void Add(BenchRow r) { rows.Add(r); report(r); }
        bool Want(string group) => only is null || only.Length == 0 || only.Contains(group);
        Action sync = device.Backend.Synchronize;
        bool tf32Before = device.AllowTf32;
        try
        {
            if (Want("gemm"))
            {
                foreach (int n in quick ? new[] { 1024, 4096 } : new[] { 1024, 2048, 4096, 8192 })
                    Add(Gemm(device, DType.Float32, n, n, n, transB: false, tf32: false, $"SGEMM {n}³"));
                foreach (int n in quick ? new[] { 4096 } : new[] { 4096, 8192 })
                    Add(Gemm(device, DType.Float32, n, n, n, transB: false, tf32: true, $"SGEMM {n}³ TF32"));
                Add(Gemm(device, DType.Float64, 4096, 4096, 4096, transB: false, tf32: false, "DGEMM 4096³"));
                Add(Gemm(device, DType.Float32, 128, 512, 784, transB: true, tf32: false, "x[128,784]·Wᵀ[784,512]"));
            }
            if (Want("memory"))
            {
                const int n = 64 << 20; // 256 MB per array: well past the 50–60 MB L2 of current GPUs
                using var a = Tensor.Rand([n], seed: 1, device: device);
                using var b = Tensor.Rand([n], seed: 2, device: device);
                using var noGrad = Autograd.NoGrad();
                double copy = 2.0 * n * 4 / Timing.Median(() => { using var c = a.Clone(); }, repeats: 9, sync: sync) / 1e9;
                Add(new BenchRow("device copy, 64M floats (read + write)", copy, "GB/s"));
                double t = Timing.Median(() => { using var ab = a * b; using var y = ab + 1f; }, repeats: 9, sync: sync);
                Add(new BenchRow("a*b+1, 64M floats, new output", 3.0 * n * 4 / t / 1e9, "GB/s", "device copy", copy));
                t = Timing.Median(() => { using var y = a + b; }, repeats: 9, sync: sync);
                Add(new BenchRow("a+b, 64M floats, new output", 3.0 * n * 4 / t / 1e9, "GB/s", "device copy", copy));
                t = Timing.Median(() => { using var s = a.Sum(); }, repeats: 9, sync: sync);
                Add(new BenchRow("sum of 64M floats", 1.0 * n * 4 / t / 1e9, "GB/s", "device copy", copy));
                using var m = Tensor.Rand([8192, 8192], seed: 3, device: device);
                t = Timing.Median(() => { using var s = m.Sum(0); }, repeats: 9, sync: sync);
                Add(new BenchRow("sum over rows of [8192,8192]", 1.0 * m.NumElements * 4 / t / 1e9, "GB/s", "device copy", copy));
                using var mt = m.T;
                t = Timing.Median(() => { using var s = mt.Relu(); }, repeats: 9, sync: sync);
                Add(new BenchRow("relu of a transposed [8192,8192]", 2.0 * m.NumElements * 4 / t / 1e9, "GB/s", "device copy", copy));
            }
            if (Want("overhead"))
            {
                using var a = Tensor.Rand([1024], seed: 1, device: device);
                using var b = Tensor.Rand([1024], seed: 2, device: device);
                Action plain = () => { using var y = a + b; };
                int inner = Timing.Calibrate(plain, 0.02, sync);
                Add(new BenchRow("1024-float add, per op (queued back to back)", Timing.Median(plain, repeats: 9, inner: inner, sync: sync) * 1e6, "µs"));
                Action waited = () => { using var y = a + b; sync(); };
                Add(new BenchRow("1024-float add + synchronize, per op", Timing.Median(waited, repeats: 9, inner: Timing.Calibrate(waited)) * 1e6, "µs"));
            }
            if (Want("mlp"))
            {
                Mlp(device, [784, 256, 256, 10], 128, adam: false, "MLP 784-256-256-10, batch 128, SGD step", Add);
                Mlp(device, [784, 512, 256, 10], 128, adam: true, "MLP 784-512-256-10, batch 128, Adam step", Add);
                if (!quick)
                {
                    Mlp(device, [1024, 4096, 4096, 10], 4096, adam: true, "MLP 1024-4096-4096-10, batch 4096, Adam step", Add);
                    device.AllowTf32 = true;
                    Mlp(device, [1024, 4096, 4096, 10], 4096, adam: true, "MLP 1024-4096-4096-10, batch 4096, Adam step, TF32", Add);
                    device.AllowTf32 = tf32Before;
                }
            }
        }
        finally { device.AllowTf32 = tf32Before; }
        return rows;
    }

    private static BenchRow Gemm(Device device, DType dtype, int m, int n, int k, bool transB, bool tf32, string name)
    {
        using var a = Tensor.Rand([m, k], seed: 1, dtype: dtype, device: device);
        using var b = Tensor.Rand(transB ? [n, k] : [k, n], seed: 2, dtype: dtype, device: device);
        using var bt = transB ? b.T : null;
        var rhs = bt ?? b;
        using var noGrad = Autograd.NoGrad();
        device.AllowTf32 = tf32;
        Action sync = device.Backend.Synchronize;
        void Ours() { using var c = a.MatMul(rhs); }
        int inner = Timing.Calibrate(Ours, 0.05, sync);
        double t = Timing.Median(Ours, repeats: 7, inner: inner, sync: sync);
        device.AllowTf32 = false;
        return new BenchRow($"{name} ({dtype.Name()})", 2.0 * m * n * k / t / 1e9, "GFLOP/s");
    }

    private static void Mlp(Device device, int[] sizes, int batch, bool adam, string name, Action<BenchRow> add)
    {
        Action sync = device.Backend.Synchronize;
        using var step = new MlpStep(sizes, batch, adam, device);
        int inner = Math.Max(1, Timing.Calibrate(step.Step, 0.1, sync));
        double t = Timing.Median(step.Step, repeats: 7, inner: inner, warmup: 5, warmupSeconds: 1.5, sync: sync);
        add(new BenchRow(name, t * 1e3, "ms"));
        // Counts per step over 20 steps queued back to back (the closing synchronisation not counted).
        const int steps = 20;
        sync();
        var before = device.Counters.Snapshot();
        for (int i = 0; i < steps; i++) step.Step();
        var per = (device.Counters.Snapshot() - before).Per(steps);
        sync();
        add(new BenchRow("  kernel launches per step", per.KernelLaunches, "launches"));
        add(new BenchRow("  host synchronisations per step", per.HostSynchronizations, "syncs"));
        add(new BenchRow("  host↔device bytes per step", per.HostToDeviceBytes + per.DeviceToHostBytes, "B"));
    }
}
