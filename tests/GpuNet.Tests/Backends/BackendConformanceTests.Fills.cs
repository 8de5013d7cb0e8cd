using GpuNet.Kernels;
using Xunit;

namespace GpuNet.Tests.Backends;

public sealed partial class BackendConformanceTests
{
    public static TheoryData<string, RandomDistribution, DType> RandomCasesData()
    {
        var data = new TheoryData<string, RandomDistribution, DType>();
        foreach (var dev in BackendDevices.Names)
            foreach (var dist in Enum.GetValues<RandomDistribution>())
                foreach (var dt in Floating) data.Add(dev, dist, dt);
        return data;
    }

    // ------------------------------------------------------------------ Upload / Download

    [Theory]
    [MemberData(nameof(DeviceByDType))]
    public void UploadDownload_AtOffsets_RoundTripExactly(string device, DType dtype)
    {
        using var h = new Harness(device, nameof(UploadDownload_AtOffsets_RoundTripExactly), dtype);
        foreach (int length in new[] { 1, 2, 7, 64, 1000, 4099 })
        {
            // Harness.Input uploads (sometimes in two pieces at an offset) and Case downloads (likewise).
            var x = h.Input("x", dtype, [length], LayoutSpec.Contiguous,
                dtype == DType.Int32 ? Values.Ints(int.MinValue, int.MaxValue - 1) : Values.WithSpecials(Values.Uniform(-1e6, 1e6), 0.05, double.NaN, double.PositiveInfinity, -0.0, 1e-300));
            h.Case($"Upload/Download {dtype.Name()} length {length}", () => { }, () => { }, x, Tol.Exact);
            // An explicit piece in the middle.
            if (length >= 7)
            {
                var piece = new double[] { 1, -2, 3 };
                h.Case($"Upload 3 elements at offset 4 of {length}",
                    () =>
                    {
                        switch (dtype)
                        {
                            case DType.Float32: h.Backend.Upload<float>(new float[] { 1, -2, 3 }, x.Buffer, 4); break;
                            case DType.Float64: h.Backend.Upload<double>(piece, x.Buffer, 4); break;
                            default: h.Backend.Upload<int>(new[] { 1, -2, 3 }, x.Buffer, 4); break;
                        }
                    },
                    () => Array.Copy(piece, 0, x.Host.Data, 4, 3),
                    x, Tol.Exact);
            }
        }
        h.AssertAllPassed();
    }

    // ------------------------------------------------------------------ Fill / FillAffine

    [Theory]
    [MemberData(nameof(DeviceByDType))]
    public void Fill_StridedAndEmptyViews_WritesValueOnlyInsideView(string device, DType dtype)
    {
        using var h = new Harness(device, nameof(Fill_StridedAndEmptyViews_WritesValueOnlyInsideView), dtype);
        double[] values = dtype == DType.Int32 ? [7, -5, 0, int.MaxValue] : [3.25, -0.0, 1e-3, double.NaN, double.NegativeInfinity, 1e30];
        int k = 0;
        foreach (var shape in Shapes.EdgeThenRandom(h.Rng, RandomCases))
        {
            double value = values[k++ % values.Length];
            var y = h.Output("y", dtype, shape, LayoutSpec.Any(h.Rng, input: false));
            h.Case($"Fill {Harness.F(value)} {dtype.Name()}: {y}",
                () => h.Backend.Fill(y.View, value),
                () => ReferenceOps.Fill(y.Host, value),
                y, Tol.Exact);
        }
        h.AssertAllPassed();
    }

