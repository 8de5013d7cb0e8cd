using GpuNet.Kernels;
using GpuNet.Kernels.Managed;
using GpuNet.Tests.Backends;
using GpuNet.Tests.Managed;

namespace GpuNet.Tests.Perf;

/// <summary>Every fast path of the managed backend against plain references: tails, transposes, strides, both dtypes.</summary>
public class ManagedFastPathTests
{
    [Theory]
    [InlineData(false, 0.0, 1)]
    [InlineData(false, 0.01, 3)]
    [InlineData(true, 0.01, 7)]
    public void AdamStep_OnePass_MatchesPyTorchFormulas_BothDtypesAndStrided(bool decoupled, double wd, long step)
    {
        var hp = new AdamParameters(1e-2, 0.9, 0.999, 1e-8, wd, decoupled, step);
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
            foreach (bool strided in new[] { false, true })
            {
                // 1000 elements: vector body plus a tail; strided views walk every other element.
                int n = 1000, stride = strided ? 2 : 1;
                var p = M.RandomDoubles(n * stride, 1); var g = M.RandomDoubles(n * stride, 2);
                var m = M.RandomDoubles(n * stride, 3, -0.1, 0.1); var v = M.RandomDoubles(n * stride, 4, 0, 0.1);
                if (dtype == DType.Float32) { p = Round(p); g = Round(g); m = Round(m); v = Round(v); }
                var bufs = new[] { p, g, m, v }.Select(a => dtype == DType.Float32 ? M.Buf(a.Select(x => (float)x).ToArray()) : M.Buf(a)).ToArray();
                var views = bufs.Select(b => M.V(b, [n], [stride])).ToArray();
                M.B.AdamStep(views[0], views[1], views[2], views[3], hp);
                var (ep, em, ev) = Reference(p, g, m, v, stride, n, hp);
                var got = bufs.Select(b => dtype == DType.Float32 ? M.Read<float>(b).Select(x => (double)x).ToArray() : M.Read<double>(b)).ToArray();
                double tol = dtype == DType.Float32 ? 1e-5 : 1e-13;
                for (int i = 0; i < n; i++)
                {
                    M.Close(ep[i], got[0][i * stride], tol, $"{dtype} strided={strided} param[{i}]");
                    M.Close(em[i], got[2][i * stride], tol, $"{dtype} m[{i}]");
                    M.Close(ev[i], got[3][i * stride], tol, $"{dtype} v[{i}]");
                }
                if (strided) M.Close(p[1], got[0][1], 0, "elements between strided ones are untouched");
            }
    }

    private static double[] Round(double[] a) => a.Select(x => (double)(float)x).ToArray();

    private static (double[] P, double[] M, double[] V) Reference(double[] p, double[] g, double[] m, double[] v, int stride, int n, AdamParameters hp)
    {
        double[] rp = new double[n], rm = new double[n], rv = new double[n];
        double bc1 = 1 - Math.Pow(hp.Beta1, hp.Step), bc2 = 1 - Math.Pow(hp.Beta2, hp.Step);
        for (int i = 0; i < n; i++)
        {
            double pi = p[i * stride], gi = g[i * stride];
            if (hp.WeightDecay != 0 && !hp.Decoupled) gi += hp.WeightDecay * pi;
            if (hp.WeightDecay != 0 && hp.Decoupled) pi *= 1 - hp.LearningRate * hp.WeightDecay;
            rm[i] = hp.Beta1 * m[i * stride] + (1 - hp.Beta1) * gi;
            rv[i] = hp.Beta2 * v[i * stride] + (1 - hp.Beta2) * gi * gi;
            rp[i] = pi - hp.LearningRate / bc1 * rm[i] / (Math.Sqrt(rv[i]) / Math.Sqrt(bc2) + hp.Epsilon);
        }
        return (rp, rm, rv);
    }

