namespace GpuNet.Tests.TensorOps;

/// <summary>Elementwise ops against the double reference on random shapes, layouts and dtypes, on every device.</summary>
public sealed class ElementwiseTests
{
    /// <summary>A unary op (or a tensor–scalar op) with its reference, its input values, and the dtypes it accepts.</summary>
    /// <param name="IntResult">The dtype an Int32 input gives (null: Int32 is rejected).</param>
    public sealed record Unary(string Name, Func<Tensor, Tensor> Op, Func<double, double> Reference, Func<Random, double> Values, DType? IntResult = null);

    private static readonly Func<Random, double> Wide = Gen.Uniform(-3, 3);
    private static readonly Func<Random, double> Ints = Gen.Integers(-4, 4);

    public static readonly Unary[] UnaryOps =
    [
        new("Neg", x => x.Neg(), v => -v, Wide, DType.Int32),
        new("-x", x => -x, v => -v, Wide, DType.Int32),
        new("Abs", x => x.Abs(), Math.Abs, Gen.OneOf(-2.5, -1, 0, 0.5, 3), DType.Int32),
        new("Sign", x => x.Sign(), v => Math.Sign(v), Gen.OneOf(-2.5, -1, 0, 0.5, 3), DType.Int32),
        new("Exp", x => x.Exp(), Math.Exp, Wide),
        new("Log", x => x.Log(), Math.Log, Gen.Uniform(0.05, 5)),
        new("Sqrt", x => x.Sqrt(), Math.Sqrt, Gen.Uniform(0, 5)),
        new("Pow(2.5)", x => x.Pow(2.5), v => Math.Pow(v, 2.5), Gen.Uniform(0, 3)),
        new("Pow(3)", x => x.Pow(3), v => Math.Pow(v, 3), Wide),
        new("Pow(2)", x => x.Pow(2), v => v * v, Wide),
        new("Pow(-1.5)", x => x.Pow(-1.5), v => Math.Pow(v, -1.5), Gen.Uniform(0.2, 3)),
        new("Pow(0.5)", x => x.Pow(0.5), Math.Sqrt, Gen.Uniform(0, 4)),
        new("Sin", x => x.Sin(), Math.Sin, Wide),
        new("Cos", x => x.Cos(), Math.Cos, Wide),
        new("Clamp(-1,1)", x => x.Clamp(-1, 1), v => Math.Clamp(v, -1, 1), Gen.OneOf(-2, -1, -0.5, 0, 0.75, 1, 2.5), DType.Int32),
        new("Clamp(min:1)", x => x.Clamp(min: 1), v => Math.Max(v, 1), Wide, DType.Int32),
        new("Clamp(max:-1)", x => x.Clamp(max: -1), v => Math.Min(v, -1), Wide, DType.Int32),
        new("Sigmoid", x => x.Sigmoid(), v => 1 / (1 + Math.Exp(-v)), Gen.Uniform(-8, 8)),
        new("Tanh", x => x.Tanh(), Math.Tanh, Wide),
        new("Relu", x => x.Relu(), v => Math.Max(v, 0), Gen.OneOf(-2.5, -1, 0, 0.5, 3), DType.Int32),
        new("Reciprocal", x => x.Reciprocal(), v => 1 / v, Gen.AwayFromZero(0.2, 3)),
        new("x+2.5", x => x + 2.5, v => v + 2.5, Wide, DType.Float32),
        new("2.5+x", x => 2.5 + x, v => 2.5 + v, Wide, DType.Float32),
        new("x+2", x => x + 2, v => v + 2, Wide, DType.Int32),
        new("x+1f", x => x + 1f, v => v + 1, Wide, DType.Int32),
        new("x-1.5", x => x - 1.5, v => v - 1.5, Wide, DType.Float32),
        new("1.5-x", x => 1.5 - x, v => 1.5 - v, Wide, DType.Float32),
        new("3-x", x => 3 - x, v => 3 - v, Wide, DType.Int32),
        new("x*-2", x => x * -2, v => v * -2, Wide, DType.Int32),
        new("-2*x", x => -2 * x, v => -2 * v, Wide, DType.Int32),
        new("x*0.5", x => x * 0.5, v => v * 0.5, Wide, DType.Float32),
        new("x/4", x => x / 4, v => v / 4, Wide, DType.Float32),
        new("x/3", x => x / 3.0, v => v / 3, Wide, DType.Float32),
        new("4/x", x => 4 / x, v => 4 / v, Gen.AwayFromZero(0.2, 3), DType.Float32),
        new("2f/x", x => 2f / x, v => 2 / v, Gen.AwayFromZero(0.2, 3), DType.Float32),
        new("Gt(0.5)", x => x.Gt(0.5), v => v > 0.5 ? 1 : 0, Gen.OneOf(-1, 0, 0.5, 1, 2), DType.Float32),
        new("Le(1)", x => x.Le(1), v => v <= 1 ? 1 : 0, Gen.OneOf(-1, 0, 0.5, 1, 2), DType.Int32),
        new("Eq(0)", x => x.Eq(0), v => v == 0 ? 1 : 0, Gen.OneOf(-1, 0, 0.5, 1, 2), DType.Int32),
        new("Ne(0)", x => x.Ne(0), v => v != 0 ? 1 : 0, Gen.OneOf(-1, 0, 0.5, 1, 2), DType.Int32),
    ];

