namespace GpuNet.Nn;

/// <summary>How a loss combines its per-element values.</summary>
public enum Reduction
{
    /// <summary>The average (over the batch, or over every element for elementwise losses).</summary>
    Mean,
    /// <summary>The sum.</summary>
    Sum,
    /// <summary>No reduction: one value per sample (or element).</summary>
    None,
    /// <summary>The sum divided by the batch size (the input's first dim): <see cref="KLDivLoss"/>'s mathematically correct mean, as PyTorch's <c>"batchmean"</c>. Other losses reject it.</summary>
    BatchMean,
}

/// <summary>
/// Base class of losses: <see cref="Forward"/> maps a prediction and a target to a loss, reduced
/// as <see cref="Reduction"/> says. The empirical risk of the notes is the mean reduction.
/// </summary>
public abstract class Loss
{
    /// <summary>Creates the loss; <see cref="Reduction.BatchMean"/> is refused (only <see cref="KLDivLoss"/> takes it).</summary>
    /// <param name="reduction">How per-sample values are combined.</param>
    protected Loss(Reduction reduction) : this(reduction, allowBatchMean: false) { }

    private protected Loss(Reduction reduction, bool allowBatchMean)
    {
        if (!Enum.IsDefined(reduction) || (reduction == Reduction.BatchMean && !allowBatchMean))
            throw new ArgumentOutOfRangeException(nameof(reduction), $"{GetType().Name}: reduction {reduction} is not supported (use None, Mean or Sum{(allowBatchMean ? " or BatchMean" : "")}).");
        Reduction = reduction;
    }

    /// <summary>How per-sample values are combined.</summary>
    public Reduction Reduction { get; }

    /// <summary>The loss of <paramref name="input"/> (predictions, logits or scores) against <paramref name="target"/>.</summary>
    public abstract Tensor Forward(Tensor input, Tensor target);

    /// <summary>Applies <see cref="Reduction"/> to unreduced values; disposes them when a new tensor is returned.</summary>
    protected Tensor Reduce(Tensor values)
    {
        switch (Reduction)
        {
            case Reduction.None: return values;
            case Reduction.Sum: using (values) return values.Sum();
            case Reduction.BatchMean:
                using (values)
                {
                    using var sum = values.Sum();
                    return sum / (values.Rank == 0 ? 1 : values.Shape[0]);
                }
            default: using (values) return values.Mean();
        }
    }

    /// <summary>
    /// Applies <see cref="Reduction"/> to per-sample values whose mean is weighted: Σ values / Σ <paramref name="weights"/>
    /// (PyTorch's weighted mean of NLL and cross-entropy, where ignored samples weigh 0). Disposes <paramref name="values"/>
    /// when a new tensor is returned; <paramref name="weights"/> stays the caller's.
    /// </summary>
    private protected Tensor ReduceWeighted(Tensor values, Tensor weights)
    {
        if (Reduction != Reduction.Mean) return Reduce(values);
        using (values)
        {
            using var sum = values.Sum();
            using var total = weights.Sum();
            return sum / total;
        }
    }

    /// <summary>Checks [N, C] scores against [N] Int32 class labels; returns C.</summary>
    internal static int CheckClassification(string name, Tensor input, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        if (input.Rank != 2)
            throw new ArgumentException($"{name}: input must be [batch, classes]; got {Parameter.Format(input.ShapeArray)}.");
        if (target.DType != DType.Int32)
            throw new ArgumentException($"{name}: target must hold Int32 class labels; got {target.DType.Name()} {Parameter.Format(target.ShapeArray)}.");
        if (target.Rank != 1 || target.Shape[0] != input.Shape[0])
            throw new ArgumentException($"{name}: target must be [{input.Shape[0]}] (one label per row of the {Parameter.Format(input.ShapeArray)} input); got {Parameter.Format(target.ShapeArray)}.");
        if (input.Device != target.Device)
            throw new ArgumentException($"{name}: input is on {input.Device} but target is on {target.Device}.");
        return input.Shape[1];
    }

    internal static void CheckSameShape(string name, Tensor input, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        if (!input.Shape.SequenceEqual(target.Shape))
            throw new ArgumentException($"{name}: input {Parameter.Format(input.ShapeArray)} and target {Parameter.Format(target.ShapeArray)} must have the same shape.");
    }

