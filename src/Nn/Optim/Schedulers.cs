namespace GpuNet.Nn;

/// <summary>
/// Base class of learning-rate schedules (PyTorch's <c>lr_scheduler</c>): call <see cref="Step"/>
/// once per epoch, after the optimizer's steps; it sets <see cref="Optimizer.LearningRate"/> from a
/// closed form of the epoch count, so a schedule can be resumed with <see cref="LastEpoch"/>.
/// </summary>
public abstract class LRScheduler
{
    private int _lastEpoch;

    /// <summary>Attaches to <paramref name="optimizer"/>; the base rate is its <see cref="Optimizer.InitialLearningRate"/>.</summary>
    protected LRScheduler(Optimizer optimizer)
    {
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        BaseLearningRate = optimizer.InitialLearningRate;
    }

    /// <summary>The optimizer whose rate is set.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The rate at epoch 0.</summary>
    public double BaseLearningRate { get; }

    /// <summary>Epochs stepped so far; setting it moves the schedule (and the optimizer's rate) to that epoch.</summary>
    public int LastEpoch
    {
        get => _lastEpoch;
        set
        {
            if (value < 0) throw new ArgumentOutOfRangeException(nameof(value), $"{GetType().Name}: epoch must be non-negative; got {value}.");
            _lastEpoch = value;
            Optimizer.LearningRate = LearningRateAt(value);
        }
    }

    /// <summary>Advances one epoch and updates the optimizer's rate.</summary>
    public void Step() => LastEpoch = _lastEpoch + 1;

    /// <summary>The rate after <paramref name="epoch"/> epochs.</summary>
    public abstract double LearningRateAt(int epoch);
}

/// <summary>Multiplies the rate by γ every <see cref="StepSize"/> epochs: lr = base·γ^⌊epoch / stepSize⌋ (PyTorch's <c>StepLR</c>).</summary>
public sealed class StepLR : LRScheduler
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="optimizer">Optimizer to drive.</param>
    /// <param name="stepSize">Epochs between decays (positive).</param>
    /// <param name="gamma">Decay factor.</param>
    public StepLR(Optimizer optimizer, int stepSize, double gamma = 0.1) : base(optimizer)
    {
        if (stepSize <= 0) throw new ArgumentOutOfRangeException(nameof(stepSize), $"StepLR: stepSize must be positive; got {stepSize}.");
        StepSize = stepSize;
        Gamma = gamma;
    }

    /// <summary>Epochs between decays.</summary>
    public int StepSize { get; }

    /// <summary>Decay factor.</summary>
    public double Gamma { get; }

    /// <inheritdoc />
    public override double LearningRateAt(int epoch) => BaseLearningRate * Math.Pow(Gamma, epoch / StepSize);
}

/// <summary>
/// Cosine annealing from the base rate to <see cref="EtaMin"/> over <see cref="TMax"/> epochs:
/// lr = η_min + (base − η_min)·(1 + cos(π·epoch/T_max))/2 (PyTorch's <c>CosineAnnealingLR</c>, closed form).
/// </summary>
public sealed class CosineAnnealingLR : LRScheduler
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="optimizer">Optimizer to drive.</param>
    /// <param name="tMax">Half-period in epochs (positive).</param>
    /// <param name="etaMin">Lowest rate.</param>
    public CosineAnnealingLR(Optimizer optimizer, int tMax, double etaMin = 0) : base(optimizer)
    {
        if (tMax <= 0) throw new ArgumentOutOfRangeException(nameof(tMax), $"CosineAnnealingLR: tMax must be positive; got {tMax}.");
        TMax = tMax;
        EtaMin = etaMin;
    }

    /// <summary>Half-period in epochs.</summary>
    public int TMax { get; }

    /// <summary>Lowest rate.</summary>
    public double EtaMin { get; }

    /// <inheritdoc />
    public override double LearningRateAt(int epoch) =>
        EtaMin + (BaseLearningRate - EtaMin) * (1 + Math.Cos(Math.PI * epoch / TMax)) / 2;
}
