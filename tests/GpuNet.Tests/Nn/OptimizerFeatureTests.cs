using GpuNet.Nn;
using Xunit;
using static GpuNet.Tests.Nn.NnTestUtil;

namespace GpuNet.Tests.Nn;

/// <summary>
/// Parameter groups, AMSGrad, Adagrad, NAdam, RAdam and ClipGradValue: each step rule against a plain double
/// implementation of PyTorch's formula (written out in each test) over several steps.
/// </summary>
public class OptimizerFeatureTests
{
    private static readonly double[] Start = [0.5, -1.0, 2.0];

    // Large gradients first, then small ones: the second-moment average falls, so AMSGrad's running maximum matters.
    private static readonly double[][] Grads =
        [[1.0, -2.0, 0.5], [0.1, 0.05, -0.02], [0.01, -0.3, 0.0], [-0.2, 0.02, 0.1], [0.05, 0.0, -0.4], [0.3, -0.1, 0.02]];

    /// <summary>Steps with the fixed gradients (the loss is Σ gₜ·p) and returns the parameter after each step.</summary>
    private static List<double[]> Run(Func<Parameter, Optimizer> make, int steps) => RunFixedGradients(Start, Grads, make, steps);

    [Fact]
    public void Amsgrad_uses_the_running_maximum_of_the_second_moment()
    {
        foreach (var (wd, decoupled) in new[] { (0.0, false), (0.1, false), (0.1, true) })
        {
            // PyTorch's Adam(amsgrad=True): g += wd·p (AdamW: p *= 1 − lr·wd); m = β₁m + (1−β₁)g; v = β₂v + (1−β₂)g²;
            // v̂ = max(v̂, v); p −= lr/(1−β₁ᵗ) · m / (√v̂/√(1−β₂ᵗ) + ε).
            double lr = 0.01, b1 = 0.9, b2 = 0.9, eps = 1e-8;
            var got = Run(p => decoupled ? new AdamW([p], lr, b1, b2, eps, wd, amsgrad: true) : new Adam([p], lr, b1, b2, eps, wd, amsgrad: true), 6);
            var plain = Run(p => decoupled ? new AdamW([p], lr, b1, b2, eps, wd) : new Adam([p], lr, b1, b2, eps, wd), 6);
            var p = (double[])Start.Clone();
            double[] m = new double[3], v = new double[3], vMax = new double[3];
            for (int t = 1; t <= 6; t++)
            {
                for (int i = 0; i < 3; i++)
                {
                    double g = Grads[t - 1][i];
                    if (decoupled) p[i] *= 1 - lr * wd;
                    else g += wd * p[i];
                    m[i] = b1 * m[i] + (1 - b1) * g;
                    v[i] = b2 * v[i] + (1 - b2) * g * g;
                    vMax[i] = Math.Max(vMax[i], v[i]);
                    p[i] -= lr / (1 - Math.Pow(b1, t)) * m[i] / (Math.Sqrt(vMax[i]) / Math.Sqrt(1 - Math.Pow(b2, t)) + eps);
                }
                Near(p, got[t - 1], 1e-12);
            }
            Assert.True(Math.Abs(got[5][0] - plain[5][0]) > 1e-4, "AMSGrad should differ from Adam once v falls");
        }
    }

