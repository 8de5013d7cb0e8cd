using GpuNet.Kernels;
using Xunit;

namespace GpuNet.Tests.Backends;

// The fused ops of IBackend (MatMulEpilogue, SoftmaxCrossEntropy, AdamStep) on every device, against
// double references written here from their definitions: a backend's fused kernel and the interface's
// composed default body must both pass.
public sealed partial class BackendConformanceTests
{
    public static TheoryData<string, Activation, DType> EpilogueCases()
    {
        var data = new TheoryData<string, Activation, DType>();
        foreach (var dev in BackendDevices.Names)
            foreach (var act in Enum.GetValues<Activation>())
                foreach (var dt in Floating) data.Add(dev, act, dt);
        return data;
    }

    private static double Activate(Activation act, double x) => act switch
    {
        Activation.Relu => double.IsNaN(x) ? x : x > 0 ? x : 0,
        Activation.Sigmoid => 1 / (1 + Math.Exp(-x)),
        Activation.Tanh => Math.Tanh(x),
        // PyTorch's definitions with its default parameters; Φ(x) from erfc (SpecialFunctions, checked against
        // independent values in SpecialFunctionTests).
        Activation.Gelu => x * 0.5 * SpecialFunctions.Erfc(-x / Math.Sqrt(2)),
        Activation.GeluTanh => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        Activation.Silu => x / (1 + Math.Exp(-x)),
        Activation.LeakyRelu => x > 0 ? x : 0.01 * x,
        Activation.Elu => x > 0 ? x : Math.Exp(x) - 1,
        Activation.Softplus => x > 20 ? x : Math.Log(1 + Math.Exp(x)),
        _ => x,
    };

    [Theory]
    [MemberData(nameof(EpilogueCases))]
    public void MatMulEpilogue_BiasAndActivation_MatchReference(string device, Activation act, DType dtype)
    {
        using var h = new Harness(device, nameof(MatMulEpilogue_BiasAndActivation_MatchReference), act, dtype);
        // (m, n, k): tiny, k = 0 (c = act(bias)), past the 16/8-wide register blocks of the CPU accelerator, thin.
        (int M, int N, int K)[] sizes = [(1, 1, 1), (3, 4, 0), (17, 19, 9), (33, 17, 21), (5, 40, 3)];
        int s = 0;
        foreach (var (m, n, k) in sizes)
        {
            int batch = s % 2 == 0 ? 1 : 2;
            var layouts = MatMulSpecs((MatMulLayout)(s++ % Enum.GetValues<MatMulLayout>().Length), h.Rng);
            var a = h.Input("a", dtype, [batch, m, k], layouts.A, Values.Uniform(-1, 1));
            var b = h.Input("b", dtype, [batch, k, n], layouts.B, Values.Uniform(-1, 1));
            var c = h.Output("c", dtype, [batch, m, n], layouts.C);
            // A bias row broadcast over batch and rows (Linear's), or a full strided one, or none.
            Operand? bias = (s % 3) switch
            {
                0 => null,
                1 => h.Input("bias", dtype, [batch, m, n], new LayoutSpec(ZeroDims: [true, true, false]), Values.Uniform(-1, 1)),
                _ => h.Input("bias", dtype, [batch, m, n], LayoutSpec.Any(h.Rng, input: true), Values.Uniform(-1, 1)),
            };
            var magnitude = HostView.Contiguous(DType.Float64, [batch, m, n]);
            ReferenceOps.MatMul(a.Host.Map(Math.Abs).As(DType.Float64), b.Host.Map(Math.Abs).As(DType.Float64), magnitude);
            var acc = Tol.Accumulated(dtype, k, i => magnitude[i] + (bias is null ? 0 : Math.Abs(bias.Host[i])));
            Func<int[], double, double> tol = (i, r) => acc(i, r) + (dtype == DType.Float32 ? 2e-6 : 1e-14);
            h.Case($"MatMulEpilogue {act} {dtype.Name()} batch {batch} m {m} n {n} k {k}: {a}; {b}; {c}; bias {bias?.ToString() ?? "none"}",
                () => h.Backend.MatMulEpilogue(a.View, b.View, c.View, bias?.View, act),
                () =>
                {
                    foreach (var i in c.Host.Indices())
                    {
                        double v = SumProduct(a.Host, b.Host, i, k);
                        if (bias is not null) v += bias.Host[i];
                        c.Host[i] = Activate(act, v);
                    }
                },
                c, tol);
        }
        h.AssertAllPassed();
    }

