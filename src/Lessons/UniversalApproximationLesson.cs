using GpuNet.Nn;

namespace GpuNet.Lessons;

/// <summary>Settings of <see cref="UniversalApproximationLesson"/>.</summary>
/// <param name="Widths">Hidden widths of the trained one-hidden-layer sigmoid networks.</param>
/// <param name="Steps">Full-batch Adam steps per width.</param>
/// <param name="LearningRate">Adam's initial learning rate (cosine-annealed to zero over the steps).</param>
/// <param name="TrainPoints">Evenly spaced training points on [0, 1].</param>
/// <param name="Towers">Tower counts for the hand-built construction.</param>
/// <param name="Steepness">Slope of each tower's sigmoids, per tower: s = Steepness · K.</param>
/// <param name="EvalPoints">Evenly spaced points on [0, 1] where errors are measured and curves sampled.</param>
/// <param name="Seed">Seed of the networks' initial output weights.</param>
/// <param name="InitialSlope">Initial slope of each hidden sigmoid, per unit of width: s = InitialSlope · H, centres evenly spread.</param>
public sealed record UniversalApproximationOptions(int[]? Widths = null, int Steps = 1000, double LearningRate = 0.05, int TrainPoints = 200,
    int[]? Towers = null, double Steepness = 100, int EvalPoints = 1001, long Seed = 0, double InitialSlope = 8)
{
    /// <summary>The widths, defaulting to 2, 4, 8, 16, 32.</summary>
    public int[] WidthList => Widths ?? [2, 4, 8, 16, 32];

    /// <summary>The tower counts, defaulting to 4, 8, 16, 32, 64, 128.</summary>
    public int[] TowerList => Towers ?? [4, 8, 16, 32, 64, 128];
}

/// <summary>One approximation of the target.</summary>
/// <param name="Units">Hidden width (trained networks) or number of towers (2 sigmoids each).</param>
/// <param name="MaxError">max |f̂(x) − f(x)| on the evaluation grid.</param>
/// <param name="RmsError">Root-mean-square error on the evaluation grid.</param>
/// <param name="Curve">f̂ on the evaluation grid.</param>
public sealed record Approximation(int Units, double MaxError, double RmsError, double[] Curve);

/// <summary>What <see cref="UniversalApproximationLesson"/> shows.</summary>
/// <param name="X">The evaluation grid on [0, 1].</param>
/// <param name="Target">f(x) = sin(2πx) + a Gaussian bump at 0.6, on the grid.</param>
/// <param name="Trained">One trained network per width.</param>
/// <param name="Towers">One hand-built tower network per tower count.</param>
public sealed record UniversalApproximationResult(double[] X, double[] Target, IReadOnlyList<Approximation> Trained, IReadOnlyList<Approximation> Towers);

/// <summary>
/// Lesson "universal-approximation": one hidden layer of sigmoid neurons approximates a continuous
/// function on [0, 1] as closely as we like given enough units. Shown twice: networks of growing width
/// trained with Adam, and the constructive proof — "towers" σ(s(x − a)) − σ(s(x − b)), each from a pair of
/// steep sigmoids, built by hand with no training.
/// </summary>
public static class UniversalApproximationLesson
{
    /// <summary>Centre of the target's bump.</summary>
    public const double BumpCentre = 0.6;

    /// <summary>Width (standard deviation) of the target's bump.</summary>
    public const double BumpWidth = 0.04;

    /// <summary>The target f(x) = sin(2πx) + exp(−(x − 0.6)² / (2·0.04²)), elementwise on tensors.</summary>
    public static Tensor Target(Tensor x)
    {
        var wave = (x * (2 * Math.PI)).Sin();
        var d = x - BumpCentre;
        var bump = (d * d * (-1 / (2 * BumpWidth * BumpWidth))).Exp();
        return wave + bump;
    }

    /// <summary>Runs the lesson.</summary>
    public static UniversalApproximationResult Run(UniversalApproximationOptions? options = null)
    {
        var o = options ?? new UniversalApproximationOptions();
        using var scope = Tensor.NewScope();
        var grid = Tensor.Linspace(0, 1, o.EvalPoints).Reshape(-1, 1);
        var target = Target(grid);
        var targetValues = Doubles(target);
        var trained = o.WidthList.Select(w => TrainWidth(w, o, grid, target)).ToList();
        var towers = o.TowerList.Select(k =>
        {
            using var inner = Tensor.NewScope();
            using var net = TowerNetwork(k, o.Steepness * k);
            using var noGrad = Autograd.NoGrad();
            return Measure(k, net.Forward(grid), target);
        }).ToList();
        return new UniversalApproximationResult(Doubles(grid), targetValues, trained, towers);
    }

