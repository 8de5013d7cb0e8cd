using GpuNet.Nn;
using Xunit;
using static GpuNet.Tests.Nn.NnTestUtil;

namespace GpuNet.Tests.Nn;

public class LossTests
{
    [Fact]
    public void MSELoss_by_hand()
    {
        using var scope = Tensor.NewScope();
        var x = F64([1, 2, 3], 3);
        var y = F64([1, 0, 5], 3);
        Near(8.0 / 3, new MSELoss().Forward(x, y).Item<double>());
        Near(8.0, new MSELoss(Reduction.Sum).Forward(x, y).Item<double>());
        Near([0, 4, 4], D(new MSELoss(Reduction.None).Forward(x, y)));
        Assert.Throws<ArgumentException>(() => new MSELoss().Forward(x, F64([1, 2], 2)));
    }

    [Fact]
    public void CrossEntropy_by_hand()
    {
        using var scope = Tensor.NewScope();
        var logits = F64([1, 2, 3, 1, 1, 1], 2, 3);
        var labels = I32(2, 0);
        double l0 = Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3)) - 3; // 0.40760596…
        double l1 = Math.Log(3);
        Near(0.40760596444, l0, 1e-9);
        Near((l0 + l1) / 2, new CrossEntropyLoss().Forward(logits, labels).Item<double>(), 1e-12);
        Near(l0 + l1, new CrossEntropyLoss(Reduction.Sum).Forward(logits, labels).Item<double>(), 1e-12);
        Near([l0, l1], D(new CrossEntropyLoss(Reduction.None).Forward(logits, labels)), 1e-12);
    }

    [Fact]
    public void CrossEntropy_label_smoothing_as_PyTorch_defines_it()
    {
        using var scope = Tensor.NewScope();
        var logits = F64([1, 2, 3, 1, 1, 1], 2, 3);
        var labels = I32(2, 0);
        double lse = Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3));
        // (1 − ε)·nll + ε·mean_c(−log p_c)
        double r0 = 0.9 * (lse - 3) + 0.1 * (lse - 2);
        double r1 = Math.Log(3);
        Near(0.50760596444, r0, 1e-9);
        Near((r0 + r1) / 2, new CrossEntropyLoss(labelSmoothing: 0.1).Forward(logits, labels).Item<double>(), 1e-12);
        // The same as soft targets (1 − ε)·onehot + ε/C.
        var soft = F64([0.1 / 3, 0.1 / 3, 0.9 + 0.1 / 3, 0.9 + 0.1 / 3, 0.1 / 3, 0.1 / 3], 2, 3);
        Near((r0 + r1) / 2, new CrossEntropyLoss().Forward(logits, soft).Item<double>(), 1e-12);
    }

    [Fact]
    public void CrossEntropy_rejects_bad_labels_clearly()
    {
        using var scope = Tensor.NewScope();
        var logits = F64([1, 2, 3, 1, 1, 1], 2, 3);
        Assert.Contains("Int32 class labels [2] or class probabilities of the input's shape [2,3]; got float64 [2,1]", Assert.Throws<ArgumentException>(() => new CrossEntropyLoss().Forward(logits, F64([1, 2], 2, 1))).Message);
        Assert.Contains("[2]", Assert.Throws<ArgumentException>(() => new CrossEntropyLoss().Forward(logits, I32(1, 2, 0))).Message);
        Assert.ThrowsAny<ArgumentException>(() => new CrossEntropyLoss().Forward(logits, I32(1, 3)));
    }

    [Fact]
    public void NLLLoss_by_hand()
    {
        using var scope = Tensor.NewScope();
        var logp = F64([-1, -2, -0.5, -3], 2, 2);
        Near(1.25, new NLLLoss().Forward(logp, I32(1, 0)).Item<double>());
        // NLL of log-softmax is cross-entropy.
        var logits = Tensor.Randn([4, 5], seed: 1, dtype: DType.Float64, device: Cpu);
        var labels = I32(0, 4, 2, 2);
        Near(new CrossEntropyLoss().Forward(logits, labels).Item<double>(), new NLLLoss().Forward(logits.LogSoftmax(1), labels).Item<double>(), 1e-12);
    }

    [Fact]
    public void HingeLoss_is_the_plain_multiclass_sum_of_the_notes()
    {
        using var scope = Tensor.NewScope();
        var s = F64([3, 1, 2.5, 0, 2, -1], 2, 3);
        var y = I32(0, 1);
        // row 0: max(0, 1−3+1) + max(0, 2.5−3+1) = 0.5; row 1: max(0, 0−2+1) + max(0, −1−2+1) = 0
        Near([0.5, 0], D(new HingeLoss(reduction: Reduction.None).Forward(s, y)));
        Near(0.25, new HingeLoss().Forward(s, y).Item<double>());
        Near(0.5 / 3 / 2, new HingeLoss(divideByClasses: true).Forward(s, y).Item<double>());
        Near([1.5, 0], D(new HingeLoss(margin: 2, reduction: Reduction.None).Forward(s, y)));
        // Gradient: +1 on each violating j, −(number of violations) on the label.
        var x = F64([3, 1, 2.5], 1, 3).RequiresGrad_();
        new HingeLoss(reduction: Reduction.Sum).Forward(x, I32(0)).Backward();
        Near([-1, 0, 1], D(x.Grad!));
    }

    [Fact]
    public void BCEWithLogits_by_hand_and_stable()
    {
        using var scope = Tensor.NewScope();
        double[] xs = [0, 2, -3, 100, -100];
        double[] ys = [1, 0, 0.5, 1, 0];
        static double Sig(double v) => 1 / (1 + Math.Exp(-v));
        var expected = xs.Zip(ys, (x, y) => x is 100 or -100 ? 0 : -(y * Math.Log(Sig(x)) + (1 - y) * Math.Log(1 - Sig(x)))).ToArray();
        var x = F64(xs, 5).RequiresGrad_();
        var none = D(new BCEWithLogitsLoss(Reduction.None).Forward(x, F64(ys, 5)));
        Near(expected, none, 1e-12);
        Assert.All(none, v => Assert.True(double.IsFinite(v)));
        var loss = new BCEWithLogitsLoss().Forward(x, F64(ys, 5));
        loss.Backward();
        // ∂/∂x = (σ(x) − y)/N, exact at x = 0 too.
        Near(xs.Zip(ys, (a, b) => (Sig(a) - b) / 5).ToArray(), D(x.Grad!), 1e-12);
        // float32 stays finite for large logits
        var big = new BCEWithLogitsLoss(Reduction.None).Forward(F32([80f, -80f], 2), F32([0f, 1f], 2)).ToArray();
        Assert.Equal(80f, big[0], 1e-3f);
        Assert.Equal(80f, big[1], 1e-3f);
    }

    [Fact]
    public void L2Penalty_and_metrics()
    {
        using var scope = Tensor.NewScope();
        using var p1 = P([1, 2], 2);
        using var p2 = P([3], 1);
        Near(7, Losses.L2Penalty([p1, p2], 0.5).Item<double>());
        var logits = F64([1, 2, 3, 0, 0, 1], 3, 2);
        var labels = I32(1, 1, 1);
        Near(2.0 / 3, Metrics.Accuracy(logits, labels));
        Near(1.0 / 3, Metrics.ZeroOneLoss(logits, labels));
        Assert.Equal(2, Metrics.CorrectCount(logits, labels));
    }

    [Fact]
    public void GradCheck_through_every_loss()
    {
        using var scope = Tensor.NewScope();
        var x = Tensor.Randn([4, 3], seed: 11, dtype: DType.Float64, device: Cpu, requiresGrad: true);
        var target = Tensor.Rand([4, 3], seed: 12, dtype: DType.Float64, device: Cpu);
        var labels = I32(0, 2, 1, 2);
        foreach (var r in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
        {
            Assert.True(Autograd.GradCheck(xs => new MSELoss(r).Forward(xs[0], xs[1]), [x, target.Detach().RequiresGrad_()]));
            Assert.True(Autograd.GradCheck(xs => new CrossEntropyLoss(r).Forward(xs[0], labels), [x]));
            Assert.True(Autograd.GradCheck(xs => new CrossEntropyLoss(r, labelSmoothing: 0.2).Forward(xs[0], labels), [x]));
            Assert.True(Autograd.GradCheck(xs => new NLLLoss(r).Forward(xs[0].LogSoftmax(1), labels), [x]));
            Assert.True(Autograd.GradCheck(xs => new HingeLoss(0.5, r).Forward(xs[0], labels), [x]));
            Assert.True(Autograd.GradCheck(xs => new BCEWithLogitsLoss(r).Forward(xs[0], target), [x]));
        }
        Assert.True(Autograd.GradCheck(xs => Losses.L2Penalty([xs[0]], 0.3), [x]));
    }
}
