using System.Diagnostics;

using GpuNet.Nn;

namespace GpuNet.Lessons;

/// <summary>Settings of <see cref="GradCheckLesson"/>.</summary>
/// <param name="Sizes">Layer widths of the MLP checked.</param>
/// <param name="Batch">Samples in the batch the loss is taken over.</param>
/// <param name="Seed">Seed of the weights and data.</param>
public sealed record GradCheckOptions(int[]? Sizes = null, int Batch = 8, long Seed = 0)
{
    /// <summary>The widths, defaulting to 8-16-4.</summary>
    public int[] SizeList => Sizes ?? [8, 16, 4];
}

/// <summary>Numerical against analytical gradient for one parameter tensor.</summary>
/// <param name="Name">The parameter's name.</param>
/// <param name="Shape">Its shape.</param>
/// <param name="MaxAbsoluteError">max |numerical − analytical|.</param>
/// <param name="MaxRelativeError">max |numerical − analytical| / max(|numerical|, |analytical|).</param>
/// <param name="Passed">Within GradCheck's tolerances.</param>
public sealed record ParameterCheck(string Name, int[] Shape, double MaxAbsoluteError, double MaxRelativeError, bool Passed);

/// <summary>The worst relative error over all parameters for one finite-difference step.</summary>
/// <param name="Eps">The step ε of (f(θ+ε) − f(θ−ε)) / 2ε.</param>
/// <param name="MaxRelativeError">The worst relative error (float64).</param>
public sealed record EpsRow(double Eps, double MaxRelativeError);

/// <summary>What <see cref="GradCheckLesson"/> shows.</summary>
/// <param name="Sizes">The MLP's widths.</param>
/// <param name="ParameterCount">Scalar parameters P.</param>
/// <param name="Checks">Per parameter tensor, float64, ε = 1e-6.</param>
/// <param name="Passed">Every check passed (<see cref="Autograd.GradCheck"/>'s verdict).</param>
/// <param name="ForwardPasses">Forward passes the finite differences needed (2 per parameter).</param>
/// <param name="NumericalSeconds">Time for those forward passes.</param>
/// <param name="BackpropSeconds">Time for one forward and one backward pass giving every gradient (the mean of 20).</param>
/// <param name="EpsSweep">Worst relative error against ε: truncation error on the left, rounding error on the right.</param>
/// <param name="Float32AbsoluteError">Worst |numerical − analytical| of the same check in float32 (ε = 1e-3): why checks run in float64.</param>
/// <param name="Float32RelativeError">Worst relative error of that float32 check.</param>
public sealed record GradCheckLessonResult(int[] Sizes, long ParameterCount, IReadOnlyList<ParameterCheck> Checks, bool Passed,
    long ForwardPasses, double NumericalSeconds, double BackpropSeconds, IReadOnlyList<EpsRow> EpsSweep, double Float32AbsoluteError, double Float32RelativeError)
{
    /// <summary>Worst |numerical − analytical| over all parameters in float64.</summary>
    public double MaxAbsoluteError => Checks.Max(c => c.MaxAbsoluteError);

    /// <summary>Worst relative error over all parameters in float64.</summary>
    public double MaxRelativeError => Checks.Max(c => c.MaxRelativeError);
}

/// <summary>
/// Lesson "gradcheck": numerical gradients (central finite differences, slow and approximate) against
/// analytical ones (backprop, exact and one backward pass) for a small MLP with a cross-entropy loss:
/// the relative error per parameter tensor, the cost of each, and how the step ε and the dtype matter.
/// </summary>
public static class GradCheckLesson
{
    /// <summary>Runs the lesson.</summary>
    public static GradCheckLessonResult Run(GradCheckOptions? options = null)
    {
        var o = options ?? new GradCheckOptions();
        var sizes = o.SizeList;
        using var scope = Tensor.NewScope();
        using var mlp = new Mlp(sizes, Kernels.Activation.Tanh, seed: o.Seed, dtype: DType.Float64);
        var x = Tensor.Randn([o.Batch, sizes[0]], o.Seed + 1, dtype: DType.Float64);
        var labels = Tensor.FromArray(Enumerable.Range(0, o.Batch).Select(i => i % sizes[^1]).ToArray());
        var loss = new CrossEntropyLoss();
        var named = mlp.NamedParameters().ToList();
        var parameters = named.Select(p => p.Parameter.Data).ToArray();
        long forwardCalls = 0;
        Tensor Loss(Tensor[] _)
        {
            forwardCalls++;
            return loss.Forward(mlp.Forward(x), labels);
        }

        // Every parameter tensor through Autograd's checker (finite differences vs backprop, element by element).
        var report = Autograd.GradCheckReport(Loss, parameters);
        var checks = report.Select(r => new ParameterCheck(named[r.Input].Name, named[r.Input].Parameter.Shape.ToArray(), r.MaxAbsoluteError, r.MaxRelativeError, r.Passed)).ToList();
        bool passed = Autograd.GradCheck(Loss, parameters, raiseException: false);

        // The cost: 2 forward passes per scalar parameter, against one forward + one backward for all of them.
        long p = mlp.NumParameters();
        for (int k = 0; k < 20; k++)   // warm up both paths before timing them
        {
            using var s = Tensor.NewScope();
            mlp.ZeroGrad();
            Loss(parameters).Backward();
        }
        forwardCalls = 0;
        var sw = Stopwatch.StartNew();
        using (Autograd.NoGrad())
            for (long k = 0; k < 2 * p; k++)
            {
                using var s = Tensor.NewScope();
                Loss(parameters).Item<double>();
            }
        double numericalSeconds = sw.Elapsed.TotalSeconds;
        long passes = forwardCalls;
        const int repeats = 20;
        sw.Restart();
        for (int k = 0; k < repeats; k++)
        {
            using var s = Tensor.NewScope();
            mlp.ZeroGrad();
            Loss(parameters).Backward();
        }
        double backpropSeconds = sw.Elapsed.TotalSeconds / repeats;

        var sweep = new List<EpsRow>();
        foreach (double eps in new[] { 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10 })
            sweep.Add(new EpsRow(eps, Autograd.GradCheckReport(Loss, parameters, eps).Max(r => r.MaxRelativeError)));

        IReadOnlyList<GradCheckResult> report32;
        using (var mlp32 = new Mlp(sizes, Kernels.Activation.Tanh, seed: o.Seed))
        {
            var x32 = x.To(DType.Float32);
            var p32 = mlp32.Parameters().Select(q => q.Data).ToArray();
            report32 = Autograd.GradCheckReport(_ => loss.Forward(mlp32.Forward(x32), labels), p32, 1e-3);
        }
        return new GradCheckLessonResult(sizes, p, checks, passed, passes, numericalSeconds, backpropSeconds, sweep,
            report32.Max(r => r.MaxAbsoluteError), report32.Max(r => r.MaxRelativeError));
    }
}
