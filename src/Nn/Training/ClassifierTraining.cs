using GpuNet.Kernels;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace GpuNet.Nn;

/// <summary>Settings of an MLP classification run (what <c>gpunet train</c> exposes).</summary>
public sealed record TrainConfig
{
    /// <summary>Total epochs (a resumed run continues up to this number).</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Samples per mini-batch.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Hidden layer widths.</summary>
    public int[] Hidden { get; init; } = [512, 256];

    /// <summary>Hidden activation (<see cref="Activation.None"/>: a linear network).</summary>
    public Activation Activation { get; init; } = Activation.Relu;

    /// <summary>Dropout probability after each hidden activation.</summary>
    public double Dropout { get; init; }

    /// <summary>The optimizer.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    /// <summary>Learning rate; null picks the optimizer's default (<see cref="DefaultLearningRate"/>).</summary>
    public double? LearningRate { get; init; }

    /// <summary>Weight decay (L2 for sgd/adam/rmsprop, decoupled for adamw); null picks 0 (1e-2 for adamw).</summary>
    public double? WeightDecay { get; init; }

    /// <summary>Momentum for sgd and rmsprop (null: 0.9 for sgd, 0 for rmsprop).</summary>
    public double? Momentum { get; init; }

    /// <summary>Learning-rate schedule over the epochs (after the warm-up).</summary>
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Cosine;

    /// <summary>
    /// Epochs of linear warm-up from a third of the rate (<see cref="LinearLR"/>) before <see cref="Schedule"/> takes over
    /// for the remaining epochs (<see cref="SequentialLR"/>); 0: none.
    /// </summary>
    public int Warmup { get; init; }

    /// <summary>Seed of the initial weights, shuffles and dropout masks.</summary>
    public long Seed { get; init; }

    /// <summary>
    /// Checkpoint path: the model as safetensors, and next to it (<see cref="ClassifierTraining.StatePath"/>) one file
    /// with everything a resume needs; null: none.
    /// </summary>
    public string? Checkpoint { get; init; }

    /// <summary>Continue from <see cref="Checkpoint"/> (model, optimizer, schedule, dropout streams) instead of starting afresh.</summary>
    public bool Resume { get; init; }

    /// <summary>The default learning rate of an optimizer in this recipe.</summary>
    public static double DefaultLearningRate(OptimizerKind optimizer) => optimizer switch
    {
        OptimizerKind.Sgd => 0.05,
        OptimizerKind.Adagrad => 1e-2,
        OptimizerKind.NAdam => 2e-3,
        _ => 1e-3,
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad setting.</summary>
    public void Validate()
    {
        if (Epochs <= 0) throw new ArgumentException($"epochs must be positive; got {Epochs}.");
        if (BatchSize <= 0) throw new ArgumentException($"batch size must be positive; got {BatchSize}.");
        if (Hidden.Any(h => h <= 0)) throw new ArgumentException($"hidden sizes must be positive; got {string.Join(",", Hidden)}.");
        if (!Enum.IsDefined(Activation)) throw new ArgumentException($"unknown activation {Activation}.");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"dropout must be in [0, 1); got {Dropout}.");
        if (!Enum.IsDefined(Optimizer)) throw new ArgumentException($"unknown optimizer {Optimizer}.");
        if (!Enum.IsDefined(Schedule)) throw new ArgumentException($"unknown schedule {Schedule}.");
        if (Warmup < 0 || Warmup >= Epochs) throw new ArgumentException($"warm-up must be at least 0 and fewer than the {Epochs} epochs; got {Warmup}.");
        if (Warmup > 0 && Schedule == ScheduleKind.OneCycle) throw new ArgumentException("the onecycle schedule warms up itself; drop the warm-up.");
        if (LearningRate is { } lr && !(lr > 0 && !double.IsInfinity(lr))) throw new ArgumentException($"learning rate must be positive; got {lr}.");
        if (WeightDecay is { } wd && !(wd >= 0 && !double.IsInfinity(wd))) throw new ArgumentException($"weight decay must be non-negative; got {wd}.");
        if (Momentum is { } m && !(m >= 0 && m < 1)) throw new ArgumentException($"momentum must be in [0, 1); got {m}.");
        if (Resume && Checkpoint is null) throw new ArgumentException("resume needs a checkpoint path (--out).");
    }
}

