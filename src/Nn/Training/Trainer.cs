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

    /// <summary>Clip the gradient norm to this value before each step (null: no clipping).</summary>
    public double? MaxGradNorm { get; init; }

    /// <summary>
    /// Trains one epoch over <paramref name="loader"/>'s batches for <paramref name="epoch"/> (0-based, which fixes the shuffle)
    /// and returns (mean loss, accuracy, samples). Steps the scheduler at the end.
    /// </summary>
    public (double Loss, double Accuracy, long Samples) TrainEpoch(DataLoader loader, int epoch, Action<BatchProgress>? onBatch = null)
    {
        ArgumentNullException.ThrowIfNull(loader);
        Model.Train();
        double lossSum = 0;
        long correct = 0, samples = 0;
        int batch = 0, batches = loader.BatchCount;
        foreach (var (x, y) in loader.Batches(epoch))
        {
            using var scope = Tensor.NewScope();
            var logits = Model.Forward(x);
            var loss = LossFunction.Forward(logits, y);
            Optimizer.ZeroGrad();
            loss.Backward();
            if (MaxGradNorm is { } max) GradClip.ClipGradNorm(Optimizer.Parameters, max);
            Optimizer.Step();
            int n = x.Shape[0];
            lossSum += loss.Item() * n;
            if (y.DType == DType.Int32 && logits.Rank == 2) correct += Metrics.CorrectCount(logits, y);
            samples += n;
            batch++;
            onBatch?.Invoke(new BatchProgress(epoch + 1, batch, batches, lossSum / samples));
        }
        Scheduler?.Step();
        return (samples == 0 ? double.NaN : lossSum / samples, samples == 0 ? double.NaN : (double)correct / samples, samples);
    }

    /// <summary>Mean loss (when <paramref name="loss"/> is given) and accuracy of <paramref name="model"/> on <paramref name="data"/>, in eval mode and under NoGrad, in batches.</summary>
    public static (double Loss, double Accuracy) Evaluate(Module model, TensorDataset data, Loss? loss = null, int batchSize = 2000)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        bool wasTraining = model.IsTraining;
        model.Eval();
        try
        {
            using var noGrad = Autograd.NoGrad();
            double lossSum = 0;
            long correct = 0;
            foreach (var (x, y) in new DataLoader(data, batchSize).Batches(0))
            {
                using var scope = Tensor.NewScope();
                var logits = model.Forward(x);
                if (loss is not null) lossSum += loss.Forward(logits, y).Item() * x.Shape[0];
                correct += Metrics.CorrectCount(logits, y);
            }
            int n = data.Count;
            return (loss is null || n == 0 ? double.NaN : lossSum / n, n == 0 ? double.NaN : (double)correct / n);
        }
        finally
        {
            model.Train(wasTraining);
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
            var (testLoss, testAcc) = test is null ? (double.NaN, double.NaN) : Evaluate(Model, test, LossFunction);
            var r = new EpochResult(epoch + 1, loss, acc, testLoss, testAcc, samples / Math.Max(trainSeconds, 1e-9),
                sw.Elapsed.TotalSeconds, elapsedBefore + total.Elapsed.TotalSeconds, lr);
            results.Add(r);
            onEpoch?.Invoke(r);
        }
        return results;
    }
}
