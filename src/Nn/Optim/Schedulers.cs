namespace GpuNet.Nn;

/// <summary>
/// Base class of learning-rate schedules (PyTorch's <c>lr_scheduler</c>): call <see cref="Step"/>
/// once per epoch, after the optimizer's steps; it sets each parameter group's learning rate from a
/// closed form of the epoch count and the group's base rate, so a schedule can be resumed with <see cref="LastEpoch"/>.
/// Creating a schedule sets the rates to their epoch-0 values (a warm-up starts low at once), as PyTorch does.
/// </summary>
public abstract class LRScheduler
{
    private readonly double[] _baseLearningRates;
    private int _lastEpoch;

    /// <summary>Attaches to <paramref name="optimizer"/>; the base rates are its groups' <see cref="ParamGroup.InitialLearningRate"/>.</summary>
    protected LRScheduler(Optimizer optimizer)
    {
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        _baseLearningRates = [.. optimizer.ParamGroups.Select(g => g.InitialLearningRate)];
    }

    /// <summary>The optimizer whose rates are set.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>Group 0's rate at epoch 0 (before the schedule's factor).</summary>
    public double BaseLearningRate => _baseLearningRates[0];

    /// <summary>Every group's base rate, group 0 first.</summary>
    public IReadOnlyList<double> BaseLearningRates => _baseLearningRates;

    /// <summary>Epochs stepped so far; setting it moves the schedule (and the optimizer's rates) to that epoch.</summary>
    public int LastEpoch
    {
        get => _lastEpoch;
        set
        {
            if (value < 0) throw new ArgumentOutOfRangeException(nameof(value), $"{GetType().Name}: epoch must be non-negative; got {value}.");
            if (Optimizer.ParamGroups.Count != _baseLearningRates.Length)
                throw new InvalidOperationException($"{GetType().Name}: the optimizer has {Optimizer.ParamGroups.Count} parameter groups but had {_baseLearningRates.Length} when the schedule was created; create the schedule after adding every group.");
            Apply(value);
            _lastEpoch = value;
        }
    }

    /// <summary>Advances one epoch and updates the optimizer's rates.</summary>
    public void Step() => LastEpoch = _lastEpoch + 1;

    /// <summary>Group 0's rate after <paramref name="epoch"/> epochs.</summary>
    public double LearningRateAt(int epoch) => LearningRateAt(epoch, 0);

    /// <summary>Group <paramref name="group"/>'s rate after <paramref name="epoch"/> epochs.</summary>
    public abstract double LearningRateAt(int epoch, int group);

    /// <summary>Sets every group's rate (and whatever else the schedule drives) to its value at <paramref name="epoch"/>.</summary>
    protected virtual void Apply(int epoch)
    {
        var groups = Optimizer.ParamGroups;
        for (int g = 0; g < groups.Count; g++) groups[g].LearningRate = LearningRateAt(epoch, g);
    }

    /// <summary>Moves the optimizer to epoch 0; each schedule's constructor calls it last.</summary>
    protected void Initialize() => LastEpoch = 0;

    /// <summary>Throws unless <paramref name="value"/> is positive.</summary>
    private protected int Positive(string name, int value) =>
        value > 0 ? value : throw new ArgumentOutOfRangeException(name, $"{GetType().Name}: {name} must be positive; got {value}.");
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
        Initialize();
    }

    /// <summary>Epochs between decays.</summary>
    public int StepSize { get; }

    /// <summary>Decay factor.</summary>
    public double Gamma { get; }

    /// <inheritdoc />
    public override double LearningRateAt(int epoch, int group) => BaseLearningRates[group] * Math.Pow(Gamma, epoch / StepSize);
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
        Initialize();
    }

    /// <summary>Half-period in epochs.</summary>
    public int TMax { get; }

    /// <summary>Lowest rate.</summary>
    public double EtaMin { get; }

    /// <inheritdoc />
    public override double LearningRateAt(int epoch, int group) =>
        EtaMin + (BaseLearningRates[group] - EtaMin) * (1 + Math.Cos(Math.PI * epoch / TMax)) / 2;
}

