using GpuNet.Nn;

namespace GpuNet.Lessons.Neurons;

/// <summary>What one epoch (pass over the data) of <see cref="Perceptron.Fit"/> did.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="Changes">Updates made (mistakes met) during the epoch.</param>
/// <param name="Weight">The weight vector at the end of the epoch.</param>
public sealed record PerceptronEpoch(int Epoch, int Changes, double[] Weight);

/// <summary>The course of a <see cref="Perceptron.Fit"/> run.</summary>
/// <param name="Epochs">One entry per epoch run.</param>
/// <param name="Converged">True when the last epoch made no change (every point has yᵢ wᵀxᵢ &gt; 0).</param>
/// <param name="Updates">Total updates w ← w + yᵢxᵢ.</param>
/// <param name="MarginPasses">Matrix-vector products y ⊙ Xw computed to find the mistakes.</param>
public sealed record PerceptronTrace(IReadOnlyList<PerceptronEpoch> Epochs, bool Converged, int Updates, int MarginPasses);

/// <summary>
/// Rosenblatt's perceptron with the learning rule of the notes, on tensors. The bias is not a separate
/// parameter: append a column of ones to the inputs, as the notes do, and the last weight is the bias.
/// The model is f(x) = sign(wᵀx); a point is a mistake when yᵢ wᵀxᵢ ≤ 0 (labels ±1), and each mistake
/// updates w ← w + yᵢxᵢ.
/// </summary>
public sealed class Perceptron : IDisposable
{
    /// <summary>Creates the perceptron with w = 0.</summary>
    /// <param name="features">Length of each input (including the ones column, if any).</param>
    /// <param name="dtype">Floating dtype of the weights (inputs must match).</param>
    /// <param name="device">Where the weights live.</param>
    public Perceptron(int features, DType dtype = DType.Float32, Device? device = null)
    {
        if (features <= 0) throw new ArgumentOutOfRangeException(nameof(features), $"Perceptron: features must be positive; got {features}.");
        if (!dtype.IsFloating()) throw new ArgumentException($"Perceptron: weights must be floating; got {dtype.Name()}.", nameof(dtype));
        Features = features;
        using (TensorScope.Suspend()) Weight = Tensor.Zeros([features], dtype, device);
    }

    /// <summary>Length of each input.</summary>
    public int Features { get; }

    /// <summary>The weight vector w, [features]; owned by the perceptron (do not dispose it).</summary>
    public Tensor Weight { get; }

    /// <summary>The weights as doubles.</summary>
    public double[] WeightValues()
    {
        if (Weight.DType == DType.Float64) return Weight.ToArray<double>();
        using var w = Weight.To(DType.Float64);
        return w.ToArray<double>();
    }

    /// <summary>Sets w back to 0.</summary>
    public void Reset() => Weight.FillInPlace(0);

    /// <summary>The scores wᵀxᵢ for the rows of <paramref name="x"/> [N, features], as [N].</summary>
    public Tensor Scores(Tensor x)
    {
        CheckInputs(x);
        return x.MatMul(Weight);
    }

    /// <summary>Predicted labels: +1 where wᵀxᵢ &gt; 0, else −1, as [N].</summary>
    public Tensor Predict(Tensor x)
    {
        using var scores = Scores(x);
        using var positive = scores.Gt(0);
        using var twice = positive * 2.0;
        return twice - 1.0;
    }

    /// <summary>The functional margins yᵢ wᵀxᵢ, as [N]: positive where a point is on its side of the boundary.</summary>
    public Tensor Margins(Tensor x, Tensor y)
    {
        using var scores = Scores(x);
        using var labels = Labels(y, x.Shape[0]);
        return scores * labels;
    }

    /// <summary>Number of points the rule counts as mistakes (yᵢ wᵀxᵢ ≤ 0).</summary>
    public int Mistakes(Tensor x, Tensor y)
    {
        using var scope = Tensor.NewScope();
        using var noGrad = Autograd.NoGrad();
        var mistakes = Margins(x, y).Le(0).Sum();
        return (int)Math.Round(mistakes.To(DType.Float64).Item<double>());
    }

