using GpuNet.Nn;

namespace GpuNet.Tests.Memory;

/// <summary>The composed optimizer steps (AMSGrad, Adagrad, NAdam, RAdam) and ClipGradValue free every temporary: memory stays flat over steps.</summary>
[Collection("PoolCounters")]
public sealed class OptimizerMemoryTests
{
    private static readonly Device Cpu = Device.Cpu;

    private static long Live()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Cpu.Pool.DrainFinalized();
        return Cpu.Pool.LiveBytes;
    }

    [Fact]
    public void Composed_steps_keep_memory_flat()
    {
        foreach (var make in new Func<IEnumerable<Parameter>, Optimizer>[]
        {
            ps => new Adam(ps, 1e-2, weightDecay: 0.1, amsgrad: true),
            ps => new AdamW(ps, 1e-2, amsgrad: true),
            ps => new Adagrad(ps, 1e-2, weightDecay: 0.1),
            ps => new NAdam(ps, 1e-2, weightDecay: 0.1),
            ps => new RAdam(ps, 1e-2, weightDecay: 0.1, decoupledWeightDecay: true),
        })
        {
            using var model = new Mlp([4, 16, 3], seed: 1, device: Cpu);
            using var opt = make(model.Parameters());
            using var x = Tensor.Randn([8, 4], seed: 2, device: Cpu);
            using var y = Tensor.FromArray(new[] { 0, 1, 2, 0, 1, 2, 0, 1 }, device: Cpu);
            var loss = new CrossEntropyLoss();
            long after3 = 0;
            for (int step = 1; step <= 30; step++)
            {
                using (Tensor.NewScope())
                {
                    opt.ZeroGrad();
                    loss.Forward(model.Forward(x), y).Backward();
                    GradClip.ClipGradValue(model.Parameters(), 0.5);
                    opt.Step();
                    opt.ZeroGrad();
                }
                if (step == 3) after3 = Live();
            }
            Assert.Equal(after3, Live());
        }
    }
}
