using GpuNet.Kernels;
using Xunit;

namespace GpuNet.Tests.Backends;

/// <summary>
/// The backend conformance suite: every <see cref="IBackend"/> op, on every device of
/// <see cref="BackendDevices"/>, against <see cref="ReferenceOps"/>, on strided, narrowed,
/// broadcast, empty and rank-0 views. Each theory row loops over a fixed edge-case list and
/// random cases from a seed derived from the row, and reports every failing case at once.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed partial class BackendConformanceTests
{
    private const int RandomCases = 14;

    private static readonly DType[] Floating = [DType.Float32, DType.Float64];
    private static readonly DType[] AllDTypes = [DType.Float32, DType.Float64, DType.Int32];

    private static readonly BinaryOp[] IntBinaryOps =
        [BinaryOp.Add, BinaryOp.Sub, BinaryOp.Mul, BinaryOp.Maximum, BinaryOp.Minimum, BinaryOp.Gt, BinaryOp.Ge, BinaryOp.Lt, BinaryOp.Le, BinaryOp.Eq, BinaryOp.Ne];

    // ------------------------------------------------------------------ theory data

    public static TheoryData<string, UnaryOp, DType> UnaryCases()
    {
        var data = new TheoryData<string, UnaryOp, DType>();
        foreach (var dev in BackendDevices.Names)
            foreach (var op in Enum.GetValues<UnaryOp>())
                foreach (var dt in AllDTypes)
                    if (dt != DType.Int32 || UnaryOps.Get(op).Integer) data.Add(dev, op, dt);
        return data;
    }

    public static TheoryData<string, BinaryOp, DType> BinaryCases()
    {
        var data = new TheoryData<string, BinaryOp, DType>();
        foreach (var dev in BackendDevices.Names)
            foreach (var op in Enum.GetValues<BinaryOp>())
                foreach (var dt in AllDTypes)
                    if (dt != DType.Int32 || IntBinaryOps.Contains(op)) data.Add(dev, op, dt);
        return data;
    }

    public static TheoryData<string, DType> DeviceByDType()
    {
        var data = new TheoryData<string, DType>();
        foreach (var dev in BackendDevices.Names) foreach (var dt in AllDTypes) data.Add(dev, dt);
        return data;
    }

    public static TheoryData<string, DType> DeviceByFloatingDType()
    {
        var data = new TheoryData<string, DType>();
        foreach (var dev in BackendDevices.Names) foreach (var dt in Floating) data.Add(dev, dt);
        return data;
    }

    public static TheoryData<string, DType, DType> DeviceByDTypePair()
    {
        var data = new TheoryData<string, DType, DType>();
        foreach (var dev in BackendDevices.Names) foreach (var a in AllDTypes) foreach (var b in AllDTypes) data.Add(dev, a, b);
        return data;
    }

    public static TheoryData<string, UnaryOp, DType> UnarySpecialCases()
    {
        var data = new TheoryData<string, UnaryOp, DType>();
        foreach (var dev in BackendDevices.Names)
            foreach (var op in Enum.GetValues<UnaryOp>())
                foreach (var dt in Floating) data.Add(dev, op, dt);
        return data;
    }

    public static TheoryData<string, BinaryOp, DType> BinarySpecialCases()
    {
        var data = new TheoryData<string, BinaryOp, DType>();
        foreach (var dev in BackendDevices.Names)
            foreach (var op in Enum.GetValues<BinaryOp>())
                foreach (var dt in Floating) data.Add(dev, op, dt);
        return data;
    }

    // ------------------------------------------------------------------ inputs per op

    // The inputs the op's registration names (UnaryOps): its range, away from zero where it has a pole, and its special points.
    private static Func<Random, double> UnaryDomain(UnaryOp op, DType dtype)
    {
        if (dtype == DType.Int32) return Values.Ints(-50, 50);
        var info = UnaryOps.Get(op);
        var values = info.AwayFromZero ? Values.AwayFromZero(info.Low, info.High) : Values.Uniform(info.Low, info.High);
        return info.Specials is { Length: > 0 } specials ? Values.WithSpecials(values, 0.2, specials) : values;
    }

    /// <summary>(alpha, beta) choices per op; integers for Int32.</summary>
    private static (double Alpha, double Beta)[] UnaryParameters(UnaryOp op, DType dtype) => op switch
    {
        UnaryOp.PowScalar => [(2, 0), (3, 0), (0.5, 0), (-1.5, 0), (0, 0), (1, 0)],
        UnaryOp.Affine when dtype == DType.Int32 => [(3, -7), (-1, 0), (0, 5), (1, 1)],
        UnaryOp.Affine => [(2.5, -1.25), (-1, 0), (0, 3), (1e-3, 0.1)],
        UnaryOp.Clamp when dtype == DType.Int32 => [(-2, 3), (-10, -10), (0, 50)],
        UnaryOp.Clamp => [(-0.5, 0.75), (double.NegativeInfinity, 0.3), (-1, double.PositiveInfinity), (0.1, 0.1)],
        UnaryOp.LeakyRelu => [(0.01, 0), (0.2, 0), (0, 0), (-0.5, 0)],
        UnaryOp.Elu => [(1, 0), (0.5, 0), (2.5, 0)],
        // (β, threshold): the default, a sharp β whose threshold falls inside the sampled range, a soft β.
        UnaryOp.Softplus => [(1, 20), (4, 10), (0.5, 2)],
        _ => [(0, 0)],
    };

    // Sin/cos/sigmoid/tanh results near 0 are judged on an absolute scale of 1 (approximate GPU instructions).
    private static Func<int[], double, double>? UnaryTolerance(UnaryOp op, DType dtype) =>
        UnaryOps.Get(op).Exact || dtype == DType.Int32 ? Tol.Exact : Tol.Elementwise(dtype);

    private static Func<Random, double> BinaryDomain(BinaryOp op, DType dtype, bool second) => dtype == DType.Int32
        ? op >= BinaryOp.Maximum ? Values.Ints(-2, 2) : Values.Ints(-50, 50)
        : op switch
        {
            BinaryOp.Div when second => Values.AwayFromZero(0.25, 3),
            BinaryOp.Pow => second ? Values.Uniform(-3, 3) : Values.Uniform(0.1, 3),
            BinaryOp.Maximum or BinaryOp.Minimum or BinaryOp.Gt or BinaryOp.Ge or BinaryOp.Lt or BinaryOp.Le or BinaryOp.Eq or BinaryOp.Ne
                => Values.OneOf(-1, -0.5, 0, 0.5, 1, 2),
            _ => Values.Uniform(-3, 3),
        };

    private static Func<int[], double, double>? BinaryTolerance(BinaryOp op, DType dtype) => op switch
    {
        _ when dtype == DType.Int32 => Tol.Exact,
        BinaryOp.Div or BinaryOp.Pow => Tol.Elementwise(dtype),
        // One IEEE operation each: correctly rounded on every device.
        _ => Tol.Exact,
    };

    // ------------------------------------------------------------------ Unary

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void Unary_OnStridedBroadcastAndEmptyViews_MatchesReference(string device, UnaryOp op, DType dtype)
    {
        using var h = new Harness(device, nameof(Unary_OnStridedBroadcastAndEmptyViews_MatchesReference), op, dtype);
        var parameters = UnaryParameters(op, dtype);
        int k = 0;
        foreach (var shape in Shapes.EdgeThenRandom(h.Rng, RandomCases))
        {
            var (alpha, beta) = parameters[k++ % parameters.Length];
            var x = h.Input("x", dtype, shape, LayoutSpec.Any(h.Rng, input: true), UnaryDomain(op, dtype));
            var y = h.Output("y", dtype, shape, LayoutSpec.Any(h.Rng, input: false));
            h.Case($"Unary {op}(α={alpha}, β={beta}) {dtype.Name()}: {x}; {y}",
                () => h.Backend.Unary(op, x.View, y.View, alpha, beta),
                () => ReferenceOps.Unary(op, x.Host, y.Host, alpha, beta),
                y, UnaryTolerance(op, dtype), i => Harness.At(x, i));
        }
        h.AssertAllPassed();
    }

    [Theory]
    [MemberData(nameof(UnarySpecialCases))]
    public void Unary_SpecialValues_FollowIeee(string device, UnaryOp op, DType dtype)
    {
        using var h = new Harness(device, nameof(Unary_SpecialValues_FollowIeee), op, dtype);
        double inf = double.PositiveInfinity, nan = double.NaN;
        // Only inputs whose answer is not a matter of taste (Sign/Relu/Clamp of NaN are left out).
        double[] xs = op switch
        {
            UnaryOp.Neg or UnaryOp.Abs => [0, -0.0, 1.5, -2, inf, -inf, nan, 1e30, -1e-30],
            UnaryOp.Sign => [0, -0.0, 1e-30, -1e-30, 3, -3, inf, -inf],
            UnaryOp.Exp => [0, 1, -1, inf, -inf, nan, 100, -100, 20, -20, 88, -87],
            UnaryOp.Log => [0, -0.0, -1, 1, inf, nan, 1e-30, 1e30, 0.5],
            UnaryOp.Sqrt => [0, -1, 4, 2, inf, nan, 1e-30, 1e30],
            UnaryOp.Sin or UnaryOp.Cos => [0, 1, -1, 3.14159265, -1.5707963, nan, inf, -inf],
            UnaryOp.Sigmoid => [0, 1, -1, 100, -100, 1e4, -1e4, 30, -30, inf, -inf, nan],
            UnaryOp.Tanh => [0, 1e-10, -1e-10, 0.5, 20, -20, 100, -100, 1e4, -1e4, inf, -inf, nan],
            UnaryOp.Relu => [0, -0.0, 2, -2, inf, -inf, 1e-30, -1e-30],
            UnaryOp.Reciprocal => [0, -0.0, 2, -4, inf, -inf, nan, 1e-30],
            UnaryOp.PowScalar => [-3, -2, -0.5, 0, 0.5, 2, 4],
            UnaryOp.Affine => [0, 1, -1, inf, -inf, nan],
            UnaryOp.Clamp => [-inf, -5, -0.5, 0, 0.5, 5, inf],
            UnaryOp.Erf => [0, -0.0, 1e-10, 0.5, -2.5, 2.5, 6, -6, 30, inf, -inf, nan],
            UnaryOp.Log1p => [0, -0.0, 1e-10, -1e-10, -1, -0.5, 1e30, inf, nan],
            UnaryOp.Expm1 => [0, -0.0, 1e-10, -1e-10, -100, 100, 1000, inf, -inf, nan],
            UnaryOp.Gelu or UnaryOp.GeluTanh or UnaryOp.Silu => [0, 1e-10, -1e-10, 5, -5, 20, -20, 100, -100, inf, nan],
            UnaryOp.LeakyRelu or UnaryOp.Elu => [0, -0.0, 2, -2, 1e-30, -1e-30, inf, -inf, nan],
            UnaryOp.Softplus => [0, 1, -1, 19.9, 20, 20.1, 100, -100, inf, -inf, nan],
            _ => [0],
        };
        // PowScalar: integer exponents of negative bases are real numbers (x² of a negative x is not NaN).
        (double Alpha, double Beta)[] parameters = op switch
        {
            UnaryOp.PowScalar => [(2, 0), (3, 0), (-1, 0), (0, 0), (1, 0)],
            UnaryOp.Affine => [(2, 1), (-0.5, 0)],
            UnaryOp.Clamp => [(-1, 1), (double.NegativeInfinity, 0), (0, double.PositiveInfinity)],
            UnaryOp.LeakyRelu => [(0.01, 0)],
            UnaryOp.Elu => [(1, 0)],
            UnaryOp.Softplus => [(1, 20)],
            _ => [(0, 0)],
        };
        foreach (var (alpha, beta) in parameters)
        {
            var x = h.InputFrom("x", dtype, [xs.Length], LayoutSpec.Contiguous, xs);
            var y = h.Output("y", dtype, [xs.Length], LayoutSpec.Contiguous);
            h.Case($"Unary {op}(α={alpha}, β={beta}) {dtype.Name()} of [{string.Join(", ", xs.Select(Harness.F))}]",
                () => h.Backend.Unary(op, x.View, y.View, alpha, beta),
                () => ReferenceOps.Unary(op, x.Host, y.Host, alpha, beta),
                y, UnaryTolerance(op, dtype) ?? Tol.Exact, i => Harness.At(x, i));
        }
        h.AssertAllPassed();
    }

    [Theory]
    [MemberData(nameof(DeviceByDType))]
    public void Unary_InPlaceOutputAliasingInput_MatchesReference(string device, DType dtype)
    {
        using var h = new Harness(device, nameof(Unary_InPlaceOutputAliasingInput_MatchesReference), dtype);
        foreach (var shape in Shapes.EdgeThenRandom(h.Rng, 6))
        {
            var x = h.Output("x", dtype, shape, LayoutSpec.Any(h.Rng, input: false));
            h.Case($"Unary Affine(2, 1) in place {dtype.Name()}: {x}",
                () => h.Backend.Unary(UnaryOp.Affine, x.View, x.View, 2, 1),
                () => ReferenceOps.Unary(UnaryOp.Affine, x.Host, x.Host, 2, 1),
                x, Tol.Exact);
        }
        h.AssertAllPassed();
    }

    // ------------------------------------------------------------------ Binary

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void Binary_OnStridedBroadcastAndEmptyViews_MatchesReference(string device, BinaryOp op, DType dtype)
    {
        using var h = new Harness(device, nameof(Binary_OnStridedBroadcastAndEmptyViews_MatchesReference), op, dtype);
        foreach (var shape in Shapes.EdgeThenRandom(h.Rng, RandomCases))
        {
            var a = h.Input("a", dtype, shape, LayoutSpec.Any(h.Rng, input: true), BinaryDomain(op, dtype, second: false));
            var b = h.Input("b", dtype, shape, LayoutSpec.Any(h.Rng, input: true), BinaryDomain(op, dtype, second: true));
            var y = h.Output("y", dtype, shape, LayoutSpec.Any(h.Rng, input: false));
            h.Case($"Binary {op} {dtype.Name()}: {a}; {b}; {y}",
                () => h.Backend.Binary(op, a.View, b.View, y.View),
                () => ReferenceOps.Binary(op, a.Host, b.Host, y.Host),
                y, BinaryTolerance(op, dtype), i => $"{Harness.At(a, i)} {Harness.At(b, i)}");
        }
        h.AssertAllPassed();
    }

    [Theory]
    [MemberData(nameof(BinarySpecialCases))]
    public void Binary_SpecialValues_FollowIeee(string device, BinaryOp op, DType dtype)
    {
        using var h = new Harness(device, nameof(Binary_SpecialValues_FollowIeee), op, dtype);
        double inf = double.PositiveInfinity, nan = double.NaN;
        (double A, double B)[] pairs = op switch
        {
            BinaryOp.Add or BinaryOp.Sub or BinaryOp.Mul => [(inf, -inf), (inf, inf), (nan, 1), (1, nan), (0, -0.0), (inf, 0), (1e30, 1e30), (-1e30, 1e-30)],
            BinaryOp.Div => [(1, 0), (-1, 0), (0, 0), (1, inf), (inf, inf), (nan, 2), (6, 3), (1, 3), (-0.0, 5)],
            // Integer exponents of negative bases are real; 0^0 = 1 as in IEEE pow and PyTorch.
            BinaryOp.Pow => [(-2, 2), (-2, 3), (-0.5, 2), (0, 2), (0, 0), (2, -1), (4, 0.5), (2, 10), (-3, -1), (1, 0), (nan, 0)],
            BinaryOp.Maximum or BinaryOp.Minimum => [(inf, 1), (-inf, 1), (-0.5, -0.25), (3, 3), (inf, -inf)],
            // Every comparison with NaN is false except ≠.
            _ => [(nan, 1), (1, nan), (nan, nan), (inf, inf), (-inf, inf), (1, 1), (1, 2), (2, 1), (0, -0.0)],
        };
        var a = h.InputFrom("a", dtype, [pairs.Length], LayoutSpec.Contiguous, pairs.Select(p => p.A).ToArray());
        var b = h.InputFrom("b", dtype, [pairs.Length], LayoutSpec.Contiguous, pairs.Select(p => p.B).ToArray());
        var y = h.Output("y", dtype, [pairs.Length], LayoutSpec.Contiguous);
        h.Case($"Binary {op} {dtype.Name()} of pairs {string.Join(" ", pairs.Select(p => $"({Harness.F(p.A)},{Harness.F(p.B)})"))}",
            () => h.Backend.Binary(op, a.View, b.View, y.View),
            () => ReferenceOps.Binary(op, a.Host, b.Host, y.Host),
            y, BinaryTolerance(op, dtype), i => $"{Harness.At(a, i)} {Harness.At(b, i)}");
        h.AssertAllPassed();
    }

    [Theory]
    [MemberData(nameof(DeviceByDType))]
    public void Binary_InPlaceOutputAliasingFirstOperand_MatchesReference(string device, DType dtype)
    {
        using var h = new Harness(device, nameof(Binary_InPlaceOutputAliasingFirstOperand_MatchesReference), dtype);
        foreach (var shape in Shapes.EdgeThenRandom(h.Rng, 6))
        {
            var a = h.Output("a", dtype, shape, LayoutSpec.Any(h.Rng, input: false));
            var b = h.Input("b", dtype, shape, LayoutSpec.Any(h.Rng, input: true), Values.Ints(-9, 9));
            h.Case($"Binary Add in place (y = a) {dtype.Name()}: {a}; {b}",
                () => h.Backend.Binary(BinaryOp.Add, a.View, b.View, a.View),
                () => ReferenceOps.Binary(BinaryOp.Add, a.Host, b.Host, a.Host),
                a, Tol.Exact);
        }
        h.AssertAllPassed();
    }

    // ------------------------------------------------------------------ Where

    [Theory]
    [MemberData(nameof(DeviceByDTypePair))]
    public void Where_ConditionOfAnyDType_SelectsLikeReference(string device, DType conditionDType, DType dtype)
    {
        using var h = new Harness(device, nameof(Where_ConditionOfAnyDType_SelectsLikeReference), conditionDType, dtype);
        // NaN ≠ 0 selects a; −0 = 0 selects b.
        var conditionValues = conditionDType == DType.Int32
            ? Values.OneOf(0, 0, 1, -3, 7)
            : Values.OneOf(0, 0, 1, -3.5, -0.0, 0.25, double.NaN);
        foreach (var shape in Shapes.EdgeThenRandom(h.Rng, RandomCases))
        {
            var c = h.Input("cond", conditionDType, shape, LayoutSpec.Any(h.Rng, input: true), conditionValues);
            var a = h.Input("a", dtype, shape, LayoutSpec.Any(h.Rng, input: true), dtype == DType.Int32 ? Values.Ints(-100, 100) : Values.Uniform(-5, 5));
            var b = h.Input("b", dtype, shape, LayoutSpec.Any(h.Rng, input: true), dtype == DType.Int32 ? Values.Ints(-100, 100) : Values.Uniform(-5, 5));
            var y = h.Output("y", dtype, shape, LayoutSpec.Any(h.Rng, input: false));
            h.Case($"Where cond {conditionDType.Name()} values {dtype.Name()}: {c}; {a}; {b}; {y}",
                () => h.Backend.Where(c.View, a.View, b.View, y.View),
                () => ReferenceOps.Where(c.Host, a.Host, b.Host, y.Host),
                y, Tol.Exact, i => $"{Harness.At(c, i)} {Harness.At(a, i)} {Harness.At(b, i)}");
        }
        h.AssertAllPassed();
    }
}
