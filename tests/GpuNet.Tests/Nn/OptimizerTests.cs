using GpuNet.Nn;
using Xunit;
using static GpuNet.Tests.Nn.NnTestUtil;

namespace GpuNet.Tests.Nn;

public class OptimizerTests
{
    private static readonly double[] Start = [0.5, -1.0, 2.0];

    // Fixed "gradients" per step: the loss is Σ gₜ·p, so ∂L/∂p = gₜ whatever p is.
    private static readonly double[][] Grads = [[0.1, -0.2, 0.3], [0.4, 0.0, -0.5], [-0.3, 0.6, 0.2]];

    /// <summary>Runs <paramref name="steps"/> optimizer steps with the fixed gradients and returns the parameter values after each.</summary>
    private static List<double[]> Run(Func<Parameter, Optimizer> make, int steps = 3) => RunFixedGradients(Start, Grads, make, steps);

    [Fact]
    public void SGD_plain_by_hand()
    {
        var r = Run(p => new SGD([p], lr: 0.1));
        Near([0.5 - 0.01, -1.0 + 0.02, 2.0 - 0.03], r[0], 1e-12);
        Near([0.49 - 0.04, -0.98, 1.97 + 0.05], r[1], 1e-12);
    }

    [Fact]
    public void SGD_momentum_dampening_nesterov_weight_decay_match_PyTorch()
    {
        foreach (var (mu, tau, nesterov, wd) in new[] { (0.9, 0.0, false, 0.0), (0.9, 0.1, false, 0.0), (0.8, 0.0, true, 0.0), (0.9, 0.0, false, 0.01), (0.5, 0.0, true, 0.1) })
        {
            var got = Run(p => new SGD([p], 0.1, mu, tau, nesterov, wd));
            var p = (double[])Start.Clone();
            var b = new double[3];
            for (int t = 0; t < 3; t++)
            {
                for (int i = 0; i < 3; i++)
                {
                    double d = Grads[t][i] + wd * p[i];
                    b[i] = t == 0 ? d : mu * b[i] + (1 - tau) * d;
                    d = nesterov ? d + mu * b[i] : b[i];
                    p[i] -= 0.1 * d;
                }
                Near(p, got[t], 1e-12);
            }
        }
        // By hand, momentum 0.9: step 1 = lr·g; step 2 uses b = 0.9·g₁ + g₂.
        var r = Run(p => new SGD([p], 0.1, momentum: 0.9));
        Near(0.5 - 0.01 - 0.1 * (0.9 * 0.1 + 0.4), r[1][0], 1e-12);
    }

    [Fact]
    public void Adam_and_AdamW_match_PyTorch()
    {
        foreach (var (wd, decoupled) in new[] { (0.0, false), (0.1, false), (0.1, true) })
        {
            double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
            var got = Run(p => decoupled ? new AdamW([p], lr, b1, b2, eps, wd) : new Adam([p], lr, b1, b2, eps, wd));
            var p = (double[])Start.Clone();
            var m = new double[3];
            var v = new double[3];
            for (int t = 1; t <= 3; t++)
            {
                for (int i = 0; i < 3; i++)
                {
                    double g = Grads[t - 1][i];
                    if (decoupled) p[i] *= 1 - lr * wd;
                    else g += wd * p[i];
                    m[i] = b1 * m[i] + (1 - b1) * g;
                    v[i] = b2 * v[i] + (1 - b2) * g * g;
                    double denom = Math.Sqrt(v[i]) / Math.Sqrt(1 - Math.Pow(b2, t)) + eps;
                    p[i] -= lr / (1 - Math.Pow(b1, t)) * m[i] / denom;
                }
                Near(p, got[t - 1], 1e-12);
            }
        }
        // By hand: Adam's first step moves each weight by lr·g/(|g| + ε) ≈ lr·sign(g).
        var first = Run(p => new Adam([p], lr: 0.01), steps: 1)[0];
        Near([0.49, -0.99, 1.99], first, 1e-6);
        Assert.Equal(1e-2, new AdamW([P([1], 1)]).WeightDecay);
    }

    [Fact]
    public void RMSProp_plain_centered_momentum_match_PyTorch()
    {
        foreach (var (centered, mu, wd) in new[] { (false, 0.0, 0.0), (true, 0.0, 0.0), (false, 0.9, 0.0), (true, 0.5, 0.05) })
        {
            double lr = 0.01, alpha = 0.99, eps = 1e-8;
            var got = Run(p => new RMSProp([p], lr, alpha, eps, wd, mu, centered));
            var p = (double[])Start.Clone();
            var sq = new double[3];
            var ga = new double[3];
            var buf = new double[3];
            for (int t = 0; t < 3; t++)
            {
                for (int i = 0; i < 3; i++)
                {
                    double g = Grads[t][i] + wd * p[i];
                    sq[i] = alpha * sq[i] + (1 - alpha) * g * g;
                    double avg;
                    if (centered)
                    {
                        ga[i] = alpha * ga[i] + (1 - alpha) * g;
                        avg = Math.Sqrt(sq[i] - ga[i] * ga[i]) + eps;
                    }
                    else avg = Math.Sqrt(sq[i]) + eps;
                    if (mu > 0)
                    {
                        buf[i] = mu * buf[i] + g / avg;
                        p[i] -= lr * buf[i];
                    }
                    else p[i] -= lr * g / avg;
                }
                Near(p, got[t], 1e-10);
            }
        }
        // By hand: the first plain step is lr·g/√(0.01·g²) = 10·lr·sign(g) (g ≠ 0).
        Near([0.4, -0.9, 1.9], Run(p => new RMSProp([p], lr: 0.01), steps: 1)[0], 1e-6);
    }

