using System.CommandLine;
using System.Globalization;
using System.Text;
using GpuNet.Nn;

namespace GpuNet.Cli.Commands;

/// <summary><c>gpunet predict</c>: the most likely classes of 28×28 grey-scale images under a trained model.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "The model gpunet train --out saved (safetensors; its metadata gives the architecture).", HelpName = "FILE" };
        var topK = CliOptions.Int("--top-k", "How many of the most likely classes to print per image.", 3, min: 1);
        var device = new Option<string?>("--device") { Description = $"cpu, ilgpu-cpu, cuda[:i], opencl[:i] (default: {Device.EnvironmentVariable}, else the best found).", HelpName = "DEVICE" };
        var images = new Argument<string[]>("images")
        {
            Description = "Image files: IDX (one [28,28] or many [N,28,28] bytes, gzipped or not), PGM (P5/P2) or PNG, 28×28 grey-scale, white on black as in Fashion-MNIST.",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("predict", "Classify 28×28 grey-scale images with a trained model: the top-k classes with their probabilities.")
        {
            model, topK, device, images,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(model) is not { } modelPath || string.IsNullOrWhiteSpace(modelPath))
                return CommandLineHost.Usage("--model: required; give the model file gpunet train --out saved.");
            if (!File.Exists(modelPath)) return CommandLineHost.Usage($"--model {modelPath}: no such file.");
            Device dev;
            try
            {
                dev = CliDevice.Resolve(parse.GetValue(device));
            }
            catch (ArgumentException e)
            {
                return CommandLineHost.Usage(e.Message);
            }
            return Run(modelPath, parse.GetValue(images)!, parse.GetValue(topK), dev);
        });
        return command;
    }

    private static int Run(string modelPath, string[] files, int topK, Device device)
    {
        using var model = ClassifierTraining.LoadModel(modelPath, device);
        if (model.Sizes[0] != ImageFiles.Side * ImageFiles.Side)
            throw new InvalidDataException($"{modelPath}: the model takes {model.Sizes[0]} features, not the 784 pixels of a 28×28 image.");
        // Every file is read (and checked) before the model runs, so a bad file costs nothing.
        var samples = files.SelectMany(ImageFiles.Read).ToList();
        var pixels = new float[samples.Count * 784];
        for (int i = 0; i < samples.Count; i++) samples[i].Pixels.CopyTo(pixels, i * 784);
        var names = Inference.ClassNames(model);
        int k = Math.Min(topK, names.Count);
        float[][] probabilities;
        using (var x = Tensor.FromArray(pixels, [samples.Count, 784], device))
            probabilities = Inference.Probabilities(model, x);
        int width = samples.Max(s => s.Label.Length);
        var line = new StringBuilder();
        for (int i = 0; i < samples.Count; i++)
        {
            line.Clear().Append(samples[i].Label.PadRight(width));
            var p = probabilities[i];
            foreach (int c in Enumerable.Range(0, p.Length).OrderByDescending(c => p[c]).ThenBy(c => c).Take(k))
                line.Append("  ").Append(names[c]).Append(' ').Append(p[c].ToString("0.000", CultureInfo.InvariantCulture));
            Console.WriteLine(line.ToString());
        }
        return 0;
    }
}
