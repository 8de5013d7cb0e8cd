using System.CommandLine;
using System.Globalization;
using GpuNet.Nn;
using Spectre.Console;

namespace GpuNet.Cli.Commands;

/// <summary><c>gpunet eval</c>: a trained model's accuracy on the Fashion-MNIST test set, per class and as a confusion matrix.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "The model gpunet train --out saved (safetensors; its metadata gives the architecture).", HelpName = "FILE" };
        var data = new Option<string?>("--data") { Description = $"Directory with the Fashion-MNIST IDX files (gzipped or not); else ${FashionMnist.EnvironmentVariable}, else {FashionMnist.DefaultDirectory}. The test set is evaluated.", HelpName = "DIR" };
        var plot = new Option<string?>("--plot") { Description = $"Draw the confusion matrix as a heatmap: {PlotTarget.Help}.", HelpName = "PATH" };
        var device = new Option<string?>("--device") { Description = $"cpu, ilgpu-cpu, cuda[:i], opencl[:i] (default: {Device.EnvironmentVariable}, else the best found).", HelpName = "DEVICE" };
        var limit = CliOptions.OptionalInt("--limit", "Evaluate only the first N test samples.", min: 1);
        var command = new Command("eval", "Evaluate a trained model on the Fashion-MNIST test set: accuracy, per-class accuracy and the confusion matrix.")
        {
            model, data, plot, device, limit,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(model) is not { } modelPath || string.IsNullOrWhiteSpace(modelPath))
                return CommandLineHost.Usage("--model: required; give the model file gpunet train --out saved.");
            if (!File.Exists(modelPath)) return CommandLineHost.Usage($"--model {modelPath}: no such file.");
            var dataDir = parse.GetValue(data);
            var dir = FashionMnist.Locate(dataDir);
            if (dir is null)
                return CommandLineHost.Usage(dataDir is null
                    ? $"no Fashion-MNIST test set found (--data, ${FashionMnist.EnvironmentVariable}, {FashionMnist.DefaultDirectory}); give --data DIR."
                    : Directory.Exists(dataDir)
                        ? $"--data {dataDir}: lacks {string.Join(", ", FashionMnist.MissingFiles(dataDir).Select(f => f + "[.gz]"))} (Fashion-MNIST's four IDX files, each optionally gzipped)."
                        : $"--data {dataDir}: no such directory.");
            if (parse.GetValue(plot) is { } p && string.IsNullOrWhiteSpace(p)) return CommandLineHost.Usage("--plot: the path is empty; expected a .png file or a folder.");
            PlotTarget? target = parse.GetValue(plot) is { } plotPath ? new PlotTarget(plotPath, [Plots.ConfusionMatrixFile]) : null;
            try
            {
                target?.Check();
            }
            catch (IOException e)
            {
                return CommandLineHost.Usage($"--plot: {e.Message}");
            }
            Device dev;
            try
            {
                dev = CliDevice.Resolve(parse.GetValue(device));
            }
            catch (ArgumentException e)
            {
                return CommandLineHost.Usage(e.Message);
            }
            return Run(modelPath, dir, dev, parse.GetValue(limit), target);
        });
        return command;
    }

    private static int Run(string modelPath, string dir, Device device, int? limit, PlotTarget? target)
    {
        using var model = ClassifierTraining.LoadModel(modelPath, device);
        using var data = FashionMnist.Load(dir, device, limit);
        if (model.Sizes[0] != data.Features || model.Sizes[^1] != data.Classes)
            throw new InvalidDataException($"{modelPath}: the model maps {model.Sizes[0]} features to {model.Sizes[^1]} classes, but {data.Name} has {data.Features} features and {data.Classes} classes.");
        var names = Inference.ClassNames(model);
        int classes = data.Classes;
        var predicted = Inference.Predict(model, data.Test.Features);
        var labels = data.Test.Labels.ToArray<int>();
        var confusion = new int[classes, classes];
        for (int i = 0; i < labels.Length; i++) confusion[labels[i], predicted[i]]++;
        int correct = Enumerable.Range(0, classes).Sum(k => confusion[k, k]);

        Console.WriteLine($"model {modelPath}: {Inference.Describe(model)}; {data.Name} test set, {labels.Length:N0} samples; device {device} ({device.Name})");
        var perClass = new Table().Title("per-class accuracy").AddColumns("#", "class", "samples", "correct", "accuracy");
        for (int k = 0; k < classes; k++)
        {
            int total = Enumerable.Range(0, classes).Sum(j => confusion[k, j]);
            perClass.AddRow(k.ToString(CultureInfo.InvariantCulture), Markup.Escape(names[k]), total.ToString(CultureInfo.InvariantCulture),
                confusion[k, k].ToString(CultureInfo.InvariantCulture), total == 0 ? "-" : (confusion[k, k] / (double)total).ToString("0.0000", CultureInfo.InvariantCulture));
        }
        for (int c = 2; c < 5; c++) perClass.Columns[c].RightAligned();
        AnsiConsole.Write(perClass);
        var matrix = new Table().Title("confusion matrix (rows: true class, columns: predicted)").AddColumn("true \\ predicted");
        for (int j = 0; j < classes; j++) matrix.AddColumn(new TableColumn(j.ToString(CultureInfo.InvariantCulture)).RightAligned());
        for (int k = 0; k < classes; k++)
            matrix.AddRow([k.ToString(CultureInfo.InvariantCulture), .. Enumerable.Range(0, classes).Select(j => k == j ? $"[bold]{confusion[k, j]}[/]" : confusion[k, j].ToString(CultureInfo.InvariantCulture))]);
        AnsiConsole.Write(matrix);
        if (target is not null)
            Console.WriteLine($"wrote {target.Write(Plots.ConfusionMatrixFile, Plots.ConfusionMatrix(confusion, names, $"{data.Name} test set, {Path.GetFileName(modelPath)}"))}");
        Console.WriteLine($"accuracy: {(correct / (double)labels.Length).ToString("0.0000", CultureInfo.InvariantCulture)} ({correct:N0} of {labels.Length:N0})");
        return 0;
    }
}
