using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Text.Json;
using GpuNet.Benchmarking;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

// The CPU rows of `gpunet bench` (src/Benchmarking/Workloads.cs, Headline.Run) and a Fashion-MNIST epoch as
// `gpunet train` runs it, measured with TorchSharp-cpu in the same way: the same shapes and dtypes, the same
// bytes and flops counted, medians of the same repeat counts after the same warm-ups. Rows carry the names
// `gpunet bench` prints, so bench/torch-compare.py can put the two side by side. The FMA peak and memcpy rows
// are the same C# loops as gpunet's: they show how busy the machine was during this run.
namespace GpuNet.TorchBaseline;

internal static class Program
{
    private static readonly string[] s_groups = ["gemm", "memory", "overhead", "mlp", "epoch"];

    private static int Main(string[] args)
    {
        string? json = null, data = null;
        int epochs = 3, threads = Environment.ProcessorCount;
        var only = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--json": json = Next(); break;
                case "--data": data = Next(); break;
                case "--epochs": epochs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--only":
                    while (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) only.AddRange(args[++i].Split(','));
                    break;
                case "-h" or "--help":
                    Console.WriteLine("TorchBaseline [--only gemm|memory|overhead|mlp|epoch ...] [--json FILE] [--epochs N (3)] [--data DIR] [--threads N (all cores)]");
                    return 0;
                default:
                    Console.Error.WriteLine($"unknown argument '{args[i]}' (try --help)");
                    return 2;
            }
        }
        foreach (var g in only)
            if (!s_groups.Contains(g))
            {
                Console.Error.WriteLine($"--only: unknown group '{g}' (expected {string.Join(", ", s_groups)}).");
                return 2;
            }
        bool Want(string group) => only.Count == 0 || only.Contains(group);

        torch.set_num_threads(threads);
        string env = string.Join(" ", new[] { "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MKL_NUM_THREADS", "MKL_DEBUG_CPU_TYPE", "ATEN_CPU_CAPABILITY", "MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_" }
            .Select(v => (v, Environment.GetEnvironmentVariable(v))).Where(p => !string.IsNullOrEmpty(p.Item2)).Select(p => $"{p.v}={p.Item2}"));
        Console.WriteLine($"TorchSharp {typeof(torch).Assembly.GetName().Version} (libtorch {torch.__version__}) on the CPU, {torch.get_num_threads()} threads (set_num_threads({threads})), {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC{(env.Length > 0 ? ", " + env : "")}");
        Console.WriteLine("Medians of repeated runs, defined as gpunet bench's rows.");
        Console.WriteLine($"{"workload",-62} {"value",12}");
        var rows = new List<Row>();
        void Add(string name, double value, string unit)
        {
            var r = new Row(name, value, unit);
            rows.Add(r);
            Console.WriteLine($"{r.Name,-62} {$"{r.Value:F2} {r.Unit}",12}");
        }

        if (Want("gemm"))
        {
            double peak1 = Baselines.FmaPeakGflops(1);
            Add("FMA peak, 1 thread (FP32)", peak1, "GFLOP/s");
            // All cores, as gpunet's row, whatever --threads says: the GEMM rows' percentages use this peak.
            int cores = Environment.ProcessorCount;
            double peakN = Baselines.FmaPeakGflops(cores);
            Add($"FMA peak, {cores} threads (FP32)", peakN, "GFLOP/s");
            foreach (int n in new[] { 256, 512, 1024, 2048 }) Gemm(ScalarType.Float32, n, n, n, transB: false, peakN, $"SGEMM {n}³", Add);
            Gemm(ScalarType.Float64, 1024, 1024, 1024, transB: false, peakN / 2, "DGEMM 1024³", Add);
            Gemm(ScalarType.Float32, 128, 512, 784, transB: true, peakN, "x[128,784]·Wᵀ[784,512]", Add);
        }
        if (Want("memory"))
        {
            const int n = 16 << 20;
            double memcpyBefore = Baselines.MemcpyGBps(n);
            var measured = new List<(string Name, double GBps)>();
            using (torch.no_grad())
            {
                using var a = Rand(1, n);
                using var b = Rand(2, n);
                // The reads of one element match gpunet's rows (which need them to run a deferred launch); here they only add a copy of one float.
                double t = Timing.Median(() => { using var ab = a * b; using var y = ab + 1f; ReadOne(y); }, repeats: 9);
                measured.Add(("a*b+1, 16M floats, new output", 3.0 * n * 4 / t / 1e9));
                t = Timing.Median(() => { using var y = a + b; ReadOne(y); }, repeats: 9);
                measured.Add(("a+b, 16M floats, new output", 3.0 * n * 4 / t / 1e9));
                t = Timing.Median(() => { using var s = a.sum(); }, repeats: 9);
                measured.Add(("sum of 16M floats", 1.0 * n * 4 / t / 1e9));
                using var m = Rand(3, 4096, 4096);
                t = Timing.Median(() => { using var s = m.sum(0); }, repeats: 9);
                measured.Add(("sum over rows of [4096,4096]", 1.0 * m.numel() * 4 / t / 1e9));
                using var mt = m.t();
                t = Timing.Median(() => { using var s = mt.relu(); }, repeats: 5);
                measured.Add(("relu of a transposed [4096,4096]", 2.0 * m.numel() * 4 / t / 1e9));
            }
            Add("memcpy 16M floats (best of before/after, 1 or all threads)", Math.Max(memcpyBefore, Baselines.MemcpyGBps(n)), "GB/s");
            foreach (var (name, gbps) in measured) Add(name, gbps, "GB/s");
        }
        if (Want("overhead"))
        {
            using var a = Rand(1, 1024);
            using var b = Rand(2, 1024);
            using var ag = Rand(1, 1024).requires_grad_();
            Action plain = () => { using var y = a + b; };
            Action recorded = () => { using var y = ag + b; };
            int inner = Timing.Calibrate(plain);
            Add("1024-float add, per op", Timing.Median(plain, repeats: 9, inner: inner) * 1e6, "µs");
            inner = Timing.Calibrate(recorded);
            Add("1024-float add, recording, per op", Timing.Median(recorded, repeats: 9, inner: inner) * 1e6, "µs");
        }
        if (Want("mlp"))
        {
            using (var small = new MlpStep([784, 256, 256, 10], 128, adam: false))
            {
                int inner = Math.Max(1, Timing.Calibrate(small.Step, 0.1));
                Add("MLP 784-256-256-10, batch 128, SGD step", Timing.Median(small.Step, repeats: 9, inner: inner, warmup: 5, warmupSeconds: 2.5) * 1e3, "ms");
            }
            // As gpunet bench: collect, then reset the kernel's RSS high-water mark, so the peak is this MLP's.
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            ResetPeakRss();
            using var big = new MlpStep([1024, 4096, 4096, 10], 4096, adam: true);
            big.Step();
            double t = Timing.Median(big.Step, repeats: 3, warmup: 1);
            Add("MLP 1024-4096-4096-10, batch 4096, Adam step", t * 1e3, "ms");
            Add("  its process peak RSS (runtime and cached blocks included)", PeakRssBytes() / 1e6, "MB");
        }
        if (Want("epoch"))
        {
            var dir = FashionMnist.Locate(data);
            if (dir is null) Console.WriteLine($"epoch: Fashion-MNIST not found (--data, $GPUNET_DATA, {FashionMnist.DefaultDirectory}); skipped.");
            else FashionMnist.Epochs(dir, epochs, Add);
        }
        if (json is not null)
        {
            var doc = new
            {
                date = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
                device = $"TorchSharp {typeof(torch).Assembly.GetName().Version} (libtorch {torch.__version__}), CPU",
                threads = torch.get_num_threads(),
                rows = rows.Select(r => new { name = r.Name, value = r.Value, unit = r.Unit }),
            };
            File.WriteAllText(json, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"wrote {json}");
        }
        return 0;
    }

    /// <summary>Uniform [0, 1) float32 of <paramref name="shape"/> from its own seed.</summary>
    private static Tensor Rand(long seed, params long[] shape)
    {
        torch.manual_seed(seed);
        return torch.rand(shape);
    }

    private static void ReadOne(Tensor t)
    {
        using var first = t[0];
        first.item<float>();
    }

    /// <summary>c = a·b (or a·bᵀ with b stored [n,k] and viewed transposed), timed as gpunet times its own side of the OpenBLAS comparison.</summary>
    private static void Gemm(ScalarType dtype, int m, int n, int k, bool transB, double peak, string name, Action<string, double, string> add)
    {
        using var noGrad = torch.no_grad();
        torch.manual_seed(1);
        using var a = torch.rand([m, k], dtype: dtype);
        torch.manual_seed(2);
        using var b = torch.rand(transB ? [n, k] : [k, n], dtype: dtype);
        using var rhs = transB ? b.t() : b.alias();
        double flops = 2.0 * m * n * k;
        int repeats = flops > 4e9 ? 5 : 9;
        void Ours() { using var c = a.matmul(rhs); }
        double gflops = flops / Timing.Paused(Ours, repeats) / 1e9;
        string dtypeName = dtype == ScalarType.Float32 ? "float32" : "float64";
        add($"{name} ({dtypeName}, {100 * gflops / peak:F0}% of FMA peak)", gflops, "GFLOP/s");
    }

    /// <summary>Resets VmHWM to the current resident set (Linux: "5" into /proc/self/clear_refs); no-op elsewhere.</summary>
    private static void ResetPeakRss()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>The process's peak resident set (VmHWM), or the runtime's view when /proc is absent.</summary>
    private static long PeakRssBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        return Process.GetCurrentProcess().PeakWorkingSet64;
    }
}