    /// <summary>Entry [i, labels[i]] of each row of <paramref name="values"/>, as a [N] tensor.</summary>
    internal static Tensor PickLabels(Tensor values, Tensor labels)
    {
        using var index = labels.Unsqueeze(1);
        using var picked = values.Gather(1, index);
        return picked.Squeeze(1);
    }
}

/// <summary>Mean squared error (PyTorch's <c>nn.MSELoss</c>): (x − y)², averaged over every element by default.</summary>
/// <param name="reduction">How the squared errors are combined.</param>
public sealed class MSELoss(Reduction reduction = Reduction.Mean) : Loss(reduction)
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input, Tensor target)
    {
        CheckSameShape("MSELoss", input, target);
        using var diff = input - target;
        return Reduce(diff * diff);
    }
}

/// <summary>
/// Cross-entropy of logits [N, C] against Int32 labels [N] (PyTorch's <c>nn.CrossEntropyLoss</c>):
/// −w[y]·log softmax(x)[y], computed as a fused, stable log-softmax followed by a gather of each label's entry.
/// A float target of the logits' shape is read as class probabilities instead: −Σ_c w_c·q_c·log softmax(x)_c.
/// </summary>
/// <remarks>
/// As in PyTorch: a sample whose label is <see cref="IgnoreIndex"/> contributes 0 and weighs 0; the mean
/// divides by the summed class weights of the samples kept (their count without weights), so it is NaN when
/// every sample is ignored. With label smoothing ε the loss is (1 − ε)·nll + (ε/C)·Σ_c w_c·(−log p_c), and the
/// mean divides both terms by the same sum. For probability targets the mean divides by N.
/// </remarks>
public sealed class CrossEntropyLoss : Loss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="reduction">How per-sample losses are combined.</param>
    /// <param name="labelSmoothing">ε in [0, 1]: the target becomes (1 − ε)·onehot + ε/C, as in PyTorch.</param>
    /// <param name="weight">Optional floating [C] rescaling of each class (PyTorch's <c>weight</c>); the loss keeps a reference, the caller keeps ownership.</param>
    /// <param name="ignoreIndex">A label value whose samples are left out of the loss and of the mean's denominator (−100 by default, as PyTorch).</param>
    public CrossEntropyLoss(Reduction reduction = Reduction.Mean, double labelSmoothing = 0, Tensor? weight = null, int ignoreIndex = -100) : base(reduction)
    {
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), $"CrossEntropyLoss: labelSmoothing must be in [0, 1]; got {labelSmoothing}.");
        LabelSmoothing = labelSmoothing;
        Weight = ClassTargets.CheckWeight("CrossEntropyLoss", weight);
        IgnoreIndex = ignoreIndex;
    }

    /// <summary>The label-smoothing ε.</summary>
    public double LabelSmoothing { get; }

    /// <summary>The class weights [C], or null (every class weighs 1).</summary>
    public Tensor? Weight { get; }

    /// <summary>The label value whose samples are ignored.</summary>
    public int IgnoreIndex { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target.DType.IsFloating()) return ForwardProbabilities(input, target);
        int classes = CheckClassification("CrossEntropyLoss", input, target);
        if (LabelSmoothing == 0 && Weight is null)
        {
            // One fused pass forward and backward for −log p_y, ignored rows 0 in the same pass; the mean divides by the rows kept.
            var ce = Functional.CrossEntropy(input, target, IgnoreIndex);
            if (Reduction != Reduction.Mean) return Reduce(ce);
            using (ce)
            {
                using var keep = target.Ne(IgnoreIndex);
                using var count = keep.Sum();
                using var denominator = count.To(input.DType);
                using var sum = ce.Sum();
                return sum / denominator;
            }
        }
        using var t = ClassTargets.Resolve("CrossEntropyLoss", input, target, Weight, IgnoreIndex);
        if (LabelSmoothing == 0)
        {
            // The fused pass for −log p_y, scaled per sample by the class weight (0 for ignored rows).
            using var ce = Functional.CrossEntropy(input, t.Labels);
            return ReduceWeighted(ce * t.SampleWeight, t.SampleWeight);
        }
        using var logp = input.LogSoftmax(1);
        using var picked = PickLabels(logp, t.Labels);
        using var nll = picked * t.SampleWeight;
        // Σ_c w_c·log p_c for every kept sample (0 for an ignored one).
        using var weighted = t.ClassWeight is null ? logp.Alias() : logp * t.ClassWeight;
        using var total = weighted.Sum(1);
        using var kept = total * t.Keep;
        // −[(1 − ε)·w_y·log p_y + (ε/C)·Σ_c w_c·log p_c]
        using var a = nll * -(1 - LabelSmoothing);
        using var b = kept * (-LabelSmoothing / classes);
        return ReduceWeighted(a + b, t.SampleWeight);
    }

    private Tensor ForwardProbabilities(Tensor input, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!input.Shape.SequenceEqual(target.Shape))
            throw new ArgumentException($"CrossEntropyLoss: target must be Int32 class labels [{(input.Rank > 0 ? input.Shape[0] : 0)}] or class probabilities of the input's shape {Parameter.Format(input.ShapeArray)}; got {target.DType.Name()} {Parameter.Format(target.ShapeArray)}.");
        if (input.Rank != 2) throw new ArgumentException($"CrossEntropyLoss: input must be [batch, classes]; got {Parameter.Format(input.ShapeArray)}.");
        int classes = input.Shape[1];
        using var w = ClassTargets.WeightFor("CrossEntropyLoss", Weight, input);
        using var logp = input.LogSoftmax(1);
        var q = LabelSmoothing > 0 ? target * (1 - LabelSmoothing) + LabelSmoothing / classes : target.Alias();
        try
        {
            using var prod = q * logp;
            using var weighted = w is null ? prod.Alias() : prod * w;
            using var sum = weighted.Sum(1);
            return Reduce(-sum);
        }
        finally
        {
            q.Dispose();
        }
    }
}

