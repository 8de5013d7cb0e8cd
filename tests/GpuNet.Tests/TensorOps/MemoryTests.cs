using GpuNet.Kernels;

namespace GpuNet.Tests.TensorOps;

/// <summary>Tests that read the CPU pool's counters run alone, so no other test allocates meanwhile.</summary>
[CollectionDefinition("Memory", DisableParallelization = true)]
public sealed class MemoryCollection;

/// <summary>Device memory is returned deterministically: scopes, views, backward, a training loop.</summary>
[Collection("Memory")]
public sealed class MemoryTests
{
    private static Device Cpu => Device.Get("cpu");

    /// <summary>Live bytes after every earlier test's garbage has been finalized and returned.</summary>
    private static long Baseline() => PoolTestUtil.LiveAfterSettling(Cpu.Pool);

    private static long Bytes(Tensor t) => MemoryPool.SizeClass(Math.Max(t.NumElements, 1) * t.DType.SizeOf());

    [Fact]
    public void TensorScope_DisposesWhatWasCreatedInside_ExceptWhatMovesOut()
    {
        long baseline = Baseline();
        Tensor kept, inner;
        using (var scope = Tensor.NewScope())
        {
            var a = Tensor.Randn([32, 16], seed: 1, device: Cpu);
            var b = Tensor.Ones([16, 8], device: Cpu);
            inner = a.MatMul(b).Relu();
            var t = inner.T;
            kept = (t * 2).Sum(0).MoveToOuterScope();
            Assert.True(scope.Count >= 5);
            Assert.True(Cpu.Pool.LiveBytes > baseline);
        }
        Assert.True(inner.IsDisposed);
        Assert.False(kept.IsDisposed);
        Assert.Equal(baseline + Bytes(kept), Cpu.Pool.LiveBytes);
        Assert.Equal(32, kept.NumElements);
        kept.Dispose();
        Assert.Equal(baseline, Cpu.Pool.LiveBytes);
    }

    [Fact]
    public void NestedScopes_MoveToOuterScope_SurvivesOnlyTheInnerOne()
    {
        long baseline = Baseline();
        Tensor moved;
        using (Tensor.NewScope())
        {
            using (Tensor.NewScope())
            {
                moved = Tensor.Ones([100], device: Cpu).MoveToOuterScope();
                Tensor.Zeros([100], device: Cpu);
            }
            Assert.False(moved.IsDisposed);
            Assert.Equal(baseline + Bytes(moved), Cpu.Pool.LiveBytes);
        }
        Assert.True(moved.IsDisposed);
        Assert.Equal(baseline, Cpu.Pool.LiveBytes);
    }

    [Fact]
    public void Views_KeepStorageAlive_AfterTheBaseIsDisposed()
    {
        long baseline = Baseline();
        var x = Tensor.FromArray(new float[] { 0, 1, 2, 3, 4, 5 }, [2, 3], Cpu);
        var t = x.T;
        var v = t.Narrow(0, 1, 2);
        Assert.Equal(baseline + 256, Cpu.Pool.LiveBytes);
        x.Dispose();
        t.Dispose();
        Assert.Equal(baseline + 256, Cpu.Pool.LiveBytes);
        Assert.Equal(new float[] { 1, 4, 2, 5 }, v.ToArray());
        v.Dispose();
        Assert.Equal(baseline, Cpu.Pool.LiveBytes);
    }

    [Fact]
    public void Views_ReleaseStorage_WhenTheLastOneIsDisposed()
    {
        long baseline = Baseline();
        var x = Tensor.FromArray(new float[] { 0, 1, 2, 3, 4, 5 }, [2, 3], Cpu);
        var t = x.T;
        var r = x.Reshape(3, 2);
        x.Dispose();
        Assert.Equal(new float[] { 0, 3, 1, 4, 2, 5 }, t.ToArray());
        t.Dispose();
        Assert.Equal(baseline + 256, Cpu.Pool.LiveBytes);
        Assert.Equal(new float[] { 0, 1, 2, 3, 4, 5 }, r.ToArray());
        r.Dispose();
        Assert.Equal(baseline, Cpu.Pool.LiveBytes);
    }

    [Fact]
    public void BackwardInsideAScope_LeavesOnlyTheLeavesGrads_WhenTheScopeEnds()
    {
        long baseline = Baseline();
        var w = Tensor.Randn([8, 4], seed: 2, requiresGrad: true, device: Cpu);
        var b = Tensor.Zeros([4], requiresGrad: true, device: Cpu);
        long withLeaves = Cpu.Pool.LiveBytes;
        using (Tensor.NewScope())
        {
            var x = Tensor.Randn([16, 8], seed: 3, device: Cpu);
            var h = (x.MatMul(w) + b).Tanh();
            var loss = (h * h).Mean() + h.Softmax(1).Max();
            loss.Backward();
        }
        Assert.NotNull(w.Grad);
        Assert.NotNull(b.Grad);
        Assert.Equal(withLeaves + Bytes(w.Grad!) + Bytes(b.Grad!), Cpu.Pool.LiveBytes);
        w.Dispose();
        b.Dispose();
        Assert.Equal(baseline, Cpu.Pool.LiveBytes);
    }

