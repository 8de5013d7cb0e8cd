using GpuNet.Nn;

namespace GpuNet.Lessons;

/// <summary>The two-Gaussians data set of the notes' perceptron experiment, shared by several lessons.</summary>
/// <param name="X">[2n, 3]: x₁, x₂ and a column of ones (the bias input); rows alternate class +1 and class −1.</param>
/// <param name="Y">[2n] labels: +1 for the N(0, 1) points (even rows), −1 for the N(μ, 1) points (odd rows).</param>
public sealed record TwoGaussians(Tensor X, Tensor Y) : IDisposable
{
    /// <summary>Number of points.</summary>
    public int Count => X.Shape[0];

    /// <summary>The points' coordinates [x₁, x₂] as rows, on the host.</summary>
    public double[][] Points()
    {
        using var x64 = X.To(DType.Float64);
        var flat = x64.ToArray<double>();
        return Enumerable.Range(0, Count).Select(i => new[] { flat[i * 3], flat[i * 3 + 1] }).ToArray();
    }

    /// <summary>The labels on the host.</summary>
    public int[] Labels() => Y.ToArray().Select(v => (int)MathF.Round(v)).ToArray();

    /// <summary>Frees both tensors.</summary>
    public void Dispose()
    {
        X.Dispose();
        Y.Dispose();
    }
}

/// <summary>Data sets the lessons share.</summary>
public static class LessonData
{
    /// <summary>
    /// The notes' experiment: <paramref name="perClass"/> points from N(0, 1) and as many from N(<paramref name="mean"/>, 1)
    /// in 2-D (<see cref="Tensor.Randn"/>, seeded), interleaved (X[0::2] = D1, X[1::2] = D2) with a bias column of ones
    /// appended, labels +1 / −1. The tensors belong to no scope: dispose the result.
    /// </summary>
    public static TwoGaussians TwoGaussians(long seed, int perClass = 100, double mean = 3, DType dtype = DType.Float32, Device? device = null)
    {
        if (perClass <= 0) throw new ArgumentOutOfRangeException(nameof(perClass), $"TwoGaussians: perClass must be positive; got {perClass}.");
        using var suspend = TensorScope.Suspend();
        using var d1 = Tensor.Randn([perClass, 2], seed, 0, 1, dtype, device);
        using var d2 = Tensor.Randn([perClass, 2], seed + 1, mean, 1, dtype, device);
        using var pairs = Tensor.Stack([d1, d2], 1);          // [n, 2 (class), 2]
        using var interleaved = pairs.Reshape(2 * perClass, 2); // rows D1[0], D2[0], D1[1], …
        using var ones = Tensor.Ones([2 * perClass, 1], dtype, device);
        var x = Tensor.Cat([interleaved, ones], 1);
        using var plus = Tensor.Ones([perClass, 1], dtype, device);
        using var minus = Tensor.Full([perClass, 1], -1, dtype, device);
        using var labelPairs = Tensor.Cat([plus, minus], 1);   // [n, 2]
        var y = labelPairs.Reshape(2 * perClass);
        return new TwoGaussians(x, y);
    }
}
