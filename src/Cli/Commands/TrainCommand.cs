using System.CommandLine;
using System.Globalization;
using GpuNet.Nn;
using Spectre.Console;

namespace GpuNet.Cli.Commands;

/// <summary><c>gpunet train</c>: trains an MLP classifier on Fashion-MNIST (or generated spirals when no data is found).</summary>
internal static class TrainCommand
{
    private const string SpiralsName = "spirals";

    public static Command Create()
    {
        var defaults = new TrainConfig();
        var data = new Option<string?>("--data") { Description = $"Directory with the four Fashion-MNIST IDX files (gzipped or not); else ${FashionMnist.EnvironmentVariable}, else {FashionMnist.DefaultDirectory}. 'spirals' picks the built-in generated data set." };
        var epochs = new Option<int>("--epochs") { Description = "Epochs to train (a resumed run continues up to this many).", DefaultValueFactory = _ => defaults.Epochs };
        var batch = new Option<int>("--batch-size") { Description = "Samples per mini-batch (the training-set size gives batch gradient descent, 1 gives SGD).", DefaultValueFactory = _ => defaults.BatchSize };
        var hidden = new Option<string>("--hidden") { Description = "Hidden layer widths, comma-separated.", DefaultValueFactory = _ => string.Join(",", defaults.Hidden) };
        var activation = new Option<string>("--activation") { Description = "Hidden activation: relu, sigmoid, tanh.", DefaultValueFactory = _ => defaults.Activation };
        var dropout = new Option<double>("--dropout") { Description = "Dropout probability after each hidden layer.", DefaultValueFactory = _ => defaults.Dropout };
        var optimizer = new Option<string>("--optimizer") { Description = "sgd, adam, adamw or rmsprop.", DefaultValueFactory = _ => defaults.Optimizer };
        var lr = new Option<double?>("--lr") { Description = "Learning rate (default: 1e-3, or 0.05 for sgd)." };
        var weightDecay = new Option<double?>("--weight-decay") { Description = "Weight decay (default 0; 1e-2 for adamw)." };
        var momentum = new Option<double?>("--momentum") { Description = "Momentum for sgd (default 0.9) and rmsprop (default 0)." };
        var schedule = new Option<string>("--schedule") { Description = "Learning-rate schedule: none, cosine, step.", DefaultValueFactory = _ => defaults.Schedule };
        var seed = new Option<long>("--seed") { Description = "Seed for weights, shuffling and dropout.", DefaultValueFactory = _ => 0 };
        var device = new Option<string?>("--device") { Description = "cpu, ilgpu-cpu, cuda[:i], opencl[:i] (default: GPUNET_DEVICE, else the best found)." };
        var output = new Option<string?>("--out") { Description = "Save the model (safetensors) after every epoch, with its training state next to it." };
        var resume = new Option<bool>("--resume") { Description = "Continue bit-for-bit from the checkpoint given by --out." };
        var plot = new Option<string?>("--plot") { Description = "Write loss and accuracy per epoch to this PNG." };
        var limit = new Option<int?>("--limit") { Description = "Use only the first N training (and at most N test) samples." };
        var tf32 = new Option<bool>("--tf32") { Description = "Let float32 matrix products use TF32 tensor cores (CUDA; faster, ~1e-3 relative error; like PyTorch's allow_tf32)." };

        var command = new Command("train", "Train an MLP classifier on Fashion-MNIST (or on generated spirals when no data set is found).")
        {
            data, epochs, batch, hidden, activation, dropout, optimizer, lr, weightDecay, momentum, schedule, seed, device, output, resume, plot, limit, tf32,
        };
        command.SetAction(parse =>
        {
            TrainConfig config;
            Device dev;
            try
            {
                config = new TrainConfig
                {
                    Epochs = parse.GetValue(epochs),
                    BatchSize = parse.GetValue(batch),
                    Hidden = ParseSizes(parse.GetValue(hidden)!),
                    Activation = parse.GetValue(activation)!.Trim().ToLowerInvariant(),
                    Dropout = parse.GetValue(dropout),
                    Optimizer = parse.GetValue(optimizer)!.Trim().ToLowerInvariant(),
                    LearningRate = parse.GetValue(lr),
                    WeightDecay = parse.GetValue(weightDecay),
                    Momentum = parse.GetValue(momentum),
                    Schedule = parse.GetValue(schedule)!.Trim().ToLowerInvariant(),
                    Seed = parse.GetValue(seed),
                    Checkpoint = parse.GetValue(output),
                    Resume = parse.GetValue(resume),
                };
                config.Validate();
                if (parse.GetValue(limit) is <= 0) throw new ArgumentException($"--limit must be positive; got {parse.GetValue(limit)}.");
                dev = parse.GetValue(device) is { } spec ? Device.Get(spec) : Device.Default;
                if (parse.GetValue(tf32)) dev.AllowTf32 = true;
            }
            catch (ArgumentException e)
            {
                return CommandLineHost.Usage(e.Message);
            }
            var dataDir = parse.GetValue(data);
            if (dataDir is not null && dataDir != SpiralsName && !FashionMnist.Exists(dataDir))
                return CommandLineHost.Usage($"--data {dataDir}: expected the four Fashion-MNIST files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally .gz).");
            return Train(config, dev, dataDir, parse.GetValue(limit), parse.GetValue(plot));
        });
        return command;
    }

