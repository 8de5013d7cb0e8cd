using GpuNet.Tests.TensorOps;

namespace GpuNet.Tests.AutogradTests;

/// <summary>How gradients are recorded, accumulated and freed, and the kink conventions, as in PyTorch.</summary>
public sealed class SemanticsTests
{
    private static double[] Grad(Tensor t) => Host.Values(t.Grad!);

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Grad_AccumulatesAcrossBackwardCalls_UntilZeroGrad(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new double[] { 1, 2, 3 }, device: dev, requiresGrad: true);
        (x * x).Sum().Backward();
        Assert.Equal(new double[] { 2, 4, 6 }, Grad(x));
        (x * 3).Sum().Backward();
        Assert.Equal(new double[] { 5, 7, 9 }, Grad(x));
        x.ZeroGrad();
        Assert.Null(x.Grad);
        x.Sum().Backward();
        Assert.Equal(new double[] { 1, 1, 1 }, Grad(x));
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void BackwardTwice_WithoutRetainGraph_IsAClearError_WithRetainGraphItAccumulates(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new[] { 1f, 2f }, device: dev, requiresGrad: true);
        var y = x.Exp().Sum();
        y.Backward();
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("retainGraph", e.Message);

        var z = (x * x).Sum();
        z.Backward(retainGraph: true);
        z.Backward();
        Host.AssertClose(new Ref([2], [Math.E + 4, Math.Exp(2) + 8]), x.Grad!, "exp' once plus 2x twice");
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Backward_OnANonScalarWithoutGradient_IsAClearError_WithAGradientItIsAVjp(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new double[] { 1, 2, 3 }, device: dev, requiresGrad: true);
        var y = x * x;
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("[3]", e.Message);
        Assert.Contains("one-element", e.Message);
        var wrong = Assert.Throws<ArgumentException>(() => y.Backward(Tensor.Ones([2], DType.Float64, dev)));
        Assert.Contains("[2]", wrong.Message);
        y.Backward(Tensor.FromArray(new double[] { 1, 0, -1 }, device: dev));
        Assert.Equal(new double[] { 2, 0, -6 }, Grad(x));
        var noGraph = Tensor.Ones([1], device: dev);
        Assert.Contains("does not require grad", Assert.Throws<InvalidOperationException>(() => noGraph.Backward()).Message);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void RequiresGrad_OnInt32_IsAClearError(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var i = Tensor.FromArray(new[] { 1, 2 }, device: dev);
        var e = Assert.Throws<InvalidOperationException>(() => i.RequiresGrad = true);
        Assert.Contains("int32", e.Message);
        Assert.Contains("floating", e.Message);
        Assert.Throws<InvalidOperationException>(() => Tensor.Zeros([2], DType.Int32, dev, requiresGrad: true));
        Assert.Throws<InvalidOperationException>(() => Tensor.FromArray(new[] { 1 }, device: dev, requiresGrad: true));
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void ComparisonsArgMaxAndIntegerResults_DoNotRequireGrad(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new[] { 1f, -2f, 3f }, device: dev, requiresGrad: true);
        var y = Tensor.FromArray(new[] { 0f, 0f, 5f }, device: dev, requiresGrad: true);
        foreach (var t in new[] { x.Gt(y), x.Ge(0), x.Lt(y), x.Le(y), x.Eq(y), x.Ne(1), x.ArgMax(), x.ArgMin(0), x.To(DType.Int32), Tensor.OneHot(x.ArgMax(0, keepDim: true), 3) })
        {
            Assert.False(t.RequiresGrad);
            Assert.Null(t.GradFn);
        }
        Assert.True((x * y.Gt(x)).RequiresGrad);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void NoGrad_RecordsNothing_Nests_AndIsRestored(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new[] { 1f, 2f }, device: dev, requiresGrad: true);
        using (Autograd.NoGrad())
        {
            var y = (x * 2).Exp().Sum();
            Assert.False(y.RequiresGrad);
            Assert.Null(y.GradFn);
            using (Autograd.NoGrad()) Assert.False(Autograd.IsGradEnabled);
            Assert.False(Autograd.IsGradEnabled);
            Assert.False((x + 1).RequiresGrad);
            using (Autograd.EnableGrad()) Assert.True((x + 1).RequiresGrad);
            Assert.False((x + 1).RequiresGrad);
        }
        Assert.True(Autograd.IsGradEnabled);
        var z = (x * 2).Sum();
        Assert.True(z.RequiresGrad);
        Assert.NotNull(z.GradFn);
    }

