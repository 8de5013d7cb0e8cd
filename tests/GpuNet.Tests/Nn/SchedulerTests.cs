using GpuNet.Nn;
using Xunit;
using static GpuNet.Tests.Nn.NnTestUtil;

namespace GpuNet.Tests.Nn;

/// <summary>Each schedule's learning rates against the sequence its formula gives (PyTorch's definitions, written out in each test).</summary>
public class SchedulerTests
{
    /// <summary>The rate at epoch 0 (right after construction) and after each of <paramref name="epochs"/> steps.</summary>
    private static double[] Rates(Optimizer opt, LRScheduler s, int epochs)
    {
        var lrs = new List<double> { opt.LearningRate };
        for (int e = 0; e < epochs; e++)
        {
            s.Step();
            lrs.Add(opt.LearningRate);
        }
        return [.. lrs];
    }

    [Fact]
    public void LinearLR_warms_up_from_a_third_over_five_epochs_by_default()
    {
        using var p = P([1], 1);
        using var opt = new SGD([p], lr: 0.3);
        var s = new LinearLR(opt);
        // lr = base·(1/3 + (1 − 1/3)·min(e, 5)/5): 0.1 at once, 0.3 from epoch 5.
        var want = Enumerable.Range(0, 8).Select(e => 0.3 * (1.0 / 3 + 2.0 / 3 * Math.Min(e, 5) / 5)).ToArray();
        Near(want, Rates(opt, s, 7), 1e-15);
        Near(0.1, want[0], 1e-15);
        using var opt2 = new SGD([p], lr: 1);
        Near([1, 0.75, 0.5, 0.5], Rates(opt2, new LinearLR(opt2, startFactor: 1, endFactor: 0.5, totalIters: 2), 3), 1e-15);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LinearLR(opt2, startFactor: 0));
    }

    [Fact]
    public void ExponentialLR_and_MultiStepLR_follow_their_closed_forms()
    {
        using var p = P([1], 1);
        using var opt = new SGD([p], lr: 2);
        Near(Enumerable.Range(0, 6).Select(e => 2 * Math.Pow(0.8, e)).ToArray(), Rates(opt, new ExponentialLR(opt, 0.8), 5), 1e-15);
        using var opt2 = new SGD([p], lr: 1);
        // lr = base·γ^(milestones ≤ epoch); a milestone listed twice counts twice.
        Near([1, 1, 0.1, 0.1, 0.1, 0.001, 0.001], Rates(opt2, new MultiStepLR(opt2, [5, 2, 5]), 6), 1e-15);
    }

    [Fact]
    public void LambdaLR_multiplies_each_group_by_its_function()
    {
        using var a = P([1], 1);
        using var b = P([1], 1);
        using var opt = new SGD([a], lr: 1);
        opt.AddParamGroup(new ParamGroup([b], lr: 0.5));
        var s = new LambdaLR(opt, [e => 1.0 / (e + 1), e => Math.Pow(0.5, e)]);
        for (int e = 0; e <= 4; e++)
        {
            Near(1.0 / (e + 1), opt.ParamGroups[0].LearningRate, 1e-15);
            Near(0.5 * Math.Pow(0.5, e), opt.ParamGroups[1].LearningRate, 1e-15);
            s.Step();
        }
        Assert.Throws<ArgumentException>(() => new LambdaLR(opt, [e => 1.0]));
    }

    [Fact]
    public void SequentialLR_runs_a_warm_up_then_cosine()
    {
        using var p = P([1], 1);
        using var opt = new SGD([p], lr: 0.9);
        var s = new SequentialLR(opt, [new LinearLR(opt, totalIters: 3), new CosineAnnealingLR(opt, tMax: 6)], [3]);
        // Epochs 0–2: 0.9·(1/3 + 2/3·e/3); from 3 on the cosine restarts its count: 0.9·(1 + cos(π(e − 3)/6))/2.
        var want = Enumerable.Range(0, 10).Select(e => e < 3 ? 0.9 * (1.0 / 3 + 2.0 / 3 * e / 3) : 0.9 * (1 + Math.Cos(Math.PI * (e - 3) / 6)) / 2).ToArray();
        Near(want, Rates(opt, s, 9), 1e-15);
        s.LastEpoch = 4; // resume
        Near(want[4], opt.LearningRate, 1e-15);
        s.LastEpoch = 1;
        Near(want[1], opt.LearningRate, 1e-15);
        using var other = new SGD([p], lr: 1);
        Assert.Throws<ArgumentException>(() => new SequentialLR(opt, [new LinearLR(other), new LinearLR(opt)], [2]));
        Assert.Throws<ArgumentException>(() => new SequentialLR(opt, [new LinearLR(opt), new LinearLR(opt)], []));
    }

    [Fact]
    public void OneCycleLR_rises_then_anneals_and_cycles_momentum()
    {
        using var p = P([1], 1);
        using var opt = new SGD([p], lr: 123, momentum: 0.9);
        var s = new OneCycleLR(opt, maxLr: 1, totalSteps: 10);
        // Start maxLr/25 = 0.04, peak 1 at step pct·10 − 1 = 2, minimum 0.04/1e4 at step 9; cosine moves.
        var lrs = Rates(opt, s, 9);
        double min = 0.04 / 1e4;
        Near(0.04, lrs[0], 1e-15);
        Near(1 + (0.04 - 1) * (1 + Math.Cos(Math.PI * 0.5)) / 2, lrs[1], 1e-15);
        Near(0.52, lrs[1], 1e-12); // by hand: half-way on a cosine is the mean
        Near(1, lrs[2], 1e-15);
        Near(min + (1 - min) * (1 + Math.Cos(Math.PI * 3 / 7)) / 2, lrs[5], 1e-15);
        Near(min, lrs[9], 1e-15);
        // Momentum goes the other way: 0.95 → 0.85 at the peak → 0.95.
        Near(0.95, s.MomentumAt(0), 1e-15);
        Near(0.85, s.MomentumAt(2), 1e-15);
        Near(0.95, s.MomentumAt(9), 1e-15);
        Near(0.95, opt.ParamGroups[0].Momentum!.Value, 1e-15);
        s.Step(); // step 10 = totalSteps is still allowed, 11 is not
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Step());

        using var adam = new Adam([p], 0.1);
        var lin = new OneCycleLR(adam, maxLr: 1, totalSteps: 10, annealStrategy: AnnealStrategy.Linear, threePhase: true);
        // Three phases end at steps 2, 4, 9: up to 1, back to 0.04, down to the minimum; β₁ is the momentum.
        Near(0.52, lin.LearningRateAt(1), 1e-12);
        Near(0.04, lin.LearningRateAt(4), 1e-15);
        Near(0.04 + (min - 0.04) * 2 / 5, lin.LearningRateAt(6), 1e-15);
        lin.LastEpoch = 2;
        Near(0.85, adam.ParamGroups[0].Beta1!.Value, 1e-15);
        using var ada = new Adagrad([p]);
        Assert.Throws<ArgumentException>(() => new OneCycleLR(ada, 1, 10));
        _ = new OneCycleLR(ada, 1, 10, cycleMomentum: false);
    }

    [Fact]
    public void ReduceLROnPlateau_cuts_after_patience_with_cooldown_and_a_floor()
    {
        double[] metrics = [1, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95];
        double[] Run(int cooldown, double minLr = 0)
        {
            using var p = P([1], 1);
            using var opt = new SGD([p], lr: 1);
            var s = new ReduceLROnPlateau(opt, factor: 0.5, patience: 2, cooldown: cooldown, minLr: minLr);
            return [.. metrics.Select(m => { s.Step(m); return opt.LearningRate; })];
        }
        // Improvements at epochs 1, 2 (0.9 < 1·(1 − 1e-4)); then bad epochs 3, 4, 5: the third (> patience 2) halves the rate.
        // Without cooldown the count restarts at once (cut again at epoch 8); a cooldown of 1 ignores epoch 6 (cut at epoch 9).
        Near([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25], Run(0), 1e-15);
        Near([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25], Run(1), 1e-15);
        Near([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.4, 0.4], Run(0, minLr: 0.4), 1e-15);

        // Max mode with an absolute threshold: 0.5 → 0.505 is no improvement with threshold 0.01, 0.52 is.
        using var q = P([1], 1);
        using var opt2 = new SGD([q], lr: 1);
        var s2 = new ReduceLROnPlateau(opt2, PlateauMode.Max, patience: 0, threshold: 0.01, thresholdMode: ThresholdMode.Abs);
        s2.Step(0.5);
        Assert.Equal(1, opt2.LearningRate);
        s2.Step(0.505);
        Near(0.1, opt2.LearningRate, 1e-15);
        s2.Step(0.52);
        Near(0.1, opt2.LearningRate, 1e-15);
        Assert.Equal(0.52, s2.Best);
    }

    [Fact]
    public void Training_builds_the_warm_up_then_the_chosen_schedule()
    {
        var config = new TrainConfig { Epochs = 6, Warmup = 2, Hidden = [4], Optimizer = OptimizerKind.Sgd, LearningRate = 0.3 };
        var (model, opt, sched) = ClassifierTraining.Build(config, 3, 2, Cpu);
        using (model)
        using (opt)
        {
            Assert.IsType<SequentialLR>(sched);
            // 0.3/3, 0.3·2/3, then cosine over the 4 remaining epochs: 0.3·(1 + cos(π(e − 2)/4))/2.
            var want = Enumerable.Range(0, 6).Select(e => e < 2 ? 0.3 * (1.0 / 3 + 2.0 / 3 * e / 2) : 0.3 * (1 + Math.Cos(Math.PI * (e - 2) / 4)) / 2).ToArray();
            Near(want, Rates(opt, sched!, 5), 1e-15);
        }
        foreach (var kind in Enum.GetValues<ScheduleKind>())
            foreach (var optimizer in Enum.GetValues<OptimizerKind>())
            {
                var (m, o, _) = ClassifierTraining.Build(config with { Schedule = kind, Warmup = kind == ScheduleKind.OneCycle ? 0 : 2, Optimizer = optimizer }, 3, 2, Cpu);
                m.Dispose();
                o.Dispose();
            }
        Assert.Throws<ArgumentException>(() => (config with { Warmup = 6 }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => ClassifierTraining.Build(config, 3, 2, Cpu, stepsPerEpoch: 0));
        Assert.Throws<ArgumentException>(() => (config with { Schedule = ScheduleKind.OneCycle }).Validate());
    }

    [Fact]
    public void Training_steps_OneCycleLR_after_every_batch_and_resumes_it()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "m.safetensors");
        using var data = SyntheticData.Spirals(50, 10, seed: 2, device: Cpu); // 150 samples: 5 batches of 32
        var config = new TrainConfig { Epochs = 3, BatchSize = 32, Hidden = [8], Schedule = ScheduleKind.OneCycle, LearningRate = 0.01, Checkpoint = path };
        var result = ClassifierTraining.Run(data, config, Cpu);
        using (result.Model)
        {
            // 15 steps: the rate at the start of epoch e is the 1cycle rate at step 5e (peak 0.01 at step 0.3·15 − 1 = 3.5).
            using var p = P([1], 1);
            using var opt = new SGD([p], 1);
            var reference = new OneCycleLR(opt, 0.01, 15);
            Near([.. Enumerable.Range(0, 3).Select(e => reference.LearningRateAt(5 * e))], [.. result.Epochs.Select(r => r.LearningRate)], 1e-15);
            Near(0.01 / 25, result.Epochs[0].LearningRate, 1e-15);
            var want = result.Model.StateDict().ToDictionary(kv => kv.Key, kv => D(kv.Value));
            // Stopped after epoch 1 (its checkpoint written), then resumed: the schedule continues at step 5.
            Assert.Throws<OperationCanceledException>(() => ClassifierTraining.Run(data, config, Cpu, onEpoch: _ => throw new OperationCanceledException()));
            using var resumed = ClassifierTraining.Run(data, config with { Resume = true }, Cpu).Model;
            foreach (var (k, v) in resumed.StateDict()) Assert.Equal(want[k], D(v));
        }
        Directory.Delete(dir, true);
    }
}
