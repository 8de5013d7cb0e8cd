namespace GpuNet.Tests.TensorOps;

/// <summary>
/// Var/Std, Norm, LogSumExp, Max/Min with indices, CumSum, TopK, Square and the random constructors, on every
/// device and floating dtype, against the formulas evaluated here in double on random shapes (empty and size-1
/// dims, negative dims, non-contiguous inputs).
/// </summary>
public sealed class StatisticsTests
{
    public static TheoryData<string, DType> DeviceDTypes()
    {
        var data = new TheoryData<string, DType>();
        foreach (var d in Devices.Names) foreach (var t in new[] { DType.Float32, DType.Float64 }) data.Add(d, t);
        return data;
    }

    // The slices of x along dim, each as (output index, values).
    private static IEnumerable<(int Out, double[] Values)> Slices(Ref x, int dim)
    {
        int[] s = x.Shape;
        int outer = s.Take(dim).Aggregate(1, (a, b) => a * b), n = s[dim], inner = s.Skip(dim + 1).Aggregate(1, (a, b) => a * b);
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
                yield return (o * inner + i, Enumerable.Range(0, n).Select(j => x.Data[(o * n + j) * inner + i]).ToArray());
    }

    private static int[] Reduced(int[] shape, int dim, bool keepDim) =>
        keepDim ? shape.Select((v, i) => i == dim ? 1 : v).ToArray() : shape.Where((_, i) => i != dim).ToArray();

    private static Ref PerSlice(Ref x, int dim, bool keepDim, Func<double[], double> f)
    {
        var shape = Reduced(x.Shape, dim, keepDim);
        var data = new double[Ref.Count(shape)];
        foreach (var (o, v) in Slices(x, dim)) data[o] = f(v);
        return new Ref(shape, data);
    }

    private static double Variance(double[] v, bool unbiased)
    {
        double mean = v.Average();
        return v.Sum(a => (a - mean) * (a - mean)) / (unbiased ? v.Length - 1 : v.Length);
    }

    [Theory, MemberData(nameof(DeviceDTypes))]
    public void VarStdNormLogSumExp_AlongADim_MatchTheFormulas(string device, DType dtype)
    {
        var dev = Devices.Get(device);
        var rng = new Random(17);
        for (int trial = 0; trial < 12; trial++)
        {
            using var scope = Tensor.NewScope();
            var shape = Gen.Shape(rng, maxRank: 3, maxDim: 5, emptyProbability: 0, minRank: 1);
            int dim = rng.Next(shape.Length);
            var values = Gen.Values(rng, shape, Gen.Uniform(-3, 3));
            var (x, expected) = Host.Arrange(values, dtype, dev, (Layout)(trial % 3), rng);
            int negative = dim - shape.Length;
            bool keep = trial % 2 == 0;
            string at = $"{device} {dtype.Name()} {Host.Describe(shape)} dim {dim}";
            Host.AssertClose(PerSlice(expected, dim, keep, v => Variance(v, true)), x.Var(negative, keepDim: keep), $"Var {at}", atol: dtype == DType.Float32 ? 1e-5 : 1e-12);
            Host.AssertClose(PerSlice(expected, dim, keep, v => Math.Sqrt(Variance(v, false))), x.Std(dim, unbiased: false, keepDim: keep), $"Std {at}", atol: 1e-5);
            Host.AssertClose(PerSlice(expected, dim, keep, v => Math.Sqrt(v.Sum(a => a * a))), x.Norm(2, dim, keep), $"Norm {at}");
            Host.AssertClose(PerSlice(expected, dim, keep, v => v.Sum(Math.Abs)), x.Norm(1, dim, keep), $"Norm(1) {at}");
            Host.AssertClose(PerSlice(expected, dim, keep, v => Math.Pow(v.Sum(a => Math.Pow(Math.Abs(a), 3)), 1.0 / 3)), x.Norm(3, dim, keep), $"Norm(3) {at}");
            Host.AssertClose(PerSlice(expected, dim, keep, v => v.Max(Math.Abs)), x.Norm(double.PositiveInfinity, dim, keep), $"Norm(inf) {at}");
            Host.AssertClose(PerSlice(expected, dim, keep, v => Math.Log(v.Sum(Math.Exp))), x.LogSumExp(negative, keep), $"LogSumExp {at}");
        }
    }