/// <summary>
/// Linear change of the rate's factor from <see cref="StartFactor"/> to <see cref="EndFactor"/> over <see cref="TotalIters"/>
/// epochs, then constant (PyTorch's <c>LinearLR</c>; with the defaults, a warm-up from a third of the rate):
/// lr = base·(start + (end − start)·min(epoch, total)/total).
/// </summary>
public sealed class LinearLR : LRScheduler
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="optimizer">Optimizer to drive.</param>
    /// <param name="startFactor">Factor at epoch 0, in (0, 1].</param>
    /// <param name="endFactor">Factor from epoch <paramref name="totalIters"/> on, in [0, 1].</param>
    /// <param name="totalIters">Epochs of the change (positive).</param>
    public LinearLR(Optimizer optimizer, double startFactor = 1.0 / 3, double endFactor = 1.0, int totalIters = 5) : base(optimizer)
    {
        if (!(startFactor > 0 && startFactor <= 1)) throw new ArgumentOutOfRangeException(nameof(startFactor), $"LinearLR: startFactor must be in (0, 1]; got {startFactor}.");
        if (!(endFactor >= 0 && endFactor <= 1)) throw new ArgumentOutOfRangeException(nameof(endFactor), $"LinearLR: endFactor must be in [0, 1]; got {endFactor}.");
        StartFactor = startFactor;
        EndFactor = endFactor;
        TotalIters = Positive(nameof(totalIters), totalIters);
        Initialize();
    }

    /// <summary>Factor at epoch 0.</summary>
    public double StartFactor { get; }

    /// <summary>Factor after <see cref="TotalIters"/> epochs.</summary>
    public double EndFactor { get; }

    /// <summary>Epochs of the change.</summary>
    public int TotalIters { get; }

    /// <inheritdoc />
    public override double LearningRateAt(int epoch, int group) =>
        BaseLearningRates[group] * (StartFactor + (EndFactor - StartFactor) * Math.Min(epoch, TotalIters) / TotalIters);
}

/// <summary>Multiplies the rate by γ every epoch: lr = base·γ^epoch (PyTorch's <c>ExponentialLR</c>).</summary>
public sealed class ExponentialLR : LRScheduler
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="optimizer">Optimizer to drive.</param>
    /// <param name="gamma">Decay factor per epoch (finite, non-negative).</param>
    public ExponentialLR(Optimizer optimizer, double gamma) : base(optimizer)
    {
        if (!(gamma >= 0) || double.IsInfinity(gamma)) throw new ArgumentOutOfRangeException(nameof(gamma), $"ExponentialLR: gamma must be a finite non-negative number; got {gamma}.");
        Gamma = gamma;
        Initialize();
    }

    /// <summary>Decay factor per epoch.</summary>
    public double Gamma { get; }

    /// <inheritdoc />
    public override double LearningRateAt(int epoch, int group) => BaseLearningRates[group] * Math.Pow(Gamma, epoch);
}

/// <summary>
/// Multiplies the rate by γ at each milestone epoch: lr = base·γ^(number of milestones ≤ epoch), a milestone listed twice
/// counting twice (PyTorch's <c>MultiStepLR</c>).
/// </summary>
public sealed class MultiStepLR : LRScheduler
{
    private readonly int[] _milestones;

    /// <summary>Creates the schedule.</summary>
    /// <param name="optimizer">Optimizer to drive.</param>
    /// <param name="milestones">Epochs at which the rate is multiplied by γ (positive).</param>
    /// <param name="gamma">Decay factor.</param>
    public MultiStepLR(Optimizer optimizer, IEnumerable<int> milestones, double gamma = 0.1) : base(optimizer)
    {
        ArgumentNullException.ThrowIfNull(milestones);
        _milestones = [.. milestones.Order()];
        if (_milestones.Length > 0 && _milestones[0] <= 0)
            throw new ArgumentOutOfRangeException(nameof(milestones), $"MultiStepLR: milestones must be positive epochs; got [{string.Join(",", _milestones)}].");
        Gamma = gamma;
        Initialize();
    }

    /// <summary>The milestones, in order.</summary>
    public IReadOnlyList<int> Milestones => _milestones;

    /// <summary>Decay factor.</summary>
    public double Gamma { get; }

    /// <inheritdoc />
    public override double LearningRateAt(int epoch, int group) => BaseLearningRates[group] * Math.Pow(Gamma, _milestones.Count(m => m <= epoch));
}

/// <summary>The rate is the base rate times a function of the epoch: lr = base·λ(epoch) (PyTorch's <c>LambdaLR</c>).</summary>
public sealed class LambdaLR : LRScheduler
{
    private readonly Func<int, double>[] _lambdas;