    [Theory]
    [MemberData(nameof(BackendDevices.All), MemberType = typeof(BackendDevices))]
    public void AdamStep_EveryDevice_AgreesWithTheManagedOnePass(string deviceName)
    {
        var dev = BackendDevices.Resolve(deviceName);
        var hp = new AdamParameters(1e-3, 0.9, 0.999, 1e-8, 0.01, true, 2);
        using var scope = Tensor.NewScope();
        Tensor[] Make(Device d) => [Tensor.Randn([37], seed: 1, device: d), Tensor.Randn([37], seed: 2, device: d),
            Tensor.Randn([37], seed: 3, std: 0.1, device: d), Tensor.Rand([37], seed: 4, high: 0.1, device: d)];
        var onDevice = Make(dev);
        var onCpu = Make(Device.Cpu);
        dev.Backend.AdamStep(onDevice[0].AsView(), onDevice[1].AsView(), onDevice[2].AsView(), onDevice[3].AsView(), hp);
        Device.Cpu.Backend.AdamStep(onCpu[0].AsView(), onCpu[1].AsView(), onCpu[2].AsView(), onCpu[3].AsView(), hp);
        for (int t = 0; t < 4; t++)
        {
            var e = onCpu[t].ToArray();
            var a = onDevice[t].ToArray();
            for (int i = 0; i < e.Length; i++) M.Close(e[i], a[i], 1e-5, $"{deviceName} tensor {t}[{i}]");
        }
    }

    [Theory]
    [InlineData(1 << 19)]
    [InlineData((1 << 19) + 4097)]
    public void WholeTensorReductions_ThreadedSlices_MatchDoubleReference(int n)
    {
        var data = M.RandomDoubles(n, 5, -1, 1);
        data[n / 3] = 7.5; data[n - 1] = -9.25; // the extremes sit in different slices
        var f = data.Select(x => (float)x).ToArray();
        foreach (var op in new[] { ReduceOp.Sum, ReduceOp.Max, ReduceOp.Min })
        {
            var xf = M.Buf(f); var yf = M.Empty<float>(1);
            M.B.Reduce(op, M.V(xf, [1, n, 1], [0, 1, 0]), M.V(yf, [1, 1]));
            var xd = M.Buf(data); var yd = M.Empty<double>(1);
            M.B.Reduce(op, M.V(xd, [1, n, 1], [0, 1, 0]), M.V(yd, [1, 1]));
            double expectF = op switch { ReduceOp.Sum => f.Sum(x => (double)x), ReduceOp.Max => f.Max(), _ => f.Min() };
            double expectD = op switch { ReduceOp.Sum => data.Sum(), ReduceOp.Max => data.Max(), _ => data.Min() };
            M.Close(expectF, M.Read<float>(yf)[0], 1e-6, $"float {op}");
            M.Close(expectD, M.Read<double>(yd)[0], 1e-12, $"double {op}");
        }
    }

    [Fact]
    public void WholeTensorMax_ThreadedSlices_PropagatesNaN()
    {
        int n = 1 << 19;
        var f = new float[n];
        f[n - 5] = float.NaN;
        var y = M.Empty<float>(1);
        M.B.Reduce(ReduceOp.Max, M.V(M.Buf(f), [1, n, 1], [0, 1, 0]), M.V(y, [1, 1]));
        Assert.True(float.IsNaN(M.Read<float>(y)[0]));
    }