/// <summary>One figure: name as gpunet bench prints it, value, unit.</summary>
internal sealed record Row(string Name, double Value, string Unit);



/// <summary>Linear layers with ReLU between them, as GpuNet's Mlp.</summary>
internal static class Mlp
{
    public static Sequential Create(int[] sizes)
    {
        var layers = new List<nn.Module<Tensor, Tensor>>();
        for (int i = 0; i + 1 < sizes.Length; i++)
        {
            layers.Add(nn.Linear(sizes[i], sizes[i + 1]));
            if (i + 2 < sizes.Length) layers.Add(nn.ReLU());
        }
        return nn.Sequential(layers);
    }
}

/// <summary>gpunet bench's MlpStep: an MLP with SGD (momentum 0.9) or Adam on a fixed random batch.</summary>
internal sealed class MlpStep : IDisposable
{
    private readonly Sequential _model;
    private readonly optim.Optimizer _optimizer;
    private readonly Tensor _x, _y;

    public MlpStep(int[] sizes, int batch, bool adam)
    {
        torch.manual_seed(1);
        _model = Mlp.Create(sizes);
        _optimizer = adam ? optim.Adam(_model.parameters(), lr: 1e-3) : optim.SGD(_model.parameters(), 0.01, momentum: 0.9);
        torch.manual_seed(2);
        _x = torch.randn(batch, sizes[0]);
        torch.manual_seed(3);
        _y = torch.randint(0, sizes[^1], [batch], dtype: ScalarType.Int64);
    }