    /// <summary>Creates the schedule with one function for every group.</summary>
    /// <param name="optimizer">Optimizer to drive.</param>
    /// <param name="lrLambda">The factor λ(epoch).</param>
    public LambdaLR(Optimizer optimizer, Func<int, double> lrLambda) : this(optimizer, Enumerable.Repeat(lrLambda ?? throw new ArgumentNullException(nameof(lrLambda)), optimizer?.ParamGroups.Count ?? 0).ToArray()) { }

    /// <summary>Creates the schedule with one function per parameter group.</summary>
    /// <param name="optimizer">Optimizer to drive.</param>
    /// <param name="lrLambdas">The factor λ_g(epoch) of each group g.</param>
    public LambdaLR(Optimizer optimizer, IReadOnlyList<Func<int, double>> lrLambdas) : base(optimizer)
    {
        ArgumentNullException.ThrowIfNull(lrLambdas);
        if (lrLambdas.Count != optimizer.ParamGroups.Count)
            throw new ArgumentException($"LambdaLR: got {lrLambdas.Count} functions for {optimizer.ParamGroups.Count} parameter groups.");
        _lambdas = [.. lrLambdas];
        Initialize();
    }

    /// <inheritdoc />
    public override double LearningRateAt(int epoch, int group) => BaseLearningRates[group] * _lambdas[group](epoch);
}

/// <summary>
/// Runs schedules one after another (PyTorch's <c>SequentialLR</c>): schedule i takes over at milestone i − 1 and
/// counts its epochs from there, e.g. a <see cref="LinearLR"/> warm-up for 5 epochs, then <see cref="CosineAnnealingLR"/>:
/// <c>new SequentialLR(opt, [new LinearLR(opt, totalIters: 5), new CosineAnnealingLR(opt, 45)], [5])</c>.
/// </summary>
public sealed class SequentialLR : LRScheduler
{
    private readonly LRScheduler[] _schedulers;
    private readonly int[] _milestones;

    /// <summary>Creates the schedule.</summary>
    /// <param name="optimizer">Optimizer to drive (every schedule must drive it too).</param>
    /// <param name="schedulers">The schedules, in order.</param>
    /// <param name="milestones">The epochs at which the next schedule takes over, increasing; one fewer than the schedules.</param>
    public SequentialLR(Optimizer optimizer, IEnumerable<LRScheduler> schedulers, IEnumerable<int> milestones) : base(optimizer)
    {
        ArgumentNullException.ThrowIfNull(schedulers);
        ArgumentNullException.ThrowIfNull(milestones);
        _schedulers = [.. schedulers];
        _milestones = [.. milestones];
        if (_schedulers.Length == 0) throw new ArgumentException("SequentialLR: got no schedules.");
        if (_milestones.Length != _schedulers.Length - 1)
            throw new ArgumentException($"SequentialLR: {_schedulers.Length} schedules need {_schedulers.Length - 1} milestones; got {_milestones.Length}.");
        if (_schedulers.Any(s => s is null || !ReferenceEquals(s.Optimizer, optimizer)))
            throw new ArgumentException("SequentialLR: every schedule must drive the optimizer given to SequentialLR.");
        for (int i = 0; i < _milestones.Length; i++)
            if (_milestones[i] <= (i == 0 ? 0 : _milestones[i - 1]))
                throw new ArgumentException($"SequentialLR: milestones must be positive and increasing; got [{string.Join(",", _milestones)}].");
        Initialize();
    }

    /// <summary>The schedules, in order.</summary>
    public IReadOnlyList<LRScheduler> Schedulers => _schedulers;

    /// <summary>The epochs at which the next schedule takes over.</summary>
    public IReadOnlyList<int> Milestones => _milestones;

    private (LRScheduler Scheduler, int Epoch) Locate(int epoch)
    {
        int i = _milestones.Count(m => m <= epoch);
        return (_schedulers[i], i == 0 ? epoch : epoch - _milestones[i - 1]);
    }

    /// <inheritdoc />
    public override double LearningRateAt(int epoch, int group)
    {
        var (s, local) = Locate(epoch);
        return s.LearningRateAt(local, group);
    }

    /// <inheritdoc />
    protected override void Apply(int epoch)
    {
        var (s, local) = Locate(epoch);
        s.LastEpoch = local;
    }
}