/// <summary>
/// Negative log-likelihood of log-probabilities [N, C] against Int32 labels [N] (PyTorch's <c>nn.NLLLoss</c>):
/// −w[yᵢ]·x[i, yᵢ]. Samples labelled <see cref="IgnoreIndex"/> contribute 0; the mean divides by Σ w[yᵢ] over
/// the samples kept, as PyTorch.
/// </summary>
public sealed class NLLLoss : Loss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="reduction">How per-sample losses are combined.</param>
    /// <param name="weight">Optional floating [C] rescaling of each class; the loss keeps a reference, the caller keeps ownership.</param>
    /// <param name="ignoreIndex">A label value whose samples are left out (−100 by default, as PyTorch).</param>
    public NLLLoss(Reduction reduction = Reduction.Mean, Tensor? weight = null, int ignoreIndex = -100) : base(reduction)
    {
        Weight = ClassTargets.CheckWeight("NLLLoss", weight);
        IgnoreIndex = ignoreIndex;
    }

    /// <summary>The class weights [C], or null (every class weighs 1).</summary>
    public Tensor? Weight { get; }

    /// <summary>The label value whose samples are ignored.</summary>
    public int IgnoreIndex { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input, Tensor target)
    {
        CheckClassification("NLLLoss", input, target);
        using var t = ClassTargets.Resolve("NLLLoss", input, target, Weight, IgnoreIndex);
        using var picked = PickLabels(input, t.Labels);
        using var weighted = picked * t.SampleWeight;
        return ReduceWeighted(-weighted, t.SampleWeight);
    }
}

/// <summary>
/// Class-index targets with PyTorch's <c>ignore_index</c> and class <c>weight</c> resolved on the device (no
/// host round trip): <see cref="Labels"/> has ignored labels replaced by 0 so gathers stay in range,
/// <see cref="Keep"/> is 1 for kept samples and 0 for ignored ones, <see cref="SampleWeight"/> is Keep·w[label].
/// </summary>
internal sealed class ClassTargets : IDisposable
{
    private ClassTargets(Tensor labels, Tensor keep, Tensor sampleWeight, Tensor? classWeight)
    {
        Labels = labels;
        Keep = keep;
        SampleWeight = sampleWeight;
        ClassWeight = classWeight;
    }

    public Tensor Labels { get; }
    public Tensor Keep { get; }
    public Tensor SampleWeight { get; }
    public Tensor? ClassWeight { get; }