    /// <summary>Forward, loss, zero_grad, backward and step; the scope disposes every temporary.</summary>
    public void Step()
    {
        using var scope = torch.NewDisposeScope();
        var logits = _model.forward(_x);
        var loss = nn.functional.cross_entropy(logits, _y);
        _optimizer.zero_grad();
        loss.backward();
        _optimizer.step();
    }

    public void Dispose()
    {
        _x.Dispose();
        _y.Dispose();
        _optimizer.Dispose();
        _model.Dispose();
    }
}

/// <summary>Fashion-MNIST from the IDX files gpunet train reads, and epochs timed as gpunet train times them.</summary>
internal static class FashionMnist
{
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";
    private static readonly string[] s_files = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    /// <summary>gpunet's search order: the given directory, $GPUNET_DATA (or its fashion-mnist folder), the Debian package's folder.</summary>
    public static string? Locate(string? explicitDirectory)
    {
        if (!string.IsNullOrEmpty(explicitDirectory)) return Exists(explicitDirectory) ? explicitDirectory : null;
        var env = Environment.GetEnvironmentVariable("GPUNET_DATA");
        if (Exists(env)) return env;
        if (!string.IsNullOrEmpty(env) && Exists(Path.Combine(env, "fashion-mnist"))) return Path.Combine(env, "fashion-mnist");
        return Exists(DefaultDirectory) ? DefaultDirectory : null;
    }

    private static bool Exists(string? dir) => !string.IsNullOrEmpty(dir) && Directory.Exists(dir) && s_files.All(f => Find(dir, f) is not null);

    private static string? Find(string dir, string name) =>
        new[] { name, name + ".gz" }.Select(c => Path.Combine(dir, c)).FirstOrDefault(File.Exists);

