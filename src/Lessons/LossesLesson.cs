using GpuNet.Nn;

namespace GpuNet.Lessons;

/// <summary>Squared loss on a small regression example.</summary>
/// <param name="Predictions">f(xᵢ).</param>
/// <param name="Targets">yᵢ.</param>
/// <param name="PerSample">(f(xᵢ) − yᵢ)².</param>
/// <param name="Risk">Their mean, the empirical risk R̂.</param>
/// <param name="Gradient">∂R̂/∂f(xᵢ) from autograd.</param>
public sealed record SquaredLossExample(double[] Predictions, double[] Targets, double[] PerSample, double Risk, double[] Gradient);

/// <summary>Losses of a linear classifier's scores on three samples.</summary>
/// <param name="Classes">Class names.</param>
/// <param name="Scores">sᵢ per sample (one row each).</param>
/// <param name="Labels">yᵢ.</param>
/// <param name="Predicted">argmax sᵢ.</param>
/// <param name="ZeroOneRisk">Fraction misclassified.</param>
/// <param name="ZeroOneRiskNudged">The same after nudging every score by a small random amount: unchanged, the 0-1 loss has no useful gradient.</param>
/// <param name="HingePerSample">Lᵢ = Σ_{j≠yᵢ} max(0, sⱼ − s_yᵢ + 1) from <see cref="HingeLoss"/>.</param>
/// <param name="HingeRisk">Their mean.</param>
/// <param name="HingeGradient">∂Lᵢ/∂sᵢ from autograd.</param>
/// <param name="HingeGradientByHand">The hand formula: 1[sⱼ − s_yᵢ + 1 &gt; 0] for j ≠ yᵢ, minus their count at yᵢ.</param>
/// <param name="Probabilities">softmax(sᵢ).</param>
/// <param name="CrossEntropyPerSample">−log softmax(sᵢ)[yᵢ] from <see cref="CrossEntropyLoss"/>.</param>
/// <param name="NllPerSample">The same from <see cref="NLLLoss"/> on log-softmax scores.</param>
/// <param name="CrossEntropyRisk">Their mean.</param>
/// <param name="CrossEntropyGradient">∂Lᵢ/∂sᵢ from autograd.</param>
/// <param name="CrossEntropyGradientByHand">The formula softmax(sᵢ) − onehot(yᵢ).</param>
public sealed record ClassifierLossExample(string[] Classes, double[][] Scores, int[] Labels, int[] Predicted, double ZeroOneRisk, double ZeroOneRiskNudged,
    double[] HingePerSample, double HingeRisk, double[][] HingeGradient, double[][] HingeGradientByHand,
    double[][] Probabilities, double[] CrossEntropyPerSample, double[] NllPerSample, double CrossEntropyRisk,
    double[][] CrossEntropyGradient, double[][] CrossEntropyGradientByHand);

/// <summary>The hinge loss of a linear classifier s = Wx plus L2 regularisation, differentiated with respect to W.</summary>
/// <param name="W">The weights [classes, features].</param>
/// <param name="X">The sample.</param>
/// <param name="Label">Its class.</param>
/// <param name="Scores">s = Wx.</param>
/// <param name="Lambda">λ of the penalty λ‖W‖².</param>
/// <param name="DataLoss">The hinge loss.</param>
/// <param name="Penalty">λ‖W‖² from <see cref="Losses.L2Penalty(IEnumerable{Tensor}, double)"/>.</param>
/// <param name="Gradient">∂(loss + penalty)/∂W from autograd.</param>
/// <param name="GradientByHand">Σ_{j≠y} 1[sⱼ − s_y + 1 &gt; 0](eⱼ − e_y)xᵀ + 2λW.</param>
public sealed record RegularisedHingeExample(double[][] W, double[] X, int Label, double[] Scores, double Lambda, double DataLoss, double Penalty,
    double[][] Gradient, double[][] GradientByHand);

/// <summary>What <see cref="LossesLesson"/> shows.</summary>
/// <param name="Squared">Regression with the squared loss.</param>
/// <param name="Classifier">0-1, hinge, negative log-likelihood and softmax cross-entropy on the same scores.</param>
/// <param name="Regularised">Hinge plus L2 on a linear classifier's weights.</param>
public sealed record LossesLessonResult(SquaredLossExample Squared, ClassifierLossExample Classifier, RegularisedHingeExample Regularised)
{
    /// <summary>Largest |autograd − hand formula| over the hinge and cross-entropy score gradients and the regularised W gradient.</summary>
    public double MaxGradientDifference =>
        new[] { Diff(Classifier.HingeGradient, Classifier.HingeGradientByHand), Diff(Classifier.CrossEntropyGradient, Classifier.CrossEntropyGradientByHand),
                Diff(Regularised.Gradient, Regularised.GradientByHand) }.Max();

    private static double Diff(double[][] a, double[][] b) => a.Zip(b).SelectMany(p => p.First.Zip(p.Second, (x, y) => Math.Abs(x - y))).Max();
}

/// <summary>
/// Lesson "losses": the notes' losses on small worked examples, each with its value and gradient — squared
/// loss for regression, the 0-1 loss, the negative log-likelihood, the multi-class hinge loss (autograd
/// against the hand formula), softmax cross-entropy, L2 regularisation — and the empirical risk
/// R̂(f) = (1/N) Σ ℓ(f, zᵢ), which is each loss's mean reduction. Computed in float64 with the Nn losses.
/// </summary>
public static class LossesLesson
{
    /// <summary>The scores of the three-sample example (cat, car, frog), one row per sample.</summary>
    public static readonly double[][] ExampleScores = [[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]];