    public static Tensor? CheckWeight(string name, Tensor? weight)
    {
        if (weight is null) return null;
        if (weight.Rank != 1 || !weight.DType.IsFloating())
            throw new ArgumentException($"{name}: weight must be a floating [classes] tensor; got {weight.DType.Name()} {Parameter.Format(weight.ShapeArray)}.", nameof(weight));
        return weight;
    }

    /// <summary>The class weights in the input's dtype and on its device, checked against its class count; null without weights.</summary>
    public static Tensor? WeightFor(string name, Tensor? weight, Tensor input)
    {
        if (weight is null) return null;
        if (weight.Shape[0] != input.Shape[1])
            throw new ArgumentException($"{name}: weight {Parameter.Format(weight.ShapeArray)} must have one entry per class of the {Parameter.Format(input.ShapeArray)} input ([{input.Shape[1]}]).");
        using var onDevice = weight.Device == input.Device ? weight.Alias() : weight.To(input.Device);
        return onDevice.To(input.DType);
    }

    public static ClassTargets Resolve(string name, Tensor input, Tensor target, Tensor? weight, int ignoreIndex)
    {
        var classWeight = WeightFor(name, weight, input);
        using var keepInt = target.Ne(ignoreIndex);
        var labels = Tensor.Where(keepInt, target, 0);
        var keep = keepInt.To(input.DType);
        if (classWeight is null) return new ClassTargets(labels, keep, keep.Alias(), null);
        using var picked = classWeight.Gather(0, labels);
        return new ClassTargets(labels, keep, picked * keep, classWeight);
    }

    public void Dispose()
    {
        Labels.Dispose();
        Keep.Dispose();
        SampleWeight.Dispose();
        ClassWeight?.Dispose();
    }
}

/// <summary>
/// Multi-class hinge loss of the notes (the SVM loss): for scores s and label y,
/// Lᵢ = Σ_{j≠y} max(0, s_j − s_y + margin). This is the plain sum; PyTorch's
/// <c>nn.MultiMarginLoss</c> divides it by the number of classes, which
/// <c>divideByClasses: true</c> reproduces.
/// </summary>
public sealed class HingeLoss : Loss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="margin">The margin Δ (1 by default).</param>
    /// <param name="reduction">How per-sample losses are combined.</param>
    /// <param name="divideByClasses">Divide each sample's sum by C, as PyTorch's MultiMarginLoss does.</param>
    public HingeLoss(double margin = 1, Reduction reduction = Reduction.Mean, bool divideByClasses = false) : base(reduction)
    {
        Margin = margin;
        DivideByClasses = divideByClasses;
    }

    /// <summary>The margin Δ.</summary>
    public double Margin { get; }

    /// <summary>Whether each sample's sum is divided by the number of classes.</summary>
    public bool DivideByClasses { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input, Tensor target)
    {
        int classes = CheckClassification("HingeLoss", input, target);
        using var sy = PickLabels(input, target);
        using var syCol = sy.Unsqueeze(1);
        using var diff = input - syCol;
        using var shifted = diff + Margin;
        using var hinge = shifted.Relu();
        // The j = y term is max(0, margin) and carries no gradient; mask it out.
        using var onehot = Tensor.OneHot(target, classes, input.DType);
        using var others = 1.0 - onehot;
        using var masked = hinge * others;
        using var perSample = masked.Sum(1);
        return Reduce(DivideByClasses ? perSample * (1.0 / classes) : perSample.Clone());
    }
}

/// <summary>
/// Binary cross-entropy on logits (PyTorch's <c>nn.BCEWithLogitsLoss</c>), in the stable form
/// max(x, 0) − x·y + log(1 + e^{−|x|}); targets are probabilities in [0, 1] of the logits' shape.
/// </summary>
/// <param name="reduction">How per-element losses are combined.</param>
public sealed class BCEWithLogitsLoss(Reduction reduction = Reduction.Mean) : Loss(reduction)
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input, Tensor target)
    {
        CheckSameShape("BCEWithLogitsLoss", input, target);
        if (!input.DType.IsFloating()) throw new ArgumentException($"BCEWithLogitsLoss: input must be floating; got {input.DType.Name()}.");
        // Maximum splits the gradient at x = 0, giving the exact derivative σ(0) − y there.
        using var zero = Tensor.Scalar(0, input.DType, input.Device);
        using var pos = Tensor.Maximum(input, zero);
        using var xy = input * target;
        using var abs = input.Abs();
        using var negAbs = -abs;
        using var e = negAbs.Exp();
        using var onePlus = e + 1.0;
        using var log = onePlus.Log();
        using var a = pos - xy;
        return Reduce(a + log);
    }
}