    private static int[] ParseSizes(string text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Trim() == "none") return [];
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var sizes = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out sizes[i]) || sizes[i] <= 0)
                throw new ArgumentException($"--hidden: '{parts[i]}' is not a positive integer (expected widths like 512,256).");
        return sizes;
    }

    private static int Train(TrainConfig config, Device device, string? dataDir, int? limit, string? plotPath)
    {
        ClassificationData data;
        var dir = dataDir == SpiralsName ? null : FashionMnist.Locate(dataDir);
        try
        {
            if (dir is not null) data = FashionMnist.Load(dir, device, limit);
            else
            {
                if (dataDir != SpiralsName) Console.WriteLine($"Fashion-MNIST not found (--data, ${FashionMnist.EnvironmentVariable}, {FashionMnist.DefaultDirectory}); training on generated spirals instead. " +
                    "To get it: apt-get install dataset-fashion-mnist, or download the four .gz files from https://github.com/zalandoresearch/fashion-mnist into a directory and pass --data DIR.");
                int n = limit is { } l ? Math.Max(1, l / 3) : 1000;
                data = SyntheticData.Spirals(n, Math.Max(1, n * 3 / 10), seed: config.Seed, device: device);
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }

        using (data)
        {
            Console.WriteLine($"{data.Name}: {data.Train.Count:N0} train / {data.Test.Count:N0} test samples, {data.Features} features, {data.Classes} classes; device {device} ({device.Name})");
            Console.WriteLine($"model {data.Features}-{string.Join("-", config.Hidden)}{(config.Hidden.Length > 0 ? "-" : "")}{data.Classes} {config.Activation}" +
                $"{(config.Dropout > 0 ? $", dropout {config.Dropout}" : "")}; {config.Optimizer} lr {config.LearningRate ?? TrainConfig.DefaultLearningRate(config.Optimizer):G3}, {config.Schedule} schedule; batch {config.BatchSize}, {config.Epochs} epochs, seed {config.Seed}");
            TrainResult result;
            var countersBefore = device.Counters.Snapshot();
            try
            {
                bool interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
                result = interactive ? RunWithProgressBar(data, config, device) : RunPlain(data, config, device);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException or InvalidOperationException)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return e is ArgumentException ? CommandLineHost.UsageError : 1;
            }
            if (device.Kind != DeviceKind.Cpu)
            {
                long steps = (long)(result.Epochs.Count - result.ResumedFromEpoch) * ((data.Train.Count + config.BatchSize - 1) / config.BatchSize);
                var per = (device.Counters.Snapshot() - countersBefore).Per(Math.Max(1, steps));
                Console.WriteLine($"device work per training step (evaluation included): {per}");
            }
            using (result.Model)
            {
                if (config.Checkpoint is { } ckpt) Console.WriteLine($"saved {ckpt} (training state: {ClassifierTraining.StatePath(ckpt)})");
                if (plotPath is not null)
                {
                    Plots.TrainingCurves(result.Epochs, plotPath, $"{data.Name}, {config.Optimizer}");
                    Console.WriteLine($"wrote {plotPath}");
                }
                Console.WriteLine($"test accuracy: {result.TestAccuracy.ToString("0.0000", CultureInfo.InvariantCulture)}");
            }
        }
        return 0;
    }

    private static string EpochLine(EpochResult r, int epochs) => string.Create(CultureInfo.InvariantCulture,
        $"epoch {r.Epoch.ToString().PadLeft(epochs.ToString().Length)}/{epochs}  loss {r.TrainLoss:0.0000}  train acc {r.TrainAccuracy:0.0000}  test acc {r.TestAccuracy:0.0000}  {r.SamplesPerSecond:N0} samples/s  {r.EpochSeconds:0.0} s  elapsed {r.ElapsedSeconds:0.0} s");

    private static TrainResult RunPlain(ClassificationData data, TrainConfig config, Device device)
    {
        if (config.Resume) Console.WriteLine($"resuming from {config.Checkpoint}");
        return ClassifierTraining.Run(data, config, device, onEpoch: r => Console.WriteLine(EpochLine(r, config.Epochs)));
    }

    private static TrainResult RunWithProgressBar(ClassificationData data, TrainConfig config, Device device)
    {
        if (config.Resume) Console.WriteLine($"resuming from {config.Checkpoint}");
        TrainResult? result = null;
        AnsiConsole.Progress()
            .AutoClear(true)
            .HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                ProgressTask? task = null;
                result = ClassifierTraining.Run(data, config, device,
                    onBatch: p =>
                    {
                        if (task is null || p.Batch == 1)
                        {
                            task?.StopTask();
                            task = ctx.AddTask($"epoch {p.Epoch}/{config.Epochs}", maxValue: p.Batches);
                        }
                        task.Value = p.Batch;
                        task.Description = string.Create(CultureInfo.InvariantCulture, $"epoch {p.Epoch}/{config.Epochs}  loss {p.RunningLoss:0.0000}");
                    },
                    onEpoch: r =>
                    {
                        task?.StopTask();
                        task = null;
                        AnsiConsole.WriteLine(EpochLine(r, config.Epochs));
                    });
            });
        return result!;
    }
}
