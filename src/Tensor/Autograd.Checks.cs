using System.Text;

namespace GpuNet;

/// <summary>The worst disagreement between numerical and analytical gradients for one input.</summary>
/// <param name="Input">Which input.</param>
/// <param name="MaxAbsoluteError">Largest |numerical − analytical|.</param>
/// <param name="MaxRelativeError">Largest |numerical − analytical| / max(|numerical|, |analytical|, tiny).</param>
/// <param name="WorstOutputIndex">Flat index of the output element where the worst error occurred.</param>
/// <param name="WorstInputIndex">Flat index of the input element where the worst error occurred.</param>
/// <param name="Numerical">Finite-difference derivative there.</param>
/// <param name="Analytical">Backprop derivative there.</param>
/// <param name="Passed">True when every element is within atol + rtol·|numerical|.</param>
public sealed record GradCheckResult(int Input, double MaxAbsoluteError, double MaxRelativeError, long WorstOutputIndex, long WorstInputIndex,
    double Numerical, double Analytical, bool Passed);

public static partial class Autograd
{
    /// <summary>
    /// Compares backprop against central finite differences, (f(x+ε) − f(x−ε)) / 2ε, element by element
    /// of the full Jacobian, for every input that requires grad. Use float64 inputs: in float32 the
    /// differences drown in rounding. Returns true, or throws (as PyTorch does) naming the input, the
    /// element and both values.
    /// </summary>
    public static bool GradCheck(Func<Tensor[], Tensor> function, Tensor[] inputs, double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3, bool raiseException = true)
    {
        var results = GradCheckReport(function, inputs, eps, atol, rtol);
        var failed = results.FirstOrDefault(r => !r.Passed);
        if (failed is null) return true;
        if (!raiseException) return false;
        throw new GradCheckException(failed, results);
    }

    /// <summary>The per-input errors behind <see cref="GradCheck"/>, without throwing.</summary>
    public static IReadOnlyList<GradCheckResult> GradCheckReport(Func<Tensor[], Tensor> function, Tensor[] inputs, double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3)
    {
        using var scope = Tensor.NewScope();
        var outputProbe = function(inputs);
        long outCount = outputProbe.NumElements;
        var outShape = outputProbe.ShapeArray;
        var results = new List<GradCheckResult>();
        for (int i = 0; i < inputs.Length; i++)
        {
            var x = inputs[i];
            if (!x.RequiresGrad) continue;
            var numerical = NumericalJacobian(function, inputs, i, outCount, eps);
            var analytical = AnalyticalJacobian(function, inputs, i, outShape);
            double maxAbs = 0, maxRel = 0, num = 0, ana = 0;
            long worstOut = -1, worstIn = -1;
            bool passed = true;
            for (long o = 0; o < outCount; o++)
                for (long j = 0; j < x.NumElements; j++)
                {
                    double n = numerical[o, j], a = analytical[o, j];
                    double abs = Math.Abs(n - a);
                    if (double.IsNaN(n) != double.IsNaN(a)) abs = double.PositiveInfinity;
                    else if (double.IsNaN(n)) abs = 0;
                    double rel = abs / Math.Max(Math.Max(Math.Abs(n), Math.Abs(a)), 1e-12);
                    bool ok = abs <= atol + rtol * Math.Abs(n);
                    if (!ok) passed = false;
                    if (abs > maxAbs || worstOut < 0) { maxAbs = abs; worstOut = o; worstIn = j; num = n; ana = a; }
                    maxRel = Math.Max(maxRel, rel);
                }
            results.Add(new GradCheckResult(i, maxAbs, maxRel, worstOut, worstIn, num, ana, passed));
        }
        return results;
    }

    private static double[,] NumericalJacobian(Func<Tensor[], Tensor> function, Tensor[] inputs, int which, long outCount, double eps)
    {
        var x = inputs[which];
        long n = x.NumElements;
        var jacobian = new double[outCount, n];
        var original = x.To(DType.Float64).ToArray<double>();
        var values = (double[])original.Clone();
        using var noGrad = NoGrad();
        for (long j = 0; j < n; j++)
        {
            values[j] = original[j] + eps;
            var plus = Evaluate(values);
            values[j] = original[j] - eps;
            var minus = Evaluate(values);
            values[j] = original[j];
            for (long o = 0; o < outCount; o++) jacobian[o, j] = (plus[o] - minus[o]) / (2 * eps);
        }
        Write(original);
        return jacobian;

        double[] Evaluate(double[] v)
        {
            Write(v);
            using var scope = Tensor.NewScope();
            using var y = function(inputs);
            return y.To(DType.Float64).ToArray<double>();
        }

        void Write(double[] v)
        {
            using var src = Tensor.FromArray(v, x.ShapeArray, x.Device);
            x.CopyFrom(src);
        }
    }

