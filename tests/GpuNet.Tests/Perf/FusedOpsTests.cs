using GpuNet.Kernels;
using GpuNet.Tests.Backends;

namespace GpuNet.Tests.Perf;

/// <summary>The fused tensor ops give what the composed ops give, values and gradients, on every device.</summary>
public class FusedOpsTests
{
    public static TheoryData<string, DType, Activation, bool> LinearCases()
    {
        var data = new TheoryData<string, DType, Activation, bool>();
        foreach (var device in BackendDevices.Names)
            foreach (var dtype in new[] { DType.Float32, DType.Float64 })
                foreach (var act in Enum.GetValues<Activation>())
                    foreach (var bias in new[] { true, false })
                        data.Add(device, dtype, act, bias);
        return data;
    }

    private static Tensor Composed(Tensor x, Tensor w, Tensor? b, Activation act)
    {
        var z = x.MatMul(w.T);
        if (b is not null) z = z + b;
        return act switch
        {
            Activation.Relu => z.Relu(),
            Activation.Sigmoid => z.Sigmoid(),
            Activation.Tanh => z.Tanh(),
            Activation.Gelu => z.Gelu(),
            Activation.GeluTanh => z.Gelu("tanh"),
            Activation.Silu => z.Silu(),
            Activation.LeakyRelu => z.LeakyRelu(),
            Activation.Elu => z.Elu(),
            Activation.Softplus => z.Softplus(),
            _ => z,
        };
    }

    private static void AssertClose(Tensor expected, Tensor actual, double tol, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.To(DType.Float64).ToArray<double>();
        var a = actual.To(DType.Float64).ToArray<double>();
        for (int i = 0; i < e.Length; i++)
            if (!(Math.Abs(e[i] - a[i]) <= tol * Math.Max(1, Math.Abs(e[i]))))
                Assert.Fail($"{what}[{i}]: expected {e[i]:R}, got {a[i]:R}");
    }

    [Theory]
    [MemberData(nameof(LinearCases))]
    public void Linear_MatchesMatMulPlusBiasThenActivation_ValuesAndGradients(string deviceName, DType dtype, Activation act, bool withBias)
    {
        var dev = BackendDevices.Resolve(deviceName);
        using var scope = Tensor.NewScope();
        double tol = dtype == DType.Float32 ? 2e-5 : 1e-12;
        // Odd sizes (edge tiles) and a 3-D input whose leading dims fold into rows.
        var x = Tensor.Randn([2, 7, 13], seed: 1, dtype: dtype, device: dev, requiresGrad: true);
        var w = Tensor.Randn([5, 13], seed: 2, dtype: dtype, device: dev, requiresGrad: true);
        var b = withBias ? Tensor.Randn([5], seed: 3, dtype: dtype, device: dev, requiresGrad: true) : null;
        var r = Tensor.Randn([2, 7, 5], seed: 4, dtype: dtype, device: dev);

        var fused = Functional.Linear(x, w, b, act);
        var reference = Composed(x, w, b, act);
        AssertClose(reference, fused, tol, "y");

        Tensor?[] Grads(Tensor y) => Autograd.Grad([(y * r).Sum()], b is null ? [x, w] : [x, w, b]);
        var gf = Grads(fused);
        var gr = Grads(reference);
        for (int i = 0; i < gf.Length; i++) AssertClose(gr[i]!, gf[i]!, tol * 10, $"grad {i}");
    }

    [Theory]
    [InlineData(128, 256, 10)] // the logits layer: C narrower than a tile is computed transposed
    [InlineData(600, 300, 10)] // the same, threaded
    [InlineData(130, 70, 1)]
    public void Linear_NarrowOutput_TakesTheTransposedProductWithTheBiasPerColumn(int rows, int inFeatures, int outFeatures)
    {
        using var scope = Tensor.NewScope();
        var x = Tensor.Randn([rows, inFeatures], seed: 11);
        var w = Tensor.Randn([outFeatures, inFeatures], seed: 12);
        var b = Tensor.Randn([outFeatures], seed: 13);
        using (Autograd.NoGrad())
        {
            AssertClose(Composed(x, w, b, Activation.Relu), Functional.Linear(x, w, b, Activation.Relu), 1e-4, "y");
            AssertClose(Composed(x, w, null, Activation.None), Functional.Linear(x, w), 1e-4, "y (no bias)");
        }
    }

