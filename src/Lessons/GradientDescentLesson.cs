using GpuNet.Nn;

namespace GpuNet.Lessons;

/// <summary>Settings of <see cref="GradientDescentLesson"/>.</summary>
/// <param name="Seed">Seed of the two Gaussians (and of the shuffles).</param>
/// <param name="Epochs">Epochs per method.</param>
/// <param name="LearningRate">Learning rate shared by the three methods.</param>
/// <param name="MiniBatch">Mini-batch size.</param>
/// <param name="RateSteps">Batch steps run at each learning rate in the step-size experiment.</param>
public sealed record GradientDescentOptions(long Seed = 151, int Epochs = 10, double LearningRate = 0.1, int MiniBatch = 20, int RateSteps = 50);

/// <summary>One way of running gradient descent on the logistic-regression problem.</summary>
/// <param name="Method">Batch, stochastic or mini-batch.</param>
/// <param name="BatchSize">Samples per update.</param>
/// <param name="UpdatesPerEpoch">Updates per pass over the data.</param>
/// <param name="LossPerUpdate">Full-data loss before the first update and after each update.</param>
/// <param name="LossPerEpoch">Full-data loss before training and after each epoch.</param>
/// <param name="Accuracy">Training accuracy at the end.</param>
/// <param name="LossIncreases">Updates after which the full-data loss went up (the noise of small batches).</param>
public sealed record DescentRun(string Method, int BatchSize, int UpdatesPerEpoch, double[] LossPerUpdate, double[] LossPerEpoch, double Accuracy, int LossIncreases);

/// <summary>Batch gradient descent on least squares at one learning rate.</summary>
/// <param name="Factor">The learning rate as a multiple of 2/λmax.</param>
/// <param name="LearningRate">The learning rate.</param>
/// <param name="Loss">Loss before the first step and after each step.</param>
/// <param name="TopComponent">(w − w*)·v₁ before and after each step, v₁ the Hessian's top eigenvector: its sign flips when η &gt; 1/λmax.</param>
public sealed record RateRun(double Factor, double LearningRate, double[] Loss, double[] TopComponent);

/// <summary>What <see cref="GradientDescentLesson"/> shows.</summary>
/// <param name="Runs">Batch GD, SGD and mini-batch GD on the same logistic regression.</param>
/// <param name="Samples">Training samples.</param>
/// <param name="Hessian">The least-squares Hessian (2/N)XᵀX, from <see cref="Autograd.Hessian"/>.</param>
/// <param name="LambdaMax">Its largest eigenvalue.</param>
/// <param name="CriticalRate">2/λmax: batch GD on a quadratic diverges above it.</param>
/// <param name="Rates">Batch GD at several multiples of the critical rate.</param>
public sealed record GradientDescentResult(IReadOnlyList<DescentRun> Runs, int Samples, double[,] Hessian, double LambdaMax, double CriticalRate, IReadOnlyList<RateRun> Rates);

/// <summary>
/// Lesson "gradient-descent": batch, stochastic and mini-batch gradient descent on one problem (logistic
/// regression on the notes' two Gaussians), compared per update and per epoch; then what too large a
/// learning rate does, on the least-squares version of the problem where the limit 2/λmax is exact.
/// </summary>
public static class GradientDescentLesson
{
    /// <summary>Runs the lesson.</summary>
    public static GradientDescentResult Run(GradientDescentOptions? options = null)
    {
        var o = options ?? new GradientDescentOptions();
        using var scope = Tensor.NewScope();
        using var data = LessonData.TwoGaussians(o.Seed);
        int n = data.Count;
        var features = data.X.Narrow(1, 0, 2).Contiguous();
        var targets = ((data.Y + 1.0) * 0.5).Reshape(-1, 1);    // +1 → 1, −1 → 0
        var set = new TensorDataset(features, targets);
        var runs = new List<DescentRun>
        {
            Descend("batch GD", set, n, o),
            Descend("SGD", set, 1, o),
            Descend($"mini-batch GD", set, o.MiniBatch, o),
        };

        // Least squares on the same inputs (with the ones column): L(w) = mean((Xw − y)²), a quadratic.
        var x = data.X;
        var y = data.Y;
        Tensor LeastSquares(Tensor w)
        {
            var r = x.MatMul(w) - y;
            return (r * r).Mean();
        }
        var hessian = Autograd.Hessian(LeastSquares, Tensor.Zeros([3]));
        var (lambda, top) = TopEigen(hessian);
        // w* solves the normal equations; GD converges to it, so run long at a safe rate to find it.
        var wStar = Descent(LeastSquares, 1.0 / lambda, 2000, null, out _);
        var rates = new List<RateRun>();
        foreach (double factor in new[] { 0.25, 0.9, 1.05 })
        {
            double lr = factor * 2 / lambda;
            Descent(LeastSquares, lr, o.RateSteps, (wStar, top), out var run);
            rates.Add(run with { Factor = factor });
        }
        var h = hessian.To(DType.Float64).ToArray<double>();
        var h2 = new double[3, 3];
        for (int i = 0; i < 9; i++) h2[i / 3, i % 3] = h[i];
        return new GradientDescentResult(runs, n, h2, lambda, 2 / lambda, rates);
    }