/// <summary>How <see cref="OneCycleLR"/> moves between its rates.</summary>
public enum AnnealStrategy
{
    /// <summary>Cosine: end + (start − end)·(1 + cos(π·pct))/2.</summary>
    Cos,
    /// <summary>Linear: start + (end − start)·pct.</summary>
    Linear,
}

/// <summary>
/// The 1cycle policy (PyTorch's <c>OneCycleLR</c>): the rate rises from maxLr/divFactor to maxLr over the first
/// pctStart of <see cref="TotalSteps"/>, then falls to maxLr/(divFactor·finalDivFactor) at step totalSteps − 1
/// (with <c>threePhase</c>: back to maxLr/divFactor at 2·pctStart, then to the minimum). Phase i runs from step sᵢ to eᵢ
/// (e₁ = pctStart·total − 1, e₂ = total − 1) with pct = (step − sᵢ)/(eᵢ − sᵢ). With <c>cycleMomentum</c> the momentum (SGD,
/// RMSProp) or β₁ (Adam, AdamW, NAdam, RAdam) moves the other way, between maxMomentum and baseMomentum. PyTorch steps it
/// after every batch; step it per batch (<see cref="LRScheduler.Step"/>) or per epoch with totalSteps the epoch count.
/// </summary>
public sealed class OneCycleLR : LRScheduler
{
    private readonly (double End, double Lr0, double Lr1, double M0, double M1)[] _phases;

    /// <summary>Creates the schedule (and sets every group's rate to maxLr/divFactor).</summary>
    /// <param name="optimizer">Optimizer to drive.</param>
    /// <param name="maxLr">The peak rate (every group).</param>
    /// <param name="totalSteps">Steps in the cycle (positive).</param>
    /// <param name="pctStart">Fraction of the cycle spent rising, in (0, 1).</param>
    /// <param name="annealStrategy">Cosine or linear moves.</param>
    /// <param name="cycleMomentum">Move the momentum (or β₁) inversely to the rate.</param>
    /// <param name="baseMomentum">Momentum at the peak rate.</param>
    /// <param name="maxMomentum">Momentum at the start and end.</param>
    /// <param name="divFactor">Starting rate = maxLr/divFactor.</param>
    /// <param name="finalDivFactor">Final rate = starting rate/finalDivFactor.</param>
    /// <param name="threePhase">Fall back to the starting rate before annealing to the minimum.</param>
    public OneCycleLR(Optimizer optimizer, double maxLr, int totalSteps, double pctStart = 0.3, AnnealStrategy annealStrategy = AnnealStrategy.Cos,
        bool cycleMomentum = true, double baseMomentum = 0.85, double maxMomentum = 0.95, double divFactor = 25, double finalDivFactor = 1e4, bool threePhase = false)
        : base(optimizer)
    {
        if (!(maxLr >= 0) || double.IsInfinity(maxLr)) throw new ArgumentOutOfRangeException(nameof(maxLr), $"OneCycleLR: maxLr must be a finite non-negative number; got {maxLr}.");
        TotalSteps = Positive(nameof(totalSteps), totalSteps);
        if (!(pctStart > 0 && pctStart < 1)) throw new ArgumentOutOfRangeException(nameof(pctStart), $"OneCycleLR: pctStart must be in (0, 1); got {pctStart}.");
        if (!(divFactor > 0) || !(finalDivFactor > 0)) throw new ArgumentOutOfRangeException(nameof(divFactor), $"OneCycleLR: divFactor and finalDivFactor must be positive; got {divFactor} and {finalDivFactor}.");
        if (!Enum.IsDefined(annealStrategy)) throw new ArgumentOutOfRangeException(nameof(annealStrategy), $"OneCycleLR: unknown anneal strategy {annealStrategy}.");
        if (cycleMomentum && optimizer is not (SGD or RMSProp or Adam or NAdam or RAdam))
            throw new ArgumentException($"OneCycleLR: {optimizer.GetType().Name} has neither momentum nor β₁ to cycle; pass cycleMomentum: false.");
        if (cycleMomentum && !(baseMomentum >= 0 && maxMomentum >= 0 && (optimizer is SGD or RMSProp || maxMomentum < 1)))
            throw new ArgumentOutOfRangeException(nameof(baseMomentum), $"OneCycleLR: momenta must be non-negative (and below 1 for β₁); got {baseMomentum} and {maxMomentum}.");
        MaxLearningRate = maxLr;
        AnnealStrategy = annealStrategy;
        CycleMomentum = cycleMomentum;
        double initial = maxLr / divFactor, min = initial / finalDivFactor;
        _phases = threePhase
            ? [(pctStart * totalSteps - 1, initial, maxLr, maxMomentum, baseMomentum),
               (2 * pctStart * totalSteps - 2, maxLr, initial, baseMomentum, maxMomentum),
               (totalSteps - 1, initial, min, maxMomentum, maxMomentum)]
            : [(pctStart * totalSteps - 1, initial, maxLr, maxMomentum, baseMomentum),
               (totalSteps - 1, maxLr, min, baseMomentum, maxMomentum)];
        Initialize();
    }

