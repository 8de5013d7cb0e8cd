using GpuNet.Nn;

namespace GpuNet.Tests.Readme;

/// <summary>
/// What the README's Memory section says happens with and without a <see cref="TensorScope"/>, measured on the
/// README's training step. Runs alone: it reads the CPU pool's process-wide counters.
/// </summary>
[Collection("Nn serial")]
public sealed class ReadmeMemoryTests(ITestOutputHelper output)
{
    private const int Steps = 20;

    private static void Settle(Kernels.MemoryPool pool) => PoolTestUtil.Settle(pool);

    [Fact]
    public void WithAScope_EveryStepEndsWhereItStarted_WithoutOne_StepsPileUpUntilTheGcFinalizesThem()
    {
        var pool = Device.Cpu.Pool;
        using var data = SyntheticData.Spirals(trainPerClass: 200, testPerClass: 100, seed: 0, device: Device.Cpu);
        using var model = new Mlp([2, 64, 64, 3], activation: Kernels.Activation.Relu, seed: 0, device: Device.Cpu);
        var lossFn = new CrossEntropyLoss();
        using var opt = new Adam(model.Parameters(), lr: 1e-2);
        var loader = new DataLoader(data.Train, batchSize: 64, shuffle: true, seed: 0);
        // Copies: the loader frees each batch when the next is asked for.
        var batches = loader.Batches(0).Concat(loader.Batches(1)).Take(Steps).Select(b => (b.X.Clone().DetachFromScope(), b.Y.Clone().DetachFromScope())).ToList();
        Assert.Equal(Steps, batches.Count);

        void Step(Tensor x, Tensor y)
        {
            var loss = lossFn.Forward(model.Forward(x), y);
            opt.ZeroGrad();
            loss.Backward();
            opt.Step();
        }

        // Warm up (Adam's state and the gradients exist from the first step on, outside every scope).
        using (Tensor.NewScope()) Step(batches[0].Item1, batches[0].Item2);
        Settle(pool);
        long baseline = pool.LiveBytes;

        // With a scope: each step's activations and temporaries are freed when the step ends.
        foreach (var (x, y) in batches)
        {
            using (Tensor.NewScope()) Step(x, y);
            Assert.Equal(baseline, pool.LiveBytes);
        }

        // Without one (and no Dispose): the loss, the logits and whatever else a step made and the graph did not
        // save stay allocated; with the GC held off, they add up step after step…
        Assert.True(GC.TryStartNoGCRegion(64L << 20), "could not hold the GC off");
        long grown;
        try
        {
            foreach (var (x, y) in batches) Step(x, y);
            grown = pool.LiveBytes - baseline;
        }
        finally
        {
            if (System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
        }
        // …until the GC finds them unreachable and their finalizers hand the memory back.
        Settle(pool);
        long afterGc = pool.LiveBytes - baseline;
        output.WriteLine($"live bytes above the model, its gradients and Adam's state: 0 after each of {Steps} steps in a scope; " +
            $"{grown:N0} after {Steps} steps without one ({grown / Steps:N0} a step); {afterGc:N0} after a GC");
        // At least each step's logits [64, 3] (the graph itself frees what it saved once backward has run).
        Assert.True(grown >= Steps * 64 * 3 * sizeof(float), $"{Steps} unscoped steps left only {grown:N0} bytes live");
        Assert.Equal(0, afterGc);
        foreach (var (x, y) in batches)
        {
            x.Dispose();
            y.Dispose();
        }
    }
}