    [Fact]
    public void Adagrad_matches_its_formula()
    {
        foreach (var (lrDecay, wd, init) in new[] { (0.0, 0.0, 0.0), (0.1, 0.05, 0.1) })
        {
            // PyTorch's Adagrad: g += wd·p; clr = lr/(1 + (t−1)·lr_decay); s += g²; p −= clr·g/(√s + ε).
            double lr = 0.1, eps = 1e-10;
            var got = Run(p => new Adagrad([p], lr, lrDecay, wd, init, eps), 6);
            var p = (double[])Start.Clone();
            var s = Enumerable.Repeat(init, 3).ToArray();
            for (int t = 1; t <= 6; t++)
            {
                for (int i = 0; i < 3; i++)
                {
                    double g = Grads[t - 1][i] + wd * p[i];
                    double clr = lr / (1 + (t - 1) * lrDecay);
                    s[i] += g * g;
                    p[i] -= clr * g / (Math.Sqrt(s[i]) + eps);
                }
                Near(p, got[t - 1], 1e-12);
            }
        }
        // By hand: the first step from a zero sum moves each weight by lr·g/|g| = lr·sign(g).
        Near([0.4, -0.9, 1.9], Run(p => new Adagrad([p], lr: 0.1), 1)[0], 1e-9);
        Assert.Equal(1e-2, new Adagrad([P([1], 1)]).ParamGroups[0].LearningRate);
    }

    [Fact]
    public void NAdam_matches_its_formula()
    {
        foreach (var (wd, decoupled) in new[] { (0.0, false), (0.1, false), (0.1, true) })
        {
            // PyTorch's NAdam: μₜ = β₁(1 − ½·0.96^(tψ)), Πₜ = μ₁⋯μₜ; m, v as Adam; d = √(v/(1−β₂ᵗ)) + ε;
            // p −= lr(1−μₜ)/(1−Πₜ)·g/d + lr·μₜ₊₁/(1−Πₜμₜ₊₁)·m/d.
            double lr = 0.01, b1 = 0.9, b2 = 0.99, eps = 1e-8, psi = 4e-3;
            var got = Run(p => new NAdam([p], lr, b1, b2, eps, wd, psi, decoupled), 6);
            var p = (double[])Start.Clone();
            double[] m = new double[3], v = new double[3];
            double product = 1;
            for (int t = 1; t <= 6; t++)
            {
                double mu = b1 * (1 - 0.5 * Math.Pow(0.96, t * psi)), muNext = b1 * (1 - 0.5 * Math.Pow(0.96, (t + 1) * psi));
                product *= mu;
                for (int i = 0; i < 3; i++)
                {
                    double g = Grads[t - 1][i];
                    if (decoupled) p[i] *= 1 - lr * wd;
                    else g += wd * p[i];
                    m[i] = b1 * m[i] + (1 - b1) * g;
                    v[i] = b2 * v[i] + (1 - b2) * g * g;
                    double d = Math.Sqrt(v[i] / (1 - Math.Pow(b2, t))) + eps;
                    p[i] -= lr * (1 - mu) / (1 - product) * g / d;
                    p[i] -= lr * muNext / (1 - product * muNext) * m[i] / d;
                }
                Near(p, got[t - 1], 1e-12);
            }
        }
        Assert.Equal(2e-3, new NAdam([P([1], 1)]).LearningRate);
    }

    [Fact]
    public void NAdam_multiplies_each_step_mu_with_that_steps_beta1()
    {
        // As PyTorch does: Πₜ = Πₜ₋₁·μₜ with μₜ from the β₁ in force at step t (here cycled through the group, as OneCycleLR does).
        double lr = 0.01, b2 = 0.999, eps = 1e-8, psi = 4e-3;
        double[] betas = [0.9, 0.85, 0.8, 0.95];
        using var p = P(Start, 3);
        using var opt = new NAdam([p], lr, beta2: b2);
        var want = (double[])Start.Clone();
        double[] m = new double[3], v = new double[3];
        double product = 1;
        for (int t = 1; t <= betas.Length; t++)
        {
            double b1 = betas[t - 1];
            opt.ParamGroups[0].Beta1 = b1;
            using (Tensor.NewScope())
            {
                var loss = (p.Data * F64(Grads[t - 1], 3)).Sum();
                opt.ZeroGrad();
                loss.Backward();
                opt.Step();
            }
            double mu = b1 * (1 - 0.5 * Math.Pow(0.96, t * psi)), muNext = b1 * (1 - 0.5 * Math.Pow(0.96, (t + 1) * psi));
            product *= mu;
            for (int i = 0; i < 3; i++)
            {
                double g = Grads[t - 1][i];
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                double d = Math.Sqrt(v[i] / (1 - Math.Pow(b2, t))) + eps;
                want[i] -= lr * (1 - mu) / (1 - product) * g / d + lr * muNext / (1 - product * muNext) * m[i] / d;
            }
            Near(want, D(p.Data), 1e-12);
        }
    }