    [Fact]
    public void Linear_LargeProduct_UsesTheThreadedEpilogueAndStillMatches()
    {
        // 300 × 260 × 270 crosses the parallel-work threshold, so the slabs and their epilogue offsets are exercised.
        using var scope = Tensor.NewScope();
        var x = Tensor.Randn([300, 270], seed: 5);
        var w = Tensor.Randn([260, 270], seed: 6);
        var b = Tensor.Randn([260], seed: 7);
        using (Autograd.NoGrad())
        {
            AssertClose(Composed(x, w, b, Activation.Relu), Functional.Linear(x, w, b, Activation.Relu), 1e-4, "y");
            var xt = Tensor.Randn([270, 300], seed: 8).T; // a transposed input is absorbed by packing
            AssertClose(Composed(xt, w, b, Activation.Tanh), Functional.Linear(xt, w, b, Activation.Tanh), 1e-4, "y (transposed x)");
        }
    }

    [Theory]
    [InlineData(Activation.None)]
    [InlineData(Activation.Sigmoid)]
    [InlineData(Activation.Tanh)]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Gelu)]
    [InlineData(Activation.GeluTanh)]
    [InlineData(Activation.Silu)]
    [InlineData(Activation.LeakyRelu)]
    [InlineData(Activation.Elu)]
    [InlineData(Activation.Softplus)]
    public void Linear_GradCheck_Float64(Activation act)
    {
        using var scope = Tensor.NewScope();
        var x = Tensor.Randn([3, 4], seed: 11, dtype: DType.Float64, requiresGrad: true);
        var w = Tensor.Randn([2, 4], seed: 12, dtype: DType.Float64, requiresGrad: true);
        var b = Tensor.Randn([2], seed: 13, dtype: DType.Float64, requiresGrad: true);
        Assert.True(Autograd.GradCheck(t => Functional.Linear(t[0], t[1], t[2], act).Sum(), [x, w, b]));
    }

    [Theory]
    [InlineData(Activation.Gelu)]
    [InlineData(Activation.GeluTanh)]
    [InlineData(Activation.Silu)]
    [InlineData(Activation.Softplus)]
    [InlineData(Activation.Tanh)]
    public void Linear_DoubleBackward_MatchesTheComposedOps(Activation act)
    {
        // GELU and SiLU keep the pre-activation, which stands nowhere in the graph: a createGraph backward must
        // still differentiate their slope (the second-order terms through it), as the composed ops do.
        using var scope = Tensor.NewScope();
        var x = Tensor.Randn([3, 4], seed: 21, dtype: DType.Float64, requiresGrad: true);
        var w = Tensor.Randn([2, 4], seed: 22, dtype: DType.Float64, requiresGrad: true);
        var b = Tensor.Randn([2], seed: 23, dtype: DType.Float64, requiresGrad: true);
        var r = Tensor.Randn([3, 2], seed: 24, dtype: DType.Float64);
        Tensor?[] SecondOrder(Tensor y)
        {
            var g = Autograd.Grad([(y * r).Sum()], [x], createGraph: true)[0]!;
            return Autograd.Grad([(g * g).Sum()], [x, w, b]);
        }
        var fused = SecondOrder(Functional.Linear(x, w, b, act));
        var composed = SecondOrder(Composed(x, w, b, act));
        for (int i = 0; i < 3; i++) AssertClose(composed[i]!, fused[i]!, 1e-12, $"second-order grad {i}");
        Assert.True(Autograd.GradCheck(t => Functional.Linear(t[0], t[1], t[2], act).Sum(), [x, w, b]));
    }

    [Fact]
    public void Linear_BadShapes_NameTheOpAndShapes()
    {
        using var scope = Tensor.NewScope();
        var e = Assert.Throws<ArgumentException>(() => Functional.Linear(Tensor.Zeros([2, 3]), Tensor.Zeros([4, 5])));
        Assert.Contains("Linear", e.Message);
        Assert.Contains("[2,3]", e.Message);
        Assert.Throws<ArgumentException>(() => Functional.Linear(Tensor.Zeros([2, 3]), Tensor.Zeros([4, 3]), Tensor.Zeros([5])));
    }

    public static TheoryData<string, DType> DeviceDtypes()
    {
        var data = new TheoryData<string, DType>();
        foreach (var device in BackendDevices.Names)
            foreach (var dtype in new[] { DType.Float32, DType.Float64 })
                data.Add(device, dtype);
        return data;
    }

    [Theory]
    [MemberData(nameof(DeviceDtypes))]
    public void CrossEntropy_MatchesLogSoftmaxGather_ValuesAndGradients(string deviceName, DType dtype)
    {
        var dev = BackendDevices.Resolve(deviceName);
        using var scope = Tensor.NewScope();
        double tol = dtype == DType.Float32 ? 2e-5 : 1e-12;
        var logits = (Tensor.Randn([9, 7], seed: 21, dtype: dtype, device: dev) * 4.0).Detach().RequiresGrad_();
        var labels = Tensor.FromArray(new[] { 0, 6, 3, 3, 1, 2, 5, 4, 6 }, [9], dev);
        var r = Tensor.Randn([9], seed: 22, dtype: dtype, device: dev);

        var fused = Functional.CrossEntropy(logits, labels);
        var reference = -logits.LogSoftmax(1).Gather(1, labels.Unsqueeze(1)).Squeeze(1);
        AssertClose(reference, fused, tol, "loss");
        var gf = Autograd.Grad([(fused * r).Sum()], [logits]);
        var gr = Autograd.Grad([(reference * r).Sum()], [logits]);
        AssertClose(gr[0]!, gf[0]!, tol, "grad");
    }

    [Fact]
    public void CrossEntropy_StridedLogits_AndLargeRows()
    {
        using var scope = Tensor.NewScope();
        // Transposed logits (class stride ≠ 1) and enough rows for the threaded path.
        var logits = Tensor.Randn([600, 700], seed: 23).T.Detach().RequiresGrad_();
        var labelData = Enumerable.Range(0, 700).Select(i => i * 7 % 600).ToArray();
        var labels = Tensor.FromArray(labelData, [700]);
        var fused = Functional.CrossEntropy(logits, labels);
        var reference = -logits.LogSoftmax(1).Gather(1, labels.Unsqueeze(1)).Squeeze(1);
        AssertClose(reference, fused, 2e-5, "loss");
        var gf = Autograd.Grad([fused.Mean()], [logits]);
        var gr = Autograd.Grad([reference.Mean()], [logits]);
        AssertClose(gr[0]!, gf[0]!, 1e-6, "grad");
    }

    [Fact]
    public void CrossEntropy_GradCheck_AndDoubleBackward_Float64()
    {
        using var scope = Tensor.NewScope();
        var logits = Tensor.Randn([4, 5], seed: 31, dtype: DType.Float64, requiresGrad: true);
        var labels = Tensor.FromArray(new[] { 1, 0, 4, 2 }, [4]);
        Assert.True(Autograd.GradCheck(t => Functional.CrossEntropy(t[0], labels).Mean(), [logits]));
        // Gradient of a gradient: the createGraph backward is built from differentiable ops.
        Assert.True(Autograd.GradCheck(t =>
        {
            using var enable = Autograd.EnableGrad(); // the finite differences evaluate under NoGrad
            var g = Autograd.Grad([Functional.CrossEntropy(t[0], labels).Sum()], [t[0]], createGraph: true)[0]!;
            return (g * g).Sum();
        }, [logits]));
    }

    [Fact]
    public void CrossEntropy_LabelOutOfRange_Throws()
    {
        using var scope = Tensor.NewScope();
        var logits = Tensor.Randn([2, 3], seed: 1);
        var labels = Tensor.FromArray(new[] { 0, 3 }, [2]);
        Assert.ThrowsAny<ArgumentException>(() => Functional.CrossEntropy(logits, labels));
    }
}
