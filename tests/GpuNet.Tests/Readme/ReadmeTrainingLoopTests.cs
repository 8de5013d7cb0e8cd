using GpuNet.Nn;

namespace GpuNet.Tests.Readme;

/// <summary>The README's training-loop and autograd snippets, verbatim, so they keep compiling and telling the truth.</summary>
public sealed class ReadmeTrainingLoopTests
{
    [Fact]
    public void ReadmeTrainingLoop_LearnsSpirals_WithNoDisposeCalls()
    {
        // --- README: training loop ---
        using var data = SyntheticData.Spirals(trainPerClass: 200, testPerClass: 100, seed: 0);
        var model = new Mlp([2, 64, 64, 3], activation: Kernels.Activation.Relu, seed: 0);
        var lossFn = new CrossEntropyLoss();
        var opt = new Adam(model.Parameters(), lr: 1e-2);
        var loader = new DataLoader(data.Train, batchSize: 64, shuffle: true, seed: 0);

        for (int epoch = 0; epoch < 60; epoch++)
            foreach (var (xb, yb) in loader.Batches(epoch))
            {
                using var step = Tensor.NewScope();   // frees this step's activations and temporaries
                var loss = lossFn.Forward(model.Forward(xb), yb);
                opt.ZeroGrad();
                loss.Backward();
                opt.Step();
            }

        using (Autograd.NoGrad())
        using (Tensor.NewScope())
            Console.WriteLine($"test accuracy: {Metrics.Accuracy(model.Forward(data.Test.Features), data.Test.Labels):F3}");
        // --- end ---

        using (Autograd.NoGrad())
        using (Tensor.NewScope())
            Assert.True(Metrics.Accuracy(model.Forward(data.Test.Features), data.Test.Labels) > 0.9);
    }

    [Fact]
    public void ReadmeAutograd_HessianOfAQuadraticForm_IsAPlusATransposed()
    {
        // --- README: autograd ---
        var a = Tensor.FromArray(new double[,] { { 2, 1 }, { 0, 3 } });
        var v = Tensor.FromArray(new double[] { 1, -1 }, requiresGrad: true);

        var f = v.MatMul(a).MatMul(v);                          // vᵀAv
        var g = Autograd.Grad(f, v, createGraph: true);        // (A + Aᵀ)v, itself differentiable
        var h = Autograd.Hessian(t => t.MatMul(a).MatMul(t), v); // A + Aᵀ = [[4, 1], [1, 6]]
        bool ok = Autograd.GradCheck(xs => (xs[0].Exp() * xs[0].Sin()).Sum(), [v]);
        // --- end ---

        Assert.Equal(new double[] { 3, -5 }, g.ToArray<double>());
        Assert.Equal(new double[] { 4, 1, 1, 6 }, h.ToArray<double>());
        Assert.True(ok);
    }
}