    [Theory]
    [MemberData(nameof(DeviceByDType))]
    public void FillAffine_StridedViews_CountsInRowMajorOrder(string device, DType dtype)
    {
        using var h = new Harness(device, nameof(FillAffine_StridedViews_CountsInRowMajorOrder), dtype);
        (double Start, double Step)[] parameters = dtype == DType.Int32
            ? [(0, 1), (-7, 3), (5, -2), (4, 0)]
            : [(0, 1), (-2.5, 0.25), (1, -0.1), (3, 0), (0.5, 1e-3)];
        int k = 0;
        foreach (var shape in Shapes.EdgeThenRandom(h.Rng, RandomCases))
        {
            var (start, step) = parameters[k++ % parameters.Length];
            var y = h.Output("y", dtype, shape, LayoutSpec.Any(h.Rng, input: false));
            // k-th element = start + k·step: error bound on the terms' magnitude.
            var rowMajor = new Dictionary<string, long>();
            long n = 0;
            foreach (var i in y.Host.Indices()) rowMajor[Shapes.Show(i)] = n++;
            double Magnitude(int[] i) => Math.Abs(start) + rowMajor[Shapes.Show(i)] * Math.Abs(step);
            Func<int[], double, double>? tol = dtype switch
            {
                DType.Float32 => (i, _) => 1e-6 * Magnitude(i) + 1e-30,
                DType.Float64 => (i, _) => 1e-14 * Magnitude(i) + 1e-300,
                _ => Tol.Exact,
            };
            h.Case($"FillAffine start {start} step {step} {dtype.Name()}: {y}",
                () => h.Backend.FillAffine(y.View, start, step),
                () => ReferenceOps.FillAffine(y.Host, start, step),
                y, tol, i => $"k={rowMajor[Shapes.Show(i)]}");
        }
        h.AssertAllPassed();
    }

    // ------------------------------------------------------------------ FillRandom

    private static Func<int[], double, double> RandomTolerance(RandomDistribution dist, DType dtype, double alpha, double beta) => (dist, dtype) switch
    {
        // Uniform float: u is exact; alpha + (beta − alpha)·u may round twice in float.
        (RandomDistribution.Uniform, DType.Float32) => (_, _) => 4.8e-7 * (Math.Abs(alpha) + Math.Abs(beta)),
        (RandomDistribution.Uniform, _) => (_, _) => 1e-15 * (Math.Abs(alpha) + Math.Abs(beta)),
        // Normal float: approximate log / cos in float on GPUs; |z| ≤ 5.8 with 24-bit u1.
        (_, DType.Float32) => (_, _) => 1.5e-5 * Math.Abs(beta) + 1e-6 * Math.Abs(alpha),
        _ => (_, _) => 1e-12 * (Math.Abs(beta) + Math.Abs(alpha)),
    };

    [Theory]
    [MemberData(nameof(RandomCasesData))]
    public void FillRandom_StridedViews_MatchPhiloxReference(string device, RandomDistribution dist, DType dtype)
    {
        using var h = new Harness(device, nameof(FillRandom_StridedViews_MatchPhiloxReference), dist, dtype);
        // Seeds and offsets that reach the key's and the counter's high words, and a counter
        // that carries from the low word into the high one inside the view.
        (ulong Seed, ulong Offset)[] streams = [(0, 0), (42, 7), (0x123456789ABCDEF0, 0), (1, 0xFFFFFFFE), (7, (1UL << 32) + 5), (ulong.MaxValue, 3)];
        (double Alpha, double Beta)[] parameters = dist == RandomDistribution.Uniform ? [(0, 1), (-2, 3), (10, 10.5)] : [(0, 1), (1.5, 2), (-3, 0.25)];
        int k = 0;
        foreach (var shape in Shapes.EdgeThenRandom(h.Rng, RandomCases))
        {
            var (seed, offset) = streams[k % streams.Length];
            var (alpha, beta) = parameters[k++ % parameters.Length];
            var y = h.Output("y", dtype, shape, LayoutSpec.Any(h.Rng, input: false));
            h.Case($"FillRandom {dist}({alpha}, {beta}) seed 0x{seed:X} counterOffset 0x{offset:X} {dtype.Name()}: {y}",
                () => h.Backend.FillRandom(y.View, dist, seed, offset, alpha, beta),
                () => ReferenceOps.FillRandom(y.Host, dist, seed, offset, alpha, beta),
                y, RandomTolerance(dist, dtype, alpha, beta));
        }
        h.AssertAllPassed();
    }

