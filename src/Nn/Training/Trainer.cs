using System.Diagnostics;

namespace GpuNet.Nn;

/// <summary>What one training epoch measured.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TrainLoss">Mean training loss over the epoch's samples.</param>
/// <param name="TrainAccuracy">Fraction of training samples classified correctly while training.</param>
/// <param name="TestLoss">Mean loss on the held-out set (NaN when none).</param>
/// <param name="TestAccuracy">Accuracy on the held-out set (NaN when none).</param>
/// <param name="SamplesPerSecond">Training throughput of the epoch.</param>
/// <param name="EpochSeconds">Wall time of the epoch (training and evaluation).</param>
/// <param name="ElapsedSeconds">Wall time since training began (including resumed epochs).</param>
/// <param name="LearningRate">Learning rate used during the epoch.</param>
public sealed record EpochResult(int Epoch, double TrainLoss, double TrainAccuracy, double TestLoss, double TestAccuracy,
    double SamplesPerSecond, double EpochSeconds, double ElapsedSeconds, double LearningRate);

/// <summary>Progress inside an epoch, reported after each batch.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="Batches">Batches in the epoch.</param>
/// <param name="RunningLoss">Mean loss of the batches done.</param>
public readonly record struct BatchProgress(int Epoch, int Batch, int Batches, double RunningLoss);

/// <summary>
/// The reusable pieces of a classification training loop: one epoch of mini-batch training
/// (each step in its own <see cref="TensorScope"/>, so memory stays flat) and evaluation under NoGrad.
/// </summary>
public sealed class Trainer
{
    /// <summary>Bundles the model, loss and optimizer (and an optional per-epoch schedule).</summary>
    public Trainer(Module model, Loss loss, Optimizer optimizer, LRScheduler? scheduler = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        LossFunction = loss ?? throw new ArgumentNullException(nameof(loss));
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        Scheduler = scheduler;
    }

    /// <summary>The model trained.</summary>
    public Module Model { get; }

    /// <summary>The training loss.</summary>
    public Loss LossFunction { get; }

    /// <summary>The optimizer.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The learning-rate schedule stepped after each epoch, if any.</summary>
    public LRScheduler? Scheduler { get; }

    /// <summary>A learning-rate schedule stepped after every optimizer step (as PyTorch steps <see cref="OneCycleLR"/>), if any.</summary>
    public LRScheduler? BatchScheduler { get; init; }

    /// <summary>Clip the gradient norm to this value before each step (null: no clipping).</summary>
    public double? MaxGradNorm { get; init; }

    /// <summary>
    /// Data-parallel training (null: this process alone). When set, the loader given to <see cref="TrainEpoch"/> must
    /// carry this replica's <see cref="DataLoader.Sampler"/>; gradients are combined after each backward, the epoch's
    /// figures are the global batch's, and <see cref="Fit"/> evaluates each replica's share of the test set and sums.
    /// </summary>
    public IDataParallel? DataParallel { get; init; }

    /// <summary>
    /// Trains one epoch over <paramref name="loader"/>'s batches for <paramref name="epoch"/> (0-based, which fixes the shuffle)
    /// and returns (mean loss, accuracy, samples). Steps the scheduler at the end.
    /// </summary>
    public (double Loss, double Accuracy, long Samples) TrainEpoch(DataLoader loader, int epoch, Action<BatchProgress>? onBatch = null)
    {
        ArgumentNullException.ThrowIfNull(loader);
        Model.Train();
        // The epoch's loss and hit count add up on the device and are read once at the end: reading them
        // per batch would make the host wait for the device at every step.
        using var totals = new EpochTotals(loader.Dataset.Device);
        long samples = 0;
        int batch = 0, batches = loader.BatchCount;
        double runningLoss = double.NaN;
        foreach (var (x, y) in loader.Batches(epoch))
        {
            using var scope = Tensor.NewScope();
            int n = x.Shape[0];
            Tensor? logits = null, loss = null;
            Optimizer.ZeroGrad();
            // A data-parallel replica whose share of a short last batch is empty computes nothing but still takes part in the sum.
            double share = DataParallel is null ? 1 : (double)n / loader.GlobalBatchLength(batch);
            if (n > 0 || DataParallel is null)
            {
                logits = Model.Forward(x);
                loss = LossFunction.Forward(logits, y);
                DataParallel?.BeginBackward(Optimizer.Parameters, share);
                loss.Backward();
            }
            DataParallel?.SynchronizeGradients(Optimizer.Parameters, share);
            if (MaxGradNorm is { } max) GradClip.ClipGradNorm(Optimizer.Parameters, max);
            Optimizer.Step();
            BatchScheduler?.Step();
            if (loss is not null) totals.Add(loss, logits!, y, n);
            samples += n;
            batch++;
            if (onBatch is not null)
            {
                // A progress display needs a figure now and then, not a synchronisation per step.
                if (batch == 1 || batch == batches || batch % ProgressInterval == 0) runningLoss = totals.Loss / Math.Max(samples, 1);
                onBatch(new BatchProgress(epoch + 1, batch, batches, runningLoss));
            }
        }
        Scheduler?.Step();
        Span<double> sums = [totals.Loss, totals.Correct, samples];
        DataParallel?.Sum(sums); // every replica reports the global batch's figures
        double lossSum = sums[0], correct = sums[1];
        samples = (long)sums[2];
        return (samples == 0 ? double.NaN : lossSum / samples, samples == 0 ? double.NaN : correct / samples, samples);
    }

