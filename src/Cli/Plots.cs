using GpuNet.Nn;

namespace GpuNet.Cli;

/// <summary>PNG charts written with ScottPlot.</summary>
internal static class Plots
{
    /// <summary>Training loss (left axis) and train/test accuracy (right axis) per epoch.</summary>
    public static void TrainingCurves(IReadOnlyList<EpochResult> epochs, string path, string title)
    {
        var plot = new ScottPlot.Plot();
        double[] x = epochs.Select(e => (double)e.Epoch).ToArray();
        var loss = plot.Add.Scatter(x, epochs.Select(e => e.TrainLoss).ToArray());
        loss.LegendText = "train loss";
        if (epochs.All(e => double.IsFinite(e.TestLoss)))
        {
            var testLoss = plot.Add.Scatter(x, epochs.Select(e => e.TestLoss).ToArray());
            testLoss.LegendText = "test loss";
            testLoss.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        var trainAcc = plot.Add.Scatter(x, epochs.Select(e => e.TrainAccuracy).ToArray());
        trainAcc.LegendText = "train accuracy";
        trainAcc.Axes.YAxis = plot.Axes.Right;
        var testAcc = plot.Add.Scatter(x, epochs.Select(e => e.TestAccuracy).ToArray());
        testAcc.LegendText = "test accuracy";
        testAcc.Axes.YAxis = plot.Axes.Right;
        plot.Title(title);
        plot.Axes.Bottom.Label.Text = "epoch";
        plot.Axes.Left.Label.Text = "loss";
        plot.Axes.Right.Label.Text = "accuracy";
        plot.ShowLegend(ScottPlot.Edge.Bottom); // below the axes: inside, it covers the last epochs' points
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        plot.SavePng(path, 900, 540);
    }
}