    [Theory]
    [MemberData(nameof(RandomCasesData))]
    public void FillRandom_CounterOffset_ShiftsStreamExactly(string device, RandomDistribution dist, DType dtype)
    {
        using var h = new Harness(device, nameof(FillRandom_CounterOffset_ShiftsStreamExactly), dist, dtype);
        foreach (var (seed, offset, shape) in new (ulong, ulong, int[])[] { (3, 12, [3, 4]), (99, 1, [17]), (5, 250, [2, 3, 5]), (0xDEADBEEFCAFE, 31, [1, 31]) })
        {
            long count = Shapes.Count(shape);
            var whole = h.Output("whole", dtype, [(int)(offset + (ulong)count)], LayoutSpec.Contiguous);
            var part = h.Output("part", dtype, shape, LayoutSpec.Any(h.Rng, input: false));
            h.Backend.FillRandom(whole.View, dist, seed, 0, 0.5, 2);
            var expected = h.Download(whole.Buffer, whole.Host.Data.Length).Skip((int)(whole.View.Offset + (long)offset)).Take((int)count).ToArray();
            h.Case($"FillRandom {dist} seed {seed} counterOffset {offset} {dtype.Name()} into {part} vs elements {offset}.. of counterOffset 0",
                () => h.Backend.FillRandom(part.View, dist, seed, offset, 0.5, 2),
                () =>
                {
                    int j = 0;
                    foreach (var i in part.Host.Indices()) part.Host[i] = expected[j++];
                },
                part, Tol.Exact);
        }
        h.AssertAllPassed();
    }

    // ------------------------------------------------------------------ Copy

    [Theory]
    [MemberData(nameof(DeviceByDTypePair))]
    public void Copy_BetweenDTypes_ConvertsLikeReference(string device, DType from, DType to)
    {
        using var h = new Harness(device, nameof(Copy_BetweenDTypes_ConvertsLikeReference), from, to);
        // Float → int truncates toward zero (−2.7 → −2); int → float32 rounds to nearest even
        // above 2²⁴; double → float rounds to nearest. Values stay inside the target's range.
        var values = from == DType.Int32
            ? Values.WithSpecials(Values.Ints(-1_000_000, 1_000_000), 0.2, 16777217, -16777219, 0, int.MaxValue, int.MinValue)
            : Values.WithSpecials(Values.Uniform(-1000, 1000), 0.3, -2.7, -0.5, 0.5, 2.7, -0.0, 16777217, 0.1, 1e-3, 123456.789);
        foreach (var shape in Shapes.EdgeThenRandom(h.Rng, RandomCases))
        {
            var x = h.Input("x", from, shape, LayoutSpec.Any(h.Rng, input: true), values);
            var y = h.Output("y", to, shape, LayoutSpec.Any(h.Rng, input: false));
            h.Case($"Copy {from.Name()} → {to.Name()}: {x}; {y}",
                () => h.Backend.Copy(x.View, y.View),
                () => ReferenceOps.Copy(x.Host, y.Host),
                y, Tol.Exact, i => Harness.At(x, i));
        }
        h.AssertAllPassed();
    }

    // ------------------------------------------------------------------ asynchrony

    [Theory]
    [MemberData(nameof(BackendDevices.All), MemberType = typeof(BackendDevices))]
    public void Ops_ChainedWithoutSynchronize_SeeEachOthersResults(string device)
    {
        using var h = new Harness(device, nameof(Ops_ChainedWithoutSynchronize_SeeEachOthersResults));
        int[] shape = [33, 17];
        var a = h.Output("a", DType.Float32, shape, LayoutSpec.Contiguous);
        var b = h.Output("b", DType.Float32, shape, LayoutSpec.Transposed);
        var c = h.Output("c", DType.Float32, shape, LayoutSpec.Contiguous);
        var s = h.Output("s", DType.Float32, [1, 1], LayoutSpec.Contiguous);
        var x3 = new HostView(c.Host.Data, DType.Float32, [1, 33 * 17, 1], [0, 1, 0], c.Host.Offset);
        h.Case("FillAffine a; Unary Affine a→b; Binary Mul a,b→c; Reduce Sum c→s with no Synchronize in between",
            () =>
            {
                h.Backend.FillAffine(a.View, 0, 1);
                h.Backend.Unary(UnaryOp.Affine, a.View, b.View, 2, -3);
                h.Backend.Binary(BinaryOp.Mul, a.View, b.View, c.View);
                h.Backend.Reduce(ReduceOp.Sum, new StridedView(c.Buffer, [1, 33 * 17, 1], [0, 1, 0], c.View.Offset), s.View);
            },
            () =>
            {
                ReferenceOps.FillAffine(a.Host, 0, 1);
                ReferenceOps.Unary(UnaryOp.Affine, a.Host, b.Host, 2, -3);
                ReferenceOps.Binary(BinaryOp.Mul, a.Host, b.Host, c.Host);
                ReferenceOps.Reduce(ReduceOp.Sum, x3, s.Host);
            },
            s, (_, r) => 2e-6 * Math.Sqrt(33 * 17) * Math.Abs(r));
        h.AssertAllPassed();
    }
}