    private static double SumProduct(HostView a, HostView b, int[] i, int k)
    {
        double s = 0;
        for (int p = 0; p < k; p++) s += a[i[0], i[1], p] * b[i[0], p, i[2]];
        return s;
    }

    public static TheoryData<string, bool, DType> XentCases()
    {
        var data = new TheoryData<string, bool, DType>();
        foreach (var dev in BackendDevices.Names)
            foreach (var grad in new[] { false, true })
                foreach (var dt in Floating) data.Add(dev, grad, dt);
        return data;
    }

    [Theory]
    [MemberData(nameof(XentCases))]
    public void SoftmaxCrossEntropy_LossAndGradient_MatchReference(string device, bool withGradient, DType dtype)
    {
        using var h = new Harness(device, nameof(SoftmaxCrossEntropy_LossAndGradient_MatchReference), withGradient, dtype);
        // (rows, classes): one class, MNIST's ten, long rows (one group per row on GPUs), large logits.
        (int Rows, int Classes, double Scale)[] cases = [(1, 1, 1), (5, 10, 3), (3, 130, 3), (4, 7, 200), (0, 3, 1)];
        foreach (var (rows, classes, scale) in cases)
        {
            var logits = h.Input("logits", dtype, [rows, classes], LayoutSpec.Any(h.Rng, input: false), Values.Uniform(-scale, scale));
            var labels = h.Input("labels", DType.Int32, [rows], LayoutSpec.Any(h.Rng, input: false), Values.Ints(0, classes - 1));
            var losses = h.Output("losses", dtype, [rows], LayoutSpec.Any(h.Rng, input: false));
            var gradient = withGradient ? h.Output("gradient", dtype, [rows, classes], LayoutSpec.Any(h.Rng, input: false)) : null;
            double c = (dtype == DType.Float32 ? 4e-6 : 1e-13) * Math.Sqrt(classes + 1);
            string what = $"SoftmaxCrossEntropy {dtype.Name()} rows {rows} classes {classes} ±{scale}: {logits}; {labels}; {losses}; {gradient?.ToString() ?? "no gradient"}";
            h.Case(what,
                () => h.Backend.SoftmaxCrossEntropy(logits.View, labels.View, losses.View, gradient?.View),
                () => XentReference(logits.Host, labels.Host, losses.Host, gradient?.Host),
                losses, (_, r) => c * (1 + Math.Abs(r)) * Math.Max(1, scale / 10));
            if (gradient is null) continue;
            var actual = h.Download(gradient.Buffer, gradient.Host.Data.Length);
            h.Compare(what + " (gradient)", gradient, actual, (_, r) => c * (Math.Abs(r) + 1e-2) * Math.Max(1, scale / 10) + c * 0.1, null);
        }
        h.AssertAllPassed();
    }

