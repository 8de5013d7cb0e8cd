using GpuNet.Nn;
using Xunit;
using static GpuNet.Tests.Nn.NnTestUtil;

namespace GpuNet.Tests.Nn;

/// <summary>
/// The regression, probability and weighted classification losses against their PyTorch formulas evaluated
/// here in double, in every reduction, and their gradients against float64 finite differences.
/// </summary>
public class LossFormulaTests
{
    private static readonly Reduction[] Reductions = [Reduction.None, Reduction.Mean, Reduction.Sum];

    private static double[] Values(int n, int seed, double lo, double hi)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => lo + (hi - lo) * rng.NextDouble()).ToArray();
    }

    /// <summary>Checks the loss of <paramref name="x"/> against <paramref name="y"/> in each reduction against pointwise formula values.</summary>
    private static void CheckElementwise(Func<Reduction, Loss> make, double[] x, double[] y, int[] shape, Func<double, double, double> pointwise)
    {
        using var scope = Tensor.NewScope();
        var expected = x.Zip(y, pointwise).ToArray();
        var xt = F64(x, shape);
        var yt = F64(y, shape);
        foreach (var r in Reductions)
        {
            var loss = make(r).Forward(xt, yt);
            switch (r)
            {
                case Reduction.None:
                    Assert.Equal(shape, loss.Shape);
                    Near(expected, D(loss), 1e-12);
                    break;
                case Reduction.Sum: Near(expected.Sum(), loss.Item<double>(), 1e-12); break;
                default: Near(expected.Average(), loss.Item<double>(), 1e-12); break;
            }
        }
    }

    private static void GradCheck(Loss loss, double[] x, double[] y, int[] shape, bool targetToo = true)
    {
        using var scope = Tensor.NewScope();
        var xt = F64(x, shape).RequiresGrad_();
        var yt = F64(y, shape);
        if (targetToo) yt.RequiresGrad_();
        Assert.True(Autograd.GradCheck(v => loss.Forward(v[0], v[1]), [xt, yt]));
    }

    [Fact]
    public void L1Loss_is_the_absolute_error()
    {
        var x = Values(12, 1, -2, 2);
        var y = Values(12, 2, -2, 2);
        CheckElementwise(r => new L1Loss(r), x, y, [3, 4], (a, b) => Math.Abs(a - b));
        GradCheck(new L1Loss(), x, y, [3, 4]);
        GradCheck(new L1Loss(Reduction.Sum), x, y, [3, 4]);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.5)]
    [InlineData(0.0)]
    public void SmoothL1Loss_matches_PyTorchs_formula(double beta)
    {
        // Differences spread over both sides of β.
        var x = Values(20, 3, -2, 2);
        var y = Values(20, 4, -1, 1);
        // |d| < β: 0.5·d²/β, else |d| − 0.5·β (β = 0: |d|)
        double F(double a, double b)
        {
            double d = Math.Abs(a - b);
            return beta > 0 && d < beta ? 0.5 * d * d / beta : d - 0.5 * beta;
        }
        Assert.Contains(x.Zip(y), p => Math.Abs(p.First - p.Second) < beta || beta == 0);
        Assert.Contains(x.Zip(y), p => Math.Abs(p.First - p.Second) > beta);
        CheckElementwise(r => new SmoothL1Loss(r, beta), x, y, [4, 5], F);
        GradCheck(new SmoothL1Loss(beta: beta), x, y, [4, 5]);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.3)]
    [InlineData(2.5)]
    public void HuberLoss_matches_PyTorchs_formula(double delta)
    {
        var x = Values(20, 5, -3, 3);
        var y = Values(20, 6, -1, 1);
        // |d| < δ: 0.5·d², else δ·(|d| − 0.5·δ)
        double F(double a, double b)
        {
            double d = Math.Abs(a - b);
            return d < delta ? 0.5 * d * d : delta * (d - 0.5 * delta);
        }
        CheckElementwise(r => new HuberLoss(r, delta), x, y, [20], F);
        GradCheck(new HuberLoss(delta: delta), x, y, [20]);
        // Huber(δ) = δ·SmoothL1(β = δ)
        using var scope = Tensor.NewScope();
        Near(delta * new SmoothL1Loss(beta: delta).Forward(F64(x, 20), F64(y, 20)).Item<double>(),
            new HuberLoss(delta: delta).Forward(F64(x, 20), F64(y, 20)).Item<double>(), 1e-12);
    }

    [Fact]
    public void Smooth_losses_reject_bad_thresholds()
    {
        Assert.Contains("beta", Assert.Throws<ArgumentOutOfRangeException>(() => new SmoothL1Loss(beta: -1)).Message);
        Assert.Contains("delta", Assert.Throws<ArgumentOutOfRangeException>(() => new HuberLoss(delta: 0)).Message);
    }

    [Fact]
    public void BCELoss_matches_PyTorchs_formula_with_the_log_clamp()
    {
        // Probabilities including both ends, where the clamped logs give −100 instead of −∞.
        double[] p = [0.1, 0.5, 0.9, 0.25, 0, 1, 1e-50, 0.7];
        double[] y = [0, 1, 0.3, 1, 1, 0, 1, 0.5];
        static double ClampLog(double v) => Math.Max(Math.Log(v), -100);
        // −[y·max(log p, −100) + (1 − y)·max(log(1 − p), −100)]
        CheckElementwise(r => new BCELoss(r), p, y, [2, 4], (a, b) => -(b * ClampLog(a) + (1 - b) * ClampLog(1 - a)));
        using var scope = Tensor.NewScope();
        Near(100, new BCELoss(Reduction.None).Forward(F64([0], 1), F64([1], 1)).Item<double>(), 1e-12);
        // The gradient stays finite at p = 0 and 1.
        var x = F64(p, 8).RequiresGrad_();
        new BCELoss(Reduction.Sum).Forward(x, F64(y, 8)).Backward();
        Assert.All(D(x.Grad!), g => Assert.True(double.IsFinite(g)));
        // ∂/∂p = (p − y) / (p(1 − p)) inside (0, 1)
        var g = D(x.Grad!);
        foreach (int i in new[] { 0, 1, 2, 3, 7 }) Near((p[i] - y[i]) / (p[i] * (1 - p[i])), g[i], 1e-9);
        // BCE(σ(z)) = BCEWithLogits(z)
        var z = F64([-2, -0.5, 0.3, 3], 4);
        var t = F64([0, 1, 0.25, 1], 4);
        Near(new BCEWithLogitsLoss().Forward(z, t).Item<double>(), new BCELoss().Forward(z.Sigmoid(), t).Item<double>(), 1e-12);
        // Gradients in the interior, for input and target.
        GradCheck(new BCELoss(), Values(6, 7, 0.05, 0.95), Values(6, 8, 0, 1), [2, 3]);
    }

    [Fact]
    public void KLDivLoss_matches_PyTorchs_formula_in_every_reduction()
    {
        using var scope = Tensor.NewScope();
        const int n = 3, c = 4;
        var logits = Values(n * c, 9, -1, 1);
        var xs = F64(logits, n, c).LogSoftmax(1);
        var x = D(xs);
        var q = Values(n * c, 10, 0, 1);
        q[5] = 0; // xlogy(0, 0) = 0
        // pointwise y·(log y − x), 0 where y = 0
        var pointwise = x.Zip(q, (a, b) => b == 0 ? 0 : b * (Math.Log(b) - a)).ToArray();
        var yt = F64(q, n, c);
        Near(pointwise, D(new KLDivLoss(Reduction.None).Forward(xs, yt)), 1e-12);
        Near(pointwise.Average(), new KLDivLoss().Forward(xs, yt).Item<double>(), 1e-12);
        Near(pointwise.Sum(), new KLDivLoss(Reduction.Sum).Forward(xs, yt).Item<double>(), 1e-12);
        Near(pointwise.Sum() / n, new KLDivLoss(Reduction.BatchMean).Forward(xs, yt).Item<double>(), 1e-12);
        // logTarget: target holds log y, pointwise e^t·(t − x)
        var logq = q.Select(v => Math.Log(v + 0.1)).ToArray();
        var lp = x.Zip(logq, (a, t) => Math.Exp(t) * (t - a)).ToArray();
        Near(lp, D(new KLDivLoss(Reduction.None, logTarget: true).Forward(xs, F64(logq, n, c))), 1e-12);
        Near(lp.Sum() / n, new KLDivLoss(Reduction.BatchMean, logTarget: true).Forward(xs, F64(logq, n, c)).Item<double>(), 1e-12);
        // KL(p‖p) = 0
        var p = F64(logits, n, c).Softmax(1);
        Near(0, new KLDivLoss(Reduction.BatchMean).Forward(p.Log(), p).Item<double>(), 1e-12);
        GradCheck(new KLDivLoss(Reduction.BatchMean), x, Values(n * c, 11, 0.05, 1), [n, c]);
        GradCheck(new KLDivLoss(Reduction.None, logTarget: true), x, logq, [n, c]);
    }

    [Fact]
    public void BatchMean_is_only_for_KLDivLoss()
    {
        Assert.Contains("MSELoss", Assert.Throws<ArgumentOutOfRangeException>(() => new MSELoss(Reduction.BatchMean)).Message);
        Assert.Contains("BatchMean", Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEntropyLoss(Reduction.BatchMean)).Message);
        _ = new KLDivLoss(Reduction.BatchMean);
    }

    // PyTorch's class-index cross-entropy in double: per sample (ignored: 0)
    //   ℓᵢ = (1 − ε)·(−w[yᵢ]·log p[i, yᵢ]) + (ε/C)·(−Σ_c w_c·log p[i, c]),
    // mean = Σ ℓᵢ / Σ_{i kept} w[yᵢ].
    private static (double[] PerSample, double Denominator) CrossEntropyByFormula(double[] logits, int n, int c, int[] labels, double[]? w, int ignore, double eps)
    {
        var per = new double[n];
        double denominator = 0;
        for (int i = 0; i < n; i++)
        {
            if (labels[i] == ignore) continue;
            double max = Enumerable.Range(0, c).Max(j => logits[i * c + j]);
            double lse = max + Math.Log(Enumerable.Range(0, c).Sum(j => Math.Exp(logits[i * c + j] - max)));
            double W(int j) => w is null ? 1 : w[j];
            double nll = -W(labels[i]) * (logits[i * c + labels[i]] - lse);
            double smooth = -Enumerable.Range(0, c).Sum(j => W(j) * (logits[i * c + j] - lse));
            per[i] = (1 - eps) * nll + eps / c * smooth;
            denominator += W(labels[i]);
        }
        return (per, denominator);
    }

    [Theory]
    [InlineData(false, -100, 0.0)]
    [InlineData(true, -100, 0.0)]
    [InlineData(false, 2, 0.0)]
    [InlineData(true, -1, 0.0)]
    [InlineData(false, -100, 0.2)]
    [InlineData(true, -100, 0.1)]
    [InlineData(true, 1, 0.3)]
    public void CrossEntropyLoss_weight_ignoreIndex_and_labelSmoothing_as_PyTorch(bool weighted, int ignore, double eps)
    {
        using var scope = Tensor.NewScope();
        const int n = 6, c = 4;
        var logits = Values(n * c, 12, -2, 2);
        int[] labels = [0, 3, ignore < 0 ? ignore : 1, 2, 1, ignore < 0 ? ignore : 3];
        double[]? w = weighted ? [0.5, 2, 1.5, 0.25] : null;
        using var wt = w is null ? null : F64(w, c);
        var (per, denominator) = CrossEntropyByFormula(logits, n, c, labels, w, ignore, eps);
        var x = F64(logits, n, c);
        var y = I32(labels);
        Near(per, D(new CrossEntropyLoss(Reduction.None, eps, wt, ignore).Forward(x, y)), 1e-12);
        Near(per.Sum(), new CrossEntropyLoss(Reduction.Sum, eps, wt, ignore).Forward(x, y).Item<double>(), 1e-12);
        Near(per.Sum() / denominator, new CrossEntropyLoss(Reduction.Mean, eps, wt, ignore).Forward(x, y).Item<double>(), 1e-12);
        var xg = F64(logits, n, c).RequiresGrad_();
        Assert.True(Autograd.GradCheck(v => new CrossEntropyLoss(Reduction.Mean, eps, wt, ignore).Forward(v[0], y), [xg]));
        // float32 agrees with the double formula to float precision (the fused path on ε = 0).
        Near(per.Sum() / denominator, new CrossEntropyLoss(Reduction.Mean, eps, wt?.To(DType.Float32), ignore).Forward(x.To(DType.Float32), y).Item<float>(), 1e-5);
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void CrossEntropy_ignored_rows_in_the_fused_pass_get_no_gradient_and_double_backward_agrees(string deviceName)
    {
        using var scope = Tensor.NewScope();
        var device = Device.Get(deviceName);
        var logits = Tensor.FromArray(Values(12, 15, -2, 2), [4, 3], device).RequiresGrad_();
        var labels = Tensor.FromArray(new[] { 2, -100, 0, -100 }, null, device);
        var loss = Functional.CrossEntropy(logits, labels, ignoreIndex: -100);
        var fused = D(Autograd.Grad([loss.Sum()], [logits])[0]!);
        // Rows 1 and 3 are ignored: zero loss, zero gradient.
        Assert.Equal(0, D(loss)[1]);
        Assert.All(new[] { 3, 4, 5, 9, 10, 11 }, i => Assert.Equal(0, fused[i]));
        // The createGraph VJP (recorded ops) gives the same gradient, and its own gradient matches finite differences.
        var composed = D(Autograd.Grad([Functional.CrossEntropy(logits, labels, ignoreIndex: -100).Sum()], [logits], createGraph: true)[0]!);
        Near(fused, composed, 1e-12);
        var v = Tensor.FromArray(Values(12, 16, -1, 1), [4, 3], device);
        Assert.True(Autograd.GradCheck(xs =>
        {
            using var record = Autograd.EnableGrad();
            var g = Autograd.Grad([Functional.CrossEntropy(xs[0], labels, ignoreIndex: -100).Sum()], [xs[0]], createGraph: true)[0]!;
            return (g * v).Sum();
        }, [logits]));
    }

    [Fact]
    public void CrossEntropyLoss_all_ignored_gives_NaN_mean_and_zero_sum_as_PyTorch()
    {
        using var scope = Tensor.NewScope();
        var x = F64([1, 2, 3, 4], 2, 2);
        Assert.True(double.IsNaN(new CrossEntropyLoss().Forward(x, I32(-100, -100)).Item<double>()));
        Assert.Equal(0, new CrossEntropyLoss(Reduction.Sum).Forward(x, I32(-100, -100)).Item<double>());
    }

    [Fact]
    public void CrossEntropyLoss_weighted_probability_targets_divide_by_N()
    {
        using var scope = Tensor.NewScope();
        const int n = 3, c = 3;
        var logits = Values(n * c, 13, -2, 2);
        var q = new double[] { 0.2, 0.3, 0.5, 1, 0, 0, 0.1, 0.1, 0.8 };
        double[] w = [1, 2, 0.5];
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            double lse = Math.Log(Enumerable.Range(0, c).Sum(j => Math.Exp(logits[i * c + j])));
            // −Σ_c w_c·q_c·log p_c
            total += -Enumerable.Range(0, c).Sum(j => w[j] * q[i * c + j] * (logits[i * c + j] - lse));
        }
        Near(total / n, new CrossEntropyLoss(weight: F64(w, c)).Forward(F64(logits, n, c), F64(q, n, c)).Item<double>(), 1e-12);
    }

    [Theory]
    [InlineData(false, -100)]
    [InlineData(true, -100)]
    [InlineData(true, 0)]
    public void NLLLoss_weight_and_ignoreIndex_as_PyTorch(bool weighted, int ignore)
    {
        using var scope = Tensor.NewScope();
        const int n = 5, c = 3;
        var x = Values(n * c, 14, -3, 0);
        int[] labels = [2, ignore < 0 ? ignore : 0, 1, 0, 2];
        double[] w = weighted ? [0.3, 1.7, 2] : [1, 1, 1];
        // ℓᵢ = −w[yᵢ]·x[i, yᵢ] (0 if ignored); mean = Σ ℓᵢ / Σ_{kept} w[yᵢ]
        var per = labels.Select((l, i) => l == ignore ? 0 : -w[l] * x[i * c + l]).ToArray();
        double denominator = labels.Where(l => l != ignore).Sum(l => w[l]);
        using var wt = weighted ? F64(w, c) : null;
        var y = I32(labels);
        Near(per, D(new NLLLoss(Reduction.None, wt, ignore).Forward(F64(x, n, c), y)), 1e-12);
        Near(per.Sum(), new NLLLoss(Reduction.Sum, wt, ignore).Forward(F64(x, n, c), y).Item<double>(), 1e-12);
        Near(per.Sum() / denominator, new NLLLoss(Reduction.Mean, wt, ignore).Forward(F64(x, n, c), y).Item<double>(), 1e-12);
        var xg = F64(x, n, c).RequiresGrad_();
        Assert.True(Autograd.GradCheck(v => new NLLLoss(Reduction.Mean, wt, ignore).Forward(v[0], y), [xg]));
    }

    [Fact]
    public void Class_weights_are_checked()
    {
        using var scope = Tensor.NewScope();
        Assert.Contains("floating [classes]", Assert.Throws<ArgumentException>(() => new CrossEntropyLoss(weight: F64([1, 2, 3, 4], 2, 2))).Message);
        var e = Assert.Throws<ArgumentException>(() => new NLLLoss(weight: F64([1, 2], 2)).Forward(F64([1, 2, 3], 1, 3), I32(0)));
        Assert.Contains("NLLLoss: weight [2]", e.Message);
    }
}
