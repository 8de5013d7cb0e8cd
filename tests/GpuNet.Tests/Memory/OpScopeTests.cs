namespace GpuNet.Tests.Memory;

/// <summary>
/// Ops composed of other ops, and VJPs, run in a scope of their own: their intermediates go back to the
/// pool when they return, while the result and what its graph saved for backward survive.
/// </summary>
[Collection("PoolCounters")]
public sealed class OpScopeTests
{
    private static readonly Device Cpu = Device.Cpu;

    private static long Live() => PoolTestUtil.LiveAfterSettling(Cpu.Pool);

    public static TheoryData<string> Composites => ["Mean", "MeanDims", "VectorDot", "VectorMatrix", "MatrixVector", "Select", "IntDiv", "ScalarOverInt", "Gt", "OneHot", "IndexSelect", "Where", "MixedAdd", "ReshapeCopy", "SumDims", "ToArray"];

    private static Tensor Run(string op, Tensor x, Tensor v, Tensor ints) => op switch
    {
        "Mean" => x.Mean(),
        "MeanDims" => x.Mean([0, 1]),
        "VectorDot" => v.MatMul(v),
        "VectorMatrix" => v.MatMul(x.T),
        "MatrixVector" => x.MatMul(v),
        "Select" => x.Select(0, -1),
        "IntDiv" => ints / 2.0,
        "ScalarOverInt" => 2.0 / ints,
        "Gt" => x.Gt(0.25),
        "OneHot" => Tensor.OneHot(ints, 7),
        "IndexSelect" => x.IndexSelect(1, ints.Narrow(0, 0, 3)),
        "Where" => Tensor.Where(ints.Narrow(0, 0, 1), x, 1.0),
        "MixedAdd" => x + ints.Narrow(0, 0, 1),
        "ReshapeCopy" => x.T.Reshape([-1]),
        "SumDims" => x.Sum([0, 1], keepDim: true),
        "ToArray" => Tensor.FromArray(ints.ToArray(), device: Cpu),
        _ => throw new ArgumentException(op),
    };

    [Theory]
    [MemberData(nameof(Composites))]
    public void CompositeOps_FreeTheirIntermediatesAsTheyReturn(string op)
    {
        using var x = Tensor.Randn([5, 7], seed: 1, device: Cpu, requiresGrad: true);
        using var v = Tensor.Randn([7], seed: 2, device: Cpu, requiresGrad: true);
        using var ints = Tensor.FromArray(new[] { 0, 3, 6, 2, 4 }, device: Cpu);
        void Once()
        {
            // Every tensor this makes is an intermediate of an op (freed by its op scope), the result, or
            // the loss, disposed here; backward frees the graph (and what it saved). The test's own
            // Narrow and T are views, which own no buffers.
            using var y = Run(op, x, v, ints);
            if (!y.RequiresGrad) return;
            using var loss = y.Sum();
            loss.Backward();
        }
        Once(); // warm the pool's size classes, and allocate the gradients
        // The baseline is taken once garbage other tests left is finalized, so that no finalizer returns a
        // buffer of theirs while this test counts (that read 1,024 bytes short once in CI).
        long before = Live();
        for (int i = 0; i < 5; i++) Once();
        Assert.Equal(before, Cpu.Pool.LiveBytes); // no GC: the memory came back deterministically
    }

    [Fact]
    public void ACompositeResult_KeepsWhatItsGraphSaved_AcrossTheOpScope()
    {
        // v·(w ⊙ w) is a 1-D MatMul: it runs as [1,n]x[n,1] inside an op scope, and the Mul and MatMul
        // nodes recorded there saved tensors that must outlive that scope for the backward below.
        using var w = Tensor.FromArray(new double[] { 1, 2, 3 }, device: Cpu, requiresGrad: true);
        using var v = Tensor.FromArray(new double[] { 4, 5, 6 }, device: Cpu, requiresGrad: true);
        using (Tensor.NewScope())
        {
            var y = v.MatMul(w * w).Mean();
            y.Backward();
        }
        // ∂/∂w Σ vᵢwᵢ² = 2vᵢwᵢ; ∂/∂v = wᵢ².
        Assert.Equal(new double[] { 8, 20, 36 }, w.Grad!.ToArray<double>());
        Assert.Equal(new double[] { 1, 4, 9 }, v.Grad!.ToArray<double>());
    }

    [Fact]
    public void CreateGraphBackward_LeavesNothingBehind_AndSecondOrderStillWorks()
    {
        using var x = Tensor.FromArray(new double[] { 0.5, -1, 2 }, device: Cpu, requiresGrad: true);
        double[]? second = null;
        void Step()
        {
            // f = Σ softmax(x)·x³: its VJPs make several temporaries (Softmax's, Pow's, Mul's).
            using var f = (x.Softmax(0) * x.Pow(3)).Sum();
            using var g = Autograd.Grad(f, x, createGraph: true);
            using var gs = g.Sum();
            using var h = Autograd.Grad(gs, x);
            second = h.ToArray<double>();
        }
        Step();
        long before = Live();
        for (int i = 0; i < 5; i++) Step();
        // createGraph retains the first graph (as PyTorch does), so it goes when the finalizers run.
        Assert.Equal(before, Live());
        // The second-order result against central differences of the first-order gradient's sum.
        double[] Grad1Sum(double[] at)
        {
            using var p = Tensor.FromArray(at, device: Cpu, requiresGrad: true);
            using var f = (p.Softmax(0) * p.Pow(3)).Sum();
            using var g = Autograd.Grad(f, p);
            return [g.ToArray<double>().Sum()];
        }
        double[] xs = [0.5, -1, 2];
        for (int i = 0; i < 3; i++)
        {
            const double eps = 1e-6;
            var up = (double[])xs.Clone(); up[i] += eps;
            var down = (double[])xs.Clone(); down[i] -= eps;
            double fd = (Grad1Sum(up)[0] - Grad1Sum(down)[0]) / (2 * eps);
            Assert.Equal(fd, second![i], 5);
        }
    }
}