/// <summary>The outcome of <see cref="ClassifierTraining.Run"/>.</summary>
/// <param name="Epochs">Every epoch's results, including those of a resumed run's earlier epochs.</param>
/// <param name="TestAccuracy">Final accuracy on the test set.</param>
/// <param name="Model">The trained model (the caller disposes it).</param>
/// <param name="ResumedFromEpoch">Epochs already done when the run started (0 for a fresh run).</param>
public sealed record TrainResult(IReadOnlyList<EpochResult> Epochs, double TestAccuracy, Mlp Model, int ResumedFromEpoch);

/// <summary>
/// The whole recipe behind <c>gpunet train</c>, reusable in-process: builds an MLP for a
/// <see cref="ClassificationData"/>, trains it with cross-entropy, evaluates after each epoch,
/// checkpoints, and resumes bit-for-bit.
/// </summary>
public static partial class ClassifierTraining
{
    private static readonly JsonSerializerOptions s_json = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(new LowerCase()) },
    };

    // Enum settings are written in the spelling the gpunet command takes ("adam", "relu").
    private sealed class LowerCase : JsonNamingPolicy
    {
        public override string ConvertName(string name) => name.ToLowerInvariant();
    }

    /// <summary>
    /// Path of the training-state file kept next to a model checkpoint (<c>model.safetensors</c> → <c>model.state.safetensors</c>):
    /// the model's weights, the optimizer state, dropout counters and the history, in one file, which is what resume reads.
    /// </summary>
    public static string StatePath(string checkpoint) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(checkpoint))!, Path.GetFileNameWithoutExtension(checkpoint) + ".state.safetensors");

    /// <summary>Builds the model <paramref name="config"/> describes, with freshly initialised weights.</summary>
    public static Mlp BuildModel(TrainConfig config, int features, int classes, Device device)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        return new Mlp([features, .. config.Hidden, classes], config.Activation, config.Dropout, config.Seed, device: device);
    }

    /// <summary>
    /// Loads a model saved by <see cref="SaveCheckpoint"/> (<c>gpunet train --out</c>) for inference: the architecture comes
    /// from the file's metadata (<c>sizes</c> and the training <c>config</c>), the weights from its tensors (today's keys or
    /// the older <c>layers.</c>-prefixed ones), and the model is returned in eval mode. A file without that metadata or
    /// whose tensors do not fit is an <see cref="InvalidDataException"/> naming the file.
    /// </summary>
    public static Mlp LoadModel(string path, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var meta = Safetensors.ReadMetadata(path);
        InvalidDataException Bad(string what) => new($"{path}: {what}.");
        if (!meta.TryGetValue("sizes", out var sizesText))
            throw Bad("has no 'sizes' metadata, so its architecture is unknown; it was not written by gpunet train --out");
        var parts = sizesText.Split(',');
        var sizes = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out sizes[i]) || sizes[i] <= 0)
                throw Bad($"metadata 'sizes' is '{sizesText}'; expected positive layer widths like 784,512,10");
        if (sizes.Length < 2) throw Bad($"metadata 'sizes' is '{sizesText}'; expected at least an input and an output width");
        TrainConfig config;
        try
        {
            config = meta.TryGetValue("config", out var json) ? JsonSerializer.Deserialize<TrainConfig>(json, s_json) ?? new TrainConfig() : new TrainConfig();
        }
        catch (JsonException e)
        {
            throw Bad($"metadata 'config' is not a training configuration ({e.Message})");
        }
        config = config with { Hidden = sizes[1..^1], Resume = false, Checkpoint = null };
        Mlp model;
        try
        {
            model = BuildModel(config, sizes[0], sizes[^1], device ?? Device.Default);
        }
        catch (ArgumentException e)
        {
            throw Bad($"metadata 'config' does not describe a model ({e.Message})");
        }
        try
        {
            model.Load(path);
        }
        catch (InvalidOperationException e)
        {
            model.Dispose();
            throw new InvalidDataException(e.Message, e);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.Eval();
        return model;
    }

    /// <summary>
    /// Builds the model, optimizer and schedule <paramref name="config"/> describes. The schedule is stepped once per epoch,
    /// except <see cref="OneCycleLR"/> (<see cref="ScheduleKind.OneCycle"/>), which PyTorch steps after every batch: it spans
    /// <c>Epochs</c> × <paramref name="stepsPerEpoch"/> steps and <see cref="Run"/> steps it per batch.
    /// </summary>
    public static (Mlp Model, Optimizer Optimizer, LRScheduler? Scheduler) Build(TrainConfig config, int features, int classes, Device device, int stepsPerEpoch = 1)
    {
        if (stepsPerEpoch <= 0) throw new ArgumentOutOfRangeException(nameof(stepsPerEpoch), $"ClassifierTraining.Build: stepsPerEpoch must be positive; got {stepsPerEpoch}.");
        var model = BuildModel(config, features, classes, device);
        double lr = config.LearningRate ?? TrainConfig.DefaultLearningRate(config.Optimizer);
        var ps = model.Parameters();
        Optimizer opt = config.Optimizer switch
        {
            OptimizerKind.Sgd => new SGD(ps, lr, momentum: config.Momentum ?? 0.9, weightDecay: config.WeightDecay ?? 0),
            OptimizerKind.Adam => new Adam(ps, lr, weightDecay: config.WeightDecay ?? 0),
            OptimizerKind.AdamW => new AdamW(ps, lr, weightDecay: config.WeightDecay ?? 1e-2),
            OptimizerKind.Adagrad => new Adagrad(ps, lr, weightDecay: config.WeightDecay ?? 0),
            OptimizerKind.NAdam => new NAdam(ps, lr, weightDecay: config.WeightDecay ?? 0),
            OptimizerKind.RAdam => new RAdam(ps, lr, weightDecay: config.WeightDecay ?? 0),
            _ => new RMSProp(ps, lr, momentum: config.Momentum ?? 0, weightDecay: config.WeightDecay ?? 0),
        };
        int epochs = config.Epochs - config.Warmup;
        LRScheduler? sched = config.Schedule switch
        {
            ScheduleKind.Cosine => new CosineAnnealingLR(opt, epochs),
            ScheduleKind.Step => new StepLR(opt, Math.Max(1, epochs / 4), 0.5),
            ScheduleKind.Exponential => new ExponentialLR(opt, Math.Pow(0.01, 1.0 / epochs)),
            ScheduleKind.MultiStep => new MultiStepLR(opt, [Math.Max(1, epochs / 2), Math.Max(1, epochs * 3 / 4)]),
            ScheduleKind.OneCycle => new OneCycleLR(opt, lr, checked(epochs * stepsPerEpoch), cycleMomentum: opt is not Adagrad),
            _ => null,
        };
        if (config.Warmup > 0)
            sched = new SequentialLR(opt, [new LinearLR(opt, totalIters: config.Warmup), sched ?? new LambdaLR(opt, _ => 1)], [config.Warmup]);
        return (model, opt, sched);
    }

    /// <summary>
    /// Trains on <paramref name="data"/> as <paramref name="config"/> says, calling <paramref name="onBatch"/> after each
    /// batch and <paramref name="onEpoch"/> after each epoch; checkpoints after every epoch when a checkpoint path is set.
    /// To stop early, throw from <paramref name="onBatch"/> (say, an <see cref="OperationCanceledException"/>): the
    /// exception comes out of this method, and the checkpoint holds the last finished epoch, which resume continues from.
    /// With <paramref name="parallel"/>, this process is one replica of a data-parallel group (see <see cref="IDataParallel"/>): replica 0 alone writes the checkpoint, and every replica returns the same results.
    /// </summary>
    public static TrainResult Run(ClassificationData data, TrainConfig config, Device? device = null,
        Action<BatchProgress>? onBatch = null, Action<EpochResult>? onEpoch = null, IDataParallel? parallel = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(config);
        if (data.Train.Count == 0 || data.Test.Count == 0)
            throw new ArgumentException($"ClassifierTraining: the {(data.Train.Count == 0 ? "training" : "test")} set of {data.Name} is empty ({data.Train.Count} training and {data.Test.Count} test samples); both need at least one sample.");
        device ??= data.Train.Device;
        if (data.Train.Device != device || data.Test.Device != device)
            throw new ArgumentException($"ClassifierTraining: the data lives on {data.Train.Device} but training was asked to run on {device}; load the data onto {device}.");
        var loader = new DataLoader(data.Train, config.BatchSize, shuffle: true, seed: Seeds.Derive(config.Seed, 77))
        {
            Sampler = parallel is null ? null : new DistributedSampler(parallel.Rank, parallel.Size),
        };
        // Every replica of a data-parallel group walks the same global batches, so the count is the same everywhere.
        int steps = Math.Max(1, loader.BatchCount);
        var (model, opt, sched) = Build(config, data.Features, data.Classes, device, steps);
        bool perBatch = sched is OneCycleLR;
        try
        {
            var history = new List<EpochResult>();
            int start = 0;
            if (parallel is not null) start = ResumeDataParallel(parallel, config, model, opt, history);
            else if (config.Resume)
            {
                start = LoadCheckpoint(config.Checkpoint!, model, opt, history);
                // A crash between the two renames leaves the model file an epoch behind the state file: bring it up to date.
                if (ModelFileEpoch(config.Checkpoint!) != start) model.Save(config.Checkpoint!, ModelMetadata(config, model, start));
                if (start >= config.Epochs)
                    throw new ArgumentException($"the checkpoint {config.Checkpoint} has already done {start} epochs; ask for more than {start} with --epochs.");
            }
            if (sched is not null) sched.LastEpoch = perBatch ? start * steps : start;
            var trainer = new Trainer(model, new CrossEntropyLoss(), opt, perBatch ? null : sched)
            {
                DataParallel = parallel,
                BatchScheduler = perBatch ? sched : null,
            };
            double before = history.Count > 0 ? history[^1].ElapsedSeconds : 0;
            trainer.Fit(loader, data.Test, config.Epochs, start, onBatch, r =>
            {
                history.Add(r);
                if (config.Checkpoint is { } path && (parallel?.Rank ?? 0) == 0) SaveCheckpoint(path, config, model, opt, history);
                onEpoch?.Invoke(r);
            }, before);
            double acc = history[^1].TestAccuracy;
            opt.Dispose();
            return new TrainResult(history, acc, model, start);
        }
        catch
        {
            opt.Dispose();
            model.Dispose();
            throw;
        }
    }

    private const string ModelPrefix = "model.";
    private const string OptimizerPrefix = "optimizer.";

    /// <summary>
    /// Writes the checkpoint: first <see cref="StatePath"/>, one file holding everything a resume needs (the model's
    /// weights, the optimizer state, dropout counters and the history), then the model alone to <paramref name="path"/>
    /// (for <see cref="Module.Load"/>). Each file is written to a temporary file and renamed, and resume reads only the
    /// state file, so a crash at any moment leaves either the previous epoch's checkpoint or this one, never a mix.
    /// </summary>
    public static void SaveCheckpoint(string path, TrainConfig config, Module model, Optimizer optimizer, IReadOnlyList<EpochResult> history)
    {
        ArgumentNullException.ThrowIfNull(path);
        var meta = ModelMetadata(config, model, history.Count);
        using (Tensor.NewScope())
        {
            var state = new Dictionary<string, Tensor>();
            foreach (var (k, v) in model.StateDict()) state[ModelPrefix + k] = v;
            foreach (var (k, v) in optimizer.StateDict()) state[OptimizerPrefix + k] = v;
            var stateMeta = new Dictionary<string, string>(meta)
            {
                ["optimizer"] = optimizer.GetType().Name,
                ["history"] = JsonSerializer.Serialize(history, s_json),
            };
            foreach (var (name, m) in model.NamedModules())
                if (m is Dropout d) stateMeta["dropout." + name] = d.Counter.ToString(CultureInfo.InvariantCulture);
            Safetensors.Save(StatePath(path), state, stateMeta);
        }
        model.Save(path, meta);
    }

    private static Dictionary<string, string> ModelMetadata(TrainConfig config, Module model, int epoch)
    {
        var meta = new Dictionary<string, string>
        {
            ["format"] = "gpunet-mlp",
            ["epoch"] = epoch.ToString(CultureInfo.InvariantCulture),
            ["config"] = JsonSerializer.Serialize(config with { Resume = false }, s_json),
        };
        if (model is Mlp mlp)
        {
            meta["sizes"] = string.Join(",", mlp.Sizes);
            meta["activation"] = Activations.Name(mlp.Activation);
        }
        return meta;
    }

    // The epoch a model checkpoint file says it holds; -1 when it is missing or unreadable.
    private static int ModelFileEpoch(string path)
    {
        try
        {
            return File.Exists(path) && Safetensors.ReadMetadata(path).TryGetValue("epoch", out var e)
                && int.TryParse(e, NumberStyles.None, CultureInfo.InvariantCulture, out int epoch) ? epoch : -1;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    /// <summary>
    /// Restores a checkpoint written by <see cref="SaveCheckpoint"/> from its state file; returns the number of epochs it
    /// had done. The whole file is read and checked (keys, shapes, counters, history) before the model, the optimizer or
    /// <paramref name="history"/> change, so an error, which names the file and the key, leaves all three as they were.
    /// </summary>
    public static int LoadCheckpoint(string path, Module model, Optimizer optimizer, List<EpochResult>? history = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        var statePath = StatePath(path);
        if (!File.Exists(statePath))
            throw new FileNotFoundException(File.Exists(path)
                ? $"resume: {path} has no training state next to it ({statePath}); it cannot be resumed bit-for-bit."
                : $"resume: no checkpoint at {path} (its training state {statePath} does not exist).", statePath);
        var meta = Safetensors.ReadMetadata(statePath);
        InvalidDataException Bad(string what) => new($"resume: {statePath}: {what}.");
        if (!meta.TryGetValue("epoch", out var epochText) || !int.TryParse(epochText, NumberStyles.None, CultureInfo.InvariantCulture, out int epoch))
            throw Bad($"metadata 'epoch' is {(epochText is null ? "missing" : $"'{epochText}'")}; expected a whole number");
        if (meta.TryGetValue("optimizer", out var kind) && kind != optimizer.GetType().Name)
            throw Bad($"holds {kind} state but this run uses {optimizer.GetType().Name}");
        var counters = new List<(Dropout Module, long Counter)>();
        foreach (var (name, m) in model.NamedModules())
        {
            if (m is not Dropout d || !meta.TryGetValue("dropout." + name, out var c)) continue;
            if (!long.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out long counter))
                throw Bad($"metadata 'dropout.{name}' is '{c}'; expected a whole number");
            counters.Add((d, counter));
        }
        List<EpochResult> past = [];
        if (meta.TryGetValue("history", out var h))
        {
            try
            {
                past = JsonSerializer.Deserialize<List<EpochResult>>(h, s_json) ?? [];
            }
            catch (JsonException e)
            {
                throw Bad($"metadata 'history' is not a list of epoch results ({e.Message})");
            }
            if (past.Count != epoch) throw Bad($"metadata 'history' lists {past.Count} epochs but 'epoch' is {epoch}");
        }

        using (Tensor.NewScope())
        {
            var tensors = Safetensors.Load(statePath, optimizer.Parameters[0].Device);
            var weights = Strip(tensors, ModelPrefix);
            var state = Strip(tensors, OptimizerPrefix);
            var strays = tensors.Keys.Where(k => !k.StartsWith(ModelPrefix, StringComparison.Ordinal) && !k.StartsWith(OptimizerPrefix, StringComparison.Ordinal)).ToList();
            if (weights.Count == 0) throw Bad("holds no model weights ('model.*' tensors); it was not written by this version of gpunet");
            if (strays.Count > 0) throw Bad($"unexpected tensors {string.Join(", ", strays.Select(k => $"'{k}'"))}");
            try
            {
                model.CheckStateDict(weights);
                optimizer.CheckStateDict(state);
            }
            catch (InvalidOperationException e)
            {
                throw new InvalidDataException($"resume: {statePath}: {e.Message}", e);
            }
            // Nothing below can fail on a checked file: the model, the optimizer and the history change together.
            model.LoadStateDict(weights);
            optimizer.LoadStateDict(state);
        }
        foreach (var (d, counter) in counters) d.Counter = counter;
        history?.AddRange(past);
        return epoch;

        static Dictionary<string, Tensor> Strip(Dictionary<string, Tensor> tensors, string prefix) =>
            tensors.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
    }
}
