using GpuNet.Lessons.Neurons;
using GpuNet.Nn;

namespace GpuNet.Lessons;

/// <summary>Settings of <see cref="PerceptronLesson"/>.</summary>
/// <param name="Seed">Seed of the two Gaussians (the default gives a linearly separable draw).</param>
/// <param name="PerClass">Points per class (the notes use 100).</param>
/// <param name="Mean">Mean of the second class in both coordinates (the notes use 3).</param>
/// <param name="MaxEpochs">Most epochs; training stops early after an epoch with no change.</param>
public sealed record PerceptronLessonOptions(long Seed = 151, int PerClass = 100, double Mean = 3, int MaxEpochs = 100);

/// <summary>What <see cref="PerceptronLesson"/> shows.</summary>
/// <param name="Points">The 2-D points (without the ones column).</param>
/// <param name="Labels">Their labels ±1.</param>
/// <param name="Epochs">Changes per epoch and w after each epoch.</param>
/// <param name="Converged">Whether an epoch made no change.</param>
/// <param name="Updates">Total updates (mistakes) over all epochs.</param>
/// <param name="MarginPasses">Batched margin computations y ⊙ Xw used to find the mistakes.</param>
/// <param name="Weight">The final w = (w₁, w₂, b).</param>
/// <param name="TrainingMistakes">Points with yᵢ wᵀxᵢ ≤ 0 under the final w.</param>
/// <param name="R">max ‖xᵢ‖ over the augmented inputs (ones column included).</param>
/// <param name="GammaFinal">Margin min yᵢ uᵀxᵢ of u = w/‖w‖, the learned direction.</param>
/// <param name="BoundFinal">(R / GammaFinal)², the convergence bound with that u.</param>
/// <param name="MaxMarginDirection">The unit vector with the largest margin found by the search.</param>
/// <param name="GammaSearch">Its margin: a lower bound on the best possible margin γ*, and a valid γ for the theorem.</param>
/// <param name="BoundSearch">(R / GammaSearch)², the tighter bound.</param>
/// <param name="DirectionsSearched">Unit directions whose margin the search evaluated.</param>
public sealed record PerceptronLessonResult(
    double[][] Points, int[] Labels, IReadOnlyList<PerceptronEpoch> Epochs, bool Converged, int Updates, int MarginPasses,
    double[] Weight, int TrainingMistakes, double R, double GammaFinal, double BoundFinal,
    double[] MaxMarginDirection, double GammaSearch, double BoundSearch, long DirectionsSearched);

/// <summary>
/// Lesson "perceptron": the notes' experiment run exactly — 100 points from N(0, 1) and 100 from N(3, 1),
/// a ones column appended (X is 200×3), labels +1/−1 interleaved, w = 0, the rule w ← w + yᵢxᵢ on each
/// mistake, epochs with early stop — and the convergence theorem: updates ≤ (R/γ)² for any unit u with
/// margin γ = minᵢ yᵢ uᵀxᵢ &gt; 0.
/// </summary>
public static class PerceptronLesson
{
    /// <summary>Runs the lesson.</summary>
    public static PerceptronLessonResult Run(PerceptronLessonOptions? options = null)
    {
        var o = options ?? new PerceptronLessonOptions();
        using var scope = Tensor.NewScope();
        using var data = LessonData.TwoGaussians(o.Seed, o.PerClass, o.Mean);
        using var perceptron = new Perceptron(3);
        var trace = perceptron.Fit(data.X, data.Y, o.MaxEpochs);
        var w = perceptron.WeightValues();
        int mistakes = perceptron.Mistakes(data.X, data.Y);

        using var noGrad = Autograd.NoGrad();
        double r = data.X.Mul(data.X).Sum(1).Sqrt().Max().Item();
        double gammaFinal = Margin(data.X, data.Y, w);
        var (best, gammaSearch, searched) = MaxMarginSearch(data.X, data.Y, r);
        return new PerceptronLessonResult(data.Points(), data.Labels(), trace.Epochs, trace.Converged, trace.Updates, trace.MarginPasses,
            w, mistakes, r, gammaFinal, Bound(r, gammaFinal), best, gammaSearch, Bound(r, gammaSearch), searched);
    }