    /// <summary>
    /// The constructive network: K towers on [k/K, (k+1)/K], tower k of height f(centre) made of σ(s(x − k/K)) − σ(s(x − (k+1)/K)).
    /// A <see cref="Sequential"/> of Linear(1, 2K) → Sigmoid → Linear(2K, 1) whose weights are set by hand.
    /// </summary>
    public static Sequential TowerNetwork(int towers, double steepness, Device? device = null)
    {
        if (towers <= 0) throw new ArgumentOutOfRangeException(nameof(towers), $"TowerNetwork: towers must be positive; got {towers}.");
        var hidden = new Linear(1, 2 * towers, device: device);
        var output = new Linear(2 * towers, 1, device: device);
        using (Autograd.NoGrad())
        using (Tensor.NewScope())
        {
            var centres = Tensor.Arange(towers, device: device) * (1.0 / towers) + 0.5 / towers;
            var heights = Target(centres).ToArray();
            var w1 = new float[2 * towers];
            var b1 = new float[2 * towers];
            var w2 = new float[2 * towers];
            for (int k = 0; k < towers; k++)
            {
                double left = (double)k / towers, right = (double)(k + 1) / towers;
                w1[2 * k] = w1[2 * k + 1] = (float)steepness;
                b1[2 * k] = (float)(-steepness * left);        // steps up at the left edge
                b1[2 * k + 1] = (float)(-steepness * right);   // and down at the right edge
                w2[2 * k] = heights[k];
                w2[2 * k + 1] = -heights[k];
            }
            hidden.Weight.Data.CopyFrom(Tensor.FromArray(w1, [2 * towers, 1], device));
            hidden.Bias!.Data.CopyFrom(Tensor.FromArray(b1, null, device));
            output.Weight.Data.CopyFrom(Tensor.FromArray(w2, [1, 2 * towers], device));
            output.Bias!.Data.FillInPlace(0);
        }
        return new Sequential(hidden, new Sigmoid(), output);
    }

    private static Approximation TrainWidth(int width, UniversalApproximationOptions o, Tensor grid, Tensor target)
    {
        using var scope = Tensor.NewScope();
        var x = Tensor.Linspace(0, 1, o.TrainPoints).Reshape(-1, 1);
        var y = Target(x);
        using var net = new Mlp([1, width, 1], Kernels.Activation.Sigmoid, seed: o.Seed);
        // Start the sigmoids as a spread-out basis: centres evenly over [0, 1] and slopes proportional to the width,
        // so neighbouring units overlap (the default init, slopes below 1, would spend most of the steps growing them).
        var first = (Linear)net.Layers[0];
        using (Autograd.NoGrad())
        {
            double slope = o.InitialSlope * width;
            var centres = (Tensor.Arange(width) + 0.5) * (1.0 / width);
            first.Weight.Data.FillInPlace(slope);
            first.Bias!.Data.CopyFrom(centres * -slope);
        }
        using var adam = new Adam(net.Parameters(), o.LearningRate);
        var schedule = new CosineAnnealingLR(adam, o.Steps);
        var loss = new MSELoss();
        for (int step = 0; step < o.Steps; step++)
        {
            using var stepScope = Tensor.NewScope();
            adam.ZeroGrad();
            loss.Forward(net.Forward(x), y).Backward();
            adam.Step();
            schedule.Step();
        }
        using var noGrad = Autograd.NoGrad();
        return Measure(width, net.Forward(grid), target);
    }

    private static Approximation Measure(int units, Tensor approximation, Tensor target)
    {
        var error = (approximation - target).Abs();
        double max = error.Max().Item();
        double rms = Math.Sqrt((error * error).Mean().Item());
        return new Approximation(units, max, rms, Doubles(approximation));
    }

    private static double[] Doubles(Tensor t) => t.ToArray().Select(v => (double)v).ToArray();
}
