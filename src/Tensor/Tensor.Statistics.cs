using GpuNet.Kernels;

namespace GpuNet;

// Statistics, norms, scans and selections composed from the primitive ops (tinygrad style): each is
// differentiated through the ops it is made of, so its gradient, and the gradient of that, come for free.
public sealed partial class Tensor
{
    /// <summary>x² elementwise (PyTorch's <c>square</c>).</summary>
    public Tensor Square()
    {
        ThrowIfDisposed("Square");
        return this * this;
    }

    /// <summary>Variance of all elements: Σ(x − mean)² / (n − 1), or / n when <paramref name="unbiased"/> is false (PyTorch's <c>var()</c>).</summary>
    /// <param name="unbiased">Bessel's correction (divide by n − 1).</param>
    public Tensor Var(bool unbiased = true) => Variance("Var", null, unbiased, keepDim: false);

    /// <summary>Variance along <paramref name="dim"/>: Σ(x − mean)² / (n − 1), or / n when <paramref name="unbiased"/> is false (PyTorch's <c>var(dim)</c>).</summary>
    /// <param name="dim">The dim reduced (negative counts from the end).</param>
    /// <param name="unbiased">Bessel's correction (divide by n − 1; a dim of size 1 then gives NaN, as in PyTorch).</param>
    /// <param name="keepDim">Keep the reduced dim with size 1.</param>
    public Tensor Var(int dim, bool unbiased = true, bool keepDim = false) => Variance("Var", dim, unbiased, keepDim);

    /// <summary>Standard deviation of all elements, √<see cref="Var(bool)"/>.</summary>
    /// <param name="unbiased">Bessel's correction (divide by n − 1).</param>
    public Tensor Std(bool unbiased = true)
    {
        using var v = Variance("Std", null, unbiased, keepDim: false);
        return v.Sqrt();
    }

    /// <summary>Standard deviation along <paramref name="dim"/>, √<see cref="Var(int, bool, bool)"/>.</summary>
    /// <param name="dim">The dim reduced.</param>
    /// <param name="unbiased">Bessel's correction (divide by n − 1).</param>
    /// <param name="keepDim">Keep the reduced dim with size 1.</param>
    public Tensor Std(int dim, bool unbiased = true, bool keepDim = false)
    {
        using var v = Variance("Std", dim, unbiased, keepDim);
        return v.Sqrt();
    }

    // Two passes (the mean, then the squared deviations from it): no cancellation of E[x²] − E[x]².
    private Tensor Variance(string name, int? dim, bool unbiased, bool keepDim)
    {
        ThrowIfDisposed(name);
        if (!DType.IsFloating())
            throw new NotSupportedException($"{name}: dtype {DType.Name()} is not supported (expected float32 or float64) for the tensor of shape {ShapeUtil.Format(ShapeArray)}.");
        int d = dim is { } dd ? ShapeUtil.NormalizeDim(name, dd, Rank, ShapeArray) : 0;
        long n = dim is null ? NumElements : Rank == 0 ? 1 : ShapeArray[d];
        using var mean = dim is null ? Mean() : Mean(d, keepDim: true);
        using var diff = this - mean;
        using var square = diff * diff;
        using var sum = dim is null ? square.Sum() : square.Sum(d, keepDim);
        return sum / (double)(unbiased ? n - 1 : n);
    }

    /// <summary>
    /// The p-norm of all elements (PyTorch's <c>norm(p)</c>): (Σ|x|ᵖ)^(1/p); p = ∞ is max |x|, −∞ min |x|, 0 the count
    /// of non-zeros. The 2-norm's gradient x/‖x‖ is 0 at x = 0, as in PyTorch (not 0/0).
    /// </summary>
    /// <param name="p">The order.</param>
    public Tensor Norm(double p = 2) => PNorm(p, null, keepDim: false);

    /// <summary>The p-norm along <paramref name="dim"/> (see <see cref="Norm(double)"/>).</summary>
    /// <param name="p">The order.</param>
    /// <param name="dim">The dim reduced.</param>
    /// <param name="keepDim">Keep the reduced dim with size 1.</param>
    public Tensor Norm(double p, int dim, bool keepDim = false) => PNorm(p, dim, keepDim);