    [Theory]
    [InlineData(300, 257)]
    [InlineData(128, 129)]
    [InlineData(1030, 1100)]
    public void TransposingWalks_GoTileByTile_AndMatchReferences(int rows, int cols)
    {
        // x is a transposed view: its inner dim walks with stride `rows`, which takes the tiled path.
        var data = M.RandomDoubles(rows * cols, 6);
        var x = M.V(M.Buf(data.Select(v => (float)v).ToArray()), [rows, cols], [1, rows]);
        double X(int i, int j) => (float)data[j * rows + i];

        var copy = M.Empty<float>((long)rows * cols);
        M.B.Copy(x, M.V(copy, [rows, cols]));
        var relu = M.Empty<float>((long)rows * cols);
        M.B.Unary(UnaryOp.Relu, x, M.V(relu, [rows, cols]));
        var sum = M.Empty<float>((long)rows * cols);
        var other = M.RandomDoubles(rows * cols, 7).Select(v => (float)v).ToArray();
        M.B.Binary(BinaryOp.Add, x, M.V(M.Buf(other), [rows, cols]), M.V(sum, [rows, cols]));
        // Arange written through a transposed output: element (i, j) gets its row-major index i·cols + j.
        var ar = M.Empty<float>((long)rows * cols);
        M.B.FillAffine(M.V(ar, [rows, cols], [1, rows]), 0, 1);

        float[] c = M.Read<float>(copy), r = M.Read<float>(relu), s = M.Read<float>(sum), a = M.Read<float>(ar);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
            {
                int o = i * cols + j;
                if (c[o] != X(i, j) || r[o] != Math.Max(X(i, j), 0) || s[o] != (float)(X(i, j) + other[o]) || a[j * rows + i] != o)
                    Assert.Fail($"({i},{j}): copy {c[o]} relu {r[o]} add {s[o]} arange {a[j * rows + i]}; x = {X(i, j)}");
            }
    }

    [Fact]
    public void WorkerPool_RunsEveryIndexOnce_PropagatesErrors_AndNestsInline()
    {
        var hits = new int[1000];
        WorkerPool.For(hits.Length, i =>
        {
            Interlocked.Increment(ref hits[i]);
            if (i % 100 == 0) WorkerPool.For(3, _ => { }); // nested: runs inline
        });
        Assert.All(hits, h => Assert.Equal(1, h));
        var e = Assert.Throws<InvalidOperationException>(() => WorkerPool.For(10, i => { if (i == 7) throw new InvalidOperationException("seven"); }));
        Assert.Equal("seven", e.Message);
        int after = 0;
        WorkerPool.For(5, _ => Interlocked.Increment(ref after)); // the pool is usable after a failure
        Assert.Equal(5, after);
    }

    public static TheoryData<int, int, int, bool, bool> EpilogueCases() => new()
    {
        // m, n, k, transposed A, column-major C — threaded and single, edge tiles everywhere.
        { 37, 301, 259, false, false },
        { 301, 37, 259, true, false },
        { 13, 17, 19, false, true },
        { 130, 70, 90, true, true },
    };

    [Theory]
    [MemberData(nameof(EpilogueCases))]
    public void MatMulEpilogue_BiasAndActivation_MatchComposedOps(int m, int n, int k, bool transA, bool colMajorC)
    {
        foreach (var act in Enum.GetValues<Activation>())
            foreach (var dtype in new[] { DType.Float32, DType.Float64 })
            {
                var ad = M.RandomDoubles(m * k, 1); var bd = M.RandomDoubles(k * n, 2); var biasd = M.RandomDoubles(n, 3);
                DeviceBuffer Buf(double[] d) => dtype == DType.Float32 ? M.Buf(d.Select(x => (float)x).ToArray()) : M.Buf(d);
                var a = M.V(Buf(ad), [1, m, k], transA ? [0, 1, m] : [0, k, 1]);
                var b = M.V(Buf(bd), [1, k, n]);
                var bias = M.V(Buf(biasd), [1, m, n], [0, 0, 1]);
                var fused = dtype == DType.Float32 ? M.Empty<float>((long)m * n) : M.Empty<double>((long)m * n);
                var plain = dtype == DType.Float32 ? M.Empty<float>((long)m * n) : M.Empty<double>((long)m * n);
                int[] cStrides = colMajorC ? [0, 1, m] : [0, n, 1];
                M.B.MatMulEpilogue(a, b, M.V(fused, [1, m, n], cStrides), bias, act);
                var pv = M.V(plain, [1, m, n], cStrides);
                M.B.MatMul(a, b, pv);
                M.B.Binary(BinaryOp.Add, pv, bias, pv);
                if (act.ToUnaryOp() is { } u) M.B.Unary(u, pv, pv, act.Parameters().Alpha, act.Parameters().Beta);
                double[] f = dtype == DType.Float32 ? M.Read<float>(fused).Select(x => (double)x).ToArray() : M.Read<double>(fused);
                double[] p = dtype == DType.Float32 ? M.Read<float>(plain).Select(x => (double)x).ToArray() : M.Read<double>(plain);
                for (int i = 0; i < f.Length; i++) M.Close(p[i], f[i], dtype == DType.Float32 ? 1e-6 : 1e-14, $"{act} {dtype} [{i}]");
            }
    }