    /// <summary>Batches between the running-loss figures <see cref="TrainEpoch"/> reads back for its progress callback.</summary>
    public const int ProgressInterval = 25;

    /// <summary>Mean loss (when <paramref name="loss"/> is given) and accuracy of <paramref name="model"/> on <paramref name="data"/>, in eval mode and under NoGrad, in batches.</summary>
    public static (double Loss, double Accuracy) Evaluate(Module model, TensorDataset data, Loss? loss = null, int batchSize = 2000) =>
        Evaluate(model, data, loss, batchSize, null);

    // With a data-parallel group, each replica evaluates its shard of every batch and the sums are added up.
    private static (double Loss, double Accuracy) Evaluate(Module model, TensorDataset data, Loss? loss, int batchSize, IDataParallel? parallel)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        bool wasTraining = model.IsTraining;
        model.Eval();
        try
        {
            using var noGrad = Autograd.NoGrad();
            using var totals = new EpochTotals(data.Device);
            var loader = new DataLoader(data, batchSize) { Sampler = parallel is null ? null : new DistributedSampler(parallel.Rank, parallel.Size) };
            foreach (var (x, y) in loader.Batches(0))
            {
                if (x.Shape[0] == 0) continue;
                using var scope = Tensor.NewScope();
                var logits = model.Forward(x);
                totals.Add(loss?.Forward(logits, y), logits, y, x.Shape[0]);
            }
            int n = data.Count;
            Span<double> sums = [loss is null ? 0 : totals.Loss, totals.Correct];
            parallel?.Sum(sums);
            return (loss is null || n == 0 ? double.NaN : sums[0] / n, n == 0 ? double.NaN : sums[1] / n);
        }
        finally
        {
            model.Train(wasTraining);
        }
    }

    /// <summary>
    /// Sums of loss·batch size (float64) and of correct predictions (int32) kept on the device, so a
    /// training loop never waits for the device until it reads <see cref="Loss"/> or <see cref="Correct"/>.
    /// </summary>
    private sealed class EpochTotals : IDisposable
    {
        private readonly Tensor _loss, _correct;

        public EpochTotals(Device device)
        {
            _loss = Tensor.Zeros([], DType.Float64, device).DetachFromScope();
            _correct = Tensor.Zeros([], DType.Int32, device).DetachFromScope();
        }

        /// <summary>Adds a batch: its mean loss (if any) times <paramref name="n"/>, and its hits when the labels are class indices.</summary>
        public void Add(Tensor? loss, Tensor logits, Tensor labels, int n)
        {
            using var noGrad = Autograd.NoGrad();
            if (loss is not null)
            {
                using var asDouble = loss.To(DType.Float64);
                _loss.AddInPlace(asDouble, n);
            }
            if (labels.DType == DType.Int32 && logits.Rank == 2)
            {
                using var hits = Metrics.CorrectCountTensor(logits, labels);
                _correct.AddInPlace(hits);
            }
        }

        /// <summary>The loss sum (reads the device).</summary>
        public double Loss => _loss.Item<double>();

        /// <summary>The number of hits (reads the device).</summary>
        public long Correct => _correct.Item<int>();

        public void Dispose()
        {
            _loss.Dispose();
            _correct.Dispose();
        }
    }

    /// <summary>Runs <see cref="TrainEpoch"/> for epochs [<paramref name="startEpoch"/>, <paramref name="epochs"/>) with evaluation on <paramref name="test"/> after each.</summary>
    public List<EpochResult> Fit(DataLoader train, TensorDataset? test, int epochs, int startEpoch = 0,
        Action<BatchProgress>? onBatch = null, Action<EpochResult>? onEpoch = null, double elapsedBefore = 0)
    {
        var results = new List<EpochResult>();
        var total = Stopwatch.StartNew();
        for (int epoch = startEpoch; epoch < epochs; epoch++)
        {
            var sw = Stopwatch.StartNew();
            double lr = Optimizer.LearningRate;
            var (loss, acc, samples) = TrainEpoch(train, epoch, onBatch);
            double trainSeconds = sw.Elapsed.TotalSeconds;
            var (testLoss, testAcc) = test is null ? (double.NaN, double.NaN) : Evaluate(Model, test, LossFunction, 2000, DataParallel);
            var r = new EpochResult(epoch + 1, loss, acc, testLoss, testAcc, samples / Math.Max(trainSeconds, 1e-9),
                sw.Elapsed.TotalSeconds, elapsedBefore + total.Elapsed.TotalSeconds, lr);
            results.Add(r);
            onEpoch?.Invoke(r);
        }
        return results;
    }
}
