using GpuNet.Kernels;
using GpuNet.Kernels.Ilgpu;
using Xunit;
using ReferenceOps = GpuNet.Tests.Backends.ReferenceOps;

namespace GpuNet.Tests.Ilgpu;

/// <summary>
/// The ILGPU kernels on the CPU accelerator against plain C# double references, on small random
/// strided operands: transposed, narrowed, broadcast (stride 0), size-1 and empty dimensions,
/// float32 and float64 (and int32 where the contract allows it).
/// </summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class IlgpuBackendTests(IlgpuCpuFixture fx)
{
    private readonly IlgpuBackend _be = fx.Backend;
    private static readonly DType[] Floats = [DType.Float32, DType.Float64];
    private static readonly DType[] All = [DType.Float32, DType.Float64, DType.Int32];
    private const int Cases = 4;

    // ---- elementwise -----------------------------------------------------------------------------

    public static TheoryData<UnaryOp, DType> UnaryCases()
    {
        var data = new TheoryData<UnaryOp, DType>();
        foreach (var op in Enum.GetValues<UnaryOp>())
        {
            data.Add(op, DType.Float32);
            data.Add(op, DType.Float64);
            if (op is UnaryOp.Neg or UnaryOp.Abs or UnaryOp.Sign or UnaryOp.Relu or UnaryOp.Affine or UnaryOp.Clamp) data.Add(op, DType.Int32);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void Unary_MatchesReference(UnaryOp op, DType dtype)
    {
        var rng = new Random(HashCode.Combine(op, dtype));
        bool positive = op is UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.PowScalar;
        Func<Random, double>? value = positive ? r => 0.1 + r.NextDouble() * 3 : null;
        (double alpha, double beta) = op switch
        {
            UnaryOp.PowScalar => (dtype == DType.Float32 ? 1.5 : 2.5, 0.0),
            UnaryOp.Affine => (dtype == DType.Int32 ? 3.0 : -1.25, dtype == DType.Int32 ? 2.0 : 0.5),
            UnaryOp.Clamp => (-1.0, double.PositiveInfinity),
            _ => (0.0, 0.0),
        };
        for (int t = 0; t < Cases; t++)
        {
            var shape = HostView.RandomShape(rng);
            var x = HostView.Random(rng, shape, dtype, HostView.RandomLayout(rng), value);
            var y = HostView.Random(rng, shape, dtype, HostView.RandomLayout(rng, output: true), _ => 0);
            Array.Fill(y.Storage, HostView.Sentinel);
            using var xb = Upload(x, out var xd);
            using var yb = Upload(y, out var yd);
            _be.Unary(op, xd, yd, alpha, beta);
            y.AssertDevice(_be, yd, c => ReferenceOps.Unary(op, x[c], alpha, beta), HostView.Tol(dtype), dtype == DType.Float32 ? 1e-6 : 1e-13, $"{op} {dtype} x {x}");
        }
    }

    public static TheoryData<BinaryOp, DType> BinaryCases()
    {
        var data = new TheoryData<BinaryOp, DType>();
        foreach (var op in Enum.GetValues<BinaryOp>())
            foreach (var d in All)
                if (!(d == DType.Int32 && op is BinaryOp.Div or BinaryOp.Pow)) data.Add(op, d);
        return data;
    }

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void Binary_MatchesReference(BinaryOp op, DType dtype)
    {
        var rng = new Random(HashCode.Combine(op, dtype, 1));
        Func<Random, double>? value = op == BinaryOp.Pow ? r => 0.2 + r.NextDouble() * 2
            // Few distinct values so the comparisons meet ties.
            : op is BinaryOp.Eq or BinaryOp.Ne or BinaryOp.Ge or BinaryOp.Le ? r => r.Next(-2, 3) * 0.5
            : null;
        for (int t = 0; t < Cases; t++)
        {
            var shape = HostView.RandomShape(rng);
            var a = HostView.Random(rng, shape, dtype, HostView.RandomLayout(rng), value);
            var b = HostView.Random(rng, shape, dtype, HostView.RandomLayout(rng), op == BinaryOp.Div ? r => 0.5 + r.NextDouble() : value);
            var y = HostView.Random(rng, shape, dtype, HostView.RandomLayout(rng, output: true));
            Array.Fill(y.Storage, HostView.Sentinel);
            using var ab = Upload(a, out var ad);
            using var bb = Upload(b, out var bd);
            using var yb = Upload(y, out var yd);
            _be.Binary(op, ad, bd, yd);
            y.AssertDevice(_be, yd, c => ReferenceOps.Binary(op, a[c], b[c]), HostView.Tol(dtype), dtype == DType.Float32 ? 1e-6 : 1e-13, $"{op} {dtype} a {a} b {b}");
        }
    }

    [Fact]
    public void NaN_PropagatesThroughMaximumMinimumReluClamp()
    {
        float nan = float.NaN;
        Assert.True(float.IsNaN(RunBinary(BinaryOp.Maximum, nan, 1f)));
        Assert.True(float.IsNaN(RunBinary(BinaryOp.Maximum, 1f, nan)));
        Assert.True(float.IsNaN(RunBinary(BinaryOp.Minimum, nan, 1f)));
        Assert.True(float.IsNaN(RunBinary(BinaryOp.Minimum, 1f, nan)));
        Assert.Equal(1f, RunBinary(BinaryOp.Ne, nan, nan));
        Assert.Equal(0f, RunBinary(BinaryOp.Eq, nan, nan));

        float RunBinary(BinaryOp op, float a, float b)
        {
            using var buf = _be.Allocate(DType.Float32, 3);
            _be.Upload<float>([a, b, 0], buf);
            _be.Binary(op, View(buf, 0), View(buf, 1), View(buf, 2));
            var r = new float[3];
            _be.Download<float>(buf, r);
            return r[2];
        }
    }

    [Fact]
    public void Where_AllConditionAndValueDtypes()
    {
        var rng = new Random(7);
        foreach (var cd in All)
            foreach (var vd in All)
            {
                var shape = HostView.RandomShape(rng, allowEmpty: false);
                var cond = HostView.Random(rng, shape, cd, HostView.RandomLayout(rng), r => r.Next(3) == 0 ? 0 : r.Next(-2, 3));
                var a = HostView.Random(rng, shape, vd, HostView.RandomLayout(rng));
                var b = HostView.Random(rng, shape, vd, HostView.RandomLayout(rng));
                var y = HostView.Random(rng, shape, vd, HostView.RandomLayout(rng, output: true));
                Array.Fill(y.Storage, HostView.Sentinel);
                using var c1 = Upload(cond, out var cdv);
                using var a1 = Upload(a, out var adv);
                using var b1 = Upload(b, out var bdv);
                using var y1 = Upload(y, out var ydv);
                _be.Where(cdv, adv, bdv, ydv);
                y.AssertDevice(_be, ydv, c => cond[c] != 0 ? a[c] : b[c], 0, 0, $"Where cond {cond} a {a}");
            }
    }

    [Fact]
    public void Copy_ConvertsEveryDtypePair_TruncatingTowardZero()
    {
        var rng = new Random(11);
        foreach (var from in All)
            foreach (var to in All)
            {
                var shape = HostView.RandomShape(rng);
                var x = HostView.Random(rng, shape, from, HostView.RandomLayout(rng), r => r.NextDouble() * 10 - 5);
                var y = HostView.Random(rng, shape, to, HostView.RandomLayout(rng, output: true));
                Array.Fill(y.Storage, HostView.Sentinel);
                using var xb = Upload(x, out var xd);
                using var yb = Upload(y, out var yd);
                _be.Copy(xd, yd);
                // (int)-2.7 = -2: truncation toward zero, which HostView.Round also does.
                y.AssertDevice(_be, yd, c => HostView.Round(to, x[c]), 0, 0, $"Copy {from}->{to} {x}");
            }
    }

    [Fact]
    public void Fill_And_FillAffine_WalkTheViewInRowMajorOrder()
    {
        var rng = new Random(13);
        foreach (var dt in All)
            for (int t = 0; t < 3; t++)
            {
                var shape = HostView.RandomShape(rng);
                var y = HostView.Random(rng, shape, dt, HostView.RandomLayout(rng, output: true));
                Array.Fill(y.Storage, HostView.Sentinel);
                using var yb = Upload(y, out var yd);
                _be.Fill(yd, 2.5);
                y.AssertDevice(_be, yd, _ => 2.5, 0, 0, $"Fill {dt}");
                _be.FillAffine(yd, -3, 0.5);
                var order = y.Coords().Select((c, k) => (Key: string.Join(",", c), k)).ToDictionary(p => p.Key, p => p.k);
                y.AssertDevice(_be, yd, c => -3 + 0.5 * order[string.Join(",", c)], 1e-7, 0, $"FillAffine {dt}");
            }
    }

    // ---- random ------------------------------------------------------------------------------------

    // The element-by-element Philox scheme is checked for every device by Backends/BackendConformanceTests.Fills.

    [Fact]
    public void FillRandom_HasTheRightMoments()
    {
        const int n = 20000;
        using var buf = _be.Allocate(DType.Float32, n);
        var view = StridedView.Contiguous(buf, [n]);
        var data = new float[n];
        _be.FillRandom(view, RandomDistribution.Normal, 42, 0, 1, 2);
        _be.Download<float>(buf, data);
        double mean = data.Average(v => (double)v), sd = Math.Sqrt(data.Average(v => (v - mean) * (v - mean)));
        Assert.InRange(mean, 0.95, 1.05);
        Assert.InRange(sd, 1.95, 2.05);
        _be.FillRandom(view, RandomDistribution.Uniform, 42, 0, -1, 3);
        _be.Download<float>(buf, data);
        Assert.All(data, v => Assert.InRange(v, -1f, 3f));
        Assert.InRange(data.Average(v => (double)v), 0.97, 1.03);
    }

    // ---- reductions and softmax ----------------------------------------------------------------------

    public static TheoryData<ReduceOp, DType> ReduceCases()
    {
        var data = new TheoryData<ReduceOp, DType>();
        foreach (var op in Enum.GetValues<ReduceOp>())
            foreach (var d in All) data.Add(op, d);
        return data;
    }

    [Theory]
    [MemberData(nameof(ReduceCases))]
    public void Reduce_MatchesReference(ReduceOp op, DType dtype)
    {
        var rng = new Random(HashCode.Combine(op, dtype, 2));
        // Shapes: small ones, and one sum-of-everything that takes the two-pass split (n ≥ 2048, one row).
        List<int[]> shapes = [[2, 3, 4], [1, 5, 1], [3, 1, 2], [0, 4, 2], [2, 7, 0], [1, 5000, 1], [2, 3000, 3]];
        if (op == ReduceOp.Sum) shapes.Add([2, 0, 3]);
        foreach (var shape in shapes)
        {
            // Few distinct values so Max/Min meet ties (ArgMax must return the first).
            Func<Random, double> value = dtype == DType.Int32 || op is ReduceOp.ArgMax or ReduceOp.ArgMin
                ? r => r.Next(-4, 5) : HostView.DefaultValue(dtype);
            var x = HostView.Random(rng, shape, dtype, shape[1] > 100 ? Layout.Contiguous : HostView.RandomLayout(rng), value);
            bool arg = op is ReduceOp.ArgMax or ReduceOp.ArgMin;
            var y = HostView.Random(rng, [shape[0], shape[2]], arg ? DType.Int32 : dtype, HostView.RandomLayout(rng, output: true));
            Array.Fill(y.Storage, HostView.Sentinel);
            using var xb = Upload(x, out var xd);
            using var yb = Upload(y, out var yd);
            _be.Reduce(op, xd, yd);
            double tol = dtype == DType.Float32 ? 1e-5 : 1e-12;
            y.AssertDevice(_be, yd, c => ReduceRef(op, x, c[0], c[1]), tol, tol * shape[1], $"Reduce {op} {dtype} {x}");
        }
    }

    private static double ReduceRef(ReduceOp op, HostView x, int o, int i)
    {
        int n = x.Shape[1];
        double acc = op == ReduceOp.Sum ? 0 : x[[o, 0, i]];
        int best = 0;
        for (int j = op == ReduceOp.Sum ? 0 : 1; j < n; j++)
        {
            double v = x[[o, j, i]];
            switch (op)
            {
                case ReduceOp.Sum: acc += v; break;
                case ReduceOp.Max: if (!double.IsNaN(acc) && (double.IsNaN(v) || v > acc)) acc = v; break;
                case ReduceOp.Min: if (!double.IsNaN(acc) && (double.IsNaN(v) || v < acc)) acc = v; break;
                case ReduceOp.ArgMax: if (!double.IsNaN(acc) && (double.IsNaN(v) || v > acc)) { acc = v; best = j; } break;
                case ReduceOp.ArgMin: if (!double.IsNaN(acc) && (double.IsNaN(v) || v < acc)) { acc = v; best = j; } break;
            }
        }
        return op is ReduceOp.ArgMax or ReduceOp.ArgMin ? best : acc;
    }

    [Theory]
    [InlineData(70)]
    [InlineData(4000)] // split path: partial lanes interleave (lane = j mod lanes on the CPU device's 64)
    public void Reduce_NaNPropagatesAndArgFindsFirstExtreme(int n)
    {
        var data = new double[n];
        // Equal maxima at 65 (lane 1) and 2 (lane 2): the first index must win, not the first lane.
        data[65] = 5; data[2] = 5; data[n - 2] = double.NaN; data[n - 1] = -9;
        using var xb = _be.Allocate(DType.Float64, n);
        _be.Upload<double>(data, xb);
        using var yb = _be.Allocate(DType.Float64, 1);
        using var ib = _be.Allocate(DType.Int32, 1);
        var x = new StridedView(xb, [1, n, 1], [n, 1, 1], 0);
        var y = new StridedView(yb, [1, 1], [1, 1], 0);
        var iy = new StridedView(ib, [1, 1], [1, 1], 0);
        var r = new double[1]; var ri = new int[1];
        _be.Reduce(ReduceOp.Max, x, y); _be.Download<double>(yb, r); Assert.True(double.IsNaN(r[0]));
        _be.Reduce(ReduceOp.Min, x, y); _be.Download<double>(yb, r); Assert.True(double.IsNaN(r[0]));
        _be.Reduce(ReduceOp.ArgMax, x, iy); _be.Download<int>(ib, ri); Assert.Equal(n - 2, ri[0]);
        data[n - 2] = 0;
        _be.Upload<double>(data, xb);
        _be.Reduce(ReduceOp.ArgMax, x, iy); _be.Download<int>(ib, ri); Assert.Equal(2, ri[0]);
        _be.Reduce(ReduceOp.ArgMin, x, iy); _be.Download<int>(ib, ri); Assert.Equal(n - 1, ri[0]);
    }

    [Fact]
    public void Softmax_And_LogSoftmax_MatchReference_AndAreStable()
    {
        var rng = new Random(17);
        foreach (var dt in Floats)
            foreach (bool log in new[] { false, true })
                foreach (int[] shape in new[] { new[] { 2, 5, 3 }, [1, 1, 1], [3, 4, 1], [1, 7, 2], [0, 3, 2], [2, 0, 2] })
                {
                    // Large logits: exp would overflow without subtracting the row maximum.
                    var x = HostView.Random(rng, shape, dt, HostView.RandomLayout(rng), r => 500 + r.NextDouble() * 20);
                    var y = HostView.Random(rng, shape, dt, HostView.RandomLayout(rng, output: true));
                    Array.Fill(y.Storage, HostView.Sentinel);
                    using var xb = Upload(x, out var xd);
                    using var yb = Upload(y, out var yd);
                    _be.Softmax(xd, yd, log);
                    y.AssertDevice(_be, yd, c =>
                    {
                        double m = Enumerable.Range(0, shape[1]).Max(j => x[[c[0], j, c[2]]]);
                        double s = Enumerable.Range(0, shape[1]).Sum(j => Math.Exp(x[[c[0], j, c[2]]] - m));
                        return log ? x[c] - m - Math.Log(s) : Math.Exp(x[c] - m) / s;
                    }, dt == DType.Float32 ? 1e-5 : 1e-12, dt == DType.Float32 ? 1e-5 : 1e-12, $"Softmax log={log} {dt} {x}");
                }
    }

    // ---- matmul ------------------------------------------------------------------------------------

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    [InlineData(DType.Int32)]
    public void MatMul_AnyStrides_MatchesReference(DType dt)
    {
        var rng = new Random(19 + (int)dt);
        List<(int B, int M, int K, int N)> cases = [(1, 1, 1, 1), (2, 3, 5, 4), (1, 7, 3, 9), (3, 4, 0, 2), (1, 0, 3, 2), (2, 5, 6, 1)];
        foreach (var (bsz, m, k, n) in cases)
            foreach (var la in new[] { Layout.Contiguous, Layout.Transposed, Layout.Narrowed, Layout.Broadcast })
            {
                var a = HostView.Random(rng, [bsz, m, k], dt, la);
                var b = HostView.Random(rng, [bsz, k, n], dt, HostView.RandomLayout(rng));
                var c = HostView.Random(rng, [bsz, m, n], dt, HostView.RandomLayout(rng, output: true));
                Array.Fill(c.Storage, HostView.Sentinel);
                using var ab = Upload(a, out var ad);
                using var bb = Upload(b, out var bd);
                using var cb = Upload(c, out var cd);
                _be.MatMul(ad, bd, cd);
                c.AssertDevice(_be, cd, ix =>
                {
                    double s = 0;
                    for (int q = 0; q < k; q++) s += a[[ix[0], ix[1], q]] * b[[ix[0], q, ix[2]]];
                    return s;
                }, HostView.Tol(dt), dt == DType.Float32 ? 1e-5 : 1e-12, $"MatMul {dt} a {a} b {b}");
            }
    }

    [Fact]
    public void MatMul_LargerThanTiles_WithBroadcastBatchAndTransposedB()
    {
        // b is one [k, n] matrix shared by every batch (stride 0) and stored transposed.
        int bsz = 3, m = 9, k = 11, n = 6;
        var rng = new Random(23);
        var a = HostView.Random(rng, [bsz, m, k], DType.Float32, Layout.Contiguous);
        var storage = Enumerable.Range(0, n * k).Select(_ => (double)(float)(rng.NextDouble() - 0.5)).ToArray();
        var b = new HostView { Storage = storage, Shape = [bsz, k, n], Strides = [0, 1, k], Offset = 0, DType = DType.Float32 };
        var c = HostView.Random(rng, [bsz, m, n], DType.Float32, Layout.Contiguous);
        using var ab = Upload(a, out var ad);
        using var bb = Upload(b, out var bd);
        using var cb = Upload(c, out var cd);
        _be.MatMul(ad, bd, cd);
        c.AssertDevice(_be, cd, ix => Enumerable.Range(0, k).Sum(q => a[[ix[0], ix[1], q]] * b[[ix[0], q, ix[2]]]), 1e-5, 1e-5, "MatMul broadcast batch");
    }

    // ---- gather / scatter ----------------------------------------------------------------------------

    [Fact]
    public void Gather_And_ScatterAdd_MatchReference()
    {
        var rng = new Random(29);
        foreach (var dt in All)
            foreach (var (outer, n, m, inner) in new[] { (2, 4, 3, 2), (1, 5, 7, 1), (3, 1, 2, 1), (1, 3, 0, 2) })
            {
                var x = HostView.Random(rng, [outer, n, inner], dt, HostView.RandomLayout(rng));
                var index = HostView.Random(rng, [outer, m, inner], DType.Int32, HostView.RandomLayout(rng), r => r.Next(n));
                var y = HostView.Random(rng, [outer, m, inner], dt, HostView.RandomLayout(rng, output: true));
                Array.Fill(y.Storage, HostView.Sentinel);
                using var xb = Upload(x, out var xd);
                using var ib = Upload(index, out var id);
                using var yb = Upload(y, out var yd);
                _be.Gather(xd, id, yd);
                y.AssertDevice(_be, yd, c => x[[c[0], (int)index[c], c[2]]], 0, 0, $"Gather {dt}");

                // ScatterAdd accumulates into its output: start from known values, duplicates add up.
                var src = HostView.Random(rng, [outer, m, inner], dt, HostView.RandomLayout(rng));
                var acc = HostView.Random(rng, [outer, n, inner], dt, HostView.RandomLayout(rng, output: true));
                using var sb = Upload(src, out var sd);
                using var accb = Upload(acc, out var accd);
                _be.ScatterAdd(sd, id, accd);
                acc.AssertDevice(_be, accd, c =>
                {
                    double s = acc[c];
                    for (int j = 0; j < m; j++) if ((int)index[[c[0], j, c[2]]] == c[1]) s += src[[c[0], j, c[2]]];
                    return s;
                }, HostView.Tol(dt), 1e-6, $"ScatterAdd {dt}");
            }
    }

    // ---- memory --------------------------------------------------------------------------------------

    [Fact]
    public void UploadDownload_WithOffsets_AndThePoolReusesMemory()
    {
        using (var buf = _be.Allocate(DType.Float64, 10))
        {
            _be.Upload<double>([1, 2, 3], buf, 4);
            var r = new double[3];
            _be.Download<double>(buf, r, 4);
            Assert.Equal([1.0, 2, 3], r);
        }
        long allocations = _be.Pool.Allocations;
        for (int i = 0; i < 5; i++) _be.Allocate(DType.Float32, 20).Dispose();
        Assert.True(_be.Pool.Allocations <= allocations + 1, "the pool should serve repeated same-size requests from its cache");
    }

    // ---- helpers -------------------------------------------------------------------------------------

    private DeviceBuffer Upload(HostView v, out StridedView device)
    {
        device = v.ToDevice(_be);
        return device.Buffer;
    }

    private static StridedView View(DeviceBuffer b, long offset) => new(b, [1], [1], offset);
}