    public static TheoryData<string, string> UnaryCases => Devices.Cross(UnaryOps.Select(u => u.Name));

    internal static int Seed(string text) => text.Aggregate(17, (h, c) => unchecked(h * 31 + c));

    [Theory, MemberData(nameof(UnaryCases))]
    public void UnaryOp_MatchesDoubleReference_OnRandomShapesLayoutsAndDtypes(string device, string op)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        var u = UnaryOps.Single(x => x.Name == op);
        var rng = new Random(Seed(op));
        var dtypes = u.IntResult is null ? new[] { DType.Float32, DType.Float64 } : [DType.Float32, DType.Float64, DType.Int32];
        foreach (var dtype in dtypes)
            for (int trial = 0; trial < 8; trial++)
            {
                var shape = Gen.Shape(rng);
                var values = Gen.Values(rng, shape, dtype == DType.Int32 ? Ints : u.Values);
                var layout = Gen.Layout(rng);
                var (x, input) = Host.Arrange(values, dtype, dev, layout, rng);
                using (x)
                using (var y = u.Op(x))
                {
                    var outType = dtype == DType.Int32 ? u.IntResult!.Value : dtype;
                    var expected = input.Map(u.Reference);
                    if (outType == DType.Int32) expected = expected.Map(Math.Truncate);
                    Host.AssertClose(expected, y, $"{op} on {device}, {layout} input {Host.Describe(x)}", outType);
                }
            }
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void UnaryOp_OnInt32_RejectsFloatingOnlyOps_NamingOpAndDtype(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var x = Tensor.FromArray(new[] { 1, 2, 3 }, [3], dev);
        foreach (var u in UnaryOps.Where(u => u.IntResult is null))
        {
            var e = Assert.Throws<NotSupportedException>(() => u.Op(x));
            Assert.Contains("int32", e.Message);
            Assert.Contains("[3]", e.Message);
        }
    }

    /// <summary>A broadcasting binary op with its reference and input values.</summary>
    /// <param name="IntResult">The dtype two Int32 operands give (null: not tried on Int32).</param>
    public sealed record Binary(string Name, Func<Tensor, Tensor, Tensor> Op, Func<double, double, double> Reference,
        Func<Random, double> A, Func<Random, double> B, DType? IntResult = DType.Int32);

    private static readonly Func<Random, double> Small = Gen.OneOf(-2, -1, -0.5, 0, 0.5, 1, 2);

    public static readonly Binary[] BinaryOps =
    [
        new("Add", (a, b) => a + b, (x, y) => x + y, Wide, Wide),
        new("Sub", (a, b) => a - b, (x, y) => x - y, Wide, Wide),
        new("Mul", (a, b) => a * b, (x, y) => x * y, Wide, Wide),
        new("Div", (a, b) => a / b, (x, y) => x / y, Wide, Gen.AwayFromZero(0.25, 3), DType.Float32),
        new("Pow", (a, b) => a.Pow(b), Math.Pow, Gen.Uniform(0.1, 3), Gen.Uniform(-2, 2.5), DType.Float32),
        new("Maximum", Tensor.Maximum, Math.Max, Small, Small),
        new("Minimum", Tensor.Minimum, Math.Min, Small, Small),
        new("Gt", (a, b) => a.Gt(b), (x, y) => x > y ? 1 : 0, Small, Small),
        new("Ge", (a, b) => a.Ge(b), (x, y) => x >= y ? 1 : 0, Small, Small),
        new("Lt", (a, b) => a.Lt(b), (x, y) => x < y ? 1 : 0, Small, Small),
        new("Le", (a, b) => a.Le(b), (x, y) => x <= y ? 1 : 0, Small, Small),
        new("Eq", (a, b) => a.Eq(b), (x, y) => x == y ? 1 : 0, Small, Small),
        new("Ne", (a, b) => a.Ne(b), (x, y) => x != y ? 1 : 0, Small, Small),
        new("Add(method)", (a, b) => a.Add(b), (x, y) => x + y, Wide, Wide),
        new("Sub(method)", (a, b) => a.Sub(b), (x, y) => x - y, Wide, Wide),
        new("Mul(method)", (a, b) => a.Mul(b), (x, y) => x * y, Wide, Wide),
        new("Div(method)", (a, b) => a.Div(b), (x, y) => x / y, Wide, Gen.AwayFromZero(0.25, 3), DType.Float32),
    ];

    public static TheoryData<string, string> BinaryCases => Devices.Cross(BinaryOps.Select(b => b.Name));