    [Fact]
    public void Gather_OneIndexPerRow_CopiesWholeRows_AndChecksTheIndexOnce()
    {
        // x = [1, 50, 33] (dense rows), index broadcast along the inner dim as IndexSelect passes it.
        var data = M.RandomDoubles(50 * 33, 9).Select(v => (float)v).ToArray();
        var x = M.V(M.Buf(data), [1, 50, 33]);
        int[] rows = [49, 0, 7, 7, 31];
        var index = M.V(M.Buf(rows), [1, rows.Length, 33], [0, 1, 0]);
        var y = M.Empty<float>(rows.Length * 33);
        M.B.Gather(x, index, M.V(y, [1, rows.Length, 33]));
        var got = M.Read<float>(y);
        for (int j = 0; j < rows.Length; j++)
            for (int i = 0; i < 33; i++) Assert.Equal(data[rows[j] * 33 + i], got[j * 33 + i]);
        // A strided destination takes the element loop; a bad index still names the op.
        var yt = M.Empty<float>(rows.Length * 33);
        M.B.Gather(x, index, M.V(yt, [1, rows.Length, 33], [0, 1, rows.Length]));
        var gt = M.Read<float>(yt);
        for (int j = 0; j < rows.Length; j++)
            for (int i = 0; i < 33; i++) Assert.Equal(data[rows[j] * 33 + i], gt[i * rows.Length + j]);
        var bad = M.V(M.Buf(new[] { 50 }), [1, 1, 33], [0, 1, 0]);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => M.B.Gather(x, bad, M.V(M.Empty<float>(33), [1, 1, 33])));
        Assert.Contains("Gather", e.Message);
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void Gemm_RowMajorAAndTransposedB_PackedByRegisterTransposes_MatchReference(DType dtype)
    {
        // x·Wᵀ: A row-major (k contiguous per row) and B = Wᵀ (k contiguous per column) both take the
        // transposing pack; sizes leave remainders in every 8×8 / 4×4 block and in k.
        foreach (var (m, n, k) in new[] { (13, 37, 29), (128, 70, 197), (7, 9, 8) })
        {
            var ad = M.RandomDoubles(m * k, 1); var wd = M.RandomDoubles(n * k, 2);
            DeviceBuffer Buf(double[] d) => dtype == DType.Float32 ? M.Buf(d.Select(v => (float)v).ToArray()) : M.Buf(d);
            if (dtype == DType.Float32) { ad = ad.Select(v => (double)(float)v).ToArray(); wd = wd.Select(v => (double)(float)v).ToArray(); }
            var c = dtype == DType.Float32 ? M.Empty<float>(m * n) : M.Empty<double>(m * n);
            M.B.MatMul(M.V(Buf(ad), [1, m, k]), M.V(Buf(wd), [1, k, n], [0, 1, k]), M.V(c, [1, m, n]));
            double[] got = dtype == DType.Float32 ? M.Read<float>(c).Select(v => (double)v).ToArray() : M.Read<double>(c);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double e = 0;
                    for (int p = 0; p < k; p++) e += ad[i * k + p] * wd[j * k + p];
                    M.Close(e, got[i * n + j], dtype == DType.Float32 ? 1e-5 : 1e-13, $"{dtype} {m}x{n}x{k} [{i},{j}]");
                }
        }
    }
}
