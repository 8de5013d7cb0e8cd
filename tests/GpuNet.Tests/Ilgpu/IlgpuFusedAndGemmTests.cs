using GpuNet.Benchmarking;
using GpuNet.Kernels;
using GpuNet.Kernels.Ilgpu;
using Xunit;

namespace GpuNet.Tests.Ilgpu;

/// <summary>
/// The GPU-path kernels of the ILGPU backend on the CPU accelerator: every GEMM implementation
/// forced in turn (square tiles, 4×4 and 8×8 register tiles, which the CPU accelerator runs with
/// 2×2 threads and 1–2 deep slices: the same code as on GPUs with smaller constants), the cuBLAS
/// layout mapping emulated on the host, the fused ops against the interface's composed default
/// bodies, and the one-thread-per-row paths the row-group kernels replaced for long rows.
/// </summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class IlgpuFusedAndGemmTests(IlgpuCpuFixture fx)
{
    private readonly IlgpuBackend _be = fx.Backend;
    private bool OnCpu => fx.Device.Kind == DeviceKind.IlgpuCpu;

    // ---- GEMM kernels ----------------------------------------------------------------------------

    public static TheoryData<string, DType> GemmCases()
    {
        var data = new TheoryData<string, DType>();
        foreach (var k in new[] { nameof(GemmKernel.Tile), nameof(GemmKernel.Reg4), nameof(GemmKernel.Reg8) })
            foreach (var dt in new[] { DType.Float32, DType.Float64 }) data.Add(k, dt);
        return data;
    }

    [Theory]
    [MemberData(nameof(GemmCases))]
    public void Gemm_ForcedKernel_AnyLayout_WithEpilogue_MatchesReference(string kernelName, DType dt)
    {
        var kernel = Enum.Parse<GemmKernel>(kernelName);
        var rng = new Random(41 + (int)kernel * 7 + (int)dt);
        // Sizes around the CPU shapes' block edges (8 and 16) and slice depths (1, 2); k = 0 and a thin product.
        List<(int B, int M, int K, int N)> cases = [(1, 1, 1, 1), (1, 16, 3, 16), (2, 17, 5, 9), (1, 8, 0, 8), (1, 33, 18, 17), (2, 3, 7, 40)];
        // On a real device (GPUNET_ILGPU_TEST_DEVICE): past the 128×128 blocks of the 16×16-thread configs, many k slices.
        if (!OnCpu) cases.AddRange([(1, 137, 70, 131), (2, 64, 33, 200)]);
        Layout[] layouts = [Layout.Contiguous, Layout.Transposed, Layout.Narrowed, Layout.Broadcast];
        _be.ForceGemm = kernel;
        try
        {
            int t = 0;
            foreach (var (bsz, m, k, n) in cases)
            {
                var a = HostView.Random(rng, [bsz, m, k], dt, layouts[t % 4]);
                var b = HostView.Random(rng, [bsz, k, n], dt, layouts[(t + 1) % 4]);
                var c = HostView.Random(rng, [bsz, m, n], dt, HostView.RandomLayout(rng, output: true));
                Array.Fill(c.Storage, HostView.Sentinel);
                var bias = t % 3 == 2 ? null : HostView.Random(rng, [bsz, m, n], dt, t % 3 == 0 ? Layout.Broadcast : Layout.Narrowed);
                var act = (Activation)(t % 4);
                t++;
                using var ab = Upload(a, out var ad);
                using var bb = Upload(b, out var bd);
                using var cb = Upload(c, out var cd);
                DeviceBuffer? biasBuffer = null;
                StridedView? biasView = null;
                if (bias is not null) { biasView = bias.ToDevice(_be); biasBuffer = biasView.Value.Buffer; }
                using var _ = biasBuffer;
                _be.MatMulEpilogue(ad, bd, cd, biasView, act);
                Assert.Equal(kernel, _be.LastGemm);
                c.AssertDevice(_be, cd, ix =>
                {
                    double s = 0;
                    for (int q = 0; q < k; q++) s += a[[ix[0], ix[1], q]] * b[[ix[0], q, ix[2]]];
                    if (bias is not null) s += bias[ix];
                    return act switch { Activation.Relu => Math.Max(s, 0), Activation.Sigmoid => 1 / (1 + Math.Exp(-s)), Activation.Tanh => Math.Tanh(s), _ => s };
                }, HostView.Tol(dt), dt == DType.Float32 ? 1e-5 : 1e-12, $"{kernel} {dt} act {act} a {a} b {b} bias {bias?.ToString() ?? "none"}");
            }
        }
        finally { _be.ForceGemm = GemmKernel.Auto; }
    }

    [Fact]
    public void Gemm_Auto_PicksTheKernelByShape_AndCuBlasFallsBackOffCuda()
    {
        if (!OnCpu) return; // block edges differ on GPUs
        Assert.Equal(GemmKernel.Tile, _be.ChooseGemm(typeof(float), 1, 3, 3, 3));
        Assert.Equal(GemmKernel.Reg4, _be.ChooseGemm(typeof(float), 1, 9, 12, 3));
        Assert.Equal(GemmKernel.Reg8, _be.ChooseGemm(typeof(double), 1, 16, 16, 3));
        Assert.Equal(GemmKernel.Tile, _be.ChooseGemm(typeof(double), 4, 200, 7, 300)); // thin: a block would be mostly padding
        Assert.Equal(GemmKernel.Tile, _be.ChooseGemm(typeof(int), 1, 64, 64, 64));     // Int32 has only the square tiles
        Assert.Equal("not a CUDA device", _be.CuBlasStatus);
        _be.ForceGemm = GemmKernel.CuBlas;
        try
        {
            using var a = _be.Allocate(DType.Float32, 4);
            _be.Fill(StridedView.Contiguous(a, [4]), 2);
            using var c = _be.Allocate(DType.Float32, 4);
            var v = StridedView.Contiguous(a, [1, 2, 2]);
            _be.MatMul(v, v, StridedView.Contiguous(c, [1, 2, 2]));
            Assert.NotEqual(GemmKernel.CuBlas, _be.LastGemm);
            var r = new float[4];
            _be.Download<float>(c, r);
            Assert.All(r, x => Assert.Equal(8f, x));
        }
        finally { _be.ForceGemm = GemmKernel.Auto; }
    }

    [Fact]
    public void GpuGemmComparison_RunsEveryKernel_AndTheyAgree()
    {
        var log = new StringWriter();
        var result = GpuGemmComparison.Run(fx.Device, [16, 33], iterations: 1, repetitions: 1, progress: log);
        var kernels = result.Timings.Select(t => t.Kernel).Distinct().ToList();
        Assert.Contains("Reg8", kernels);
        Assert.Contains("Reg4", kernels);
        Assert.Contains("Tile", kernels);
        Assert.True(result.AllAgree, result.ToTable());
        Assert.All(result.Timings, t => Assert.True(t.GFlops > 0));
        Assert.Contains("\"timings\"", result.ToJson());
        Assert.Contains("n=33 Reg8", log.ToString());
        Assert.Equal(GemmKernel.Auto, _be.ForceGemm);
        Assert.Throws<ArgumentException>(() => GpuGemmComparison.Run(Device.Cpu));
    }

    // ---- cuBLAS layout mapping, emulated ------------------------------------------------------------

    public static TheoryData<int, int, int> PlanLayouts()
    {
        // a: 0 row-major, 1 column-major, 2 row-major padded; b likewise; c: 0 row-major, 1 column-major, 2 padded row-major.
        var data = new TheoryData<int, int, int>();
        for (int la = 0; la < 3; la++) for (int lb = 0; lb < 3; lb++) for (int lc = 0; lc < 3; lc++) data.Add(la, lb, lc);
        return data;
    }

    [Theory]
    [MemberData(nameof(PlanLayouts))]
    public void CuBlasPlan_MapsStridedRowMajorViews_OntoColumnMajorGemm(int la, int lb, int lc)
    {
        var rng = new Random(la * 9 + lb * 3 + lc);
        foreach (var (m, k, n) in new[] { (3, 4, 5), (1, 4, 5), (3, 1, 5), (3, 4, 1), (1, 1, 1), (6, 2, 2) })
        {
            var (aS, aStr) = Matrix(rng, m, k, la);
            var (bS, bStr) = Matrix(rng, k, n, lb);
            var (_, cStr) = Matrix(rng, m, n, lc);
            var g = new MatGeom
            {
                M = m, N = n, K = k,
                A = new Axis3 { Offset = aStr.Off, SN = aStr.Rs, SI = aStr.Cs },
                B = new Axis3 { Offset = bStr.Off, SN = bStr.Rs, SI = bStr.Cs },
                C = new Axis3 { Offset = cStr.Off, SN = cStr.Rs, SI = cStr.Cs },
            };
            Assert.True(CuBlasGemm.TryPlan(g, out var plan), $"no plan for m {m} k {k} n {n} layouts {la}{lb}{lc}");
            var cS = new double[cStr.Off + (m + 1) * (n + 1) * 3];
            var (x, xo, y, yo) = plan.Swap ? (bS, bStr.Off, aS, aStr.Off) : (aS, aStr.Off, bS, bStr.Off);
            ColumnMajorGemm(plan, x, xo, y, yo, cS, cStr.Off);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double e = 0;
                    for (int p = 0; p < k; p++) e += aS[aStr.Off + i * aStr.Rs + p * aStr.Cs] * bS[bStr.Off + p * bStr.Rs + j * bStr.Cs];
                    Assert.Equal(e, cS[cStr.Off + i * cStr.Rs + j * cStr.Cs], 12);
                }
        }
    }

    [Fact]
    public void CuBlasPlan_RefusesLayoutsWithoutAColumnMajorForm()
    {
        var ok = new Axis3 { SN = 4, SI = 1 };
        // a broadcast along rows (row stride 0), b with no unit stride, c with overlapping rows.
        Assert.False(CuBlasGemm.TryPlan(new MatGeom { M = 3, N = 4, K = 4, A = new Axis3 { SN = 0, SI = 1 }, B = ok, C = ok }, out _));
        Assert.False(CuBlasGemm.TryPlan(new MatGeom { M = 3, N = 4, K = 4, A = ok, B = new Axis3 { SN = 8, SI = 2 }, C = ok }, out _));
        Assert.False(CuBlasGemm.TryPlan(new MatGeom { M = 3, N = 4, K = 4, A = ok, B = ok, C = new Axis3 { SN = 2, SI = 1 } }, out _));
        Assert.False(CuBlasGemm.TryPlan(new MatGeom { M = 3, N = 4, K = 4, A = ok, B = ok, C = new Axis3 { SN = -4, SI = 1 } }, out _));
    }

    private readonly record struct Strides2(long Off, int Rs, int Cs);

    /// <summary>A rows×cols matrix in storage: 0 row-major, 1 column-major, 2 row-major with padded rows; random offset.</summary>
    private static (double[] Storage, Strides2 Strides) Matrix(Random rng, int rows, int cols, int layout)
    {
        int off = rng.Next(0, 4);
        var s = layout switch
        {
            1 => new Strides2(off, 1, rows),
            2 => new Strides2(off, cols + 3, 1),
            _ => new Strides2(off, cols, 1),
        };
        var storage = new double[off + (rows + 1) * (cols + 3) + 4];
        for (int i = 0; i < storage.Length; i++) storage[i] = rng.Next(-4, 5);
        return (storage, s);
    }

    /// <summary>What cuBLAS computes: C (M×N, column-major, ldc) = op(X)·op(Y), op N reading X[i + p·ld], op T reading X[p + i·ld].</summary>
    private static void ColumnMajorGemm(CuBlasGemm.Plan p, double[] x, long xo, double[] y, long yo, double[] c, long co)
    {
        for (int i = 0; i < p.M; i++)
            for (int j = 0; j < p.N; j++)
            {
                double s = 0;
                for (int q = 0; q < p.K; q++)
                {
                    double xv = p.OpX == 0 ? x[xo + i + (long)q * p.LdX] : x[xo + q + (long)i * p.LdX];
                    double yv = p.OpY == 0 ? y[yo + q + (long)j * p.LdY] : y[yo + j + (long)q * p.LdY];
                    s += xv * yv;
                }
                c[co + i + (long)j * p.LdC] = s;
            }
    }

    // ---- fused ops against the composed default bodies ------------------------------------------------

    /// <summary>Exact on the CPU accelerator (same roundings in the same order); GPUs may contract a·b + c into an FMA.</summary>
    private double FusedTolerance(DType dt) => OnCpu ? 0 : dt == DType.Float32 ? 1e-6 : 1e-14;

    private void AssertClose(double[] composed, double[] fused, DType dt, string what)
    {
        double tol = FusedTolerance(dt);
        Assert.Equal(composed.Length, fused.Length);
        for (int i = 0; i < fused.Length; i++)
        {
            double e = composed[i], g = fused[i];
            bool ok = double.IsNaN(e) ? double.IsNaN(g) : tol == 0 ? e == g : Math.Abs(e - g) <= tol * (1 + Math.Abs(e));
            if (!ok) Assert.Fail($"{what}: element {i}: composed {e:R}, fused {g:R}.");
        }
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void MatMulEpilogue_Fused_EqualsComposedBody(DType dt)
    {
        var composed = new ComposedBackend(_be);
        var rng = new Random(5 + (int)dt);
        foreach (var (m, k, n, act) in new[] { (5, 3, 4, Activation.Relu), (17, 9, 20, Activation.Sigmoid), (9, 4, 9, Activation.Tanh), (2, 2, 2, Activation.None) })
        {
            var a = HostView.Random(rng, [1, m, k], dt, Layout.Transposed);
            var b = HostView.Random(rng, [1, k, n], dt, Layout.Contiguous);
            var bias = HostView.Random(rng, [1, m, n], dt, Layout.Broadcast);
            using var ab = Upload(a, out var ad);
            using var bb = Upload(b, out var bd);
            using var biasb = Upload(bias, out var biasd);
            using var c1 = _be.Allocate(dt, m * n);
            using var c2 = _be.Allocate(dt, m * n);
            ((IBackend)composed).MatMulEpilogue(ad, bd, StridedView.Contiguous(c1, [1, m, n]), biasd, act);
            _be.MatMulEpilogue(ad, bd, StridedView.Contiguous(c2, [1, m, n]), biasd, act);
            AssertClose(HostView.Download(_be, c1, m * n), HostView.Download(_be, c2, m * n), dt, $"MatMulEpilogue {act} {m}x{k}x{n}");
        }
    }

    [Theory]
    [InlineData(DType.Float32, 3)]   // one thread per row
    [InlineData(DType.Float32, 10)]  // one group per row (classes ≥ the CPU group of 4)
    [InlineData(DType.Float64, 37)]
    public void SoftmaxCrossEntropy_Fused_EqualsComposedBody(DType dt, int classes)
    {
        var composed = new ComposedBackend(_be);
        var rng = new Random(classes);
        int rows = 6;
        var x = HostView.Random(rng, [rows, classes], dt, Layout.Transposed, r => r.NextDouble() * 40 - 20);
        var labels = HostView.Random(rng, [rows], DType.Int32, Layout.Narrowed, r => r.Next(classes));
        using var xb = Upload(x, out var xd);
        using var lb = Upload(labels, out var ld);
        foreach (bool withGrad in new[] { true, false })
        {
            using var l1 = _be.Allocate(dt, rows);
            using var l2 = _be.Allocate(dt, rows);
            using var g1 = _be.Allocate(dt, rows * classes);
            using var g2 = _be.Allocate(dt, rows * classes);
            ((IBackend)composed).SoftmaxCrossEntropy(xd, ld, StridedView.Contiguous(l1, [rows]), withGrad ? StridedView.Contiguous(g1, [rows, classes]) : null);
            _be.SoftmaxCrossEntropy(xd, ld, StridedView.Contiguous(l2, [rows]), withGrad ? StridedView.Contiguous(g2, [rows, classes]) : null);
            AssertClose(HostView.Download(_be, l1, rows), HostView.Download(_be, l2, rows), dt, $"loss, classes {classes}");
            if (withGrad) AssertClose(HostView.Download(_be, g1, rows * classes), HostView.Download(_be, g2, rows * classes), dt, $"gradient, classes {classes}");
        }
    }

    [Fact]
    public void SoftmaxCrossEntropy_LabelOutOfRange_GivesNaNLoss_NotAWildRead()
    {
        using var x = _be.Allocate(DType.Float32, 6);
        _be.Fill(StridedView.Contiguous(x, [6]), 0.5);
        using var labels = _be.Allocate(DType.Int32, 2);
        _be.Upload<int>([7, 1], labels);
        using var loss = _be.Allocate(DType.Float32, 2);
        _be.SoftmaxCrossEntropy(StridedView.Contiguous(x, [2, 3]), StridedView.Contiguous(labels, [2]), StridedView.Contiguous(loss, [2]), null);
        var r = new float[2];
        _be.Download<float>(loss, r);
        Assert.True(float.IsNaN(r[0]));
        Assert.Equal(MathF.Log(3), r[1], 5);
    }

    [Theory]
    [InlineData(DType.Float32, 0)]
    [InlineData(DType.Float32, 1)]
    [InlineData(DType.Float32, 2)]
    [InlineData(DType.Float64, 1)]
    [InlineData(DType.Float64, 2)]
    public void AdamStep_Fused_EqualsComposedBody(DType dt, int mode)
    {
        var composed = new ComposedBackend(_be);
        var rng = new Random(mode * 3 + (int)dt);
        int[] shape = [3, 7];
        var hp = new AdamParameters(3e-3, 0.9, 0.999, 1e-8, mode == 0 ? 0 : 0.01, mode == 2, 3);
        var p = HostView.Random(rng, shape, dt, Layout.Narrowed);
        var g = HostView.Random(rng, shape, dt, Layout.Transposed);
        var m = HostView.Random(rng, shape, dt, Layout.Contiguous, r => r.NextDouble() - 0.5);
        var v = HostView.Random(rng, shape, dt, Layout.Contiguous, r => r.NextDouble());
        var results = new List<double[]>();
        foreach (var backend in new IBackend[] { composed, _be })
        {
            using var pb = Upload(p, out var pd);
            using var gb = Upload(g, out var gd);
            using var mb = Upload(m, out var md);
            using var vb = Upload(v, out var vd);
            for (int step = 0; step < 2; step++) backend.AdamStep(pd, gd, md, vd, hp with { Step = hp.Step + step });
            results.Add([.. HostView.Download(_be, pb, p.Storage.Length), .. HostView.Download(_be, mb, m.Storage.Length), .. HostView.Download(_be, vb, v.Storage.Length)]);
        }
        AssertClose(results[0], results[1], dt, $"AdamStep mode {mode}");
    }

    // ---- the one-thread-per-row paths the row-group kernels replaced ------------------------------------

    [Fact]
    public void RowGroupAndThreadPerRow_AgreeOnReductionsSoftmaxAndCrossEntropy()
    {
        var rng = new Random(77);
        // Rows of two group widths and a bit (45 on the CPU accelerator, 549 on 256-thread devices): every
        // thread folds several elements, then the tree; below 2048, so the split path stays out of it.
        int n = 2 * _be.RowGroup + 37;
        var x = HostView.Random(rng, [3, n, 2], DType.Float64, Layout.Transposed, r => r.Next(-3, 4) * 0.5);
        var logits = HostView.Random(rng, [4, n], DType.Float32, Layout.Narrowed, r => r.NextDouble() * 10 - 5);
        var labels = HostView.Random(rng, [4], DType.Int32, Layout.Contiguous, r => r.Next(n));
        using var xb = Upload(x, out var xd);
        using var lgb = Upload(logits, out var lgd);
        using var lbb = Upload(labels, out var lbd);
        using var yb = _be.Allocate(DType.Float64, 6);
        using var ib = _be.Allocate(DType.Int32, 6);
        using var sb = _be.Allocate(DType.Float64, x.Count);
        using var lossb = _be.Allocate(DType.Float32, 4);
        using var gradb = _be.Allocate(DType.Float32, 4 * n);
        var y = StridedView.Contiguous(yb, [3, 2]);
        var iy = StridedView.Contiguous(ib, [3, 2]);
        var s = StridedView.Contiguous(sb, [3, n, 2]);
        var results = new List<double[]>();
        foreach (int minN in new[] { _be.RowGroup, int.MaxValue })
        {
            _be.RowGroupMinN = minN;
            try
            {
                var all = new List<double>();
                foreach (var op in new[] { ReduceOp.Sum, ReduceOp.Max, ReduceOp.Min })
                {
                    _be.Reduce(op, xd, y);
                    all.AddRange(HostView.Download(_be, yb, 6));
                }
                foreach (var op in new[] { ReduceOp.ArgMax, ReduceOp.ArgMin })
                {
                    _be.Reduce(op, xd, iy);
                    all.AddRange(HostView.Download(_be, ib, 6));
                }
                foreach (bool log in new[] { false, true })
                {
                    _be.Softmax(xd, s, log);
                    all.AddRange(HostView.Download(_be, sb, x.Count));
                }
                _be.SoftmaxCrossEntropy(lgd, lbd, StridedView.Contiguous(lossb, [4]), StridedView.Contiguous(gradb, [4, n]));
                all.AddRange(HostView.Download(_be, lossb, 4));
                all.AddRange(HostView.Download(_be, gradb, 4 * n));
                results.Add([.. all]);
            }
            finally { _be.RowGroupMinN = _be.RowGroup; }
        }
        // Sums in a different order: equal to rounding (float32 for the cross-entropy); everything else exactly.
        for (int i = 0; i < results[0].Length; i++)
            Assert.True(Math.Abs(results[0][i] - results[1][i]) <= 1e-5 * (1 + Math.Abs(results[1][i])), $"element {i}: row group {results[0][i]}, thread per row {results[1][i]}");
        // And the row-group results against plain references: sums, first extreme index, cross-entropy.
        int k = 0;
        double[] r0 = results[0];
        foreach (var op in new[] { ReduceOp.Sum, ReduceOp.Max, ReduceOp.Min, ReduceOp.ArgMax, ReduceOp.ArgMin })
            for (int o = 0; o < 3; o++)
                for (int i = 0; i < 2; i++)
                {
                    var row = Enumerable.Range(0, n).Select(j => x[[o, j, i]]).ToArray();
                    double e = op switch
                    {
                        ReduceOp.Sum => row.Sum(),
                        ReduceOp.Max => row.Max(),
                        ReduceOp.Min => row.Min(),
                        ReduceOp.ArgMax => Array.IndexOf(row, row.Max()),
                        _ => Array.IndexOf(row, row.Min()),
                    };
                    Assert.True(Math.Abs(r0[k] - e) <= 1e-12 * (1 + Math.Abs(e)), $"{op} row ({o},{i}): {r0[k]} vs {e}");
                    k++;
                }
        k += 2 * (int)x.Count;
        for (int r = 0; r < 4; r++)
        {
            var row = Enumerable.Range(0, n).Select(j => logits[[r, j]]).ToArray();
            double m = row.Max(), lse = m + Math.Log(row.Sum(v => Math.Exp(v - m)));
            double e = lse - row[(int)labels[[r]]];
            Assert.True(Math.Abs(r0[k + r] - e) <= 1e-5 * (1 + Math.Abs(e)), $"cross-entropy row {r}: {r0[k + r]} vs {e}");
        }
    }

    // ---- errors -------------------------------------------------------------------------------------

    [Fact]
    public void FusedOps_BadCalls_ThrowClearExceptions()
    {
        using var f = _be.Allocate(DType.Float32, 16);
        using var i = _be.Allocate(DType.Int32, 16);
        _be.Fill(StridedView.Contiguous(i, [16]), 0);
        var m = StridedView.Contiguous(f, [1, 2, 2]);
        var im = StridedView.Contiguous(i, [1, 2, 2]);
        var e1 = Assert.Throws<NotSupportedException>(() => _be.MatMulEpilogue(im, im, im, null, Activation.Sigmoid));
        Assert.Contains("MatMulEpilogue", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => _be.MatMulEpilogue(m, m, m, StridedView.Contiguous(f, [1, 2, 3]), Activation.Relu));
        Assert.Contains("MatMulEpilogue", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => _be.SoftmaxCrossEntropy(StridedView.Contiguous(f, [2, 3]), StridedView.Contiguous(i, [3]), StridedView.Contiguous(f, [2]), null));
        Assert.Contains("SoftmaxCrossEntropy", e3.Message);
        var e4 = Assert.Throws<ArgumentException>(() => _be.SoftmaxCrossEntropy(StridedView.Contiguous(f, [2, 3]), StridedView.Contiguous(f, [2]), StridedView.Contiguous(f, [2]), null));
        Assert.Contains("labels", e4.Message);
        var v = StridedView.Contiguous(f, [4]);
        var e5 = Assert.Throws<ArgumentOutOfRangeException>(() => _be.AdamStep(v, v, v, v, new AdamParameters(1e-3, 0.9, 0.999, 1e-8, 0, false, 0)));
        Assert.Contains("AdamStep", e5.Message);
        var e6 = Assert.Throws<ArgumentException>(() => _be.AdamStep(v, StridedView.Contiguous(f, [5]), v, v, new AdamParameters(1e-3, 0.9, 0.999, 1e-8, 0, false, 1)));
        Assert.Contains("AdamStep", e6.Message);
    }

    private DeviceBuffer Upload(HostView v, out StridedView device)
    {
        device = v.ToDevice(_be);
        return device.Buffer;
    }
}

