using GpuNet.Tests.TensorOps;

namespace GpuNet.Tests.AutogradTests;

/// <summary>
/// Backprop against central finite differences (the full Jacobian, in float64) for every
/// differentiable op, on random small shapes, broadcast operands and strided leaves, on every device.
/// Inputs stay away from kinks (0 for Abs/Relu/Sign, the bounds for Clamp, ties for Max/Min).
/// </summary>
public sealed class GradCheckTests
{
    public delegate (Func<Tensor[], Tensor> Function, Tensor[] Inputs) Builder(Random rng, Device device, Layout layout);

    public sealed record Case(string Name, Builder Build, int Trials = 4);

    private static readonly Func<Random, double> Wide = Gen.Uniform(-2, 2);
    private static readonly Func<Random, double> Positive = Gen.Uniform(0.4, 2.5);
    private static readonly Func<Random, double> NonZero = Gen.AwayFromZero(0.3, 2);
    // Away from the clamp bounds ±1 (and from 0.5 for the one-sided cases).
    private static readonly Func<Random, double> OffBounds = Gen.OneOf(-2.1, -1.6, -1.3, -0.8, -0.3, 0.2, 0.7, 1.25, 1.9);

    private static Case Unary(string name, Func<Tensor, Tensor> op, Func<Random, double> values, int minRank = 0) =>
        new(name, (rng, dev, layout) =>
        {
            var x = Checks.Leaf(rng, dev, Checks.SmallShape(rng, minRank), values, layout);
            return (xs => op(xs[0]), [x]);
        });

    private static Case Binary(string name, Func<Tensor, Tensor, Tensor> op, Func<Random, double> a, Func<Random, double> b) =>
        new(name, (rng, dev, layout) =>
        {
            var (sa, sb) = SmallBroadcastPair(rng);
            return (xs => op(xs[0], xs[1]), [Checks.Leaf(rng, dev, sa, a, layout), Checks.Leaf(rng, dev, sb, b, layout)]);
        });

    // a and b drawn from one pool of distinct values, so Maximum/Minimum never meet a tie.
    private static Case DistinctBinary(string name, Func<Tensor, Tensor, Tensor> op) =>
        new(name, (rng, dev, layout) =>
        {
            var (sa, sb) = SmallBroadcastPair(rng);
            var pool = Gen.Distinct(rng, [Ref.Count(sa) + Ref.Count(sb)]);
            var a = Host.Leaf(new Ref(sa, pool.Data.Take(Ref.Count(sa)).ToArray()), dev, layout, rng);
            var b = Host.Leaf(new Ref(sb, pool.Data.Skip(Ref.Count(sa)).ToArray()), dev, layout, rng);
            return (xs => op(xs[0], xs[1]), [a, b]);
        });

    private static (int[], int[]) SmallBroadcastPair(Random rng)
    {
        while (true)
        {
            var (a, b) = Gen.BroadcastPair(rng, maxRank: 3, maxDim: 3, emptyProbability: 0);
            if (Ref.Count(Ref.BroadcastShape(a, b)!) <= 12) return (a, b);
        }
    }

    private static Case Distinct(string name, Func<Tensor, Tensor> op, int minRank = 0) =>
        new(name, (rng, dev, layout) =>
        {
            var x = Host.Leaf(Gen.Distinct(rng, Checks.SmallShape(rng, minRank)), dev, layout, rng);
            return (xs => op(xs[0]), [x]);
        });

    // An op along a random dim (possibly negative) of a leaf of rank ≥ 1.
    private static Case AlongDim(string name, Func<Tensor, int, Tensor> op, bool distinct = false) =>
        new(name, (rng, dev, layout) =>
        {
            var shape = Checks.SmallShape(rng, minRank: 1);
            var values = distinct ? Gen.Distinct(rng, shape) : Gen.Values(rng, shape, Wide);
            int dim = rng.Next(shape.Length) - (rng.Next(2) == 0 ? 0 : shape.Length);
            return (xs => op(xs[0], dim), [Host.Leaf(values, dev, layout, rng)]);
        });

    private static Case Fixed(string name, int[] shape, Func<Tensor, Tensor> op) =>
        new(name, (rng, dev, layout) => (xs => op(xs[0]), [Checks.Leaf(rng, dev, shape, Wide, layout)]));

    private static Case MatMul(string name, int[] a, int[] b) =>
        new(name, (rng, dev, layout) => (xs => xs[0].MatMul(xs[1]),
            [Checks.Leaf(rng, dev, a, Wide, layout), Checks.Leaf(rng, dev, b, Wide, layout == Layout.Permuted ? Layout.Narrowed : layout)]));

