using GpuNet.Nn;
using ScottPlot;

namespace GpuNet.Cli;

/// <summary>PNG charts written with ScottPlot.</summary>
internal static class Plots
{
    /// <summary>The picture <c>gpunet train --plot</c> draws, under its default name.</summary>
    public const string TrainingCurvesFile = "training-curves.png";

    /// <summary>The picture <c>gpunet eval --plot</c> draws, under its default name.</summary>
    public const string ConfusionMatrixFile = "confusion-matrix.png";

    /// <summary>
    /// The confusion matrix as a heatmap, as PNG bytes: row k is true class k (top to bottom), column j predicted class j;
    /// each cell is coloured by the share of class k's samples predicted as j (so rare and common classes compare) and
    /// labelled with its count.
    /// </summary>
    public static byte[] ConfusionMatrix(int[,] counts, IReadOnlyList<string> names, string title, int width = 900, int height = 800)
    {
        int n = counts.GetLength(0);
        if (n == 0 || counts.GetLength(1) != n || names.Count != n) throw new ArgumentException("ConfusionMatrix: expected a square matrix with a name per class.");
        var share = new double[n, n];
        for (int k = 0; k < n; k++)
        {
            double total = Enumerable.Range(0, n).Sum(j => (double)counts[k, j]);
            for (int j = 0; j < n; j++) share[k, j] = total == 0 ? 0 : counts[k, j] / total;
        }
        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(share);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        // Cell (k, j) fills the unit square around x = j, y = n − 1 − k: row 0 at the top, as the table prints it.
        heatmap.Rectangle = new CoordinateRect(-0.5, n - 0.5, -0.5, n - 0.5);
        for (int k = 0; k < n; k++)
            for (int j = 0; j < n; j++)
            {
                var label = plot.Add.Text(counts[k, j].ToString(System.Globalization.CultureInfo.InvariantCulture), j, n - 1 - k);
                label.LabelAlignment = Alignment.MiddleCenter;
                label.LabelFontColor = share[k, j] > 0.5 ? Colors.Black : Colors.White;
                label.LabelFontSize = 12;
            }
        plot.Add.ColorBar(heatmap);
        double[] positions = [.. Enumerable.Range(0, n).Select(i => (double)i)];
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, [.. names]);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, [.. Enumerable.Range(0, n).Select(i => names[n - 1 - i])]);
        plot.Axes.Bottom.TickLabelStyle.Rotation = -40;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
        plot.Axes.Bottom.MinimumSize = 100; // room for the slanted names above the axis label
        plot.Axes.SetLimits(-0.5, n - 0.5, -0.5, n - 0.5);
        plot.Title($"{title}; colour: share of the true class");
        plot.Axes.Bottom.Label.Text = "predicted class";
        plot.Axes.Left.Label.Text = "true class";
        return plot.GetImageBytes(width, height, ImageFormat.Png);
    }

    /// <summary>
    /// Training loss (left axis, blue) and train/test accuracy (right axis, orange) per epoch, as PNG bytes. Each
    /// axis is drawn in the colour of its lines and each legend entry names its axis, so no line can be read
    /// against the wrong scale; the epoch axis has whole-epoch ticks only, and one epoch is a point in the middle.
    /// </summary>
    public static byte[] TrainingCurves(IReadOnlyList<EpochResult> epochs, string title, int width = 900, int height = 540)
    {
        if (epochs.Count == 0) throw new ArgumentException("TrainingCurves: no epochs to draw.");
        var plot = new Plot();
        var lossColor = Colors.C0;
        var accuracyColor = Colors.C1;
        double[] x = epochs.Select(e => (double)e.Epoch).ToArray();

        void Line(double[] y, string label, Color color, bool dashed, bool right)
        {
            var s = plot.Add.Scatter(x, y);
            s.LegendText = label;
            s.Color = color;
            s.LineWidth = 2;
            s.MarkerSize = epochs.Count == 1 ? 9 : 5;
            if (dashed)
            {
                s.LinePattern = LinePattern.Dashed;
                s.MarkerShape = MarkerShape.OpenCircle; // the legend's short sample shows the marker, not the dashes
            }
            if (right) s.Axes.YAxis = plot.Axes.Right;
        }

        var losses = epochs.Select(e => e.TrainLoss).ToList();
        Line([.. epochs.Select(e => e.TrainLoss)], "train loss (left axis)", lossColor, false, false);
        if (epochs.All(e => double.IsFinite(e.TestLoss)))
        {
            Line([.. epochs.Select(e => e.TestLoss)], "test loss (left axis)", lossColor, true, false);
            losses.AddRange(epochs.Select(e => e.TestLoss));
        }
        Line([.. epochs.Select(e => e.TrainAccuracy)], "train accuracy (right axis)", accuracyColor, false, true);
        Line([.. epochs.Select(e => e.TestAccuracy)], "test accuracy (right axis)", accuracyColor, true, true);

        int first = epochs.Min(e => e.Epoch), last = epochs.Max(e => e.Epoch);
        var ticks = EpochAxis.Ticks(first, last);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            ticks.Select(t => (double)t).ToArray(), ticks.Select(t => t.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        var (xMin, xMax) = EpochAxis.Limits(first, last);
        double maxLoss = losses.Where(double.IsFinite).DefaultIfEmpty(1).Max();
        plot.Axes.SetLimitsX(xMin, xMax);
        plot.Axes.SetLimitsY(0, maxLoss > 0 ? maxLoss * 1.1 : 1, plot.Axes.Left);
        plot.Axes.SetLimitsY(0, 1.02, plot.Axes.Right);

        plot.Title(title);
        plot.Axes.Bottom.Label.Text = "epoch";
        plot.Axes.Left.Label.Text = "loss";
        plot.Axes.Right.Label.Text = "accuracy";
        plot.Axes.Left.Label.ForeColor = lossColor;
        plot.Axes.Left.TickLabelStyle.ForeColor = lossColor;
        plot.Axes.Right.Label.ForeColor = accuracyColor;
        plot.Axes.Right.TickLabelStyle.ForeColor = accuracyColor;
        plot.ShowLegend(Edge.Bottom); // below the axes: inside, it covers the last epochs' points
        return plot.GetImageBytes(width, height, ImageFormat.Png);
    }
}