    [Theory, MemberData(nameof(DeviceDTypes))]
    public void OverAllElements_AndEdgeCases(string device, DType dtype)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        double[] v = [1.5, -2, 0.25, 4, 3, -1];
        var x = Host.Make(new Ref([2, 3], v), dtype, dev);
        Host.AssertClose(new Ref([], [Variance(v, true)]), x.Var(), "Var()");
        Host.AssertClose(new Ref([], [Math.Sqrt(Variance(v, false))]), x.Std(unbiased: false), "Std(unbiased: false)");
        Host.AssertClose(new Ref([], [Math.Sqrt(v.Sum(a => a * a))]), x.Norm(), "Norm()");
        Host.AssertClose(new Ref([], [6]), x.Norm(0), "Norm(0) counts non-zeros");
        Host.AssertClose(new Ref([], [0.25]), x.Norm(double.NegativeInfinity), "Norm(-inf)");
        // A single sample has no unbiased variance (0/0 = NaN in PyTorch).
        Assert.True(double.IsNaN(Host.Values(Host.Make(new Ref([1], [2]), dtype, dev).Var())[0]));
        // LogSumExp with huge and −∞ entries: the shift keeps it finite, an all −∞ slice gives −∞ (not NaN).
        double inf = double.PositiveInfinity;
        var big = Host.Make(new Ref([2, 2], [1000, 1000, -inf, -inf]), dtype, dev);
        Host.AssertClose(new Ref([2], [1000 + Math.Log(2), -inf]), big.LogSumExp(1), "LogSumExp stable");
        // Square.
        Host.AssertClose(new Ref([2, 3], v.Select(a => a * a).ToArray()), x.Square(), "Square");
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 0], dtype, dev).LogSumExp(1));
        Assert.Contains("LogSumExp", e.Message);
    }

    [Theory, MemberData(nameof(DeviceDTypes))]
    public void MaxMin_WithIndices_AndCumSum(string device, DType dtype)
    {
        var dev = Devices.Get(device);
        var rng = new Random(5);
        for (int trial = 0; trial < 10; trial++)
        {
            using var scope = Tensor.NewScope();
            var shape = Gen.Shape(rng, maxRank: 3, maxDim: 5, emptyProbability: 0.1, minRank: 1);
            int dim = rng.Next(shape.Length);
            var values = Gen.Distinct(rng, shape);
            var (x, expected) = Host.Arrange(values, dtype, dev, (Layout)(trial % 3), rng);
            string at = $"{device} {dtype.Name()} {Host.Describe(shape)} dim {dim}";
            if (shape[dim] > 0)
            {
                var max = x.Max(dim, out var maxIndex);
                Host.AssertClose(PerSlice(expected, dim, false, s => s.Max()), max, $"Max values {at}");
                Host.AssertClose(PerSlice(expected, dim, false, s => Array.IndexOf(s, s.Max())), maxIndex, $"Max indices {at}", DType.Int32);
                var min = x.Min(dim - shape.Length, out var minIndex, keepDim: true);
                Host.AssertClose(PerSlice(expected, dim, true, s => s.Min()), min, $"Min values {at}");
                Host.AssertClose(PerSlice(expected, dim, true, s => Array.IndexOf(s, s.Min())), minIndex, $"Min indices {at}", DType.Int32);
            }
            // CumSum: y[j] = Σ_{i ≤ j} x[i] along the dim.
            var cum = new double[expected.Data.Length];
            int[] st = expected.Shape;
            int inner = st.Skip(dim + 1).Aggregate(1, (a, b) => a * b), n = st[dim];
            for (int k = 0; k < cum.Length; k++)
            {
                int j = k / inner % n, start = k - j * inner;
                double s = 0;
                for (int i = 0; i <= j; i++) s += expected.Data[start + i * inner];
                cum[k] = s;
            }
            Host.AssertClose(new Ref(st, cum), x.CumSum(dim), $"CumSum {at}", atol: dtype == DType.Float32 ? 1e-5 : 1e-12);
        }
    }

    [Theory, MemberData(nameof(DeviceDTypes))]
    public void TopK_SortedValuesAndIndices(string device, DType dtype)
    {
        var dev = Devices.Get(device);
        var rng = new Random(9);
        for (int trial = 0; trial < 10; trial++)
        {
            using var scope = Tensor.NewScope();
            var shape = Gen.Shape(rng, maxRank: 3, maxDim: 6, emptyProbability: 0, minRank: 1);
            int dim = rng.Next(shape.Length);
            int k = rng.Next(shape[dim] + 1);
            bool largest = trial % 3 != 2;
            var (x, expected) = Host.Arrange(Gen.Distinct(rng, shape), dtype, dev, (Layout)(trial % 3), rng);
            var (values, indices) = x.TopK(k, dim, largest);
            var outShape = shape.Select((v, i) => i == dim ? k : v).ToArray();
            var wantValues = new double[Ref.Count(outShape)];
            var wantIndices = new double[wantValues.Length];
            int inner = shape.Skip(dim + 1).Aggregate(1, (a, b) => a * b);
            foreach (var (o, slice) in Slices(expected, dim))
            {
                var order = Enumerable.Range(0, slice.Length).OrderBy(i => largest ? -slice[i] : slice[i]).Take(k).ToArray();
                int outer = o / inner, i0 = o % inner;
                for (int j = 0; j < k; j++)
                {
                    wantValues[(outer * k + j) * inner + i0] = slice[order[j]];
                    wantIndices[(outer * k + j) * inner + i0] = order[j];
                }
            }
            string at = $"{device} {dtype.Name()} {Host.Describe(shape)} k {k} dim {dim} largest {largest}";
            Host.AssertClose(new Ref(outShape, wantValues), values, $"TopK values {at}");
            Host.AssertClose(new Ref(outShape, wantIndices), indices, $"TopK indices {at}", DType.Int32);
        }
        using var s2 = Tensor.NewScope();
        // NaN ranks first (as PyTorch's topk); a slice of −∞ still yields distinct indices.
        double inf = double.PositiveInfinity;
        var special = Host.Make(new Ref([2, 3], [1, double.NaN, 2, -inf, -inf, -inf]), dtype, dev);
        var (v2, i2) = special.TopK(3, 1);
        Host.AssertClose(new Ref([2, 3], [double.NaN, 2, 1, -inf, -inf, -inf]), v2, "TopK NaN and -inf values");
        Host.AssertClose(new Ref([2, 3], [1, 2, 0, 0, 1, 2]), i2, "TopK NaN and -inf indices", DType.Int32);
        var e = Assert.Throws<ArgumentException>(() => special.TopK(4, 1));
        Assert.Contains("TopK", e.Message);
        Assert.Contains("[2,3]", e.Message);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void RandInt_RandLike_RandnLike(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        var r = Tensor.RandInt(-3, 4, [2000], seed: 7, device: dev);
        Assert.Equal(DType.Int32, r.DType);
        var values = r.ToArray<int>();
        Assert.All(values, v => Assert.InRange(v, -3, 3));
        Assert.Equal(7, values.Distinct().Count()); // 2000 draws over 7 values reach every one
        Assert.Equal(values, Tensor.RandInt(-3, 4, [2000], seed: 7, device: Device.Cpu).ToArray<int>()); // same stream on every device
        Assert.Equal(DType.Float64, Tensor.RandInt(0, 2, [3], seed: 1, dtype: DType.Float64, device: dev).DType);
        Assert.Throws<ArgumentException>(() => Tensor.RandInt(2, 2, [1]));
        var like = Tensor.Zeros([3, 4], DType.Float64, dev);
        var u = Tensor.RandLike(like, seed: 3);
        Assert.Equal([3, 4], u.Shape);
        Assert.Equal(DType.Float64, u.DType);
        Assert.Equal(Tensor.Rand([3, 4], seed: 3, dtype: DType.Float64, device: dev).ToArray<double>(), u.ToArray<double>());
        Assert.Equal(Tensor.Randn([3, 4], seed: 4, dtype: DType.Float64, device: dev).ToArray<double>(), Tensor.RandnLike(like, seed: 4).ToArray<double>());
    }
}