    [Fact]
    public void NoGrad_IsThreadLocal()
    {
        var dev = Devices.Get("cpu");
        var x = Tensor.FromArray(new[] { 1f, 2f }, device: dev, requiresGrad: true);
        bool? recordedOnOtherThread = null, recordedInsideOtherThreadsNoGrad = null;
        using (Autograd.NoGrad())
        {
            var t = new Thread(() =>
            {
                using var y = x * 2;
                recordedOnOtherThread = y.RequiresGrad;
            });
            t.Start();
            t.Join();
        }
        using var gate = new ManualResetEventSlim();
        using var done = new ManualResetEventSlim();
        var worker = new Thread(() =>
        {
            using (Autograd.NoGrad())
            {
                gate.Set();
                done.Wait(TestContext.Current.CancellationToken);
            }
        });
        worker.Start();
        gate.Wait(TestContext.Current.CancellationToken);
        using (var y = x * 2) recordedInsideOtherThreadsNoGrad = y.RequiresGrad;
        done.Set();
        worker.Join();
        Assert.True(recordedOnOtherThread);
        Assert.True(recordedInsideOtherThreadsNoGrad);
        x.Dispose();
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Detach_SharesValuesButCutsTheGraph(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new double[] { 1, 2 }, device: dev, requiresGrad: true);
        var h = x * 3;
        var d = h.Detach();
        Assert.False(d.RequiresGrad);
        Assert.True(d.IsLeaf);
        Assert.Null(d.GradFn);
        Assert.Equal(new double[] { 3, 6 }, d.ToArray<double>());
        var loss = (h * d).Sum();   // d is a constant: ∂/∂x = 3·d
        loss.Backward();
        Assert.Equal(new double[] { 9, 18 }, Grad(x));
        d.FillInPlace(0);
        Assert.Equal(new double[] { 0, 0 }, h.ToArray<double>());
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void CreateGraph_GivesDifferentiableGradients(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new double[] { 0.5, -1, 2 }, device: dev, requiresGrad: true);
        var y = (x * x * x).Sum();                        // y' = 3x², y'' = 6x
        var g = Autograd.Grad(y, x, createGraph: true);
        Assert.True(g.RequiresGrad);
        Assert.Equal(new[] { 0.75, 3, 12 }, g.ToArray<double>());
        g.Sum().Backward();
        Assert.Equal(new double[] { 3, -6, 12 }, Grad(x));

        var x2 = Tensor.FromArray(new double[] { 0.3 }, device: dev, requiresGrad: true);
        var s = x2.Sin().Sum();
        s.Backward(createGraph: true);                    // x2.Grad = cos x, itself differentiable
        var first = x2.Grad!;
        Assert.True(first.RequiresGrad);
        var second = Autograd.Grad(first.Sum(), x2);
        Assert.Equal(-Math.Sin(0.3), second.Item<double>(), 14);

        var noGraph = Autograd.Grad((x * x).Sum(), x);
        Assert.False(noGraph.RequiresGrad);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void FanOut_GradientsFromEveryUseAreSummed(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new double[] { 0.5, 1.5 }, device: dev, requiresGrad: true);
        var a = x.Exp();
        var loss = (a + a * x + x.Sin() + x.Expand(3, 2).Sum(0)).Sum();    // e^x + x e^x + sin x + 3x
        loss.Backward();
        var expected = new[] { 0.5, 1.5 }.Select(v => Math.Exp(v) + Math.Exp(v) * (1 + v) + Math.Cos(v) + 3).ToArray();
        Host.AssertClose(new Ref([2], expected), x.Grad!, $"fan-out on {device}", DType.Float64, 1e-13, 1e-13);

        var w = Tensor.FromArray(new double[] { 2 }, device: dev, requiresGrad: true);
        (w + w + w * w).Sum().Backward();
        Assert.Equal(new double[] { 6 }, Grad(w));
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void GradientsFlowThroughDtypeConversions_BackInTheLeafsDtype(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new[] { 1f, 2f }, device: dev, requiresGrad: true);
        var loss = (x.To(DType.Float64) * Tensor.FromArray(new double[] { 3, -4 }, device: dev)).Sum();
        Assert.Equal(DType.Float64, loss.DType);
        loss.Backward();
        Assert.Equal(DType.Float32, x.Grad!.DType);
        Assert.Equal(new[] { 3f, -4f }, x.Grad.ToArray());
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void AutogradGrad_LeavesGradUntouched_AndRejectsUnusedInputsUnlessAllowed(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new double[] { 1, 2 }, device: dev, requiresGrad: true);
        var unused = Tensor.FromArray(new double[] { 5 }, device: dev, requiresGrad: true);
        var g = Autograd.Grad([(x * x).Sum()], [x, unused], allowUnused: true);
        Assert.Equal(new double[] { 2, 4 }, g[0]!.ToArray<double>());
        Assert.Null(g[1]);
        Assert.Null(x.Grad);
        var e = Assert.Throws<InvalidOperationException>(() => Autograd.Grad([(x * x).Sum()], [x, unused]));
        Assert.Contains("allowUnused", e.Message);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void AutogradGrad_WithRespectToAnIntermediate_LeavesTheGraphBelowItIntact(string device)
    {
        // As torch.autograd.grad: only the part of the graph between the outputs and the requested
        // inputs runs (and is freed); the producer of an intermediate is untouched, so a later
        // backward through it still works.
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new double[] { 0.5, -1 }, device: dev, requiresGrad: true);
        var h = x.Sin();
        var g = Autograd.Grad((h * h).Sum(), h);
        Host.AssertClose(new Ref([2], [2 * Math.Sin(0.5), 2 * Math.Sin(-1.0)]), g, "∂(h²)/∂h", DType.Float64, 1e-15, 1e-14);
        h.Sum().Backward();
        Host.AssertClose(new Ref([2], [Math.Cos(0.5), Math.Cos(-1.0)]), x.Grad!, "then ∂Σ sin x/∂x", DType.Float64, 1e-15, 1e-14);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void RequiresGrad_OnANonLeaf_AndGradOfAnOutputWithoutGraph_AreClearErrors(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new[] { 1f, 2f }, device: dev, requiresGrad: true);
        var y = x.Exp();
        var e = Assert.Throws<InvalidOperationException>(() => y.RequiresGrad = false);
        Assert.Contains("leaf", e.Message);
        Assert.Contains("Detach", e.Message);
        var c = Tensor.Ones([2], device: dev);
        var g = Assert.Throws<InvalidOperationException>(() => Autograd.Grad(c.Sum(), x));
        Assert.Contains("does not require grad", g.Message);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void GradCheck_CatchesAWrongGradient_NamingTheInputAndElement(string device)
    {
        // x ⊙ detach(x) backpropagates x where the true derivative of x² is 2x: a VJP that is wrong on purpose.
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new double[] { 0.5, -1.5, 2 }, device: dev, requiresGrad: true);
        var y = Tensor.FromArray(new double[] { 1, 2, 3 }, device: dev, requiresGrad: true);
        Assert.False(Autograd.GradCheck(xs => xs[0] * xs[1] * xs[1].Detach(), [y, x], raiseException: false));
        var e = Assert.Throws<GradCheckException>(() => Autograd.GradCheck(xs => (xs[0] * xs[1] * xs[1].Detach()).Sum(), [y, x]));
        Assert.Equal(1, e.Failed.Input);
        Assert.Contains("input 1", e.Message);
        Assert.Contains("numerical", e.Message);
        Assert.Contains("analytical", e.Message);
        Assert.True(e.Results[0].Passed);
        Assert.False(e.Results[1].Passed);
        Assert.Equal(2, e.Failed.WorstInputIndex);            // |2x·y − x·y| is largest at x = 2, y = 3
        Assert.Equal(12, e.Failed.Numerical, 6);
        Assert.Equal(6, e.Failed.Analytical, 12);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Pow_WithExponentZero_HasZeroGradient_EvenAtZero(string device)
    {
        // PyTorch: d/dx x⁰ = 0 everywhere (not 0 · x⁻¹, which is NaN at 0).
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new double[] { 0, 2, -1 }, device: dev, requiresGrad: true);
        var y = x.Pow(0);
        Assert.Equal(new double[] { 1, 1, 1 }, y.ToArray<double>());
        y.Sum().Backward();
        Assert.Equal(new double[] { 0, 0, 0 }, Grad(x));
    }