    private static double[,] AnalyticalJacobian(Func<Tensor[], Tensor> function, Tensor[] inputs, int which, int[] outShape)
    {
        var x = inputs[which];
        long outCount = ShapeUtil.Count(outShape);
        var jacobian = new double[outCount, x.NumElements];
        using var scope = Tensor.NewScope();
        var y = function(inputs);
        if (!y.RequiresGrad) return jacobian; // the output does not depend on any input: all zeros
        var seedValues = new double[outCount];
        for (long o = 0; o < outCount; o++)
        {
            seedValues[o] = 1;
            using var seed = Tensor.FromArray(seedValues, outShape, y.Device).To(y.DType);
            seedValues[o] = 0;
            var g = Grad([y], [x], [seed], retainGraph: true, allowUnused: true)[0];
            if (g is null) continue;
            var row = g.To(DType.Float64).ToArray<double>();
            for (long j = 0; j < row.Length; j++) jacobian[o, j] = row[j];
        }
        return jacobian;
    }

    /// <summary>
    /// The full Jacobian of <paramref name="function"/> at <paramref name="x"/>, shaped output.Shape + x.Shape,
    /// built row by row from vector-Jacobian products.
    /// </summary>
    public static Tensor Jacobian(Func<Tensor, Tensor> function, Tensor x, bool createGraph = false)
    {
        // The function must be recorded to be differentiated, even when called inside NoGrad (as PyTorch's
        // functional.jacobian does); otherwise every row would silently come back zero.
        using var recording = EnableGrad();
        var input = createGraph && x.RequiresGrad ? x.Alias() : x.Detach().RequiresGrad_();
        var y = function(input);
        var rows = new List<Tensor>();
        try
        {
            for (long o = 0; o < y.NumElements; o++)
            {
                using var seed = OneHotSeed(y, o);
                var g = y.RequiresGrad ? Grad([y], [input], [seed], retainGraph: true, createGraph: createGraph, allowUnused: true)[0] : null;
                rows.Add((g ?? Tensor.ZerosLike(input)).Reshape(-1));
            }
            if (rows.Count == 0) return Tensor.Zeros([.. y.Shape, .. x.Shape], x.DType, x.Device);
            using var stacked = Tensor.Stack(rows);
            return stacked.Reshape([.. y.Shape, .. x.Shape]);
        }
        finally
        {
            foreach (var r in rows) r.Dispose();
            input.Dispose();
        }
    }

    /// <summary>The Hessian of a scalar <paramref name="function"/> at <paramref name="x"/>, shaped x.Shape + x.Shape, from double backward.</summary>
    public static Tensor Hessian(Func<Tensor, Tensor> function, Tensor x)
    {
        var input = x.Detach().RequiresGrad_();
        try
        {
            return Jacobian(v =>
            {
                var y = function(v);
                if (y.NumElements != 1)
                    throw new ArgumentException($"Hessian: the function must return one element; it returned shape {ShapeUtil.Format(y.ShapeArray)}.");
                return Grad([y], [v], createGraph: true, allowUnused: true)[0] ?? Tensor.ZerosLike(v);
            }, input, createGraph: true).Detach();
        }
        finally
        {
            input.Dispose();
        }
    }

    private static Tensor OneHotSeed(Tensor like, long index)
    {
        var seed = Tensor.Zeros(like.ShapeArray, like.DType, like.Device);
        var flat = new Kernels.StridedView(seed.Buffer, [1], [1], index);
        seed.Backend.Fill(flat, 1);
        return seed;
    }
}

/// <summary>Thrown by <see cref="Autograd.GradCheck"/> when backprop and finite differences disagree.</summary>
public sealed class GradCheckException : Exception
{
    internal GradCheckException(GradCheckResult failed, IReadOnlyList<GradCheckResult> all) : base(Describe(failed, all))
    {
        Failed = failed;
        Results = all;
    }

    /// <summary>The first input that failed.</summary>
    public GradCheckResult Failed { get; }

    /// <summary>Every input's result.</summary>
    public IReadOnlyList<GradCheckResult> Results { get; }

    private static string Describe(GradCheckResult f, IReadOnlyList<GradCheckResult> all)
    {
        var sb = new StringBuilder();
        sb.Append($"GradCheck: Jacobian mismatch for input {f.Input} at output element {f.WorstOutputIndex}, input element {f.WorstInputIndex}: ");
        sb.Append($"numerical {f.Numerical:G8}, analytical {f.Analytical:G8} (max abs error {f.MaxAbsoluteError:G3}, max rel error {f.MaxRelativeError:G3}).");
        foreach (var r in all) sb.Append($"\n  input {r.Input}: max abs {r.MaxAbsoluteError:G3}, max rel {r.MaxRelativeError:G3}, {(r.Passed ? "ok" : "FAILED")}");
        return sb.ToString();
    }
}
