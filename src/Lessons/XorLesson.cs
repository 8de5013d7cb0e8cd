using GpuNet.Lessons.Neurons;
using GpuNet.Nn;

namespace GpuNet.Lessons;

/// <summary>Settings of <see cref="XorLesson"/>.</summary>
/// <param name="PerceptronEpochs">Epochs the plain perceptron is run on XOR.</param>
/// <param name="Hidden">Hidden width of the sigmoid MLP (2 or 4 in the notes' spirit).</param>
/// <param name="Steps">Full-batch Adam steps for the MLP.</param>
/// <param name="LearningRate">Adam's learning rate.</param>
/// <param name="Seed">Seed of the MLP's initial weights.</param>
/// <param name="GridSize">Points per axis of the decision-surface grid over [−0.5, 1.5]².</param>
/// <param name="ThreeInputs">Also check the 2ⁿ construction on all 256 functions of three inputs.</param>
public sealed record XorLessonOptions(int PerceptronEpochs = 12, int Hidden = 4, int Steps = 500, double LearningRate = 0.1, long Seed = 0,
    int GridSize = 101, bool ThreeInputs = true);

/// <summary>One boolean function checked against the 2ⁿ-hidden-unit network.</summary>
/// <param name="Number">The function's number (its truth table in binary).</param>
/// <param name="Name">Its name (two inputs) or number.</param>
/// <param name="Table">The truth table.</param>
/// <param name="Network">What the network outputs on the same patterns.</param>
public sealed record BooleanFunctionCheck(int Number, string Name, bool[] Table, bool[] Network)
{
    /// <summary>True when the network reproduces the table.</summary>
    public bool Reproduced => Table.SequenceEqual(Network);
}

/// <summary>What <see cref="XorLesson"/> shows.</summary>
/// <param name="XorEpochs">The plain perceptron on XOR (inputs with a ones column): changes and w per epoch.</param>
/// <param name="FirstEpochUpdates">Within the first epoch: the point each update was made on and w after it.</param>
/// <param name="XorConverged">Whether it ever made an epoch without change (it cannot).</param>
/// <param name="CycleStart">First epoch whose end-of-epoch w recurs later (0 when no repeat seen).</param>
/// <param name="CyclePeriod">Epochs between the repeats (0 when no repeat seen).</param>
/// <param name="FeatureEpochs">The perceptron on φ(x) = (x₁, x₂, x₁x₂, 1): changes and w per epoch.</param>
/// <param name="FeatureConverged">Whether it converged (it does).</param>
/// <param name="FeaturePredictions">Its outputs (0/1) on the four patterns after training.</param>
/// <param name="TwoInputFunctions">All 16 functions of two inputs against their networks (4 hidden perceptrons each).</param>
/// <param name="ThreeInputFunctions">Functions of three inputs checked (256 when enabled, else 0).</param>
/// <param name="ThreeInputReproduced">How many of those the networks (8 hidden perceptrons) reproduced.</param>
/// <param name="MlpSizes">The sigmoid MLP's layer widths.</param>
/// <param name="MlpLoss">Binary cross-entropy after each Adam step.</param>
/// <param name="MlpProbabilities">σ(output) on the four patterns after training.</param>
/// <param name="MlpSolved">True when thresholding at ½ gives XOR.</param>
/// <param name="GridAxis">The grid's coordinates along each axis.</param>
/// <param name="Surface">σ(output) on the grid, [row = x₂ index, column = x₁ index].</param>
public sealed record XorLessonResult(
    IReadOnlyList<PerceptronEpoch> XorEpochs, IReadOnlyList<(int Point, double[] Weight)> FirstEpochUpdates, bool XorConverged, int CycleStart, int CyclePeriod,
    IReadOnlyList<PerceptronEpoch> FeatureEpochs, bool FeatureConverged, int[] FeaturePredictions,
    IReadOnlyList<BooleanFunctionCheck> TwoInputFunctions, int ThreeInputFunctions, int ThreeInputReproduced,
    int[] MlpSizes, double[] MlpLoss, double[] MlpProbabilities, bool MlpSolved, double[] GridAxis, double[,] Surface);

/// <summary>
/// Lesson "xor": a single perceptron cannot learn XOR (it keeps making mistakes and its weights cycle);
/// the feature map φ(x₁, x₂) = (x₁, x₂, x₁x₂) makes XOR linearly separable; one hidden layer of 2ⁿ
/// perceptrons represents every boolean function of n inputs; and a small sigmoid MLP trained by
/// backprop solves XOR.
/// </summary>
public static class XorLesson
{
    /// <summary>XOR's labels ±1 on the patterns 00, 01, 10, 11.</summary>
    public static readonly float[] XorSigns = [-1, 1, 1, -1];

