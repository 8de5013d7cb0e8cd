namespace GpuNet.Tests.TensorOps;

/// <summary>Sum, Mean, Max, Min, ArgMax, ArgMin, Softmax and LogSoftmax against the double reference.</summary>
public sealed class ReductionTests
{
    private static (double Atol, double Rtol) SumTolerance(DType dtype, Ref input)
    {
        // A float32 sum of n terms carries rounding proportional to Σ|x|.
        double scale = input.Data.Select(Math.Abs).DefaultIfEmpty(0).Sum() + 1;
        return dtype switch
        {
            DType.Float32 => (2e-6 * scale, 1e-5),
            DType.Float64 => (1e-12 * scale, 1e-11),
            _ => (0, 0),
        };
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void SumAndMean_AllAndAlongDims_MatchReference_WithKeepDimAndNegativeDims(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        var rng = new Random(101);
        foreach (var dtype in new[] { DType.Float32, DType.Float64, DType.Int32 })
            for (int trial = 0; trial < 10; trial++)
            {
                var shape = Gen.Shape(rng, maxRank: 4, emptyProbability: 0.08);
                var values = Gen.Values(rng, shape, dtype == DType.Int32 ? Gen.Integers(-5, 5) : Gen.Uniform(-2, 2));
                var layout = Gen.Layout(rng);
                var (x, r) = Host.Arrange(values, dtype, dev, layout, rng);
                var (atol, rtol) = SumTolerance(dtype, r);
                string ctx = $"on {device}, {layout} {Host.Describe(x)}";
                using (x)
                {
                    using (var s = x.Sum())
                        Host.AssertClose(new Ref([], [r.SumAll()]), s, "Sum() " + ctx, dtype, atol, rtol);
                    if (dtype != DType.Int32)
                        using (var m = x.Mean())
                            Host.AssertClose(new Ref([], [r.Length == 0 ? double.NaN : r.SumAll() / r.Length]), m, "Mean() " + ctx, dtype, atol, rtol);
                    for (int d = 0; d < shape.Length; d++)
                    {
                        int dim = rng.Next(2) == 0 ? d : d - shape.Length;
                        bool keep = rng.Next(2) == 0;
                        using (var s = x.Sum(dim, keep))
                            Host.AssertClose(r.Reduce(d, keep, v => v.Sum()), s, $"Sum({dim}, keepDim: {keep}) {ctx}", dtype, atol, rtol);
                        if (dtype != DType.Int32)
                            using (var m = x.Mean(dim, keep))
                                Host.AssertClose(r.Reduce(d, keep, v => v.Length == 0 ? double.NaN : v.Sum() / v.Length), m, $"Mean({dim}, keepDim: {keep}) {ctx}", dtype, atol, rtol);
                    }
                    if (shape.Length >= 2)
                    {
                        bool keep = rng.Next(2) == 0;
                        using var s = x.Sum([0, -1], keep);
                        var expected = r.Reduce(shape.Length - 1, true, v => v.Sum()).Reduce(0, true, v => v.Sum());
                        if (!keep) expected = expected.Reshape(shape.Skip(1).Take(shape.Length - 2).ToArray());
                        Host.AssertClose(expected, s, $"Sum([0,-1], keepDim: {keep}) {ctx}", dtype, atol, rtol);
                    }
                }
            }
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void MaxMinArgMaxArgMin_AllAndAlongDims_MatchReference(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        var rng = new Random(202);
        foreach (var dtype in new[] { DType.Float32, DType.Float64, DType.Int32 })
            for (int trial = 0; trial < 10; trial++)
            {
                var shape = Gen.Shape(rng, maxRank: 3, emptyProbability: 0);
                var values = Gen.Distinct(rng, shape, integers: dtype == DType.Int32);
                var layout = Gen.Layout(rng, allowExpanded: false);
                var (x, r) = Host.Arrange(values, dtype, dev, layout, rng);
                string ctx = $"on {device}, {layout} {Host.Describe(x)}";
                using (x)
                {
                    using (var m = x.Max()) Host.AssertClose(new Ref([], [r.Data.Max()]), m, "Max() " + ctx, dtype);
                    using (var m = x.Min()) Host.AssertClose(new Ref([], [r.Data.Min()]), m, "Min() " + ctx, dtype);
                    using (var a = x.ArgMax()) Host.AssertClose(new Ref([], [Ref.ArgMax(r.Data)]), a, "ArgMax() " + ctx, DType.Int32);
                    using (var a = x.ArgMin()) Host.AssertClose(new Ref([], [Ref.ArgMin(r.Data)]), a, "ArgMin() " + ctx, DType.Int32);
                    for (int d = 0; d < shape.Length; d++)
                    {
                        int dim = rng.Next(2) == 0 ? d : d - shape.Length;
                        bool keep = rng.Next(2) == 0;
                        string at = $"({dim}, keepDim: {keep}) {ctx}";
                        using (var m = x.Max(dim, keep)) Host.AssertClose(r.Reduce(d, keep, v => v.Max()), m, "Max" + at, dtype);
                        using (var m = x.Min(dim, keep)) Host.AssertClose(r.Reduce(d, keep, v => v.Min()), m, "Min" + at, dtype);
                        using (var a = x.ArgMax(dim, keep)) Host.AssertClose(r.Reduce(d, keep, v => Ref.ArgMax(v)), a, "ArgMax" + at, DType.Int32);
                        using (var a = x.ArgMin(dim, keep)) Host.AssertClose(r.Reduce(d, keep, v => Ref.ArgMin(v)), a, "ArgMin" + at, DType.Int32);
                    }
                }
            }
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void ArgMaxAndArgMin_OnTies_ReturnTheFirstIndex(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var x = Tensor.FromArray(new float[] { 1, 3, 3, 0, 0, 3 }, [2, 3], dev);
        using var all = x.ArgMax();
        Assert.Equal(1, all.Item<int>());
        using var allMin = x.ArgMin();
        Assert.Equal(3, allMin.Item<int>());
        using var rows = x.ArgMax(1);
        Assert.Equal(new[] { 1, 2 }, rows.ToArray<int>());
        using var rowsMin = x.ArgMin(-1);
        Assert.Equal(new[] { 0, 0 }, rowsMin.ToArray<int>());
        using var cols = x.ArgMax(0, keepDim: true);
        Assert.Equal(new[] { 1, 3 }, cols.Shape);
        Assert.Equal(new[] { 0, 0, 0 }, cols.ToArray<int>());
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void SumOverAnEmptyDim_IsZero_AndMaxOverItIsAnError(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var x = Tensor.Zeros([2, 0, 3], device: dev);
        using var s = x.Sum(1);
        Host.AssertClose(Ref.Fill([2, 3], 0), s, "Sum over an empty dim");
        using var total = x.Sum();
        Assert.Equal(0f, total.Item());
        var e = Assert.Throws<ArgumentException>(() => x.Max(1));
        Assert.Contains("Max", e.Message);
        Assert.Contains("[2,0,3]", e.Message);
        var e2 = Assert.Throws<ArgumentException>(() => x.Max());
        Assert.Contains("empty", e2.Message);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void SoftmaxAndLogSoftmax_MatchReference_AlongAnyDim(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        var rng = new Random(303);
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
            for (int trial = 0; trial < 10; trial++)
            {
                var shape = Gen.Shape(rng, maxRank: 3, minRank: 1, emptyProbability: 0.05);
                var values = Gen.Values(rng, shape, Gen.Uniform(-4, 4));
                var layout = Gen.Layout(rng);
                var (x, r) = Host.Arrange(values, dtype, dev, layout, rng);
                int d = rng.Next(shape.Length);
                int dim = rng.Next(2) == 0 ? d : d - shape.Length;
                using (x)
                using (var p = x.Softmax(dim))
                using (var lp = x.LogSoftmax(dim))
                {
                    Host.AssertClose(r.Softmax(d, log: false), p, $"Softmax({dim}) on {device}, {layout} {Host.Describe(x)}", dtype);
                    Host.AssertClose(r.Softmax(d, log: true), lp, $"LogSoftmax({dim}) on {device}, {layout} {Host.Describe(x)}", dtype,
                        atol: dtype == DType.Float32 ? 1e-5 : 1e-11);
                }
            }
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Softmax_RowsSumToOne_EvenForLargeLogits(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var logits = new Ref([3, 4], [1e4, 0, -1e4, 1e4 - 1, -1e4, -1e4, -1e4 + 2, -1e4, 5e3, 5e3, 5e3, 5e3]);
            using var x = Host.Make(logits, dtype, dev);
            using var p = x.Softmax(1);
            using var rows = p.Sum(1);
            var pv = Host.Values(p);
            Assert.All(pv, v => Assert.True(double.IsFinite(v) && v >= 0 && v <= 1, $"Softmax {dtype} gave {v}"));
            Host.AssertClose(Ref.Fill([3], 1), rows, $"Softmax rows {dtype}", atol: 1e-6, rtol: 0);
            Host.AssertClose(Host.Round(logits, dtype).Softmax(1, log: false), p, $"Softmax of large logits {dtype}", atol: 1e-6, rtol: 1e-5);

            using var lp = x.LogSoftmax(1);
            Assert.All(Host.Values(lp), v => Assert.True(double.IsFinite(v), $"LogSoftmax {dtype} gave {v}"));
            Host.AssertClose(Host.Round(logits, dtype).Softmax(1, log: true), lp, $"LogSoftmax of large logits {dtype}", atol: 1e-3, rtol: 1e-6);

            using var col = x.Softmax(0);
            using var cols = col.Sum(0);
            Host.AssertClose(Ref.Fill([4], 1), cols, $"Softmax along dim 0 {dtype}", atol: 1e-6, rtol: 0);
        }
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Reductions_AlongLongDims_MatchReference(string device)
    {
        // Long reduced dims take the backends' split (multi-pass) paths that tiny shapes never reach.
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        var rng = new Random(404);
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
            foreach (var shape in new[] { new[] { 3, 5000 }, new[] { 5000, 3 }, new[] { 2, 2500, 2 } })
            {
                var values = Gen.Distinct(rng, shape, spacing: 1e-3);
                var (x, r) = Host.Arrange(values, dtype, dev, Layout.Contiguous, rng);
                var (atol, rtol) = SumTolerance(dtype, r);
                using (x)
                {
                    string ctx = $"on {device} {Host.Describe(x)}";
                    using (var s = x.Sum()) Host.AssertClose(new Ref([], [r.SumAll()]), s, "Sum() " + ctx, dtype, atol, rtol);
                    using (var m = x.Max()) Host.AssertClose(new Ref([], [r.Data.Max()]), m, "Max() " + ctx, dtype);
                    using (var a = x.ArgMin()) Host.AssertClose(new Ref([], [Ref.ArgMin(r.Data)]), a, "ArgMin() " + ctx, DType.Int32);
                    for (int d = 0; d < shape.Length; d++)
                    {
                        using (var s = x.Sum(d)) Host.AssertClose(r.Reduce(d, false, v => v.Sum()), s, $"Sum({d}) {ctx}", dtype, atol, rtol);
                        using (var m = x.Min(d)) Host.AssertClose(r.Reduce(d, false, v => v.Min()), m, $"Min({d}) {ctx}", dtype);
                        using (var a = x.ArgMax(d)) Host.AssertClose(r.Reduce(d, false, v => Ref.ArgMax(v)), a, $"ArgMax({d}) {ctx}", DType.Int32);
                        using (var p = x.LogSoftmax(d)) Host.AssertClose(r.Softmax(d, log: true), p, $"LogSoftmax({d}) {ctx}", dtype, atol: dtype == DType.Float32 ? 1e-5 : 1e-11);
                    }
                }
            }
    }
}
