namespace GpuNet.Tests.TensorOps;

/// <summary>Creation ops, random numbers, dtype conversion and moves between devices.</summary>
public sealed class CreationTests
{
    private static readonly DType[] AllTypes = [DType.Float32, DType.Float64, DType.Int32];

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void ZerosOnesFull_FillEveryElement_InEveryDtype_OnTheRequestedDevice(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        foreach (var dtype in AllTypes)
        {
            using var z = Tensor.Zeros([2, 3], dtype, dev);
            using var o = Tensor.Ones([4], dtype, dev);
            using var f = Tensor.Full([3, 1, 2], -7, dtype, dev);
            using var s = Tensor.Scalar(5, dtype, dev);
            using var e = Tensor.Zeros([0, 3], dtype, dev);
            Assert.Same(dev, z.Device);
            Host.AssertClose(Ref.Fill([2, 3], 0), z, $"Zeros {dtype}", dtype);
            Host.AssertClose(Ref.Fill([4], 1), o, $"Ones {dtype}", dtype);
            Host.AssertClose(Ref.Fill([3, 1, 2], -7), f, $"Full {dtype}", dtype);
            Host.AssertClose(Ref.Fill([], 5), s, $"Scalar {dtype}", dtype);
            Assert.Equal(0, e.NumElements);
            Assert.Empty(Host.Values(e));
        }
        using var like = Tensor.FullLike(Tensor.Zeros([2, 2], DType.Float64, dev), 2.5);
        Host.AssertClose(Ref.Fill([2, 2], 2.5), like, "FullLike", DType.Float64);
        Assert.Same(dev, like.Device);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Arange_StopsBeforeEnd_WithAnyStep_AsInPyTorch(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var a = Tensor.Arange(5, device: dev);
        Host.AssertClose(new Ref([5], [0, 1, 2, 3, 4]), a, "Arange(5)", DType.Float32);
        using var b = Tensor.Arange(1, 2, 0.25, DType.Float64, dev);
        Host.AssertClose(new Ref([4], [1, 1.25, 1.5, 1.75]), b, "Arange(1, 2, 0.25)", DType.Float64);
        using var c = Tensor.Arange(5, 0, -1.5, device: dev);
        Host.AssertClose(new Ref([4], [5, 3.5, 2, 0.5]), c, "Arange(5, 0, -1.5)", DType.Float32);
        using var d = Tensor.Arange(-3, 3, 2, DType.Int32, dev);
        Host.AssertClose(new Ref([3], [-3, -1, 1]), d, "Arange int32", DType.Int32);
        using var e = Tensor.Arange(0, 1, 0.1, DType.Float64, dev);
        Host.AssertClose(new Ref([10], Enumerable.Range(0, 10).Select(i => i * 0.1).ToArray()), e, "Arange(0, 1, 0.1) has 10 elements", DType.Float64);
        using var empty = Tensor.Arange(3, 3, 1, device: dev);
        Assert.Equal(new[] { 0 }, empty.Shape);
        Assert.Throws<ArgumentException>(() => Tensor.Arange(0, 1, 0, device: dev));
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Linspace_IncludesBothEnds(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var a = Tensor.Linspace(0, 1, 5, DType.Float64, dev);
        Host.AssertClose(new Ref([5], [0, 0.25, 0.5, 0.75, 1]), a, "Linspace(0, 1, 5)", DType.Float64);
        using var b = Tensor.Linspace(-1, 2, 4, device: dev);
        Host.AssertClose(new Ref([4], [-1, 0, 1, 2]), b, "Linspace(-1, 2, 4)", DType.Float32);
        using var one = Tensor.Linspace(3, 7, 1, device: dev);
        Host.AssertClose(new Ref([1], [3]), one, "Linspace with one step is [start]");
        using var none = Tensor.Linspace(3, 7, 0, device: dev);
        Assert.Equal(new[] { 0 }, none.Shape);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Eye_HasOnesOnTheDiagonalOnly_SquareAndRectangular(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        foreach (var (n, m) in new[] { (3, (int?)null), (2, 4), (4, 2), (1, 1), (0, 3) })
            foreach (var dtype in AllTypes)
            {
                using var e = Tensor.Eye(n, m, dtype, dev);
                int cols = m ?? n;
                Host.AssertClose(Ref.FromFunc([n, cols], i => i[0] == i[1] ? 1 : 0), e, $"Eye({n}, {m}) {dtype}", dtype);
            }
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void FromArray_KeepsValuesAndShape_FlatAndMultiDimensional(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var flat = Tensor.FromArray(new float[] { 1.5f, -2, 3 }, device: dev);
        Assert.Equal(new[] { 3 }, flat.Shape);
        Assert.Equal(new[] { 1.5f, -2, 3 }, flat.ToArray());

        using var shaped = Tensor.FromArray(new[] { 1, 2, 3, 4, 5, 6 }, [3, 2], dev);
        Assert.Equal(DType.Int32, shaped.DType);
        Assert.Equal(new[] { 3, 2 }, shaped.Shape);
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6 }, shaped.ToArray<int>());

        using var m2 = Tensor.FromArray(new float[,] { { 1, 2, 3 }, { 4, 5, 6 } }, dev);
        Assert.Equal(new[] { 2, 3 }, m2.Shape);
        Assert.Equal(DType.Float32, m2.DType);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, m2.ToArray());
        using var row1 = m2[1];
        Assert.Equal(new float[] { 4, 5, 6 }, row1.ToArray());

        var cube = new double[2, 3, 2];
        for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++) for (int k = 0; k < 2; k++) cube[i, j, k] = 100 * i + 10 * j + k;
        using var m3 = Tensor.FromArray(cube, dev);
        Assert.Equal(new[] { 2, 3, 2 }, m3.Shape);
        Assert.Equal(DType.Float64, m3.DType);
        using var elem = m3[1][2][1];
        Assert.Equal(121.0, elem.Item<double>());
        Assert.Equal(Ref.Indices([2, 3, 2]).Select(i => 100.0 * i[0] + 10 * i[1] + i[2]), m3.ToArray<double>());

        using var ints = Tensor.FromArray(new int[,] { { 7 }, { 8 } }, dev);
        Assert.Equal(new[] { 2, 1 }, ints.Shape);
        Assert.Equal(new[] { 7, 8 }, ints.ToArray<int>());

        using var withGrad = Tensor.FromArray(new double[] { 1, 2 }, [2], dev, requiresGrad: true);
        Assert.True(withGrad.RequiresGrad);
        Assert.True(withGrad.IsLeaf);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void ItemAndToArray_ConvertToTheRequestedType(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var d = Tensor.Scalar(2.5, DType.Float64, dev);
        Assert.Equal(2.5f, d.Item());
        Assert.Equal(2.5, d.Item<double>());
        using var i = Tensor.FromArray(new[] { -3 }, [1, 1], dev);
        Assert.Equal(-3f, i.Item());
        Assert.Equal(-3, i.Item<int>());
        using var v = Tensor.FromArray(new double[] { 0.5, -1.25 }, device: dev);
        Assert.Equal(new[] { 0.5f, -1.25f }, v.ToArray());
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void ToDtype_ConvertsValues_FloatToIntTruncatesTowardZero(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var f = Tensor.FromArray(new float[] { 2.7f, -2.7f, 0.5f, -0.5f, 3f, -1e6f }, device: dev);
        using var i = f.To(DType.Int32);
        Assert.Equal(DType.Int32, i.DType);
        Assert.Equal(new[] { 2, -2, 0, 0, 3, -1000000 }, i.ToArray<int>());
        using var back = i.To(DType.Float64);
        Assert.Equal(new double[] { 2, -2, 0, 0, 3, -1e6 }, back.ToArray<double>());
        using var d = Tensor.FromArray(new double[] { 0.1, 1.0 / 3 }, device: dev);
        using var narrow = d.To(DType.Float32);
        Assert.Equal(new[] { 0.1f, 1f / 3 }, narrow.ToArray<float>());
        using (var same = d.To(DType.Float64))
        {
            Assert.NotSame(d, same);
            Assert.Same(d.Storage, same.Storage);
        }
        using var strided = Tensor.FromArray(new double[] { 1.9, 2.9, 3.9, 4.9 }, [2, 2], dev);
        using var st = strided.T;
        using var sti = st.To(DType.Int32);
        Assert.Equal(new[] { 1, 3, 2, 4 }, sti.ToArray<int>());
    }

    [Fact]
    public void ToDevice_MovesValuesBetweenEveryPairOfDevices_InEveryDtype_FromStridedSources()
    {
        using var scope = Tensor.NewScope();
        var devices = Devices.Names.Select(Devices.Get).ToList();
        var rng = new Random(5);
        foreach (var from in devices)
            foreach (var to in devices)
                foreach (var dtype in AllTypes)
                {
                    var values = Gen.Values(rng, [3, 4], Gen.Integers(-50, 50)).Map(v => v / 4);
                    var (x, r) = Host.Arrange(values, dtype, from, Layout.Permuted, rng);
                    using (x)
                    using (var y = x.To(to))
                    {
                        Assert.Same(to, y.Device);
                        Host.AssertClose(r, y, $"To({to}) from {from} {dtype}", dtype, 0, 0);
                        if (from == to)
                        {
                            Assert.NotSame(x, y);
                            Assert.Same(x.Storage, y.Storage);
                        }
                    }
                }
    }

    [Fact]
    public void Rand_And_Randn_SameSeedGivesSameNumbersOnEveryDevice()
    {
        using var scope = Tensor.NewScope();
        var devices = Devices.Names.Select(Devices.Get).ToList();
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            using var u0 = Tensor.Rand([5, 7], seed: 1234, dtype: dtype, device: devices[0]);
            using var n0 = Tensor.Randn([5, 7], seed: 1234, dtype: dtype, device: devices[0]);
            var u = Host.Values(u0);
            var n = Host.Values(n0);
            foreach (var dev in devices.Skip(1))
            {
                using var u1 = Tensor.Rand([5, 7], seed: 1234, dtype: dtype, device: dev);
                using var n1 = Tensor.Randn([5, 7], seed: 1234, dtype: dtype, device: dev);
                double tol = dtype == DType.Float32 ? 1e-6 : 1e-13;
                Host.AssertClose(u, Host.Values(u1), [5, 7], $"Rand {dtype} on {dev} vs {devices[0]}", tol, tol);
                Host.AssertClose(n, Host.Values(n1), [5, 7], $"Randn {dtype} on {dev} vs {devices[0]}", tol, tol);
            }
            using var again = Tensor.Rand([5, 7], seed: 1234, dtype: dtype, device: devices[0]);
            Assert.Equal(u, Host.Values(again));
            using var other = Tensor.Rand([5, 7], seed: 1235, dtype: dtype, device: devices[0]);
            Assert.NotEqual(u, Host.Values(other));
        }
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Rand_StaysInItsBounds_AndRandnHasTheRequestedMeanAndStd(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        const int n = 20000;
        using var u = Tensor.Rand([n], seed: 7, low: -2, high: 3, device: dev);
        var uv = u.ToArray();
        Assert.All(uv, v => Assert.True(v >= -2 && v < 3, $"Rand gave {v} outside [-2, 3)"));
        Assert.InRange(uv.Average(), 0.5 - 0.05, 0.5 + 0.05);            // mean 0.5, sd of the mean 0.01
        Assert.InRange(uv.Min(), -2, -1.99);
        Assert.InRange(uv.Max(), 2.99, 3);

        using var g = Tensor.Randn([n], seed: 8, mean: 1.5, std: 2, dtype: DType.Float64, device: dev);
        var gv = g.ToArray<double>();
        double mean = gv.Average();
        double std = Math.Sqrt(gv.Sum(v => (v - mean) * (v - mean)) / (n - 1));
        Assert.InRange(mean, 1.5 - 0.06, 1.5 + 0.06);                      // sd of the mean 0.014
        Assert.InRange(std, 2 - 0.06, 2 + 0.06);
        Assert.InRange(gv.Count(v => Math.Abs(v - 1.5) < 2) / (double)n, 0.68 - 0.02, 0.68 + 0.02);
        Assert.All(gv, v => Assert.True(double.IsFinite(v)));
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Rand_WithoutSeed_GivesFreshNumbersEachCall(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var a = Tensor.Rand([16], device: dev);
        using var b = Tensor.Rand([16], device: dev);
        Assert.NotEqual(a.ToArray(), b.ToArray());
    }
}