    // ---- kink conventions (PyTorch's) ----

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void KinkConventions_ReluAbsSignClamp_MatchPyTorch(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        double[] v = [-1, 0, 2, -2, 1, 0.5];
        var x = Tensor.FromArray(v, device: dev, requiresGrad: true);
        x.Relu().Sum().Backward();
        Assert.Equal(new double[] { 0, 0, 1, 0, 1, 1 }, Grad(x));       // Relu'(0) = 0
        x.ZeroGrad();
        x.Abs().Sum().Backward();
        Assert.Equal(new double[] { -1, 0, 1, -1, 1, 1 }, Grad(x));     // Abs'(0) = 0
        x.ZeroGrad();
        x.Sign().Sum().Backward();
        Assert.Equal(new double[] { 0, 0, 0, 0, 0, 0 }, Grad(x));       // Sign' = 0
        x.ZeroGrad();
        x.Clamp(-1, 1).Sum().Backward();
        Assert.Equal(new double[] { 1, 1, 0, 0, 1, 1 }, Grad(x));       // gradient passes at the bounds
        x.ZeroGrad();
        x.Clamp(min: 0).Sum().Backward();
        Assert.Equal(new double[] { 0, 1, 1, 0, 1, 1 }, Grad(x));
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void KinkConventions_MaxMinAlongDim_GiveTheGradientToTheFirstExtreme(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new double[,] { { 1, 3, 3 }, { 2, 2, 0 } }, dev, requiresGrad: true);
        x.Max(1).Sum().Backward();
        Assert.Equal(new double[] { 0, 1, 0, 1, 0, 0 }, Grad(x));
        x.ZeroGrad();
        x.Min(0, keepDim: true).Sum().Backward();
        Assert.Equal(new double[] { 1, 0, 0, 0, 1, 1 }, Grad(x));
        x.ZeroGrad();
        var y = Tensor.FromArray(new double[,] { { 5, 5 }, { 5, 5 } }, dev, requiresGrad: true);
        y.Min(-1).Sum().Backward();
        Assert.Equal(new double[] { 1, 0, 1, 0 }, Grad(y));
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void KinkConventions_FullMaxAndMin_SplitTheGradientEvenlyAmongTies(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new double[] { 1, 3, 3, 0, 3, 0 }, device: dev, requiresGrad: true);
        x.Max().Backward();
        Host.AssertClose(new Ref([6], [0, 1.0 / 3, 1.0 / 3, 0, 1.0 / 3, 0]), x.Grad!, "Max() ties", DType.Float64, 1e-15, 0);
        x.ZeroGrad();
        (x.Min() * 4).Backward();
        Assert.Equal(new double[] { 0, 0, 0, 2, 0, 2 }, Grad(x));
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void KinkConventions_MaximumMinimumTies_SplitTheGradientInHalf(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var a = Tensor.FromArray(new double[] { 1, 2, 3 }, device: dev, requiresGrad: true);
        var b = Tensor.FromArray(new double[] { 1, 0, 4 }, device: dev, requiresGrad: true);
        Tensor.Maximum(a, b).Sum().Backward();
        Assert.Equal(new double[] { 0.5, 1, 0 }, Grad(a));
        Assert.Equal(new double[] { 0.5, 0, 1 }, Grad(b));
        a.ZeroGrad();
        b.ZeroGrad();
        Tensor.Minimum(a, b).Sum().Backward();
        Assert.Equal(new double[] { 0.5, 0, 1 }, Grad(a));
        Assert.Equal(new double[] { 0.5, 1, 0 }, Grad(b));
        a.ZeroGrad();
        var s = Tensor.Scalar(2, DType.Float64, dev, requiresGrad: true);
        Tensor.Maximum(a, s).Sum().Backward();                              // broadcast scalar ties with a[1]
        Assert.Equal(new double[] { 0, 0.5, 1 }, Grad(a));
        Assert.Equal(1.5, s.Grad!.Item<double>());
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void SoftmaxGradient_OfASumIsZero_AndLeavesGradientsOnlyWhereRequired(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new double[,] { { 1, 2, 3 }, { -1, 0, 4 } }, dev, requiresGrad: true);
        var c = Tensor.FromArray(new double[] { 1, 1, 1 }, device: dev);
        (x.Softmax(1) * c).Sum().Backward();
        Assert.All(Grad(x), v => Assert.True(Math.Abs(v) < 1e-15, $"{v}"));
        Assert.Null(c.Grad);
        Assert.False(c.RequiresGrad);
    }
}
