using BenchmarkDotNet.Attributes;
using GpuNet.Benchmarking;
using GpuNet.Kernels;

namespace GpuNet.Benchmarks;

// BenchmarkDotNet suites. Each class holds the GpuNet workload and the baseline it is judged
// against in the same run (marked Baseline, so the Ratio column is GpuNet / baseline time).

/// <summary>SGEMM/DGEMM c = a·b against the system OpenBLAS (cblas_*gemm) on the same data.</summary>
[MemoryDiagnoser(displayGenColumns: false)]
public unsafe class GemmBenchmarks
{
    private Tensor _a = null!, _b = null!, _c = null!;
    private float[] _fa = [], _fb = [], _fc = [];
    private double[] _da = [], _db = [], _dc = [];

    [Params(256, 512, 1024, 2048)] public int N;
    [Params(DType.Float32, DType.Float64)] public DType Type;

    [GlobalSetup]
    public void Setup()
    {
        _a = Tensor.Rand([N, N], seed: 1, dtype: Type).DetachFromScope();
        _b = Tensor.Rand([N, N], seed: 2, dtype: Type).DetachFromScope();
        _c = Tensor.Zeros([N, N], dtype: Type).DetachFromScope();
        if (Type == DType.Float32) { _fa = _a.ToArray<float>(); _fb = _b.ToArray<float>(); _fc = new float[N * N]; }
        else { _da = _a.ToArray<double>(); _db = _b.ToArray<double>(); _dc = new double[N * N]; }
        OpenBlas.SetThreads(Environment.ProcessorCount);
    }

    [GlobalCleanup]
    public void Cleanup() { _a.Dispose(); _b.Dispose(); _c.Dispose(); }

    [Benchmark(Baseline = true, Description = "OpenBLAS")]
    public void OpenBlasGemm()
    {
        if (Type == DType.Float32) fixed (float* a = _fa, b = _fb, c = _fc) OpenBlas.Sgemm(N, N, N, a, b, c);
        else fixed (double* a = _da, b = _db, c = _dc) OpenBlas.Dgemm(N, N, N, a, b, c);
    }

    [Benchmark(Description = "GpuNet")]
    public void GpuNetGemm() =>
        Device.Default.Backend.MatMul(new StridedView(_a.Buffer, [1, N, N], [0, N, 1], 0), new StridedView(_b.Buffer, [1, N, N], [0, N, 1], 0),
            new StridedView(_c.Buffer, [1, N, N], [0, N, 1], 0));
}

/// <summary>Elementwise ops and reductions on 16M floats against memcpy of the same bytes.</summary>
public class MemoryBenchmarks
{
    private const int N = 16 << 20;
    private Tensor _a = null!, _b = null!;
    private float[] _src = [], _dst = [];

    [GlobalSetup]
    public void Setup()
    {
        _a = Tensor.Rand([N], seed: 1).DetachFromScope();
        _b = Tensor.Rand([N], seed: 2).DetachFromScope();
        _src = GC.AllocateUninitializedArray<float>(N, pinned: true);
        _dst = GC.AllocateUninitializedArray<float>(N, pinned: true);
        _src.AsSpan().Fill(1);
        _dst.AsSpan().Clear();
    }

    [GlobalCleanup]
    public void Cleanup() { _a.Dispose(); _b.Dispose(); }

    [Benchmark(Baseline = true, Description = "memcpy 64 MB (both cores)")]
    public void Memcpy() => Parallel.For(0, Environment.ProcessorCount, t =>
    {
        int per = N / Environment.ProcessorCount, start = t * per, len = t == Environment.ProcessorCount - 1 ? N - start : per;
        _src.AsSpan(start, len).CopyTo(_dst.AsSpan(start, len));
    });

    [Benchmark(Description = "a*b+1, new output")]
    public void MultiplyAdd()
    {
        using var scope = Tensor.NewScope();
        using var noGrad = Autograd.NoGrad();
        _ = _a * _b + 1f;
    }

    [Benchmark(Description = "a+b, new output")]
    public void Add()
    {
        using var scope = Tensor.NewScope();
        _ = _a + _b;
    }

    [Benchmark(Description = "sum")]
    public float Sum()
    {
        using var s = _a.Sum();
        return s.Item();
    }
}

/// <summary>Fixed cost of one small op: a 1024-float add, not recorded and recorded.</summary>
public class OverheadBenchmarks
{
    private Tensor _a = null!, _b = null!, _ag = null!;

    [GlobalSetup]
    public void Setup()
    {
        _a = Tensor.Rand([1024], seed: 1).DetachFromScope();
        _b = Tensor.Rand([1024], seed: 2).DetachFromScope();
        _ag = Tensor.Rand([1024], seed: 3, requiresGrad: true).DetachFromScope();
    }

    [Benchmark(Baseline = true, Description = "add 1024 floats")]
    public void Add() { using var y = _a + _b; }

    [Benchmark(Description = "add 1024 floats, recorded")]
    public void AddRecorded() { using var y = _ag + _b; }
}

/// <summary>The two MLP training steps of the performance issue (forward, loss, backward, optimizer step).</summary>
public class MlpBenchmarks
{
    private MlpStep _small = null!, _big = null!;

    [GlobalSetup(Target = nameof(SmallSgdStep))]
    public void SetupSmall() => _small = new MlpStep([784, 256, 256, 10], 128, adam: false, Device.Default);

    [GlobalSetup(Target = nameof(BigAdamStep))]
    public void SetupBig() => _big = new MlpStep([1024, 4096, 4096, 10], 4096, adam: true, Device.Default);

    [GlobalCleanup]
    public void Cleanup() { _small?.Dispose(); _big?.Dispose(); }

    [Benchmark(Description = "MLP 784-256-256-10, batch 128, SGD step")]
    public void SmallSgdStep() => _small.Step();

    [Benchmark(Description = "MLP 1024-4096-4096-10, batch 4096, Adam step")]
    public void BigAdamStep() => _big.Step();
}