    [Fact]
    public void RAdam_matches_its_formula_on_both_sides_of_the_rectification()
    {
        foreach (var (wd, decoupled) in new[] { (0.0, false), (0.1, false), (0.1, true) })
        {
            // PyTorch's RAdam: m, v as Adam; ρ∞ = 2/(1−β₂) − 1, ρₜ = ρ∞ − 2tβ₂ᵗ/(1−β₂ᵗ); ρₜ > 5:
            // p −= lr·r·m/(1−β₁ᵗ)·√(1−β₂ᵗ)/(√v + ε) with r = √((ρₜ−4)(ρₜ−2)ρ∞/((ρ∞−4)(ρ∞−2)ρₜ)); else p −= lr·m/(1−β₁ᵗ).
            double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
            const int steps = 12;
            var got = Run(p => new RAdam([p], lr, b1, b2, eps, wd, decoupled), steps);
            var p = (double[])Start.Clone();
            double[] m = new double[3], v = new double[3];
            int rectified = 0;
            for (int t = 1; t <= steps; t++)
            {
                double bc1 = 1 - Math.Pow(b1, t), bc2 = 1 - Math.Pow(b2, t);
                double rhoInf = 2 / (1 - b2) - 1, rhoT = rhoInf - 2 * t * Math.Pow(b2, t) / bc2;
                for (int i = 0; i < 3; i++)
                {
                    double g = Grads[(t - 1) % Grads.Length][i];
                    if (decoupled) p[i] *= 1 - lr * wd;
                    else g += wd * p[i];
                    m[i] = b1 * m[i] + (1 - b1) * g;
                    v[i] = b2 * v[i] + (1 - b2) * g * g;
                    if (rhoT > 5)
                    {
                        double r = Math.Sqrt((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
                        p[i] -= lr * r * m[i] / bc1 * Math.Sqrt(bc2) / (Math.Sqrt(v[i]) + eps);
                    }
                    else p[i] -= lr * m[i] / bc1;
                }
                if (rhoT > 5) rectified++;
                Near(p, got[t - 1], 1e-12);
            }
            Assert.InRange(rectified, 1, steps - 1); // both branches ran
        }
    }

    [Fact]
    public void Param_groups_have_their_own_rates_and_decay()
    {
        // Group 0: SGD lr 0.1, momentum 0.9, wd 0.1; group 1 (the "bias"): lr 0.01, no decay, momentum 0.5.
        using var w = P([1.0, -2.0], 2);
        using var b = P([0.5], 1);
        using var opt = new SGD([w], 0.1, momentum: 0.9, weightDecay: 0.1);
        opt.AddParamGroup(new ParamGroup([b], lr: 0.01, weightDecay: 0, momentum: 0.5));
        Assert.Equal(2, opt.ParamGroups.Count);
        Assert.Equal([w, b], opt.Parameters);
        double[] pw = [1.0, -2.0], bw = new double[2];
        double pb = 0.5, bb = 0;
        double[][] gw = [[0.3, -0.1], [0.2, 0.4], [-0.5, 0.1]];
        double[] gb = [1.0, -0.5, 0.25];
        for (int t = 0; t < 3; t++)
        {
            using (Tensor.NewScope())
            {
                var loss = (w.Data * F64(gw[t], 2)).Sum() + (b.Data * F64([gb[t]], 1)).Sum();
                opt.ZeroGrad();
                loss.Backward();
                opt.Step();
            }
            for (int i = 0; i < 2; i++)
            {
                double d = gw[t][i] + 0.1 * pw[i];
                bw[i] = t == 0 ? d : 0.9 * bw[i] + d;
                pw[i] -= 0.1 * bw[i];
            }
            bb = t == 0 ? gb[t] : 0.5 * bb + gb[t];
            pb -= 0.01 * bb;
            Near(pw, D(w.Data), 1e-12);
            Near([pb], D(b.Data), 1e-12);
        }
        // Schedules act per group, each from its own base rate.
        var sched = new StepLR(opt, stepSize: 1, gamma: 0.5);
        sched.Step();
        Near(0.05, opt.ParamGroups[0].LearningRate, 1e-15);
        Near(0.005, opt.ParamGroups[1].LearningRate, 1e-15);
        Assert.Equal([0.1, 0.01], sched.BaseLearningRates);
        // A parameter in two groups, a Nesterov group without momentum, and a group added after the schedule are errors.
        Assert.Contains("already in another group", Assert.Throws<ArgumentException>(() => opt.AddParamGroup(new ParamGroup([b]))).Message);
        using var nesterov = new SGD([w], 0.1, momentum: 0.9, nesterov: true);
        Assert.Throws<ArgumentException>(() => nesterov.AddParamGroup(new ParamGroup([b], momentum: 0)));
        using var c = P([0.0], 1);
        opt.AddParamGroup(new ParamGroup([c]));
        Assert.Equal(0.05, opt.ParamGroups[2].LearningRate); // group 0's current rate
        Assert.Contains("parameter groups", Assert.Throws<InvalidOperationException>(() => sched.Step()).Message);
    }

    [Fact]
    public void Adam_groups_take_their_own_betas_and_decay()
    {
        using var w = P([1.0], 1);
        using var b = P([1.0], 1);
        using var opt = new AdamW([w], 0.01, weightDecay: 0.1);
        opt.AddParamGroup(new ParamGroup([b], weightDecay: 0, beta1: 0.5, beta2: 0.9));
        double[] g = [0.3, -0.2, 0.1];
        double pw = 1, pb = 1, mw = 0, vw = 0, mb = 0, vb = 0;
        for (int t = 1; t <= 3; t++)
        {
            using (Tensor.NewScope())
            {
                var loss = (w.Data * F64([g[t - 1]], 1)).Sum() + (b.Data * F64([g[t - 1]], 1)).Sum();
                opt.ZeroGrad();
                loss.Backward();
                opt.Step();
            }
            pw *= 1 - 0.01 * 0.1;
            mw = 0.9 * mw + 0.1 * g[t - 1];
            vw = 0.999 * vw + 0.001 * g[t - 1] * g[t - 1];
            pw -= 0.01 / (1 - Math.Pow(0.9, t)) * mw / (Math.Sqrt(vw) / Math.Sqrt(1 - Math.Pow(0.999, t)) + 1e-8);
            mb = 0.5 * mb + 0.5 * g[t - 1];
            vb = 0.9 * vb + 0.1 * g[t - 1] * g[t - 1];
            pb -= 0.01 / (1 - Math.Pow(0.5, t)) * mb / (Math.Sqrt(vb) / Math.Sqrt(1 - Math.Pow(0.9, t)) + 1e-8);
            Near([pw], D(w.Data), 1e-12);
            Near([pb], D(b.Data), 1e-12);
        }
    }

    [Fact]
    public void ClipGradValue_clamps_each_element()
    {
        using var a = P([0, 0, 0], 3);
        using var b = P([0], 1);
        using var c = P([0], 1); // no gradient: skipped
        using (Tensor.NewScope()) ((a.Data * F64([3, -0.5, -7], 3)).Sum() + (b.Data * F64([0.25], 1)).Sum()).Backward();
        GradClip.ClipGradValue([a, b, c], clipValue: 1);
        Assert.Equal([1.0, -0.5, -1.0], D(a.Grad!));
        Assert.Equal([0.25], D(b.Grad!));
        Assert.Null(c.Grad);
        Assert.Throws<ArgumentOutOfRangeException>(() => GradClip.ClipGradValue([a], -1));
    }

    /// <summary>k steps, then the state dict into a fresh optimizer, then the rest: the same trajectory as without the break.</summary>
    private static void Resumes(Func<Parameter, Optimizer> make, string expectedKey)
    {
        var full = Run(make, 6);
        var dir = TempDir();
        var path = Path.Combine(dir, "opt.safetensors");
        using var p = P(Start, 3);
        void StepWith(Optimizer opt, int t)
        {
            using var scope = Tensor.NewScope();
            var loss = (p.Data * F64(Grads[t], 3)).Sum();
            opt.ZeroGrad();
            loss.Backward();
            opt.Step();
        }
        using (var first = make(p))
        {
            for (int t = 0; t < 3; t++) StepWith(first, t);
            using var scope = Tensor.NewScope();
            Assert.Contains(expectedKey, first.StateDict().Keys);
            first.Save(path);
        }
        using var resumed = make(p);
        resumed.Load(path);
        Assert.Equal(3, resumed.StepCount);
        for (int t = 3; t < 6; t++) StepWith(resumed, t);
        Assert.Equal(full[5], D(p.Data));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void New_state_round_trips_and_resumes_exactly()
    {
        Resumes(p => new Adam([p], 0.01, beta2: 0.9, amsgrad: true), "state.0.max_exp_avg_sq");
        Resumes(p => new Adagrad([p], 0.1, lrDecay: 0.1), "state.0.sum");
        Resumes(p => new NAdam([p], 0.01), "state.0.exp_avg");
        Resumes(p => new RAdam([p], 0.01), "state.0.exp_avg_sq");
        Resumes(p => new Adagrad([p], 0.1), "state.0.step");
    }

    [Fact]
    public void Loading_checks_the_state_names_and_groups_before_changing_anything()
    {
        using var p = P(Start, 3);
        using var q = P([1.0], 1);
        using var plain = new Adam([p], 0.01);
        using (Tensor.NewScope())
        {
            (p.Data * F64(Grads[0], 3)).Sum().Backward();
            plain.Step();
        }
        using var ams = new Adam([p], 0.5, amsgrad: true);
        using (Tensor.NewScope())
        {
            var e = Assert.Throws<InvalidOperationException>(() => ams.LoadStateDict(plain.StateDict()));
            Assert.Contains("missing key 'state.0.max_exp_avg_sq'", e.Message);
        }
        Assert.Equal(0.5, ams.LearningRate); // unchanged
        Assert.Equal(0, ams.StepCount);

        // Two groups: group 1's rate travels as group.1.lr, and a one-group optimizer refuses it.
        using var two = new Adagrad([p], 0.1);
        two.AddParamGroup(new ParamGroup([q], lr: 0.02));
        using (Tensor.NewScope())
        {
            var dict = two.StateDict();
            Assert.Equal(0.02, dict["group.1.lr"].Item<double>());
            using var again = new Adagrad([p], 0.3);
            again.AddParamGroup(new ParamGroup([q], lr: 0.7));
            again.LoadStateDict(dict);
            Assert.Equal([0.1, 0.02], again.ParamGroups.Select(g => g.LearningRate));
            using var one = new Adagrad([p], 0.3);
            Assert.Contains("unexpected key 'group.1.lr'", Assert.Throws<InvalidOperationException>(() => one.LoadStateDict(dict)).Message);
            dict.Remove("group.1.lr");
            Assert.Contains("missing key 'group.1.lr'", Assert.Throws<InvalidOperationException>(() => again.LoadStateDict(dict)).Message);
        }
    }
}