    /// <summary>Steps in the cycle.</summary>
    public int TotalSteps { get; }

    /// <summary>The peak rate.</summary>
    public double MaxLearningRate { get; }

    /// <summary>Cosine or linear.</summary>
    public AnnealStrategy AnnealStrategy { get; }

    /// <summary>Whether the momentum (or β₁) is cycled.</summary>
    public bool CycleMomentum { get; }

    private (double Lr, double Momentum) At(int step)
    {
        if (step > TotalSteps)
            throw new ArgumentOutOfRangeException(nameof(step), $"OneCycleLR: stepped {step} times, beyond its {TotalSteps} total steps.");
        double start = 0;
        for (int i = 0; i < _phases.Length; i++)
        {
            var p = _phases[i];
            if (step <= p.End || i == _phases.Length - 1)
            {
                double span = p.End - start, pct = span == 0 ? 1 : (step - start) / span;
                return (Anneal(p.Lr0, p.Lr1, pct), Anneal(p.M0, p.M1, pct));
            }
            start = p.End;
        }
        throw new InvalidOperationException("OneCycleLR: no phase.");
    }

    private double Anneal(double from, double to, double pct) =>
        AnnealStrategy == AnnealStrategy.Cos ? to + (from - to) * (1 + Math.Cos(Math.PI * pct)) / 2 : from + (to - from) * pct;

    /// <summary>The momentum (or β₁) at <paramref name="step"/>.</summary>
    public double MomentumAt(int step) => At(step).Momentum;

    /// <inheritdoc />
    public override double LearningRateAt(int epoch, int group) => At(epoch).Lr;

    /// <inheritdoc />
    protected override void Apply(int epoch)
    {
        base.Apply(epoch);
        if (!CycleMomentum) return;
        double m = MomentumAt(epoch);
        foreach (var g in Optimizer.ParamGroups)
            if (Optimizer is SGD or RMSProp) g.Momentum = m;
            else g.Beta1 = m;
    }
}

/// <summary>Whether <see cref="ReduceLROnPlateau"/> watches a quantity that should fall (a loss) or rise (an accuracy).</summary>
public enum PlateauMode
{
    /// <summary>Lower is better.</summary>
    Min,
    /// <summary>Higher is better.</summary>
    Max,
}

/// <summary>How <see cref="ReduceLROnPlateau"/> decides that a value improves on the best.</summary>
public enum ThresholdMode
{
    /// <summary>Relative: better than best·(1 ∓ threshold).</summary>
    Rel,
    /// <summary>Absolute: better than best ∓ threshold.</summary>
    Abs,
}