    private Tensor PNorm(double p, int? dim, bool keepDim)
    {
        const string name = "Norm";
        ThrowIfDisposed(name);
        if (!DType.IsFloating())
            throw new NotSupportedException($"{name}: dtype {DType.Name()} is not supported (expected float32 or float64) for the tensor of shape {ShapeUtil.Format(ShapeArray)}.");
        if (double.IsNaN(p)) throw new ArgumentException($"{name}: p is NaN.", nameof(p));
        int d = dim is { } dd ? ShapeUtil.NormalizeDim(name, dd, Rank, ShapeArray) : 0;
        Tensor Reduce(Tensor t, bool keep) => dim is null ? t.Sum() : t.Sum(d, keep);
        if (p == 2)
        {
            // Forward without recording, then one node whose VJP g·x/‖x‖ (with ‖x‖ = 0 read as 1) is in tensor ops.
            Tensor y;
            using (Autograd.NoGrad())
            {
                using var square = this * this;
                using var sum = Reduce(square, keepDim);
                y = sum.Sqrt();
            }
            var shape = ShapeArray;
            return Record(y, name, [this], [this, y], (g, s) =>
            {
                var (gk, yk) = dim is null || keepDim ? (g.Alias(), s[1].Alias()) : (g.Unsqueeze(d), s[1].Unsqueeze(d));
                using (gk)
                using (yk)
                {
                    using var zero = yk.Eq(0);
                    using var safe = Where(zero, 1.0, yk);
                    return [s[0] / safe * gk];
                }
            });
        }
        using var abs = Abs();
        if (double.IsPositiveInfinity(p)) return dim is null ? abs.Max() : abs.Max(d, keepDim);
        if (double.IsNegativeInfinity(p)) return dim is null ? abs.Min() : abs.Min(d, keepDim);
        if (p == 0)
        {
            using var nonZero = Ne(0);
            return Reduce(nonZero, keepDim);
        }
        if (p == 1) return Reduce(abs, keepDim);
        using var powered = abs.Pow(p);
        using var total = Reduce(powered, keepDim);
        return total.Pow(1 / p);
    }

    /// <summary>
    /// log Σ exp(x) along <paramref name="dim"/>, computed stably: the slice maximum m is taken out first,
    /// log Σ exp(x − m) + m (an infinite m is replaced by 0, so a slice of −∞ gives −∞, not NaN). The gradient is softmax(x).
    /// </summary>
    /// <param name="dim">The dim reduced.</param>
    /// <param name="keepDim">Keep the reduced dim with size 1.</param>
    public Tensor LogSumExp(int dim, bool keepDim = false)
    {
        const string name = "LogSumExp";
        ThrowIfDisposed(name);
        if (!DType.IsFloating())
            throw new NotSupportedException($"{name}: dtype {DType.Name()} is not supported (expected float32 or float64) for the tensor of shape {ShapeUtil.Format(ShapeArray)}.");
        int d = ShapeUtil.NormalizeDim(name, dim, Rank, ShapeArray);
        if (Rank > 0 && ShapeArray[d] == 0)
            throw new ArgumentException($"{name}: dim {dim} of {ShapeUtil.Format(ShapeArray)} is empty; the maximum it shifts by is undefined.");
        Tensor shift;
        using (Autograd.NoGrad()) // a constant: the result does not depend on it, nor does its gradient
        {
            using var max = Max(d, keepDim: true);
            using var absMax = max.Abs();
            using var infinite = absMax.Eq(double.PositiveInfinity);
            shift = Where(infinite, 0.0, max);
        }
        using (shift)
        {
            using var shifted = this - shift;
            using var e = shifted.Exp();
            using var sum = e.Sum(d, keepDim: true);
            using var log = sum.Log();
            using var result = log + shift;
            return keepDim || Rank == 0 ? result.Alias() : result.Squeeze(d);
        }
    }