    [Fact]
    public void AutogradGrad_InsideAScope_ReturnsEverythingWhenTheScopeEnds()
    {
        var x = Tensor.Randn([5, 3], seed: 4, dtype: DType.Float64, requiresGrad: true, device: Cpu);
        long withLeaf = Baseline();
        using (Tensor.NewScope())
        {
            var y = (x.Sin() * x).Exp().Sum();
            var g = Autograd.Grad(y, x);
            Assert.Equal(new[] { 5, 3 }, g.Shape);
        }
        Assert.Null(x.Grad);
        Assert.Equal(withLeaf, Cpu.Pool.LiveBytes);
        x.Dispose();
    }

    [Fact]
    public void ForwardWithoutBackward_InsideAScope_ReturnsEverythingWhenTheScopeEnds()
    {
        // An evaluation pass that forgot NoGrad: the graph is never backwarded, yet the step's
        // memory must come back when its scope ends, not when the GC finalizes the saved tensors.
        var w = Tensor.Randn([8, 4], seed: 5, requiresGrad: true, device: Cpu);
        long withLeaf = Baseline();
        using (Tensor.NewScope())
        {
            var x = Tensor.Randn([16, 8], seed: 6, device: Cpu);
            var loss = x.MatMul(w).Tanh().Exp().Sum();
            Assert.True(loss.RequiresGrad);
        }
        Assert.Equal(withLeaf, Cpu.Pool.LiveBytes);
        w.Dispose();
    }

    [Fact]
    public void TrainingLoop_OfFiveHundredSteps_KeepsLiveBytesFlat_AndStopsAllocating()
    {
        var w1 = Tensor.Randn([6, 16], seed: 10, std: 0.5, requiresGrad: true, device: Cpu);
        var b1 = Tensor.Zeros([16], requiresGrad: true, device: Cpu);
        var w2 = Tensor.Randn([16, 3], seed: 11, std: 0.5, requiresGrad: true, device: Cpu);
        var x = Tensor.Randn([32, 6], seed: 12, device: Cpu);
        var labels = Tensor.FromArray(Enumerable.Range(0, 32).Select(i => i % 3).ToArray(), device: Cpu);
        var target = Tensor.OneHot(labels, 3);
        Tensor[] parameters = [w1, b1, w2];

        long afterFirst = 0, allocationsAt10 = 0;
        float firstLoss = 0, lastLoss = 0;
        for (int step = 0; step < 500; step++)
        {
            using (Tensor.NewScope())
            {
                var h = (x.MatMul(w1) + b1).Relu();
                var logp = h.MatMul(w2).LogSoftmax(1);
                var loss = -(logp * target).Sum(1).Mean();
                loss.Backward();
                using (Autograd.NoGrad())
                    foreach (var p in parameters)
                    {
                        p.AddInPlace(p.Grad!, -0.1);
                        p.ZeroGrad();
                    }
                if (step == 0) firstLoss = loss.Item();
                lastLoss = loss.Item();
            }
            if (step == 0) afterFirst = Cpu.Pool.LiveBytes;
            if (step == 10) allocationsAt10 = Cpu.Pool.Allocations;
            Assert.Equal(afterFirst, Cpu.Pool.LiveBytes);
        }
        Assert.Equal(allocationsAt10, Cpu.Pool.Allocations);
        Assert.True(lastLoss < firstLoss, $"loss went from {firstLoss} to {lastLoss}");
        foreach (var t in new[] { w1, b1, w2, x, labels, target }) t.Dispose();
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void LeakedTensors_ReturnedByTheFinalizer_NeverCorruptLaterTensors(string device)
    {
        // "A leak costs memory for a while but never correctness": buffers the GC finalizes go back
        // to the pool and must still be usable when the pool hands them out again.
        var dev = Devices.Get(device);
        LeakSome(dev);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        for (int i = 0; i < 20; i++)
        {
            using var t = Tensor.FromArray(new float[] { 1, 2, 3 }, [3], dev);
            using var y = t * 2;
            Assert.Equal(new float[] { 2, 4, 6 }, y.ToArray());
        }
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void SameKernel_LaunchedFromManyThreadsAtOnce_KeepsEachLaunchsArguments(string device)
    {
        // One device serves every thread (test runners, Parallel.For): two threads launching the same
        // kernel must not mix their arguments. OpenCL sets a kernel's arguments on the shared kernel
        // object before enqueueing it, so unserialised launches once ran with another thread's buffers.
        var dev = Devices.Get(device);
        int threads = 8, rounds = dev.Kind == DeviceKind.IlgpuCpu ? 10 : 60;
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            for (int r = 0; r < rounds; r++)
            {
                float v = t * 1000 + r;
                using var a = Tensor.Full([257], v, device: dev);
                using var b = Tensor.Full([257], 0.5, device: dev);
                using var y = a + b;
                var got = y.ToArray();
                if (got.Any(g => g != v + 0.5f)) failures.Add($"thread {t} round {r}: expected {v + 0.5f}, got {got.First(g => g != v + 0.5f)}");
            }
        });
        Assert.True(failures.IsEmpty, string.Join("; ", failures.Take(5)));
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void LeakSome(Device dev)
    {
        for (int i = 0; i < 10; i++) Tensor.FromArray(new float[] { 1, 2, 3 }, [3], dev);
    }
}