    /// <summary>
    /// Trains with the perceptron rule, continuing from the current w. Each epoch visits the points in
    /// order and, at every point with yᵢ wᵀxᵢ ≤ 0, applies w ← w + yᵢxᵢ. The mistakes are found in batch:
    /// one matrix-vector product gives every margin, the first mistake at or after the current position is
    /// updated, and the margins are recomputed from there — so the result is exactly the sequential rule,
    /// with one product per update (plus one per epoch) instead of one dot product per point.
    /// </summary>
    /// <param name="x">Inputs [N, features] (append a ones column for a bias).</param>
    /// <param name="y">Labels ±1, [N] or [N, 1].</param>
    /// <param name="maxEpochs">Most passes over the data.</param>
    /// <param name="earlyStop">Stop after the first epoch that makes no change (as the notes do).</param>
    /// <param name="onUpdate">Called after each update with (epoch, index of the point); <see cref="Weight"/> holds the new w.</param>
    public PerceptronTrace Fit(Tensor x, Tensor y, int maxEpochs, bool earlyStop = true, Action<int, int>? onUpdate = null)
    {
        CheckInputs(x);
        if (maxEpochs < 0) throw new ArgumentOutOfRangeException(nameof(maxEpochs), $"Perceptron.Fit: maxEpochs must be ≥ 0; got {maxEpochs}.");
        int n = x.Shape[0];
        using var noGrad = Autograd.NoGrad();
        using var labels = Labels(y, n);
        var signs = HostValues(labels);
        if (signs.Any(v => v != 1 && v != -1))
            throw new ArgumentException("Perceptron.Fit: labels must be +1 or −1.", nameof(y));
        var epochs = new List<PerceptronEpoch>();
        int updates = 0, passes = 0;
        bool converged = false;
        for (int e = 1; e <= maxEpochs; e++)
        {
            int changes = 0, next = 0;
            while (next < n)
            {
                using var scope = Tensor.NewScope();
                var margins = x.MatMul(Weight) * labels;
                var mistakes = margins.Le(0).ToArray();
                passes++;
                int i = Array.IndexOf(mistakes, 1f, next);
                if (i < 0) break;
                Weight.AddInPlace(x[i], signs[i]);   // w ← w + yᵢxᵢ
                changes++;
                next = i + 1;
                onUpdate?.Invoke(e, i);
            }
            updates += changes;
            epochs.Add(new PerceptronEpoch(e, changes, WeightValues()));
            if (changes == 0)
            {
                converged = true;
                if (earlyStop) break;
            }
        }
        return new PerceptronTrace(epochs, converged, updates, passes);
    }

    /// <summary>Frees the weights.</summary>
    public void Dispose() => Weight.Dispose();

    private void CheckInputs(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 2 || x.Shape[1] != Features)
            throw new ArgumentException($"Perceptron: inputs must be [N, {Features}]; got [{string.Join(",", x.Shape)}].", nameof(x));
        if (x.DType != Weight.DType)
            throw new ArgumentException($"Perceptron: inputs are {x.DType.Name()} but the weights are {Weight.DType.Name()}.", nameof(x));
    }

    private Tensor Labels(Tensor y, int n)
    {
        ArgumentNullException.ThrowIfNull(y);
        if (y.NumElements != n || (y.Rank == 2 && y.Shape[1] != 1) || y.Rank > 2)
            throw new ArgumentException($"Perceptron: labels must be [{n}] or [{n}, 1]; got [{string.Join(",", y.Shape)}].", nameof(y));
        var flat = y.Reshape(n);
        if (flat.DType == Weight.DType) return flat;
        using (flat) return flat.To(Weight.DType);
    }

    private static double[] HostValues(Tensor t)
    {
        if (t.DType == DType.Float64) return t.ToArray<double>();
        return t.ToArray().Select(v => (double)v).ToArray();
    }
}