/// <summary>
/// Cuts the rate when a metric stops improving (PyTorch's <c>ReduceLROnPlateau</c>). Call <see cref="Step"/> with the
/// metric after each epoch: a value better than the best (min, rel: x &lt; best·(1 − threshold); max, rel:
/// x &gt; best·(1 + threshold); abs: best ∓ threshold) resets the count of bad epochs; after more than
/// <see cref="Patience"/> bad epochs each group's rate becomes max(lr·factor, minLr) (unless that changes it by at most
/// eps), and <see cref="Cooldown"/> epochs follow in which bad epochs are not counted. Not a closed form of the epoch,
/// so <see cref="Trainer"/> does not step it: the caller does, with the metric of its choice.
/// </summary>
public sealed class ReduceLROnPlateau
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="optimizer">Optimizer to drive.</param>
    /// <param name="mode">Whether the metric should fall or rise.</param>
    /// <param name="factor">Multiplier of the rate at each cut, in [0, 1).</param>
    /// <param name="patience">Bad epochs tolerated before a cut.</param>
    /// <param name="threshold">Least improvement that counts.</param>
    /// <param name="thresholdMode">Relative or absolute threshold.</param>
    /// <param name="cooldown">Epochs after a cut in which bad epochs are not counted.</param>
    /// <param name="minLr">Lowest rate.</param>
    /// <param name="eps">Cuts smaller than this are skipped.</param>
    public ReduceLROnPlateau(Optimizer optimizer, PlateauMode mode = PlateauMode.Min, double factor = 0.1, int patience = 10, double threshold = 1e-4,
        ThresholdMode thresholdMode = ThresholdMode.Rel, int cooldown = 0, double minLr = 0, double eps = 1e-8)
    {
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        if (!(factor >= 0 && factor < 1)) throw new ArgumentOutOfRangeException(nameof(factor), $"ReduceLROnPlateau: factor must be in [0, 1); got {factor}.");
        if (patience < 0) throw new ArgumentOutOfRangeException(nameof(patience), $"ReduceLROnPlateau: patience must be non-negative; got {patience}.");
        if (cooldown < 0) throw new ArgumentOutOfRangeException(nameof(cooldown), $"ReduceLROnPlateau: cooldown must be non-negative; got {cooldown}.");
        if (!(threshold >= 0) || double.IsInfinity(threshold)) throw new ArgumentOutOfRangeException(nameof(threshold), $"ReduceLROnPlateau: threshold must be a finite non-negative number; got {threshold}.");
        if (!(minLr >= 0) || double.IsInfinity(minLr)) throw new ArgumentOutOfRangeException(nameof(minLr), $"ReduceLROnPlateau: minLr must be a finite non-negative number; got {minLr}.");
        if (!Enum.IsDefined(mode) || !Enum.IsDefined(thresholdMode)) throw new ArgumentOutOfRangeException(nameof(mode), $"ReduceLROnPlateau: unknown mode {mode} or threshold mode {thresholdMode}.");
        Mode = mode;
        Factor = factor;
        Patience = patience;
        Threshold = threshold;
        ThresholdMode = thresholdMode;
        Cooldown = cooldown;
        MinLr = minLr;
        Eps = eps;
        Best = mode == PlateauMode.Min ? double.PositiveInfinity : double.NegativeInfinity;
    }

    /// <summary>The optimizer whose rates are cut.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>Whether the metric should fall or rise.</summary>
    public PlateauMode Mode { get; }

    /// <summary>Multiplier at each cut.</summary>
    public double Factor { get; }

    /// <summary>Bad epochs tolerated.</summary>
    public int Patience { get; }

    /// <summary>Least improvement that counts.</summary>
    public double Threshold { get; }

    /// <summary>Relative or absolute threshold.</summary>
    public ThresholdMode ThresholdMode { get; }

    /// <summary>Epochs without counting after a cut.</summary>
    public int Cooldown { get; }

    /// <summary>Lowest rate.</summary>
    public double MinLr { get; }

    /// <summary>Smallest cut applied.</summary>
    public double Eps { get; }

    /// <summary>The best metric so far (±∞ before the first step); settable to resume.</summary>
    public double Best { get; set; }

    /// <summary>Bad epochs since the last improvement or cut; settable to resume.</summary>
    public int NumBadEpochs { get; set; }

    /// <summary>Cooldown epochs left; settable to resume.</summary>
    public int CooldownCounter { get; set; }

    /// <summary>Epochs stepped.</summary>
    public int LastEpoch { get; set; }

    private bool IsBetter(double x) => (Mode, ThresholdMode) switch
    {
        (PlateauMode.Min, ThresholdMode.Rel) => x < Best * (1 - Threshold),
        (PlateauMode.Min, _) => x < Best - Threshold,
        (_, ThresholdMode.Rel) => x > Best * (1 + Threshold),
        _ => x > Best + Threshold,
    };

    /// <summary>Records one epoch's <paramref name="metric"/> and cuts the rates when it has not improved for too long.</summary>
    public void Step(double metric)
    {
        LastEpoch++;
        if (IsBetter(metric))
        {
            Best = metric;
            NumBadEpochs = 0;
        }
        else NumBadEpochs++;
        if (CooldownCounter > 0)
        {
            CooldownCounter--;
            NumBadEpochs = 0;
        }
        if (NumBadEpochs <= Patience) return;
        foreach (var g in Optimizer.ParamGroups)
        {
            double old = g.LearningRate, cut = Math.Max(old * Factor, MinLr);
            if (old - cut > Eps) g.LearningRate = cut;
        }
        CooldownCounter = Cooldown;
        NumBadEpochs = 0;
    }
}
