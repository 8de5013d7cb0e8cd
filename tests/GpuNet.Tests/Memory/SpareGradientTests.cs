using GpuNet.Kernels;

namespace GpuNet.Tests.Memory;

/// <summary>
/// A VJP may write into its incoming gradient when the engine marks it spare (freed right after, read by
/// nobody else): the fused Linear writes dz there. Spare only when no captured gradient, recorded backward,
/// alias or view could see the write; the gradients are bit for bit the ones computed out of place.
/// </summary>
[Collection("PoolCounters")]
public sealed class SpareGradientTests
{
    public static TheoryData<string> Devices => ["cpu", "ilgpu-cpu"];

    /// <summary>A custom function that reports whether its incoming gradient was spare.</summary>
    private sealed class Probe : Autograd.Function
    {
        public readonly List<bool> Spare = [];

        protected override Tensor Forward(Autograd.FunctionContext ctx, Tensor[] inputs) => inputs[0] * 1f;

        protected override Tensor?[] Backward(Autograd.FunctionContext ctx, Tensor gradOutput)
        {
            Spare.Add(gradOutput.IsSpareGradient);
            return [gradOutput * 1f];
        }
    }

    [Fact]
    public void TheEngineMarksAGradientSpare_OnlyWhenNothingElseCanReadIt()
    {
        using var scope = Tensor.NewScope();
        var x = Tensor.Randn([4, 3], seed: 1, requiresGrad: true);
        var w = Tensor.Randn([4, 3], seed: 2);

        var probe = new Probe();
        (probe.Apply(x) * w).Sum().Backward();                                   // g = w ⊙ 1: dense, the engine's alone
        Assert.Equal([true], probe.Spare);

        probe = new Probe();
        var y = probe.Apply(x);
        Autograd.Grad([(y * w).Sum()], [x, y]);                                  // y's gradient is returned to the caller
        Assert.Equal([false], probe.Spare);

        probe = new Probe();
        Autograd.Grad([(probe.Apply(x) * w).Sum()], [x], createGraph: true);     // the backward is itself recorded
        Assert.Equal([false], probe.Spare);

        probe = new Probe();
        probe.Apply(x).Sum().Backward();                                         // Sum's VJP hands on a broadcast view, not dense memory
        Assert.Equal([false], probe.Spare);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void AFusedLayerWritingIntoItsSpareGradient_GivesTheOutOfPlaceGradientsBitForBit(string device)
    {
        var dev = Device.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.Randn([33, 20], seed: 3, device: dev);
        var w1 = Tensor.Randn([40, 20], seed: 4, device: dev, requiresGrad: true);
        var b1 = Tensor.Randn([40], seed: 5, device: dev, requiresGrad: true);
        var w2 = Tensor.Randn([7, 40], seed: 6, device: dev, requiresGrad: true);
        foreach (var act in new[] { Activation.Relu, Activation.Tanh, Activation.Gelu })
        {
            Tensor Loss(out Tensor hidden)
            {
                hidden = Functional.Linear(x, w1, b1, act);
                return (Functional.Linear(hidden, w2) * Tensor.Randn([33, 7], seed: 7, device: dev)).Sum();
            }

            // Spare: the hidden layer's incoming gradient (dL/dhidden = g·W2) is the engine's alone.
            Loss(out _).Backward();
            var spareW1 = w1.Grad!.ToArray<float>();
            var spareB1 = b1.Grad!.ToArray<float>();
            w1.ZeroGrad();
            b1.ZeroGrad();
            w2.ZeroGrad();
            // Not spare: the same gradient is also returned to the caller, so the layer writes dz elsewhere.
            var loss = Loss(out var h);
            var grads = Autograd.Grad([loss], [w1, b1, h]);
            Assert.Equal(spareW1, grads[0]!.ToArray<float>());
            Assert.Equal(spareB1, grads[1]!.ToArray<float>());
            // …and the caller's dL/dhidden is untouched by the layer's VJP: g·W2, not dz.
            using (Autograd.NoGrad())
            {
                var expected = (Tensor.Randn([33, 7], seed: 7, device: dev)).MatMul(w2);
                Assert.Equal(expected.ToArray<float>(), grads[2]!.ToArray<float>());
            }
        }
    }

    [Fact]
    public void TheBackwardOfAWideFusedLayer_HoldsOneGradientLessAtItsPeak()
    {
        var pool = Device.Cpu.Backend.Pool;
        using var scope = Tensor.NewScope();
        const int rows = 256, wide = 1024; // a [256, 1024] float gradient is 1 MiB, its own pool class
        var x = Tensor.Randn([rows, 32], seed: 1);
        var w1 = Tensor.Randn([wide, 32], seed: 2, requiresGrad: true);
        var w2 = Tensor.Randn([4, wide], seed: 3, requiresGrad: true);
        var seed = Tensor.Randn([rows, 4], seed: 4);
        var loss = (Functional.Linear(Functional.Linear(x, w1, null, Activation.Relu), w2) * seed).Sum();
        PoolTestUtil.Settle(pool);
        long before = pool.LiveBytes;
        pool.ResetPeak();
        loss.Backward();
        // While the hidden layer's VJP runs, its incoming gradient (1 MiB) is live, plus dW1 (128 KiB), dW2
        // (16 KiB) and small ones. Written out of place, dz would add another MiB.
        long extra = pool.PeakLiveBytes - before;
        Assert.InRange(extra, 1L << 20, (3L << 20) / 2);
    }
}