    /// <summary>
    /// Largest values along <paramref name="dim"/> and their Int32 indices, as PyTorch's <c>max(dim)</c> returns
    /// them: the first maximal element of each slice; the gradient of the values goes to it.
    /// </summary>
    /// <param name="dim">The dim reduced.</param>
    /// <param name="indices">The indices of the maxima (Int32, the caller owns them).</param>
    /// <param name="keepDim">Keep the reduced dim with size 1.</param>
    public Tensor Max(int dim, out Tensor indices, bool keepDim = false)
    {
        var values = Max(dim, keepDim);
        indices = ArgMax(dim, keepDim);
        return values;
    }

    /// <summary>Smallest values along <paramref name="dim"/> and their Int32 indices (PyTorch's <c>min(dim)</c>).</summary>
    /// <param name="dim">The dim reduced.</param>
    /// <param name="indices">The indices of the minima (Int32, the caller owns them).</param>
    /// <param name="keepDim">Keep the reduced dim with size 1.</param>
    public Tensor Min(int dim, out Tensor indices, bool keepDim = false)
    {
        var values = Min(dim, keepDim);
        indices = ArgMin(dim, keepDim);
        return values;
    }

    /// <summary>
    /// Cumulative sum along <paramref name="dim"/>: y[…, j, …] = Σ_{i ≤ j} x[…, i, …] (PyTorch's <c>cumsum</c>).
    /// Computed as one product with an n×n triangle of ones, so it costs n² multiply-adds per slice (fine for the
    /// dims an MLP has; a scan kernel would be the tool for very long ones); its gradient is the reversed cumulative sum.
    /// </summary>
    /// <param name="dim">The dim summed along.</param>
    public Tensor CumSum(int dim)
    {
        const string name = "CumSum";
        ThrowIfDisposed(name);
        int d = ShapeUtil.NormalizeDim(name, dim, Rank, ShapeArray);
        if (Rank == 0) return Affine(1, 0);
        int n = ShapeArray[d];
        Tensor triangle;
        using (Autograd.NoGrad())
        {
            using var rows = Arange(0, n, 1, DType.Float32, Device).Unsqueeze(1);
            using var cols = Arange(0, n, 1, DType.Float32, Device).Unsqueeze(0);
            using var upper = rows.Le(cols); // upper[i, j] = 1 where i ≤ j
            triangle = upper.To(DType);
        }
        using (triangle)
        {
            using var last = Transpose(d, -1);
            using var summed = last.MatMul(triangle);
            return summed.Transpose(d, -1);
        }
    }

    /// <summary>
    /// The <paramref name="k"/> largest (or smallest) values along <paramref name="dim"/>, sorted, with their Int32
    /// indices (PyTorch's <c>topk</c>). NaN counts as the largest value, as in PyTorch. The gradient of the values
    /// goes to the selected elements. Found by k rounds of arg-max over the slice (k small, as for top-k accuracy).
    /// </summary>
    /// <param name="k">How many values per slice (0 ≤ k ≤ the dim's size).</param>
    /// <param name="dim">The dim searched (the last by default).</param>
    /// <param name="largest">The largest values (else the smallest).</param>
    public (Tensor Values, Tensor Indices) TopK(int k, int dim = -1, bool largest = true)
    {
        const string name = "TopK";
        ThrowIfDisposed(name);
        if (Rank == 0) throw new ArgumentException($"{name}: needs a tensor with at least one dim; got a scalar.");
        int d = ShapeUtil.NormalizeDim(name, dim, Rank, ShapeArray);
        int n = ShapeArray[d];
        if (k < 0 || k > n)
            throw new ArgumentException($"{name}: k = {k} is out of range for dim {dim} of size {n} in {ShapeUtil.Format(ShapeArray)} (expected 0 ≤ k ≤ {n}).", nameof(k));
        Tensor indices;
        using (Autograd.NoGrad())
        {
            var parts = new List<Tensor>();
            // Selected slots are masked with the lowest value; should the best remaining value equal it (a slice of
            // −∞), arg-max could return a masked slot, so the first unselected slot is taken instead.
            double lowest = DType.IsFloating() ? double.NegativeInfinity : int.MinValue;
            using var key = largest ? Alias() : Neg();
            var taken = ZerosLike(key);
            try
            {
                for (int i = 0; i < k; i++)
                {
                    using var masked = Where(taken, lowest, key);
                    using var best = masked.ArgMax(d, keepDim: true);
                    using var bestValue = masked.Gather(d, best);
                    using var atFloor = bestValue.Eq(lowest);
                    using var free = 1.0 - taken;
                    using var firstFree = free.ArgMax(d, keepDim: true);
                    var chosen = Where(atFloor, firstFree, best);
                    parts.Add(chosen);
                    using var one = OnesLike(chosen).To(key.DType);
                    var next = taken.ScatterAdd(d, chosen, one);
                    taken.Dispose();
                    taken = next;
                }
                int[] emptyShape = [.. ShapeArray.Select((s, i) => i == d ? 0 : s)];
                indices = k == 0 ? Zeros(emptyShape, DType.Int32, Device) : Cat(parts, d);
            }
            finally
            {
                taken.Dispose();
                foreach (var p in parts) p.Dispose();
            }
        }
        return (Gather(d, indices), indices);
    }