    private static void XentReference(HostView logits, HostView labels, HostView losses, HostView? gradient)
    {
        int rows = logits.Shape[0], classes = logits.Shape[1];
        for (int r = 0; r < rows; r++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < classes; j++) max = Math.Max(max, logits[r, j]);
            double sum = 0;
            for (int j = 0; j < classes; j++) sum += Math.Exp(logits[r, j] - max);
            double logSum = Math.Log(sum);
            int label = (int)labels[[r]];
            losses[[r]] = -(logits[r, label] - max - logSum);
            if (gradient is null) continue;
            for (int j = 0; j < classes; j++) gradient[r, j] = Math.Exp(logits[r, j] - max - logSum) - (j == label ? 1 : 0);
        }
    }

    public static TheoryData<string, int, DType> AdamCases()
    {
        var data = new TheoryData<string, int, DType>();
        foreach (var dev in BackendDevices.Names)
            foreach (var mode in new[] { 0, 1, 2 }) // no weight decay, Adam's L2, AdamW's decoupled
                foreach (var dt in Floating) data.Add(dev, mode, dt);
        return data;
    }

    [Theory]
    [MemberData(nameof(AdamCases))]
    public void AdamStep_UpdatesParamAndMoments_LikeReference(string device, int mode, DType dtype)
    {
        using var h = new Harness(device, nameof(AdamStep_UpdatesParamAndMoments_LikeReference), mode, dtype);
        int[][] shapes = [[1], [7], [3, 5], [2, 3, 4], [0, 3]];
        long step = 1;
        foreach (var shape in shapes)
        {
            var hp = new AdamParameters(LearningRate: 1e-2, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8,
                WeightDecay: mode == 0 ? 0 : 0.05, Decoupled: mode == 2, Step: step);
            step += 4;
            var p = h.Input("param", dtype, shape, LayoutSpec.Any(h.Rng, input: false), Values.Uniform(-2, 2));
            var g = h.Input("grad", dtype, shape, LayoutSpec.Any(h.Rng, input: true), Values.Uniform(-1, 1));
            var m = h.Input("m", dtype, shape, LayoutSpec.Any(h.Rng, input: false), Values.Uniform(-0.5, 0.5));
            var v = h.Input("v", dtype, shape, LayoutSpec.Any(h.Rng, input: false), Values.Uniform(0, 0.5));
            double eps = dtype == DType.Float32 ? 2e-6 : 1e-13;
            string what = $"AdamStep mode {mode} {dtype.Name()} step {hp.Step}: {p}; {g}; {m}; {v}";
            // The update is at most ~lr·(1 + ε-relative noise); p itself carries one rounding.
            h.Case(what,
                () => h.Backend.AdamStep(p.View, g.View, m.View, v.View, hp),
                () => AdamReference(p.Host, g.Host, m.Host, v.Host, hp),
                p, (_, r) => eps * (Math.Abs(r) + 10 * hp.LearningRate));
            h.Compare(what + " (m)", m, h.Download(m.Buffer, m.Host.Data.Length), (_, r) => eps * (Math.Abs(r) + 1), null);
            h.Compare(what + " (v)", v, h.Download(v.Buffer, v.Host.Data.Length), (_, r) => eps * (Math.Abs(r) + 1e-3), null);
        }
        h.AssertAllPassed();
    }

    private static void AdamReference(HostView p, HostView g, HostView m, HostView v, AdamParameters hp)
    {
        double bc1 = 1 - Math.Pow(hp.Beta1, hp.Step), bc2 = 1 - Math.Pow(hp.Beta2, hp.Step);
        foreach (var i in p.Indices())
        {
            double pv = p[i], gv = g[i];
            if (hp.WeightDecay != 0 && !hp.Decoupled) gv += hp.WeightDecay * pv;
            if (hp.WeightDecay != 0 && hp.Decoupled) pv *= 1 - hp.LearningRate * hp.WeightDecay;
            double mv = hp.Beta1 * m[i] + (1 - hp.Beta1) * gv;
            double vv = hp.Beta2 * v[i] + (1 - hp.Beta2) * gv * gv;
            m[i] = mv;
            v[i] = vv;
            p[i] = pv - hp.LearningRate * (mv / bc1) / (Math.Sqrt(vv / bc2) + hp.Epsilon);
        }
    }
}

public sealed partial class BackendConformanceTests
{
    public static TheoryData<string, BinaryOp, DType> BinaryUnaryCases()
    {
        var data = new TheoryData<string, BinaryOp, DType>();
        foreach (var dev in BackendDevices.Names)
            foreach (var op in Enum.GetValues<BinaryOp>())
                foreach (var dt in AllDTypes)
                    if (op != BinaryOp.Pow && (dt != DType.Int32 || IntBinaryOps.Contains(op))) data.Add(dev, op, dt);
        return data;
    }

