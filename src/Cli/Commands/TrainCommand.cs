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
        var data = new Option<string?>("--data") { Description = $"Directory with the four Fashion-MNIST IDX files (gzipped or not); else ${FashionMnist.EnvironmentVariable}, else {FashionMnist.DefaultDirectory}. 'spirals' picks the built-in generated data set.", HelpName = "DIR" };
        var epochs = CliOptions.Int("--epochs", "Epochs to train (a resumed run continues up to this many).", defaults.Epochs, min: 1);
        var batch = CliOptions.Int("--batch-size", "Samples per mini-batch (the training-set size gives batch gradient descent, 1 gives SGD).", defaults.BatchSize, min: 1);
        var hidden = new Option<string>("--hidden") { Description = "Hidden layer widths, comma-separated ('none' for a linear model).", DefaultValueFactory = _ => string.Join(",", defaults.Hidden), HelpName = "W1,W2,..." };
        var activation = CliOptions.Choice("--activation", "Hidden activation.", TrainChoices.Name(defaults.Activation), TrainChoices.Activations);
        var dropout = CliOptions.Double("--dropout", "Dropout probability after each hidden layer.", defaults.Dropout, v => v >= 0 && v < 1, "a probability in [0, 1)");
        var optimizer = CliOptions.Choice("--optimizer", "Optimizer.", TrainChoices.Name(defaults.Optimizer), TrainChoices.Optimizers);
        var lr = CliOptions.OptionalDouble("--lr", "Learning rate (default: 1e-3, or 0.05 for sgd).", v => v > 0 && double.IsFinite(v), "a positive number");
        var weightDecay = CliOptions.OptionalDouble("--weight-decay", "Weight decay (default 0; 1e-2 for adamw).", v => v >= 0 && double.IsFinite(v), "a non-negative number");
        var momentum = CliOptions.OptionalDouble("--momentum", "Momentum for sgd (default 0.9) and rmsprop (default 0).", v => v >= 0 && v < 1, "a number in [0, 1)");
        var schedule = CliOptions.Choice("--schedule", "Learning-rate schedule: cosine annealing to 0, step (halved every quarter), exponential (to 1/100), multistep (/10 at 1/2 and 3/4), onecycle (1cycle with --lr as the peak), or none.", TrainChoices.Name(defaults.Schedule), TrainChoices.Schedules);
        var warmup = CliOptions.Int("--warmup", "Epochs of linear warm-up from a third of the rate, then --schedule over the remaining epochs.", defaults.Warmup, min: 0);
        var seed = CliOptions.Long("--seed", "Seed for weights, shuffling and dropout.", 0);
        var device = new Option<string?>("--device") { Description = $"cpu, ilgpu-cpu, cuda[:i], opencl[:i] (default: {Device.EnvironmentVariable}, else the best found).", HelpName = "DEVICE" };
        var output = new Option<string?>("--out") { Description = "Save the model (safetensors) after every epoch, with its training state next to it; checked before training starts.", HelpName = "FILE" };
        var resume = new Option<bool>("--resume") { Description = "Continue bit-for-bit from the checkpoint given by --out." };
        var plot = new Option<string?>("--plot") { Description = $"Draw loss and accuracy per epoch: {PlotTarget.Help}; checked before training starts.", HelpName = "PATH" };
        var limit = CliOptions.OptionalInt("--limit", "Use only the first N training (and at most N test) samples.", min: 1);
        var tf32 = new Option<bool>("--tf32") { Description = "Let float32 matrix products use TF32 tensor cores (CUDA; faster, ~1e-3 relative error; like PyTorch's allow_tf32)." };

        var command = new Command("train", "Train an MLP classifier on Fashion-MNIST (or on generated spirals when no data set is found).")
        {
            data, epochs, batch, hidden, activation, dropout, optimizer, lr, weightDecay, momentum, schedule, warmup, seed, device, output, resume, plot, limit, tf32,
        };
        // Under mpirun every process runs this action as one replica (DistributedLaunch); otherwise it runs as is.
        command.SetAction(parse => DistributedLaunch.Run(() =>
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
                    Activation = TrainChoices.ParseActivation(parse.GetValue(activation)!),
                    Dropout = parse.GetValue(dropout),
                    Optimizer = TrainChoices.ParseOptimizer(parse.GetValue(optimizer)!),
                    LearningRate = parse.GetValue(lr),
                    WeightDecay = parse.GetValue(weightDecay),
                    Momentum = parse.GetValue(momentum),
                    Schedule = TrainChoices.ParseSchedule(parse.GetValue(schedule)!),
                    Warmup = parse.GetValue(warmup),
                    Seed = parse.GetValue(seed),
                    Checkpoint = parse.GetValue(output),
                    Resume = parse.GetValue(resume),
                };
                config.Validate();
                dev = CliDevice.Resolve(DistributedLaunch.DeviceSpec(parse.GetValue(device)));
                if (parse.GetValue(tf32)) dev.AllowTf32 = true;
            }
            catch (ArgumentException e)
            {
                return CommandLineHost.Usage(e.Message);
            }
            CliDevice.WarnIfSimulator(dev, "training");

            var dataDir = parse.GetValue(data);
            if (dataDir is not null && dataDir != SpiralsName && !FashionMnist.Exists(dataDir))
                return CommandLineHost.Usage(Directory.Exists(dataDir)
                    ? $"--data {dataDir}: lacks {string.Join(", ", FashionMnist.MissingFiles(dataDir).Select(f => f + "[.gz]"))} (Fashion-MNIST's four IDX files, each optionally gzipped)."
                    : $"--data {dataDir}: no such directory (expected one with Fashion-MNIST's four IDX files, or 'spirals').");
            if (dataDir is null) WarnIfEnvironmentDataIsWrong();

            // Every output is checked before the first batch: a bad path must not cost a whole run.
            if (parse.GetValue(output) is { } o && string.IsNullOrWhiteSpace(o)) return CommandLineHost.Usage("--out: the path is empty; expected a file name.");
            if (parse.GetValue(plot) is { } p && string.IsNullOrWhiteSpace(p)) return CommandLineHost.Usage("--plot: the path is empty; expected a .png file or a folder.");
            PlotTarget? plotTarget = parse.GetValue(plot) is { } plotPath ? new PlotTarget(plotPath, [Plots.TrainingCurvesFile]) : null;
            try
            {
                if (config.Checkpoint is { } ckpt && DistributedLaunch.IsRankZero)
                {
                    AtomicFile.CheckWritable(ckpt);
                    AtomicFile.CheckWritable(ClassifierTraining.StatePath(ckpt));
                    if (config.Resume && !File.Exists(ClassifierTraining.StatePath(ckpt)))
                        return CommandLineHost.Usage($"--resume: there is no checkpoint to resume at {ckpt} (its training state {ClassifierTraining.StatePath(ckpt)} does not exist); drop --resume to start afresh.");
                }
            }
            catch (IOException e)
            {
                return CommandLineHost.Usage($"--out: {e.Message}");
            }
            try
            {
                if (DistributedLaunch.IsRankZero) plotTarget?.Check();
            }
            catch (IOException e)
            {
                return CommandLineHost.Usage($"--plot: {e.Message}");
            }
            return Train(config, dev, dataDir, parse.GetValue(limit), plotTarget);
        }, parse.GetValue(CommandLineHost.Verbose)));
        return command;
    }

    // A $GPUNET_DATA that holds no data set is a mistake worth a line, not a silent fall-back to the next source.
    private static void WarnIfEnvironmentDataIsWrong()
    {
        var env = Environment.GetEnvironmentVariable(FashionMnist.EnvironmentVariable);
        if (string.IsNullOrEmpty(env) || FashionMnist.Exists(env) || FashionMnist.Exists(Path.Combine(env, "fashion-mnist"))) return;
        var fallback = FashionMnist.Locate();
        CommandLineHost.Warn($"${FashionMnist.EnvironmentVariable}={env} " +
            (Directory.Exists(env) ? $"lacks {string.Join(", ", FashionMnist.MissingFiles(env))}" : "is not a directory") +
            (fallback is null ? "; training on generated spirals instead." : $"; using {fallback} instead."));
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

    private static int Train(TrainConfig config, Device device, string? dataDir, int? limit, PlotTarget? plotTarget)
    {
        // Errors below (a corrupt data file, a checkpoint that does not fit) reach CommandLineHost: one line, the trace with --verbose.
        ClassificationData data;
        var dir = dataDir == SpiralsName ? null : FashionMnist.Locate(dataDir);
        if (dir is not null) data = FashionMnist.Load(dir, device, limit);
        else
        {
            if (dataDir != SpiralsName) Console.WriteLine($"Fashion-MNIST not found (--data, ${FashionMnist.EnvironmentVariable}, {FashionMnist.DefaultDirectory}); training on generated spirals instead. " +
                "To get it: apt-get install dataset-fashion-mnist, or download the four .gz files from https://github.com/zalandoresearch/fashion-mnist into a directory and pass --data DIR.");
            int n = limit is { } l ? Math.Max(1, l / 3) : 1000;
            data = SyntheticData.Spirals(n, Math.Max(1, n * 3 / 10), seed: config.Seed, device: device);
        }

        using (data)
        {
            var parallel = DistributedLaunch.ForDevice(device);
            Console.WriteLine($"{data.Name}: {data.Train.Count:N0} train / {data.Test.Count:N0} test samples, {data.Features} features, {data.Classes} classes; device {device} ({device.Name})");
            Console.WriteLine($"model {data.Features}-{string.Join("-", config.Hidden)}{(config.Hidden.Length > 0 ? "-" : "")}{data.Classes} {TrainChoices.Name(config.Activation)}" +
                $"{(config.Dropout > 0 ? $", dropout {config.Dropout}" : "")}; {TrainChoices.Name(config.Optimizer)} lr {config.LearningRate ?? TrainConfig.DefaultLearningRate(config.Optimizer):G3}, {(config.Warmup > 0 ? $"{config.Warmup}-epoch warm-up then " : "")}{TrainChoices.Name(config.Schedule)} schedule; batch {config.BatchSize}, {config.Epochs} epochs, seed {config.Seed}");
            if (parallel is not null)
                Console.WriteLine($"data parallel: {parallel.Size} {(parallel.Size == 1 ? "process" : "processes")} over {parallel.Communicator.Name}; global batch {config.BatchSize}, about {config.BatchSize / (double)parallel.Size:0.#} per process; samples/s below are global");
            TrainResult result;
            var countersBefore = device.Counters.Snapshot();
            int finished = 0;
            using var interrupt = new Interrupt();
            try
            {
                // Under mpirun stdout is a pseudo-terminal of mpirun's: plain lines there, not a progress bar.
                bool interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive && parallel is null;
                result = interactive
                    ? RunWithProgressBar(data, config, device, interrupt.Token, r => finished = r.Epoch, parallel)
                    : RunPlain(data, config, device, interrupt.Token, r => finished = r.Epoch, parallel);
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine($"interrupted during epoch {finished + 1}; " + (config.Checkpoint is { } path && File.Exists(ClassifierTraining.StatePath(path))
                    ? $"{path} holds epoch {Safetensors.ReadMetadata(ClassifierTraining.StatePath(path))["epoch"]}: add --resume to continue from it."
                    : config.Checkpoint is null ? "nothing was saved (--out FILE checkpoints every epoch)." : "no epoch had finished, so there is no checkpoint yet."));
                return CommandLineHost.Interrupted;
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
                if (plotTarget is not null && DistributedLaunch.IsRankZero)
                    Console.WriteLine($"wrote {plotTarget.Write(Plots.TrainingCurvesFile, Plots.TrainingCurves(result.Epochs, $"{data.Name}, {TrainChoices.Name(config.Optimizer)}"))}");
                Console.WriteLine($"test accuracy: {result.TestAccuracy.ToString("0.0000", CultureInfo.InvariantCulture)}");
            }
        }
        return 0;
    }

    /// <summary>
    /// Ctrl-C (or SIGTERM) while training: the first one stops after the current batch (the last finished epoch's checkpoint
    /// stays the one to resume from); a second one ends the process at once, with the terminal's cursor shown again.
    /// </summary>
    private sealed class Interrupt : IDisposable
    {
        private readonly CancellationTokenSource _cts = new();
        private readonly System.Runtime.InteropServices.PosixSignalRegistration? _sigterm;

        public Interrupt()
        {
            Console.CancelKeyPress += OnCancelKeyPress;
            if (!OperatingSystem.IsWindows())
                _sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => c.Cancel = Stop());
        }

        public CancellationToken Token => _cts.Token;

        private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e) => e.Cancel = Stop();

        // True when the signal was taken as a request to stop; false (let the runtime end the process) on the second one.
        private bool Stop()
        {
            if (_cts.IsCancellationRequested)
            {
                ShowCursor();
                return false;
            }
            _cts.Cancel();
            return true;
        }

        public void Dispose()
        {
            Console.CancelKeyPress -= OnCancelKeyPress;
            _sigterm?.Dispose();
            _cts.Dispose();
        }
    }

    // The progress bar hides the cursor; whatever ends it, the terminal gets it back.
    private static void ShowCursor()
    {
        if (!Console.IsOutputRedirected) Console.Out.Write("\u001b[?25h");
        Console.Out.Flush();
    }

    private static string EpochLine(EpochResult r, int epochs) => string.Create(CultureInfo.InvariantCulture,
        $"epoch {r.Epoch.ToString().PadLeft(epochs.ToString().Length)}/{epochs}  loss {r.TrainLoss:0.0000}  train acc {r.TrainAccuracy:0.0000}  test acc {r.TestAccuracy:0.0000}  {r.SamplesPerSecond:N0} samples/s  {r.EpochSeconds:0.0} s  elapsed {r.ElapsedSeconds:0.0} s");

    private static TrainResult RunPlain(ClassificationData data, TrainConfig config, Device device, CancellationToken cancel, Action<EpochResult> finished, IDataParallel? parallel)
    {
        if (config.Resume) Console.WriteLine($"resuming from {config.Checkpoint}");
        return ClassifierTraining.Run(data, config, device, onBatch: _ => cancel.ThrowIfCancellationRequested(), onEpoch: r =>
        {
            finished(r);
            Console.WriteLine(EpochLine(r, config.Epochs));
        }, parallel);
    }

    private static TrainResult RunWithProgressBar(ClassificationData data, TrainConfig config, Device device, CancellationToken cancel, Action<EpochResult> finished, IDataParallel? parallel)
    {
        if (config.Resume) Console.WriteLine($"resuming from {config.Checkpoint}");
        TrainResult? result = null;
        try
        {
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
                            cancel.ThrowIfCancellationRequested();
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
                            finished(r);
                            task?.StopTask();
                            task = null;
                            AnsiConsole.WriteLine(EpochLine(r, config.Epochs));
                        }, parallel);
                });
        }
        finally
        {
            ShowCursor();
        }
        return result!;
    }
}
