using GpuNet.Lessons;
using ScottPlot;

namespace GpuNet.Cli;

/// <summary>PNG figures for <c>gpunet demo</c>, drawn with ScottPlot from the lessons' result records.</summary>
internal static class LessonPlots
{
    private static string Save(Plot plot, PlotTarget target, string file, int width = 800, int height = 600) =>
        target.Write(file, plot.GetImageBytes(width, height, ImageFormat.Png));

    private static string Save(Multiplot multiplot, PlotTarget target, string file, int width, int height)
    {
        using var image = multiplot.Render(width, height);
        return target.Write(file, image.GetImageBytes(ImageFormat.Png, 100));
    }

    // Title, axis labels (null: left as is) and legend corner.
    private static void Label(Plot plot, string title, string xLabel, string? yLabel, Alignment legend)
    {
        plot.Title(title);
        plot.Axes.Bottom.Label.Text = xLabel;
        if (yLabel is not null) plot.Axes.Left.Label.Text = yLabel;
        plot.ShowLegend(legend);
    }

    /// <summary>The two classes, the learned boundary and the max-margin boundary.</summary>
    public static string Perceptron(PerceptronLessonResult r, PlotTarget target)
    {
        var plot = new Plot();
        var pos = r.Points.Where((_, i) => r.Labels[i] > 0).ToArray();
        var neg = r.Points.Where((_, i) => r.Labels[i] < 0).ToArray();
        var a = plot.Add.ScatterPoints(pos.Select(p => p[0]).ToArray(), pos.Select(p => p[1]).ToArray());
        a.LegendText = "y = +1  (N(0,1))";
        var b = plot.Add.ScatterPoints(neg.Select(p => p[0]).ToArray(), neg.Select(p => p[1]).ToArray());
        b.LegendText = "y = -1  (N(3,1))";
        double lo = r.Points.Min(p => Math.Min(p[0], p[1])) - 0.5, hi = r.Points.Max(p => Math.Max(p[0], p[1])) + 0.5;
        AddLine(plot, r.Weight, lo, hi, $"perceptron  w = ({r.Weight[0]:0.0}, {r.Weight[1]:0.0}, {r.Weight[2]:0.0})", LinePattern.Solid);
        AddLine(plot, r.MaxMarginDirection, lo, hi, $"max-margin direction (gamma = {r.GammaSearch:0.000})", LinePattern.Dashed);
        plot.Axes.SetLimits(lo, hi, lo, hi);
        Label(plot, $"Perceptron: {r.Updates} updates in {r.Epochs.Count} epochs (bound (R/gamma)^2 = {r.BoundSearch:N0})", "x1", "x2", Alignment.UpperRight);
        return Save(plot, target, "perceptron.png");
    }

    /// <summary>The trained sigmoid MLP's P(y = 1) over the plane as a heatmap, with the four XOR points.</summary>
    public static string Xor(XorLessonResult r, PlotTarget target)
    {
        var plot = new Plot();
        int g = r.GridAxis.Length;
        var flipped = new double[g, g];                  // heatmap row 0 is drawn at the top: highest x2 first
        for (int row = 0; row < g; row++)
            for (int col = 0; col < g; col++)
                flipped[row, col] = r.Surface[g - 1 - row, col];
        var heatmap = plot.Add.Heatmap(flipped);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        double step = r.GridAxis[1] - r.GridAxis[0];
        heatmap.Extent = new CoordinateRect(r.GridAxis[0] - step / 2, r.GridAxis[^1] + step / 2, r.GridAxis[0] - step / 2, r.GridAxis[^1] + step / 2);
        plot.Add.ColorBar(heatmap);
        double[] x1 = [0, 0, 1, 1], x2 = [0, 1, 0, 1];
        bool[] on = XorLesson.XorSigns.Select(v => v > 0).ToArray();
        var ones = plot.Add.Markers(x1.Where((_, i) => on[i]).ToArray(), x2.Where((_, i) => on[i]).ToArray(), MarkerShape.FilledCircle, 14, Colors.Red);
        ones.LegendText = "XOR = 1";
        var zeros = plot.Add.Markers(x1.Where((_, i) => !on[i]).ToArray(), x2.Where((_, i) => !on[i]).ToArray(), MarkerShape.FilledSquare, 14, Colors.Cyan);
        zeros.LegendText = "XOR = 0";
        plot.Axes.SetLimits(r.GridAxis[0], r.GridAxis[^1], r.GridAxis[0], r.GridAxis[^1]);
        Label(plot, $"XOR by a {string.Join("-", r.MlpSizes)} sigmoid MLP trained by backprop: P(y = 1)", "x1", "x2", Alignment.UpperCenter);
        return Save(plot, target, "xor.png", 760, 640);
    }

