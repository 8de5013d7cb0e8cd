namespace GpuNet.Tests.Memory;

[CollectionDefinition("PoolCounters", DisableParallelization = true)]
public sealed class PoolCountersCollection;

/// <summary>How scopes and the autograd graph share ownership of memory.</summary>
[Collection("PoolCounters")]
public sealed class ScopeGraphTests
{
    private static readonly Device Cpu = Device.Cpu;

    private static long Live() => PoolTestUtil.LiveAfterSettling(Cpu.Pool);

    [Fact]
    public void GraphNeverBackwarded_IsFreedWhenItsScopeEnds()
    {
        using var w = Tensor.Randn([64, 64], seed: 1, device: Cpu, requiresGrad: true);
        long before = Live();
        for (int i = 0; i < 20; i++)
        {
            using var scope = Tensor.NewScope();
            using var x = Tensor.Randn([32, 64], seed: i, device: Cpu);
            var y = x.MatMul(w).Tanh().Sigmoid().Sum(); // saves x, w, tanh and sigmoid outputs; never backwarded
            Assert.True(y.RequiresGrad);
        }
        Assert.Equal(before, Cpu.Pool.LiveBytes); // no GC needed: the scope freed the saved tensors
    }

    [Fact]
    public void MoveToOuterScope_CarriesTheGraph_SoBackwardStillWorks()
    {
        using var w = Tensor.FromArray(new double[] { 1, 2, 3 }, device: Cpu, requiresGrad: true);
        Tensor loss;
        using (var inner = Tensor.NewScope())
        {
            var h = (w * w).Exp(); // Exp saves its output, Mul saves its inputs — all created in the inner scope
            loss = h.Sum().MoveToOuterScope();
        }
        loss.Backward();
        var g = w.Grad!.ToArray<double>();
        for (int i = 0; i < 3; i++) Assert.Equal(2 * (i + 1) * Math.Exp((i + 1) * (i + 1)), g[i], 9);
        loss.Dispose();
    }

    [Fact]
    public void BackwardAfterTheScopeEnded_IsAClearUseAfterDisposeError()
    {
        using var w = Tensor.FromArray(new double[] { 1, 2 }, device: Cpu, requiresGrad: true);
        Tensor loss;
        using (Tensor.NewScope())
        {
            loss = (w.Exp() * 2.0).Sum();
            loss.DetachFromScope();
            (w * 0.0).Sum(); // something else in the scope, disposed with it
        }
        // DetachFromScope took the graph along, so this works too.
        loss.Backward();
        Assert.Equal(2 * Math.E, w.Grad!.ToArray<double>()[0], 9);
        loss.Dispose();

        Tensor orphan;
        using (Tensor.NewScope()) orphan = w.Exp().Sum(); // the result itself was disposed by the scope
        var e = Assert.Throws<ObjectDisposedException>(() => orphan.Backward());
        Assert.Contains("Backward", e.Message);
    }

    [Fact]
    public void TrainingStepInAScope_LeavesOnlyTheGradients()
    {
        using var w = Tensor.Randn([16, 8], seed: 3, device: Cpu, requiresGrad: true);
        using var x = Tensor.Randn([4, 16], seed: 4, device: Cpu);
        long before = Live();
        using (Tensor.NewScope())
        {
            var loss = x.MatMul(w).Relu().Pow(2).Mean();
            loss.Backward();
        }
        long gradBytes = Kernels.MemoryPool.SizeClass(16 * 8 * sizeof(float));
        Assert.Equal(before + gradBytes, Cpu.Pool.LiveBytes);
        w.ZeroGrad();
        Assert.Equal(before, Cpu.Pool.LiveBytes);
    }
}