    [Fact]
    public void Parameters_without_gradients_are_skipped()
    {
        using var a = P([1, 2], 2);
        using var b = P([3, 4], 2);
        using var opt = new Adam([a, b], lr: 0.1);
        using (Tensor.NewScope())
        {
            (a.Data * 2.0).Sum().Backward();
            opt.Step();
        }
        Assert.NotEqual([1.0, 2.0], D(a.Data));
        Assert.Equal([3.0, 4.0], D(b.Data));
    }

    [Fact]
    public void Schedulers_follow_their_closed_forms()
    {
        using var p = P([1], 1);
        using var opt = new SGD([p], lr: 1.0);
        var step = new StepLR(opt, stepSize: 2, gamma: 0.5);
        var lrs = new List<double> { opt.LearningRate };
        for (int e = 0; e < 5; e++) { step.Step(); lrs.Add(opt.LearningRate); }
        Near([1, 1, 0.5, 0.5, 0.25, 0.25], [.. lrs], 1e-15);

        using var opt2 = new SGD([p], lr: 0.1);
        var cos = new CosineAnnealingLR(opt2, tMax: 4, etaMin: 0.01);
        var got = new List<double> { opt2.LearningRate };
        for (int e = 0; e < 4; e++) { cos.Step(); got.Add(opt2.LearningRate); }
        double[] want = Enumerable.Range(0, 5).Select(e => 0.01 + 0.09 * (1 + Math.Cos(Math.PI * e / 4)) / 2).ToArray();
        Near(want, [.. got], 1e-15);
        cos.LastEpoch = 2;
        Near(want[2], opt2.LearningRate, 1e-15);
    }

    [Fact]
    public void ClipGradNorm_scales_to_the_max_norm_and_returns_the_total()
    {
        using var a = P([0, 0], 2);
        using var b = P([0], 1);
        using (Tensor.NewScope())
        {
            var loss = (a.Data * F64([3, 0], 2)).Sum() + (b.Data * F64([4], 1)).Sum();
            loss.Backward();
        }
        double total = GradClip.ClipGradNorm([a, b], maxNorm: 1);
        Near(5, total, 1e-12);
        Near([3 / (5 + 1e-6), 0], D(a.Grad!), 1e-12);
        Near([4 / (5 + 1e-6)], D(b.Grad!), 1e-12);
        Near(1, GradClip.ClipGradNorm([a, b], maxNorm: 10), 1e-5); // under the limit: unchanged
        Near([3 / (5 + 1e-6), 0], D(a.Grad!), 1e-12);
    }

    [Fact]
    public void Optimizer_state_round_trips_through_a_file()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "adam.safetensors");
        var full = Run(p => new Adam([p], lr: 0.05), steps: 3);
        // 1 step, save, new optimizer, load, 2 more steps: the same trajectory.
        using var p = P(Start, 3);
        using (var opt = new Adam([p], lr: 0.05))
        {
            using var scope = Tensor.NewScope();
            (p.Data * F64(Grads[0], 3)).Sum().Backward();
            opt.Step();
            opt.Save(path);
        }
        using var resumed = new Adam([p], lr: 123);
        resumed.Load(path);
        Assert.Equal(0.05, resumed.LearningRate);
        Assert.Equal(1, resumed.StepCount);
        for (int t = 1; t < 3; t++)
        {
            using var scope = Tensor.NewScope();
            var loss = (p.Data * F64(Grads[t], 3)).Sum();
            resumed.ZeroGrad();
            loss.Backward();
            resumed.Step();
        }
        Assert.Equal(full[2], D(p.Data));
        using var sgd = new SGD([p], 0.1);
        Assert.Contains("Adam", Assert.Throws<InvalidOperationException>(() => sgd.Load(path)).Message);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Bad_hyperparameters_are_clear_errors()
    {
        using var p = P([1], 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam([p], beta1: 1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SGD([p], lr: -1));
        Assert.Throws<ArgumentException>(() => new SGD([p], 0.1, nesterov: true));
        Assert.Throws<ArgumentException>(() => new SGD([], 0.1));
    }
}