/// <summary>An <see cref="IBackend"/> that forwards the primitives to another backend and keeps the interface's composed default bodies for the fused ops.</summary>
internal sealed class ComposedBackend(IBackend inner) : IBackend
{
    public Device Device => inner.Device;
    public MemoryPool Pool => inner.Pool;
    public DeviceBuffer Allocate(DType dtype, long length) => inner.Allocate(dtype, length);
    public void Upload<T>(ReadOnlySpan<T> src, DeviceBuffer dst, long dstOffset = 0) where T : unmanaged => inner.Upload(src, dst, dstOffset);
    public void Download<T>(DeviceBuffer src, Span<T> dst, long srcOffset = 0) where T : unmanaged => inner.Download(src, dst, srcOffset);
    public void Synchronize() => inner.Synchronize();
    public void Fill(StridedView y, double value) => inner.Fill(y, value);
    public void FillAffine(StridedView y, double start, double step) => inner.FillAffine(y, start, step);
    public void FillRandom(StridedView y, RandomDistribution distribution, ulong seed, ulong counterOffset, double alpha, double beta) => inner.FillRandom(y, distribution, seed, counterOffset, alpha, beta);
    public void Copy(StridedView x, StridedView y) => inner.Copy(x, y);
    public void Unary(UnaryOp op, StridedView x, StridedView y, double alpha = 0, double beta = 0) => inner.Unary(op, x, y, alpha, beta);
    public void Binary(BinaryOp op, StridedView a, StridedView b, StridedView y) => inner.Binary(op, a, b, y);
    public void Where(StridedView condition, StridedView a, StridedView b, StridedView y) => inner.Where(condition, a, b, y);
    public void Reduce(ReduceOp op, StridedView x, StridedView y) => inner.Reduce(op, x, y);
    public void Softmax(StridedView x, StridedView y, bool log) => inner.Softmax(x, y, log);
    public void MatMul(StridedView a, StridedView b, StridedView c) => inner.MatMul(a, b, c);
    public void Gather(StridedView x, StridedView index, StridedView y) => inner.Gather(x, index, y);
    public void ScatterAdd(StridedView src, StridedView index, StridedView y) => inner.ScatterAdd(src, index, y);
    public void Dispose() { }
}
