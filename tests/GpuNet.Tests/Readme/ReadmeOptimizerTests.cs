using GpuNet.Nn;

namespace GpuNet.Tests.Readme;

/// <summary>The README's parameter-group and warm-up snippet, verbatim, run on a small model.</summary>
public sealed class ReadmeOptimizerTests
{
    [Fact]
    public void ReadmeParamGroups_NoDecayOnBiases_WarmUpThenCosine()
    {
        using var model = new Mlp([2, 8, 3], seed: 0);
        // --- README: optimizers and schedules ---
        var weights = model.NamedParameters().Where(p => p.Name.EndsWith("weight")).Select(p => p.Parameter);
        var biases = model.NamedParameters().Where(p => p.Name.EndsWith("bias")).Select(p => p.Parameter);
        var opt = new AdamW(weights, lr: 1e-3, weightDecay: 1e-2, amsgrad: true);
        opt.AddParamGroup(new ParamGroup(biases, weightDecay: 0));
        var sched = new SequentialLR(opt, [new LinearLR(opt, totalIters: 5), new CosineAnnealingLR(opt, tMax: 45)], [5]);
        // --- end ---
        using (opt)
        {
            Assert.Equal(["0.weight", "2.weight"], model.NamedParameters().Where(p => opt.ParamGroups[0].Parameters.Contains(p.Parameter)).Select(p => p.Name));
            Assert.Equal(0, opt.ParamGroups[1].WeightDecay);
            Assert.All(opt.ParamGroups, g => Assert.Equal(1e-3 / 3, g.LearningRate, 1e-15));
            for (int e = 0; e < 5; e++) sched.Step();
            Assert.All(opt.ParamGroups, g => Assert.Equal(1e-3, g.LearningRate, 1e-15));
        }
    }
}