    /// <summary>Uniform random integers on [<paramref name="low"/>, <paramref name="high"/>) (PyTorch's <c>randint</c>); the same seed gives the same numbers on every device.</summary>
    /// <param name="low">Smallest value drawn.</param>
    /// <param name="high">One past the largest value drawn.</param>
    /// <param name="shape">The result's shape.</param>
    /// <param name="seed">Seed (else the global stream, see <see cref="ManualSeed"/>).</param>
    /// <param name="dtype">Int32 by default; a floating dtype holds the same integers.</param>
    /// <param name="device">The device (the default one if null).</param>
    public static Tensor RandInt(int low, int high, int[] shape, long? seed = null, DType dtype = DType.Int32, Device? device = null)
    {
        if (high <= low) throw new ArgumentException($"RandInt: high ({high}) must be greater than low ({low}).", nameof(high));
        double range = (double)high - low;
        // Float32 holds every integer below 2²⁴ exactly; wider ranges draw in float64.
        using var u = Rand(shape, seed, 0, range, range <= 1 << 24 ? DType.Float32 : DType.Float64, device);
        using var whole = u.To(DType.Int32); // truncation is floor for u ≥ 0
        using var clamped = whole.Clamp(0, range - 1); // a draw rounded up to the range's end
        using var shifted = clamped + low;
        return dtype == DType.Int32 ? shifted.Alias() : shifted.To(dtype);
    }

    /// <summary>Uniform random numbers on [low, high) with <paramref name="t"/>'s shape, dtype and device (PyTorch's <c>rand_like</c>).</summary>
    /// <param name="t">The tensor whose shape, dtype and device are taken.</param>
    /// <param name="seed">Seed (else the global stream).</param>
    /// <param name="low">Lower bound.</param>
    /// <param name="high">Upper bound (excluded).</param>
    public static Tensor RandLike(Tensor t, long? seed = null, double low = 0, double high = 1)
    {
        ArgumentNullException.ThrowIfNull(t);
        t.ThrowIfDisposed("RandLike");
        return Rand(t.ShapeArray, seed, low, high, t.DType, t.Device);
    }

    /// <summary>Normal random numbers with <paramref name="t"/>'s shape, dtype and device (PyTorch's <c>randn_like</c>).</summary>
    /// <param name="t">The tensor whose shape, dtype and device are taken.</param>
    /// <param name="seed">Seed (else the global stream).</param>
    /// <param name="mean">Mean.</param>
    /// <param name="std">Standard deviation.</param>
    public static Tensor RandnLike(Tensor t, long? seed = null, double mean = 0, double std = 1)
    {
        ArgumentNullException.ThrowIfNull(t);
        t.ThrowIfDisposed("RandnLike");
        return Randn(t.ShapeArray, seed, mean, std, t.DType, t.Device);
    }
}