    /// <summary>Target vs approximations: trained widths (left) and hand-built towers (right).</summary>
    public static string UniversalApproximation(UniversalApproximationResult r, PlotTarget target)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        var left = multiplot.Subplots.GetPlot(0);
        var right = multiplot.Subplots.GetPlot(1);
        Curves(left, r.X, r.Target, r.Trained, "H =", "Trained with Adam: 1-H-1 sigmoid network");
        Curves(right, r.X, r.Target, r.Towers.Where((_, i) => i % 2 == 1 || i == r.Towers.Count - 1).Distinct().ToList(), "K =", "Built by hand: K towers (2K sigmoids)");
        return Save(multiplot, target, "universal-approximation.png", 1400, 560);
    }

    private static void Curves(Plot plot, double[] x, double[] target, IReadOnlyList<Approximation> runs, string unit, string title)
    {
        var t = plot.Add.ScatterLine(x, target);
        t.LegendText = "target f(x)";
        t.LineWidth = 4;
        t.Color = Colors.Black.WithAlpha(0.35);
        foreach (var a in runs)
        {
            var line = plot.Add.ScatterLine(x, a.Curve);
            line.LegendText = $"{unit} {a.Units}: max error {a.MaxError:0.000}";
            line.LineWidth = 1.5f;
        }
        Label(plot, title, "x", null, Alignment.LowerLeft);
    }

    /// <summary>Full-data loss of batch, stochastic and mini-batch GD against updates (left, log scale) and epochs (right).</summary>
    public static string GradientDescent(GradientDescentResult r, PlotTarget target)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        var byUpdate = multiplot.Subplots.GetPlot(0);
        var byEpoch = multiplot.Subplots.GetPlot(1);
        foreach (var run in r.Runs)
        {
            var updates = Enumerable.Range(0, run.LossPerUpdate.Length).Select(i => Math.Log10(i + 1)).ToArray();
            var a = byUpdate.Add.ScatterLine(updates, run.LossPerUpdate);
            a.LegendText = $"{run.Method} (batch {run.BatchSize})";
            var epochs = Enumerable.Range(0, run.LossPerUpdate.Length).Select(i => (double)i / run.UpdatesPerEpoch).ToArray();
            var b = byEpoch.Add.ScatterLine(epochs, run.LossPerUpdate);
            b.LegendText = $"{run.Method}: {run.UpdatesPerEpoch} update{(run.UpdatesPerEpoch == 1 ? "" : "s")}/epoch";
        }
        LogAxis(byUpdate.Axes.Bottom, v => Math.Pow(10, v).ToString("N0"));
        Label(byUpdate, "Loss vs updates (1 + update number, log scale)", "updates", "full-data loss (BCE)", Alignment.LowerLeft);
        Label(byEpoch, "Loss vs epochs", "epochs", "full-data loss (BCE)", Alignment.UpperRight);
        return Save(multiplot, target, "gradient-descent.png", 1400, 560);
    }

    /// <summary>Least-squares loss per batch-GD step at three learning rates (log scale).</summary>
    public static string LearningRates(GradientDescentResult r, PlotTarget target)
    {
        var plot = new Plot();
        foreach (var q in r.Rates)
        {
            var steps = Enumerable.Range(0, q.Loss.Length).Select(i => (double)i).ToArray();
            var line = plot.Add.Scatter(steps, q.Loss.Select(Math.Log10).ToArray());
            line.LegendText = $"lr = {q.LearningRate:0.0000} = {q.Factor} x 2/lambda_max";
        }
        LogAxis(plot.Axes.Left);
        Label(plot, $"Batch GD on least squares: 2/lambda_max = {r.CriticalRate:0.0000}", "step", "loss (log scale)", Alignment.UpperLeft);
        return Save(plot, target, "gradient-descent-lr.png");
    }

    /// <summary>Worst relative error of the finite-difference gradient against ε (log-log).</summary>
    public static string GradCheck(GradCheckLessonResult r, PlotTarget target)
    {
        var plot = new Plot();
        var line = plot.Add.Scatter(r.EpsSweep.Select(e => Math.Log10(e.Eps)).ToArray(), r.EpsSweep.Select(e => Math.Log10(e.MaxRelativeError)).ToArray());
        line.LegendText = "max relative error, float64";
        LogAxis(plot.Axes.Left);
        LogAxis(plot.Axes.Bottom);
        Label(plot, $"Finite differences vs backprop, MLP {string.Join("-", r.Sizes)}: error against step size", "eps", "max relative error", Alignment.UpperCenter);
        return Save(plot, target, "gradcheck.png");
    }

    // Data plotted as log10 values: ticks at powers of ten, labelled as such ("1e-3" unless told otherwise).
    private static void LogAxis(IAxis axis, Func<double, string>? labelFormatter = null)
    {
        axis.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = labelFormatter ?? (v => $"1e{v:0}"),
        };
    }

    // The line w1 x1 + w2 x2 + w3 = 0 across [lo, hi].
    private static void AddLine(Plot plot, double[] w, double lo, double hi, string label, LinePattern pattern)
    {
        double[] xs, ys;
        if (Math.Abs(w[1]) > Math.Abs(w[0]))
        {
            xs = [lo, hi];
            ys = xs.Select(x => -(w[0] * x + w[2]) / w[1]).ToArray();
        }
        else
        {
            ys = [lo, hi];
            xs = ys.Select(y => -(w[1] * y + w[2]) / w[0]).ToArray();
        }
        var line = plot.Add.ScatterLine(xs, ys);
        line.LegendText = label;
        line.LineWidth = 2;
        line.LinePattern = pattern;
        line.MarkerSize = 0;
    }
}