    /// <summary>An IDX file of unsigned bytes (gzipped or not): its dims and data.</summary>
    private static (int[] Dims, byte[] Data) ReadIdx(string path)
    {
        using var file = File.OpenRead(path);
        using Stream s = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        var header = new byte[4];
        s.ReadExactly(header);
        if (header[0] != 0 || header[1] != 0 || header[2] != 0x08) throw new InvalidDataException($"{path}: not an IDX file of unsigned bytes.");
        var dims = new int[header[3]];
        var b = new byte[4];
        for (int i = 0; i < dims.Length; i++)
        {
            s.ReadExactly(b);
            dims[i] = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
        }
        var data = new byte[dims.Aggregate(1L, (p, d) => p * d)];
        s.ReadExactly(data);
        return (dims, data);
    }

    private static (Tensor X, Tensor Y) Load(string dir, int images, int labels)
    {
        var (dims, pixels) = ReadIdx(Find(dir, s_files[images])!);
        var (_, classes) = ReadIdx(Find(dir, s_files[labels])!);
        var x = new float[pixels.Length];
        for (int i = 0; i < x.Length; i++) x[i] = pixels[i] / 255f;
        return (torch.tensor(x, [dims[0], 784]), torch.tensor(classes.Select(c => (long)c).ToArray(), [dims[0]]));
    }

    /// <summary>
    /// <paramref name="epochs"/> epochs of 784-512-256-10 with Adam (1e-3), batch 128, shuffled, as gpunet train's
    /// loop: zero_grad, forward, loss, backward, step, and the epoch's loss and hits summed on the device and read
    /// at the end. Samples/s counts the training pass only; the test pass after it is not timed, as in gpunet.
    /// </summary>
    public static void Epochs(string dir, int epochs, Action<string, double, string> add)
    {
        var (trainX, trainY) = Load(dir, 0, 1);
        var (testX, testY) = Load(dir, 2, 3);
        using var _ = trainX; using var __ = trainY; using var ___ = testX; using var ____ = testY;
        Console.WriteLine($"Fashion-MNIST from {dir}: {trainY.shape[0]} train / {testY.shape[0]} test samples");
        torch.manual_seed(0);
        using var model = Mlp.Create([784, 512, 256, 10]);
        using var opt = optim.Adam(model.parameters(), lr: 1e-3);
        const int batch = 128;
        long n = trainY.shape[0];
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            var sw = Stopwatch.StartNew();
            model.train();
            using var lossSum = torch.zeros([], ScalarType.Float64);
            using var hits = torch.zeros([], ScalarType.Int64);
            using var gen = new Generator().manual_seed(77 + epoch);
            using var perm = torch.randperm(n, generator: gen);
            for (long start = 0; start < n; start += batch)
            {
                using var scope = torch.NewDisposeScope();
                long len = Math.Min(batch, n - start);
                var index = perm.narrow(0, start, len);
                var x = trainX.index_select(0, index);
                var y = trainY.index_select(0, index);
                opt.zero_grad();
                var logits = model.forward(x);
                var loss = nn.functional.cross_entropy(logits, y);
                loss.backward();
                opt.step();
                using (torch.no_grad())
                {
                    lossSum.add_(loss.to(ScalarType.Float64) * len);
                    hits.add_(logits.argmax(1).eq(y).sum());
                }
            }
            double trainLoss = lossSum.item<double>() / n, trainAcc = hits.item<long>() / (double)n;
            double seconds = sw.Elapsed.TotalSeconds;
            double testAcc = Evaluate(model, testX, testY);
            Console.WriteLine($"  epoch {epoch + 1}/{epochs}  loss {trainLoss:0.0000}  train acc {trainAcc:0.0000}  test acc {testAcc:0.0000}  {n / seconds:N0} samples/s  {seconds:0.0} s");
            add($"Fashion-MNIST epoch {epoch + 1}, 784-512-256-10, batch 128, Adam", n / seconds, "samples/s");
        }
    }

    private static double Evaluate(Sequential model, Tensor x, Tensor y)
    {
        model.eval();
        using var noGrad = torch.no_grad();
        long hits = 0, n = y.shape[0];
        for (long start = 0; start < n; start += 2000)
        {
            using var scope = torch.NewDisposeScope();
            long len = Math.Min(2000, n - start);
            hits += model.forward(x.narrow(0, start, len)).argmax(1).eq(y.narrow(0, start, len)).sum().item<long>();
        }
        return hits / (double)n;
    }
}