    /// <summary>The labels of the three samples: cat, car, frog.</summary>
    public static readonly int[] ExampleLabels = [0, 1, 2];

    /// <summary>Runs the lesson.</summary>
    public static LossesLessonResult Run()
    {
        using var scope = Tensor.NewScope();
        return new LossesLessonResult(Squared(), Classifier(), Regularised());
    }

    private static SquaredLossExample Squared()
    {
        double[] f = [2.5, 0.0, 2.0, 8.0], y = [3.0, -0.5, 2.0, 7.0];
        var pred = Tensor.FromArray(f, requiresGrad: true);
        var target = Tensor.FromArray(y);
        var perSample = new MSELoss(Reduction.None).Forward(pred, target);
        var risk = new MSELoss().Forward(pred, target);     // the mean: R̂
        risk.Backward();
        return new SquaredLossExample(f, y, D(perSample), risk.Item<double>(), D(pred.Grad!));
    }

    private static ClassifierLossExample Classifier()
    {
        int n = ExampleScores.Length, c = ExampleScores[0].Length;
        var flat = ExampleScores.SelectMany(r => r).ToArray();
        var labels = Tensor.FromArray(ExampleLabels);
        var scores = Tensor.FromArray(flat, [n, c]);

        // 0-1 loss: the fraction misclassified; nudging the scores leaves it unchanged (zero gradient almost everywhere).
        var predicted = scores.ArgMax(1).ToArray<int>();
        double zeroOne = Metrics.ZeroOneLoss(scores, labels);
        var nudged = scores + Tensor.Randn([n, c], seed: 7, std: 1e-3, dtype: DType.Float64);
        double zeroOneNudged = Metrics.ZeroOneLoss(nudged, labels);

        // Multi-class hinge: per-sample values, and ∂Lᵢ/∂sᵢ (sum reduction, so row i is sample i's own gradient).
        var s1 = scores.Detach().RequiresGrad_();
        var hingeNone = new HingeLoss(reduction: Reduction.None).Forward(s1, labels);
        new HingeLoss(reduction: Reduction.Sum).Forward(s1, labels).Backward();
        double hingeRisk = new HingeLoss().Forward(scores, labels).Item<double>();
        var hingeByHand = new double[n][];
        for (int i = 0; i < n; i++)
        {
            hingeByHand[i] = new double[c];
            int y = ExampleLabels[i];
            for (int j = 0; j < c; j++)
                if (j != y && ExampleScores[i][j] - ExampleScores[i][y] + 1 > 0)
                {
                    hingeByHand[i][j] += 1;
                    hingeByHand[i][y] -= 1;
                }
        }

        // Softmax cross-entropy, and the same through NLL on log-probabilities.
        var s2 = scores.Detach().RequiresGrad_();
        var ceNone = new CrossEntropyLoss(Reduction.None).Forward(s2, labels);
        new CrossEntropyLoss(Reduction.Sum).Forward(s2, labels).Backward();
        var nll = new NLLLoss(Reduction.None).Forward(scores.LogSoftmax(1), labels);
        double ceRisk = new CrossEntropyLoss().Forward(scores, labels).Item<double>();
        var p = scores.Softmax(1);
        var ceByHand = Rows(p - Tensor.OneHot(labels, c, DType.Float64), c);

        return new ClassifierLossExample(["cat", "car", "frog"], ExampleScores, ExampleLabels, predicted, zeroOne, zeroOneNudged,
            D(hingeNone), hingeRisk, Rows(s1.Grad!, c), hingeByHand,
            Rows(p, c), D(ceNone), D(nll), ceRisk, Rows(s2.Grad!, c), ceByHand);
    }

    private static RegularisedHingeExample Regularised()
    {
        double[][] w = [[0.2, -0.5, 0.1, 2.0], [1.5, 1.3, 2.1, 0.0], [0.0, 0.25, 0.2, -0.3]];
        double[] x = [0.56, 2.31, 0.24, 0.02];
        const int label = 0;
        const double lambda = 0.1;
        int classes = w.Length, features = x.Length;
        var weight = Tensor.FromArray(w.SelectMany(r => r).ToArray(), [classes, features], requiresGrad: true);
        var sample = Tensor.FromArray(x, [1, features]);
        var scores = sample.MatMul(weight.T);                        // s = Wx, [1, classes]
        var data = new HingeLoss().Forward(scores, Tensor.FromArray(new[] { label }));
        var penalty = Losses.L2Penalty([weight], lambda);
        (data + penalty).Backward();

        var s = D(scores);
        var byHand = new double[classes][];
        for (int j = 0; j < classes; j++) byHand[j] = w[j].Select(v => 2 * lambda * v).ToArray();
        for (int j = 0; j < classes; j++)
            if (j != label && s[j] - s[label] + 1 > 0)
                for (int k = 0; k < features; k++)
                {
                    byHand[j][k] += x[k];
                    byHand[label][k] -= x[k];
                }
        return new RegularisedHingeExample(w, x, label, s, lambda, data.Item<double>(), penalty.Item<double>(), Rows(weight.Grad!, features), byHand);
    }

    private static double[] D(Tensor t) => t.DType == DType.Float64 ? t.ToArray<double>() : t.To(DType.Float64).ToArray<double>();

    private static double[][] Rows(Tensor t, int width) => D(t).Chunk(width).ToArray();
}