    [Theory, MemberData(nameof(BinaryCases))]
    public void BinaryOp_MatchesDoubleReference_WithBroadcastingAndStridedOperands(string device, string op)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        var bin = BinaryOps.Single(x => x.Name == op);
        var rng = new Random(Seed(op));
        var dtypes = bin.IntResult is null ? new[] { DType.Float32, DType.Float64 } : [DType.Float32, DType.Float64, DType.Int32];
        foreach (var dtype in dtypes)
            for (int trial = 0; trial < 8; trial++)
            {
                var (sa, sb) = Gen.BroadcastPair(rng);
                bool isInt = dtype == DType.Int32;
                var va = Gen.Values(rng, sa, isInt ? Ints : bin.A);
                var vb = Gen.Values(rng, sb, isInt ? (op.StartsWith("Div") ? Gen.OneOf(-3, -2, -1, 1, 2, 4) : op == "Pow" ? Gen.Integers(0, 3) : Ints) : bin.B);
                var (a, ra) = Host.Arrange(va, dtype, dev, Gen.Layout(rng), rng);
                var (b, rb) = Host.Arrange(vb, dtype, dev, Gen.Layout(rng), rng);
                using (a)
                using (b)
                using (var y = bin.Op(a, b))
                {
                    var outType = isInt ? bin.IntResult!.Value : dtype;
                    Host.AssertClose(Ref.Zip(ra, rb, bin.Reference), y, $"{op} on {device}: {Host.Describe(a)} with {Host.Describe(b)}", outType);
                }
            }
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void BinaryOp_PromotesDtypes_Int32ToFloat32ToFloat64(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var i = Tensor.FromArray(new[] { 7, -3, 2 }, [3], dev);
        using var j = Tensor.FromArray(new[] { 2, 2, 4 }, [3], dev);
        using var f = Tensor.FromArray(new[] { 0.5f, 0.25f, -1f }, [3], dev);
        using var d = Tensor.FromArray(new[] { 0.125, 2.0, 3.0 }, [3], dev);

        using var iPlusF = i + f;
        Host.AssertClose(new Ref([3], [7.5, -2.75, 1]), iPlusF, "int32 + float32", DType.Float32);
        using var fTimesD = f * d;
        Host.AssertClose(new Ref([3], [0.0625, 0.5, -3]), fTimesD, "float32 * float64", DType.Float64);
        using var iDivJ = i / j;
        Host.AssertClose(new Ref([3], [3.5, -1.5, 0.5]), iDivJ, "int32 / int32 is true division", DType.Float32);
        using var iMinusD = d - i;
        Host.AssertClose(new Ref([3], [-6.875, 5, 1]), iMinusD, "float64 - int32", DType.Float64);
        using var iOver2 = i / 2;
        Host.AssertClose(new Ref([3], [3.5, -1.5, 1]), iOver2, "int32 / scalar", DType.Float32);
        using var twoOverJ = 2 / j;
        Host.AssertClose(new Ref([3], [1, 1, 0.5]), twoOverJ, "scalar / int32", DType.Float32);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Where_PicksPerElement_WithThreeWayBroadcastAndAnyMaskDtype(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        var rng = new Random(42);
        foreach (var maskType in new[] { DType.Float32, DType.Int32, DType.Float64 })
            foreach (var dtype in new[] { DType.Float32, DType.Float64, DType.Int32 })
                for (int trial = 0; trial < 3; trial++)
                {
                    var full = Gen.Shape(rng);
                    var (sc, sa, sb) = (Gen.Derive(rng, full), Gen.Derive(rng, full), Gen.Derive(rng, full));
                    var (c, rc) = Host.Arrange(Gen.Values(rng, sc, Gen.OneOf(0, 1, 0, 2)), maskType, dev, Gen.Layout(rng), rng);
                    var (a, ra) = Host.Arrange(Gen.Values(rng, sa, Ints), dtype, dev, Gen.Layout(rng), rng);
                    var (b, rb) = Host.Arrange(Gen.Values(rng, sb, Ints), dtype, dev, Gen.Layout(rng), rng);
                    using (c) using (a) using (b)
                    using (var y = Tensor.Where(c, a, b))
                        Host.AssertClose(Ref.Zip3(rc, ra, rb, (m, p, q) => m != 0 ? p : q), y, $"Where({Host.Describe(c)}, {Host.Describe(a)}, {Host.Describe(b)}) on {device}", dtype);
                }
        using var cond = Tensor.FromArray(new[] { 1f, 0f, 1f }, [3], dev);
        using var v = Tensor.FromArray(new[] { 1f, 2f, 3f }, [3], dev);
        using var left = Tensor.Where(cond, v, -1.0);
        Host.AssertClose(new Ref([3], [1, -1, 3]), left, "Where with a scalar false side");
        using var right = Tensor.Where(cond, 9.0, v);
        Host.AssertClose(new Ref([3], [9, 2, 9]), right, "Where with a scalar true side");
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Sigmoid_And_Tanh_SaturateWithoutNaN_ForLargeInputs(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            using var x = Host.Make(new Ref([4], [-1000, -100, 100, 1000]), dtype, dev);
            using var s = x.Sigmoid();
            Host.AssertClose(new Ref([4], [0, 0, 1, 1]), s, $"Sigmoid {dtype}", atol: 1e-30, rtol: 1e-6);
            using var t = x.Tanh();
            Host.AssertClose(new Ref([4], [-1, -1, 1, 1]), t, $"Tanh {dtype}", atol: 0, rtol: 1e-6);
        }
    }
}