    /// <summary>(R/γ)², or +∞ when γ ≤ 0 (no separating direction: the theorem says nothing).</summary>
    public static double Bound(double r, double gamma) => gamma > 0 ? r * r / (gamma * gamma) : double.PositiveInfinity;

    /// <summary>The geometric margin minᵢ yᵢ uᵀxᵢ / ‖u‖ of direction <paramref name="u"/> on (x, y).</summary>
    public static double Margin(Tensor x, Tensor y, double[] u)
    {
        using var scope = Tensor.NewScope();
        double norm = Math.Sqrt(u.Sum(v => v * v));
        if (norm == 0) return 0;
        var dir = Tensor.FromArray(u.Select(v => (float)(v / norm)).ToArray(), [u.Length, 1], x.Device).To(x.DType);
        return Margins(x, y, dir).Max().Item();
    }

    /// <summary>
    /// Searches unit vectors u ∝ (cos α, sin α, b) for the largest margin: a coarse grid over α ∈ [0, 2π) and
    /// b ∈ [−R, R], then three rounds of finer grids around the best, each round one batched product
    /// X·U over every candidate column. Returns the best direction, its margin and how many directions were tried.
    /// </summary>
    public static (double[] Direction, double Margin, long Searched) MaxMarginSearch(Tensor x, Tensor y, double r)
    {
        double bestAlpha = 0, bestB = 0, bestMargin = double.NegativeInfinity;
        double alphaLo = 0, alphaHi = 2 * Math.PI, bLo = -r, bHi = r;
        int na = 360, nb = 200;
        long searched = 0;
        for (int round = 0; round < 4; round++)
        {
            using var scope = Tensor.NewScope();
            var cols = new float[3 * na * nb];
            var alphas = new double[na * nb];
            var bs = new double[na * nb];
            for (int i = 0; i < na; i++)
                for (int j = 0; j < nb; j++)
                {
                    double a = alphaLo + (alphaHi - alphaLo) * i / (round == 0 ? na : na - 1);
                    double b = bLo + (bHi - bLo) * j / (nb - 1);
                    double norm = Math.Sqrt(1 + b * b);
                    int k = i * nb + j;
                    alphas[k] = a;
                    bs[k] = b;
                    cols[k] = (float)(Math.Cos(a) / norm);
                    cols[na * nb + k] = (float)(Math.Sin(a) / norm);
                    cols[2 * na * nb + k] = (float)(b / norm);
                }
            var u = Tensor.FromArray(cols, [3, na * nb], x.Device).To(x.DType);
            var margins = Margins(x, y, u);             // [K]: min over points of yᵢ uᵀxᵢ
            int best = margins.ArgMax().Item<int>();
            double m = margins.Max().Item();
            searched += na * nb;
            if (m > bestMargin)
            {
                bestMargin = m;
                bestAlpha = alphas[best];
                bestB = bs[best];
            }
            double da = (alphaHi - alphaLo) / na * 2, db = (bHi - bLo) / nb * 2;
            (alphaLo, alphaHi, bLo, bHi) = (bestAlpha - da, bestAlpha + da, bestB - db, bestB + db);
            (na, nb) = (41, 41);
        }
        double n2 = Math.Sqrt(1 + bestB * bestB);
        return ([Math.Cos(bestAlpha) / n2, Math.Sin(bestAlpha) / n2, bestB / n2], bestMargin, searched);
    }

    // min over rows of yᵢ uᵀxᵢ for each column u of [3, K]: [K].
    private static Tensor Margins(Tensor x, Tensor y, Tensor u)
    {
        var scores = x.MatMul(u);               // [N, K]
        var signed = scores * y.Reshape(-1, 1);
        return signed.Min(0);
    }
}