    private static DescentRun Descend(string method, TensorDataset set, int batchSize, GradientDescentOptions o)
    {
        using var scope = Tensor.NewScope();
        using var model = new Linear(2, 1, seed: o.Seed);
        using var sgd = new SGD(model.Parameters(), o.LearningRate);
        var loss = new BCEWithLogitsLoss();
        var loader = new DataLoader(set, batchSize, shuffle: batchSize < set.Count, seed: o.Seed);
        double FullLoss()
        {
            using var s = Tensor.NewScope();
            using var noGrad = Autograd.NoGrad();
            return loss.Forward(model.Forward(set.Features), set.Labels).Item();
        }
        var perUpdate = new List<double> { FullLoss() };
        var perEpoch = new List<double> { perUpdate[0] };
        for (int epoch = 0; epoch < o.Epochs; epoch++)
        {
            foreach (var (xb, yb) in loader.Batches(epoch))
            {
                using var s = Tensor.NewScope();
                sgd.ZeroGrad();
                loss.Forward(model.Forward(xb), yb).Backward();
                sgd.Step();                                    // w ← w − η ∇L(w; batch)
                perUpdate.Add(FullLoss());
            }
            perEpoch.Add(perUpdate[^1]);
        }
        double accuracy;
        using (Autograd.NoGrad())
        {
            var predicted = model.Forward(set.Features).Gt(0);
            accuracy = predicted.Eq(set.Labels).Mean().Item();
        }
        int increases = perUpdate.Zip(perUpdate.Skip(1)).Count(p => p.Second > p.First);
        return new DescentRun(method, batchSize, loader.BatchCount, perUpdate.ToArray(), perEpoch.ToArray(), accuracy, increases);
    }

    // Batch GD from w = 0 with the SGD optimizer; records the loss and, given (w*, v₁), the top-eigenvector component of w − w*.
    private static Tensor Descent(Func<Tensor, Tensor> lossOf, double lr, int steps, (Tensor WStar, Tensor Top)? probe, out RateRun run)
    {
        using var w = new Parameter(Tensor.Zeros([3]));
        using var sgd = new SGD([w], lr);
        var losses = new List<double>();
        var components = new List<double>();
        void Record()
        {
            using var s = Tensor.NewScope();
            using var noGrad = Autograd.NoGrad();
            losses.Add(lossOf(w.Data).Item());
            if (probe is { } p) components.Add((w.Data - p.WStar).MatMul(p.Top).Item());
        }
        Record();
        for (int step = 0; step < steps; step++)
        {
            using (Tensor.NewScope())
            {
                sgd.ZeroGrad();
                lossOf(w.Data).Backward();
                sgd.Step();
            }
            Record();
        }
        run = new RateRun(0, lr, losses.ToArray(), components.ToArray());
        using var noGrad2 = Autograd.NoGrad();
        return w.Data.Clone();
    }

    // Largest eigenvalue and its unit eigenvector of a symmetric positive semi-definite matrix, by power iteration.
    private static (double Lambda, Tensor Vector) TopEigen(Tensor m)
    {
        var v = Tensor.Ones([m.Shape[0]], m.DType, m.Device) / Math.Sqrt(m.Shape[0]);
        double lambda = 0;
        for (int i = 0; i < 500; i++)
        {
            using var scope = Tensor.NewScope();
            var mv = m.MatMul(v);
            lambda = mv.MatMul(v).Item();
            var next = (mv / mv.MatMul(mv).Sqrt()).MoveToOuterScope();
            v.Dispose();
            v = next;
        }
        return (lambda, v);
    }
}