    /// <summary>
    /// A case per tensor method marked [UnaryKernel] that takes no parameters, on inputs the op's registration
    /// gives (<see cref="Kernels.UnaryOps"/>): away from 0 where the op has a kink or pole there, positive where its
    /// range is, else its range clipped to [-2, 2]. A new unary op is checked here without being listed.
    /// </summary>
    private static IEnumerable<Case> RegisteredUnaryCases()
    {
        foreach (var m in typeof(Tensor).GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
        {
            if (m.GetParameters().Length != 0 || m.GetCustomAttributes(typeof(UnaryKernelAttribute), false) is not [UnaryKernelAttribute attr]) continue;
            var info = Kernels.UnaryOps.Get(attr.Op);
            var values = info.AwayFromZero || info.Specials?.Contains(0.0) == true ? NonZero
                : info.Low > 0 ? Positive
                : Gen.Uniform(Math.Max(info.Low, -2), Math.Min(info.High, 2));
            yield return Unary(m.Name, x => (Tensor)m.Invoke(x, null)!, values);
        }
    }

    public static readonly Case[] Cases =
    [
        // elementwise: every parameterless unary op from its registration (RegisteredUnaryCases), then these
        .. RegisteredUnaryCases(),
        Unary("Pow(2.5)", x => x.Pow(2.5), Positive),
        Unary("Pow(3)", x => x.Pow(3), Wide),
        Unary("Pow(-1.5)", x => x.Pow(-1.5), Positive),
        Unary("Pow(1)", x => x.Pow(1), Wide),
        Unary("Clamp(-1,1)", x => x.Clamp(-1, 1), OffBounds),
        Unary("Clamp(min:0.5)", x => x.Clamp(min: 0.5), OffBounds),
        Unary("Clamp(max:-1)", x => x.Clamp(max: -1), OffBounds),
        Unary("x+2.5", x => x + 2.5, Wide),
        Unary("2.5-x", x => 2.5 - x, Wide),
        Unary("x*-3", x => x * -3, Wide),
        Unary("x/4", x => x / 4, Wide),
        Unary("4/x", x => 4 / x, NonZero),
        Unary("-x", x => -x, Wide),
        // user-defined ops (Autograd.Function)
        Unary("Custom Cube", x => new CustomFunctionTests.Cube().Apply(x), Wide),
        Unary("Custom Softplus", x => new CustomFunctionTests.MySoftplus(1.5).Apply(x), Wide),
        Binary("Custom MulAdd", (a, b) => new CustomFunctionTests.MulAdd().Apply(a, b), Wide, Wide),
        Unary("Gelu", x => x.Gelu(), Gen.Uniform(-4, 4)),
        Unary("Gelu(tanh)", x => x.Gelu("tanh"), Gen.Uniform(-4, 4)),
        Unary("LeakyRelu", x => x.LeakyRelu(), NonZero),
        Unary("LeakyRelu(0.2)", x => x.LeakyRelu(0.2), NonZero),
        Unary("Elu", x => x.Elu(), NonZero),
        Unary("Elu(1.5)", x => x.Elu(1.5), NonZero),
        Unary("Softplus", x => x.Softplus(), Wide),
        // β = 4, threshold 4: βx crosses the threshold at x = 1 (kept away from it), so both branches are checked.
        Unary("Softplus(4, 4)", x => x.Softplus(4, 4), Gen.OneOf(-1.7, -0.6, 0.3, 0.8, 1.3, 1.9)),
        Binary("Add", (a, b) => a + b, Wide, Wide),
        Binary("Sub", (a, b) => a - b, Wide, Wide),
        Binary("Mul", (a, b) => a * b, Wide, Wide),
        Binary("Div", (a, b) => a / b, Wide, NonZero),
        Binary("Pow(tensor)", (a, b) => a.Pow(b), Positive, Gen.Uniform(-2, 2)),
        Binary("a*a+b (same input twice)", (a, b) => a * a + b, Wide, Wide),
        DistinctBinary("Maximum", Tensor.Maximum),
        DistinctBinary("Minimum", Tensor.Minimum),
        new("Where", (rng, dev, layout) =>
        {
            var (sa, sb) = SmallBroadcastPair(rng);
            var mask = Host.Make(Gen.Values(rng, Gen.Derive(rng, Ref.BroadcastShape(sa, sb)!), Gen.OneOf(0, 1)), DType.Float64, dev);
            return (xs => Tensor.Where(mask, xs[0], xs[1]), [Checks.Leaf(rng, dev, sa, Wide, layout), Checks.Leaf(rng, dev, sb, Wide, layout)]);
        }),
        new("Where(scalar)", (rng, dev, layout) =>
        {
            var shape = Checks.SmallShape(rng);
            var mask = Host.Make(Gen.Values(rng, shape, Gen.OneOf(0, 1)), DType.Int32, dev);
            return (xs => Tensor.Where(mask, xs[0], 0.5), [Checks.Leaf(rng, dev, shape, Wide, layout)]);
        }),
        // reductions
        Unary("Sum()", x => x.Sum(), Wide),
        AlongDim("Sum(dim)", (x, d) => x.Sum(d)),
        AlongDim("Sum(dim, keepDim)", (x, d) => x.Sum(d, keepDim: true)),
        Fixed("Sum([0,2])", [2, 3, 2], x => x.Sum([0, 2])),
        Unary("Mean()", x => x.Mean(), Wide),
        AlongDim("Mean(dim, keepDim)", (x, d) => x.Mean(d, keepDim: true)),
        Distinct("Max()", x => x.Max()),
        Distinct("Min()", x => x.Min()),
        AlongDim("Max(dim)", (x, d) => x.Max(d), distinct: true),
        AlongDim("Min(dim, keepDim)", (x, d) => x.Min(d, keepDim: true), distinct: true),
        Unary("Square", x => x.Square(), Wide),
        Fixed("Var()", [2, 3], x => x.Var()),
        Fixed("Var(dim)", [3, 4], x => x.Var(1)),
        Fixed("Std()", [2, 3], x => x.Std(unbiased: false)),
        Fixed("Std(dim, keepDim)", [3, 4], x => x.Std(0, keepDim: true)),
        Fixed("Norm()", [2, 3], x => x.Norm()),
        Fixed("Norm(2, dim)", [3, 4], x => x.Norm(2, 1)),
        Fixed("Norm(1)", [2, 3], x => x.Norm(1)),
        Fixed("Norm(3, dim, keepDim)", [3, 4], x => x.Norm(3, 0, keepDim: true)),
        Fixed("LogSumExp(dim)", [3, 4], x => x.LogSumExp(-1)),
        Fixed("LogSumExp(dim, keepDim)", [3, 4], x => x.LogSumExp(0, keepDim: true)),
        AlongDim("CumSum", (x, d) => x.CumSum(d)),
        Fixed("TopK(2) values", [3, 4], x => x.TopK(2, 1).Values),
        AlongDim("Softmax", (x, d) => x.Softmax(d)),
        AlongDim("LogSoftmax", (x, d) => x.LogSoftmax(d)),
        // matmul
        MatMul("MatMul dot", [3], [3]),
        MatMul("MatMul vector-matrix", [3], [3, 2]),
        MatMul("MatMul matrix-vector", [2, 3], [3]),
        MatMul("MatMul 2-D", [2, 3], [3, 2]),
        MatMul("MatMul batched x 2-D", [2, 2, 3], [3, 2]),
        MatMul("MatMul broadcast batch", [2, 1, 2, 2], [2, 2, 1]),
        new("MatMul transposed operands", (rng, dev, layout) =>
            (xs => xs[0].T.MatMul(xs[1].T), [Checks.Leaf(rng, dev, [3, 2], Wide, layout), Checks.Leaf(rng, dev, [2, 3], Wide, layout)])),
        // views and copies
        Fixed("Reshape", [2, 3, 2], x => x.Reshape(3, -1)),
        Fixed("View", [2, 3, 2], x => x.Contiguous().View(6, 2)),
        Fixed("T", [2, 3], x => x.T),
        Fixed("Transpose", [2, 3, 2], x => x.Transpose(0, -1)),
        Fixed("Permute", [2, 3, 2], x => x.Permute(1, 2, 0)),
        Fixed("Narrow", [2, 4, 2], x => x.Narrow(1, 1, 2)),
        Fixed("Expand", [3, 1], x => x.Expand(2, 3, 4)),
        Fixed("Squeeze", [2, 1, 3], x => x.Squeeze()),
        Fixed("Unsqueeze", [2, 3], x => x.Unsqueeze(1)),
        Fixed("Flatten", [2, 3, 2], x => x.Flatten(1)),
        Fixed("Select", [2, 4, 2], x => x.Select(1, -2)),
        Fixed("indexer", [3, 4], x => x[2]),
        Fixed("Contiguous", [3, 4], x => x.T.Contiguous()),
        Fixed("Clone", [3, 4], x => x.Clone()),
        Fixed("Narrow.Expand.Permute chain", [3, 1, 2], x => x.Narrow(0, 1, 2).Expand(2, 3, 2).Permute(2, 0, 1) * 1.5),
        // indexing and joining
        new("Gather", (rng, dev, layout) =>
        {
            var shape = Checks.SmallShape(rng, minRank: 1);
            int d = rng.Next(shape.Length);
            var indexShape = shape.Select((s, i) => i == d ? rng.Next(1, 4) : rng.Next(1, s + 1)).ToArray();
            var index = Host.Make(Gen.Values(rng, indexShape, r => r.Next(shape[d])), DType.Int32, dev);
            return (xs => xs[0].Gather(d, index), [Checks.Leaf(rng, dev, shape, Wide, layout)]);
        }),
        new("Gather with a narrower index", (rng, dev, layout) =>
        {
            // index [2,2] into [3,4]: smaller than the input in the non-gathered dim too (PyTorch allows it).
            int d = rng.Next(2);
            var index = Host.Make(Gen.Values(rng, [2, 2], r => r.Next(d == 0 ? 3 : 4)), DType.Int32, dev);
            return (xs => xs[0].Gather(d, index), [Checks.Leaf(rng, dev, [3, 4], Wide, layout)]);
        }),
        new("IndexSelect", (rng, dev, layout) =>
        {
            var shape = Checks.SmallShape(rng, minRank: 1);
            int d = rng.Next(shape.Length);
            var index = Host.Make(Gen.Values(rng, [rng.Next(1, 4)], r => r.Next(shape[d])), DType.Int32, dev);
            return (xs => xs[0].IndexSelect(d, index), [Checks.Leaf(rng, dev, shape, Wide, layout)]);
        }),
        new("ScatterAdd", (rng, dev, layout) =>
        {
            var shape = Checks.SmallShape(rng, minRank: 1, maxElements: 8);
            int d = rng.Next(shape.Length);
            var srcShape = (int[])shape.Clone();
            srcShape[d] = rng.Next(1, 4);
            var index = Host.Make(Gen.Values(rng, srcShape, r => r.Next(shape[d])), DType.Int32, dev);
            return (xs => xs[0].ScatterAdd(d, index, xs[1]), [Checks.Leaf(rng, dev, shape, Wide, layout), Checks.Leaf(rng, dev, srcShape, Wide, layout)]);
        }),
        new("Cat", (rng, dev, layout) =>
        {
            var shape = Checks.SmallShape(rng, minRank: 1, maxElements: 6);
            int d = rng.Next(shape.Length);
            var other = (int[])shape.Clone();
            other[d] = rng.Next(1, 3);
            return (xs => Tensor.Cat(xs, d), [Checks.Leaf(rng, dev, shape, Wide, layout), Checks.Leaf(rng, dev, other, Wide), Checks.Leaf(rng, dev, shape, Wide, layout)]);
        }),
        new("Stack", (rng, dev, layout) =>
        {
            var shape = Checks.SmallShape(rng, maxElements: 4);
            int d = rng.Next(shape.Length + 1);
            return (xs => Tensor.Stack(xs, d), [Checks.Leaf(rng, dev, shape, Wide, layout), Checks.Leaf(rng, dev, shape, Wide, layout)]);
        }),
        new("To(float32) and back", (rng, dev, layout) =>
            (xs => (xs[0].To(DType.Float32).To(DType.Float64) * 0 + xs[0]).Exp(), [Checks.Leaf(rng, dev, Checks.SmallShape(rng), Wide, layout)])),
        // a composite: a two-layer MLP with a fused log-softmax cross-entropy, all parameters at once
        new("MLP cross-entropy", (rng, dev, layout) =>
        {
            var x = Host.Make(Gen.Values(rng, [4, 3], Wide), DType.Float64, dev);
            var labels = Host.Make(new Ref([4, 1], [0, 2, 1, 2]), DType.Int32, dev);
            return (xs => -(xs[0].MatMul(xs[1]) + xs[2]).Tanh().MatMul(xs[3]).LogSoftmax(1).Gather(1, labels).Mean(),
                [x.Detach().RequiresGrad_(), Checks.Leaf(rng, dev, [3, 3], Wide, layout), Checks.Leaf(rng, dev, [3], Wide), Checks.Leaf(rng, dev, [3, 3], Wide, layout)]);
        }, Trials: 2),
    ];

    public static TheoryData<string, string> GradCases => Devices.Cross(Cases.Select(c => c.Name));

    [Theory, MemberData(nameof(GradCases))]
    public void Backprop_MatchesFiniteDifferences(string device, string op)
    {
        var dev = Devices.Get(device);
        var c = Cases.Single(x => x.Name == op);
        var rng = new Random(ElementwiseTests.Seed(op) ^ 0x5A5A);
        using var scope = Tensor.NewScope();
        for (int trial = 0; trial < c.Trials; trial++)
        {
            var layout = Checks.LayoutFor(trial, rng);
            var (f, inputs) = c.Build(rng, dev, layout);
            Checks.GradCheck($"{op} on {device} ({layout} leaves, trial {trial})", f, inputs);
        }
    }

    /// <summary>Ops whose VJPs must themselves be differentiable (double backward): gradients of a random cotangent's VJP.</summary>
    public static readonly string[] SecondOrder =
    [
        "Exp", "Log", "Sqrt", "Pow(2.5)", "Pow(-1.5)", "Sin", "Cos", "Sigmoid", "Tanh", "Reciprocal", "4/x", "Abs", "Relu", "Clamp(-1,1)",
        "Mul", "Div", "Pow(tensor)", "Maximum", "Where", "Mean(dim, keepDim)", "Max(dim)", "Max()", "Softmax", "LogSoftmax",
        "MatMul 2-D", "MatMul broadcast batch", "Gather", "Gather with a narrower index", "ScatterAdd", "Expand", "Narrow", "Cat",
        "Erf", "Log1p", "Expm1", "Silu", "Gelu", "Gelu(tanh)", "LeakyRelu", "Elu", "Softplus", "Softplus(4, 4)",
        "Custom Cube", "Custom Softplus",
        "Square", "Var(dim)", "Std(dim, keepDim)", "Norm()", "Norm(2, dim)", "Norm(3, dim, keepDim)", "LogSumExp(dim)", "CumSum", "TopK(2) values",
    ];

    public static TheoryData<string, string> SecondOrderCases => Devices.Cross(SecondOrder);

    [Theory, MemberData(nameof(SecondOrderCases))]
    public void DoubleBackprop_MatchesFiniteDifferencesOfTheGradient(string device, string op)
    {
        var dev = Devices.Get(device);
        var c = Cases.Single(x => x.Name == op);
        var rng = new Random(ElementwiseTests.Seed(op) ^ 0x2B2B);
        using var scope = Tensor.NewScope();
        for (int trial = 0; trial < 2; trial++)
        {
            var layout = Checks.LayoutFor(trial, rng);
            var (f, inputs) = c.Build(rng, dev, layout);
            Tensor cotangent;
            using (Autograd.NoGrad())
            using (var probe = f(inputs))
                cotangent = Host.Make(Gen.Values(rng, probe.ShapeArray, Wide), DType.Float64, dev);
            // x ↦ vᵀ ∂f/∂x for a fixed v, concatenated over the inputs: its Jacobian is the Hessian of vᵀf.
            Tensor Vjp(Tensor[] xs)
            {
                using var record = Autograd.EnableGrad();
                var y = f(xs);
                var grads = Autograd.Grad([y], xs, [cotangent], createGraph: true, allowUnused: true);
                var flat = grads.Select((g, i) => (g ?? Tensor.ZerosLike(xs[i])).Reshape(-1)).ToList();
                return Tensor.Cat(flat);
            }
            Checks.GradCheck($"second order {op} on {device} ({layout} leaves, trial {trial})", Vjp, inputs);
        }
    }

    [Fact]
    public void Backprop_ThroughMovesBetweenDevices_ReturnsGradientsToEachLeafsDevice()
    {
        var names = Devices.Names;
        var rng = new Random(99);
        using var scope = Tensor.NewScope();
        foreach (var from in names)
            foreach (var to in names.Where(n => n != from))
            {
                var target = Devices.Get(to);
                var x = Checks.Leaf(rng, Devices.Get(from), [2, 3], Wide, Layout.Permuted);
                var y = Checks.Leaf(rng, target, [3], Wide);
                Checks.GradCheck($"To({to}) from {from}", xs => (xs[0].To(target) * xs[1]).Sin(), x, y);
                var loss = (x.To(target) * y).Sum();
                loss.Backward();
                Assert.Same(x.Device, x.Grad!.Device);
                Assert.Same(target, y.Grad!.Device);
            }
    }
}