/// <summary>Mean absolute error (PyTorch's <c>nn.L1Loss</c>): |x − y|, averaged over every element by default.</summary>
/// <param name="reduction">How the absolute errors are combined.</param>
public sealed class L1Loss(Reduction reduction = Reduction.Mean) : Loss(reduction)
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input, Tensor target)
    {
        CheckSameShape("L1Loss", input, target);
        using var diff = input - target;
        return Reduce(diff.Abs());
    }
}

/// <summary>
/// Smooth L1 loss (PyTorch's <c>nn.SmoothL1Loss</c>): with d = x − y, 0.5·d²/β where |d| &lt; β, else |d| − 0.5·β;
/// β = 0 gives <see cref="L1Loss"/>.
/// </summary>
public sealed class SmoothL1Loss : Loss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="reduction">How per-element losses are combined.</param>
    /// <param name="beta">Where the quadratic turns linear (≥ 0).</param>
    public SmoothL1Loss(Reduction reduction = Reduction.Mean, double beta = 1) : base(reduction)
    {
        if (!(beta >= 0)) throw new ArgumentOutOfRangeException(nameof(beta), $"SmoothL1Loss: beta must be non-negative; got {beta}.");
        Beta = beta;
    }

    /// <summary>The threshold β.</summary>
    public double Beta { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input, Tensor target)
    {
        CheckSameShape("SmoothL1Loss", input, target);
        using var diff = input - target;
        if (Beta == 0) return Reduce(diff.Abs());
        return Reduce(Piecewise(diff, Beta, 0.5 / Beta, 1, 0.5 * Beta));
    }

    /// <summary>q·d² where |d| &lt; threshold, else s·|d| − c: the shared shape of smooth L1 and Huber.</summary>
    internal static Tensor Piecewise(Tensor diff, double threshold, double q, double s, double c)
    {
        using var abs = diff.Abs();
        using var inside = abs.Lt(threshold);
        using var square = diff * diff;
        using var quadratic = square * q;
        using var scaled = abs * s;
        using var linear = scaled - c;
        return Tensor.Where(inside, quadratic, linear);
    }
}

/// <summary>
/// Huber loss (PyTorch's <c>nn.HuberLoss</c>): with d = x − y, 0.5·d² where |d| &lt; δ, else δ·(|d| − 0.5·δ)
/// (δ times <see cref="SmoothL1Loss"/> with β = δ).
/// </summary>
public sealed class HuberLoss : Loss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="reduction">How per-element losses are combined.</param>
    /// <param name="delta">Where the quadratic turns linear (&gt; 0).</param>
    public HuberLoss(Reduction reduction = Reduction.Mean, double delta = 1) : base(reduction)
    {
        if (!(delta > 0)) throw new ArgumentOutOfRangeException(nameof(delta), $"HuberLoss: delta must be positive; got {delta}.");
        Delta = delta;
    }

    /// <summary>The threshold δ.</summary>
    public double Delta { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input, Tensor target)
    {
        CheckSameShape("HuberLoss", input, target);
        using var diff = input - target;
        return Reduce(SmoothL1Loss.Piecewise(diff, Delta, 0.5, Delta, 0.5 * Delta * Delta));
    }
}