    [Theory]
    [MemberData(nameof(BinaryUnaryCases))]
    public void BinaryUnary_WithAnAffineStep_OnStridedBroadcastViews_MatchesBinaryThenAffine(string device, BinaryOp op, DType dtype)
    {
        using var h = new Harness(device, nameof(BinaryUnary_WithAnAffineStep_OnStridedBroadcastViews_MatchesBinaryThenAffine), op, dtype);
        int s = 0;
        foreach (var shape in Shapes.EdgeThenRandom(h.Rng, RandomCases))
        {
            // Integer coefficients keep int32 exact; the float ones cover the multiply-only, add-only and both paths.
            (double Alpha, double Beta) = dtype == DType.Int32 ? (s % 2 == 0 ? (3, -2) : (1, 5)) : (s % 3) switch { 0 => (1, 0.75), 1 => (-2.5, 0), _ => (0.3, -1.25) };
            s++;
            var a = h.Input("a", dtype, shape, LayoutSpec.Any(h.Rng, input: true), BinaryDomain(op, dtype, second: false));
            var b = h.Input("b", dtype, shape, LayoutSpec.Any(h.Rng, input: true), BinaryDomain(op, dtype, second: true));
            var y = h.Output("y", dtype, shape, LayoutSpec.Any(h.Rng, input: false));
            // The definition: the binary op rounded to the dtype, then α·t + β.
            h.Case($"BinaryUnary {op} then Affine {dtype.Name()} α {Alpha} β {Beta}: {a}; {b}; {y}",
                () => h.Backend.BinaryUnary(op, a.View, b.View, y.View, UnaryOp.Affine, Alpha, Beta),
                () =>
                {
                    ReferenceOps.Binary(op, a.Host, b.Host, y.Host);
                    foreach (var i in y.Host.Indices())
                    {
                        double t = dtype == DType.Float32 ? (float)y.Host[i] : y.Host[i];
                        y.Host[i] = t * Alpha + Beta;
                    }
                },
                y, dtype == DType.Int32 ? Tol.Exact : Tol.Elementwise(dtype, 4), i => $"{Harness.At(a, i)} {Harness.At(b, i)}");
        }
        h.AssertAllPassed();
    }

    public static TheoryData<string, BinaryOp, UnaryOp, DType> BinaryThenOtherUnaryCases()
    {
        var data = new TheoryData<string, BinaryOp, UnaryOp, DType>();
        foreach (var dev in BackendDevices.Names)
            foreach (var op in new[] { BinaryOp.Add, BinaryOp.Mul, BinaryOp.Maximum })
                foreach (var unary in new[] { UnaryOp.Relu, UnaryOp.Neg, UnaryOp.Abs, UnaryOp.Clamp, UnaryOp.Exp })
                    foreach (var dt in AllDTypes)
                        if (dt != DType.Int32 || unary is UnaryOp.Relu or UnaryOp.Neg or UnaryOp.Abs or UnaryOp.Clamp) data.Add(dev, op, unary, dt);
        return data;
    }

    [Theory]
    [MemberData(nameof(BinaryThenOtherUnaryCases))]
    public void BinaryUnary_OnStridedBroadcastViews_MatchesBinaryThenUnary(string device, BinaryOp op, UnaryOp unary, DType dtype)
    {
        using var h = new Harness(device, nameof(BinaryUnary_OnStridedBroadcastViews_MatchesBinaryThenUnary), op, dtype);
        // Clamp's bounds; the other ops ignore α and β.
        (double alpha, double beta) = unary == UnaryOp.Clamp ? (-1, 2) : (0, 0);
        foreach (var shape in Shapes.EdgeThenRandom(h.Rng, RandomCases))
        {
            var a = h.Input("a", dtype, shape, LayoutSpec.Any(h.Rng, input: true), BinaryDomain(op, dtype, second: false));
            var b = h.Input("b", dtype, shape, LayoutSpec.Any(h.Rng, input: true), BinaryDomain(op, dtype, second: true));
            var y = h.Output("y", dtype, shape, LayoutSpec.Any(h.Rng, input: false));
            // The definition: the binary op rounded to the dtype, then the unary op.
            h.Case($"BinaryUnary {op} then {unary} {dtype.Name()}: {a}; {b}; {y}",
                () => h.Backend.BinaryUnary(op, a.View, b.View, y.View, unary, alpha, beta),
                () =>
                {
                    ReferenceOps.Binary(op, a.Host, b.Host, y.Host);
                    foreach (var i in y.Host.Indices())
                    {
                        double t = dtype == DType.Float32 ? (float)y.Host[i] : y.Host[i];
                        y.Host[i] = ReferenceOps.Unary(unary, t, alpha, beta);
                    }
                },
                y, dtype == DType.Int32 ? Tol.Exact : Tol.Elementwise(dtype, 8), i => $"{Harness.At(a, i)} {Harness.At(b, i)}");
        }
        h.AssertAllPassed();
    }
}