    /// <summary>Runs the lesson.</summary>
    public static XorLessonResult Run(XorLessonOptions? options = null)
    {
        var o = options ?? new XorLessonOptions();
        using var scope = Tensor.NewScope();
        var patterns = McCullochPittsNeuron.BooleanPatterns(2);           // [4, 2] of 0/1
        var ones = Tensor.Ones([4, 1]);
        var y = Tensor.FromArray(XorSigns);

        // 1. The perceptron on XOR itself, bias through a ones column.
        var x = Tensor.Cat([patterns, ones], 1);
        using var plain = new Perceptron(3);
        var firstEpoch = new List<(int Point, double[] Weight)>();
        var xorTrace = plain.Fit(x, y, o.PerceptronEpochs, earlyStop: true, onUpdate: (epoch, i) =>
        {
            if (epoch == 1) firstEpoch.Add((i, plain.WeightValues()));
        });
        var (cycleStart, period) = FindCycle(xorTrace.Epochs);

        // 2. The feature map φ(x) = (x₁, x₂, x₁x₂), plus the ones column.
        var product = patterns.Narrow(1, 0, 1) * patterns.Narrow(1, 1, 1);
        var phi = Tensor.Cat([patterns, product, ones], 1);
        using var lifted = new Perceptron(4);
        var featureTrace = lifted.Fit(phi, y, 100);
        var featurePredictions = lifted.Predict(phi).ToArray().Select(v => v > 0 ? 1 : 0).ToArray();

        // 3. 2ⁿ hidden perceptrons represent any boolean function.
        var two = CheckAll(2, 16).ToList();
        int threeReproduced = 0, threeCount = 0;
        if (o.ThreeInputs)
            foreach (var c in CheckAll(3, 256))
            {
                threeCount++;
                if (c.Reproduced) threeReproduced++;
            }

        // 4. A sigmoid MLP trained by backprop.
        var (sizes, losses, probabilities, axis, surface) = TrainMlp(patterns, o);
        bool solved = probabilities.Select(p => p > 0.5).SequenceEqual(XorSigns.Select(s => s > 0));
        return new XorLessonResult(xorTrace.Epochs, firstEpoch, xorTrace.Converged, cycleStart, period,
            featureTrace.Epochs, featureTrace.Converged, featurePredictions, two, threeCount, threeReproduced,
            sizes, losses, probabilities, solved, axis, surface);
    }

    /// <summary>Builds the 2ⁿ-hidden-unit network for every function of <paramref name="inputs"/> inputs and compares it with the truth table.</summary>
    public static IEnumerable<BooleanFunctionCheck> CheckAll(int inputs, int count)
    {
        for (int f = 0; f < count; f++) yield return Check(inputs, f);
    }

    /// <summary>Builds the 2ⁿ-hidden-unit network for function number <paramref name="f"/> and runs it on every input pattern.</summary>
    public static BooleanFunctionCheck Check(int inputs, int f)
    {
        using var scope = Tensor.NewScope();
        var table = BooleanFunctions.Table(f, inputs);
        using var network = BooleanNetwork.Build(inputs, table);
        var outputs = network.Forward(McCullochPittsNeuron.BooleanPatterns(inputs)).ToArray().Select(v => v > 0.5f).ToArray();
        return new BooleanFunctionCheck(f, inputs == 2 ? BooleanFunctions.Name(f) : $"f{f}", table, outputs);
    }

    /// <summary>The first epoch whose end-of-epoch weights recur at a later epoch, and the distance between them.</summary>
    public static (int Start, int Period) FindCycle(IReadOnlyList<PerceptronEpoch> epochs)
    {
        for (int j = 1; j < epochs.Count; j++)
            for (int i = 0; i < j; i++)
                if (epochs[i].Weight.SequenceEqual(epochs[j].Weight))
                    return (epochs[i].Epoch, j - i);
        return (0, 0);
    }

    private static (int[] Sizes, double[] Losses, double[] Probabilities, double[] Axis, double[,] Surface) TrainMlp(Tensor patterns, XorLessonOptions o)
    {
        int[] sizes = [2, o.Hidden, 1];
        using var mlp = new Mlp(sizes, Kernels.Activation.Sigmoid, seed: o.Seed);
        using var adam = new Adam(mlp.Parameters(), o.LearningRate);
        var loss = new BCEWithLogitsLoss();
        var target = Tensor.FromArray(XorSigns.Select(s => s > 0 ? 1f : 0f).ToArray(), [4, 1]);
        var losses = new double[o.Steps];
        for (int step = 0; step < o.Steps; step++)
        {
            using var stepScope = Tensor.NewScope();
            adam.ZeroGrad();
            var l = loss.Forward(mlp.Forward(patterns), target);
            l.Backward();
            adam.Step();
            losses[step] = l.Item();
        }
        using var noGrad = Autograd.NoGrad();
        var probabilities = mlp.Forward(patterns).Sigmoid().ToArray().Select(v => (double)v).ToArray();
        int g = o.GridSize;
        var axis = Enumerable.Range(0, g).Select(i => -0.5 + 2.0 * i / (g - 1)).ToArray();
        var grid = new float[g * g * 2];
        for (int r = 0; r < g; r++)
            for (int c = 0; c < g; c++)
            {
                grid[(r * g + c) * 2] = (float)axis[c];
                grid[(r * g + c) * 2 + 1] = (float)axis[r];
            }
        var values = mlp.Forward(Tensor.FromArray(grid, [g * g, 2])).Sigmoid().ToArray();
        var surface = new double[g, g];
        for (int r = 0; r < g; r++)
            for (int c = 0; c < g; c++)
                surface[r, c] = values[r * g + c];
        return (sizes, losses, probabilities, axis, surface);
    }
}