/// <summary>
/// Binary cross-entropy on probabilities (PyTorch's <c>nn.BCELoss</c>): −[y·log x + (1 − y)·log(1 − x)], each
/// log clamped at −100 as PyTorch does, so x = 0 or 1 gives a finite loss. Inputs must be in [0, 1] (out of
/// range gives NaN; no check, which would need a host round trip). Prefer <see cref="BCEWithLogitsLoss"/> on logits.
/// </summary>
/// <remarks>
/// The gradient is the derivative of the clamped form: where a log is clamped (x within e⁻¹⁰⁰ of 0 or 1) its
/// term contributes 0, so x = 0 or 1 gives a finite gradient (PyTorch instead clamps x(1 − x) at 1e-12).
/// </remarks>
/// <param name="reduction">How per-element losses are combined.</param>
public sealed class BCELoss(Reduction reduction = Reduction.Mean) : Loss(reduction)
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input, Tensor target)
    {
        CheckSameShape("BCELoss", input, target);
        if (!input.DType.IsFloating()) throw new ArgumentException($"BCELoss: input must be floating probabilities; got {input.DType.Name()}.");
        using var logP = ClampedLog(input);
        using var oneMinusP = 1.0 - input;
        using var logQ = ClampedLog(oneMinusP);
        using var a = target * logP;
        using var oneMinusY = 1.0 - target;
        using var b = oneMinusY * logQ;
        using var sum = a + b;
        return Reduce(-sum);
    }

    /// <summary>max(log p, −100), with log 0 taken as −100 by a select so that no −∞ (and no 0·∞ in the gradient) appears.</summary>
    private static Tensor ClampedLog(Tensor p)
    {
        using var zero = p.Eq(0);
        using var safe = Tensor.Where(zero, 1.0, p);
        using var log = safe.Log();
        using var clamped = log.Clamp(min: -100);
        return Tensor.Where(zero, -100.0, clamped);
    }
}

/// <summary>
/// Kullback–Leibler divergence (PyTorch's <c>nn.KLDivLoss</c>) of log-probabilities x against target
/// probabilities y: y·(log y − x) pointwise, with 0 where y = 0; with <c>logTarget</c> the target holds log y
/// and the pointwise loss is eʸ·(y − x). <see cref="Reduction.BatchMean"/> (the sum over the batch size) gives
/// the true KL divergence per sample; <see cref="Reduction.Mean"/> averages over every element, as PyTorch.
/// </summary>
public sealed class KLDivLoss : Loss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="reduction">How pointwise losses are combined (BatchMean is the KL divergence per sample).</param>
    /// <param name="logTarget">Whether the target is given as log-probabilities.</param>
    public KLDivLoss(Reduction reduction = Reduction.Mean, bool logTarget = false) : base(reduction, allowBatchMean: true) => LogTarget = logTarget;

    /// <summary>Whether the target holds log-probabilities.</summary>
    public bool LogTarget { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input, Tensor target)
    {
        CheckSameShape("KLDivLoss", input, target);
        if (!input.DType.IsFloating()) throw new ArgumentException($"KLDivLoss: input must be floating log-probabilities; got {input.DType.Name()}.");
        if (LogTarget)
        {
            using var p = target.Exp();
            using var diff = target - input;
            return Reduce(p * diff);
        }
        // xlogy(y, y) − y·x, where xlogy(0, ·) = 0 and a negative or NaN y still gives NaN.
        using var zero = target.Eq(0);
        using var safe = Tensor.Where(zero, 1.0, target);
        using var log = safe.Log();
        using var entropy = target * log;
        using var cross = target * input;
        return Reduce(entropy - cross);
    }
}

/// <summary>Loss helpers that are not modules.</summary>
public static class Losses
{
    /// <summary>
    /// The L2 regulariser of the notes, λ·Σ‖W‖² over <paramref name="parameters"/> (add it to the data loss).
    /// Note that SGD's <c>weightDecay</c> wd corresponds to λ = wd/2.
    /// </summary>
    public static Tensor L2Penalty(IEnumerable<Parameter> parameters, double lambda) =>
        L2Penalty(parameters.Select(p => p.Data), lambda);

    /// <summary>λ·Σ‖t‖² over tensors.</summary>
    public static Tensor L2Penalty(IEnumerable<Tensor> tensors, double lambda)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        Tensor? total = null;
        foreach (var t in tensors)
        {
            using var sq = t * t;
            var s = sq.Sum();
            if (total is null) total = s;
            else
            {
                var next = total + s;
                total.Dispose();
                s.Dispose();
                total = next;
            }
        }
        if (total is null) throw new ArgumentException("L2Penalty: no parameters given.");
        using (total) return total * lambda;
    }
}
