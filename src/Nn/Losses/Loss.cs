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
}

/// <summary>
/// Base class of losses: <see cref="Forward"/> maps a prediction and a target to a loss, reduced
/// as <see cref="Reduction"/> says. The empirical risk of the notes is the mean reduction.
/// </summary>
public abstract class Loss(Reduction reduction)
{
    /// <summary>How per-sample values are combined.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>The loss of <paramref name="input"/> (predictions, logits or scores) against <paramref name="target"/>.</summary>
    public abstract Tensor Forward(Tensor input, Tensor target);

    /// <summary>Applies <see cref="Reduction"/> to unreduced values; disposes them when a new tensor is returned.</summary>
    protected Tensor Reduce(Tensor values)
    {
        switch (Reduction)
        {
            case Reduction.None: return values;
            case Reduction.Sum: using (values) return values.Sum();
            default: using (values) return values.Mean();
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
/// −log softmax(x)[y], computed as a fused, stable log-softmax followed by a gather of each label's entry.
/// A float target of the logits' shape is read as class probabilities instead.
/// </summary>
public sealed class CrossEntropyLoss : Loss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="reduction">How per-sample losses are combined.</param>
    /// <param name="labelSmoothing">ε in [0, 1]: the target becomes (1 − ε)·onehot + ε/C, as in PyTorch.</param>
    public CrossEntropyLoss(Reduction reduction = Reduction.Mean, double labelSmoothing = 0) : base(reduction)
    {
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), $"CrossEntropyLoss: labelSmoothing must be in [0, 1]; got {labelSmoothing}.");
        LabelSmoothing = labelSmoothing;
    }

    /// <summary>The label-smoothing ε.</summary>
    public double LabelSmoothing { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target.DType.IsFloating()) return ForwardProbabilities(input, target);
        int classes = CheckClassification("CrossEntropyLoss", input, target);
        if (LabelSmoothing == 0) return Reduce(Functional.CrossEntropy(input, target)); // one fused pass, forward and backward
        using var logp = input.LogSoftmax(1);
        using var picked = PickLabels(logp, target);
        if (LabelSmoothing == 0) return Reduce(-picked);
        // (1 − ε)·(−log p_y) + ε·(−Σ_c log p_c / C)
        using var total = logp.Sum(1);
        using var nll = picked * -(1 - LabelSmoothing);
        using var smooth = total * (-LabelSmoothing / classes);
        return Reduce(nll + smooth);
    }

    private Tensor ForwardProbabilities(Tensor input, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!input.Shape.SequenceEqual(target.Shape))
            throw new ArgumentException($"CrossEntropyLoss: target must be Int32 class labels [{(input.Rank > 0 ? input.Shape[0] : 0)}] or class probabilities of the input's shape {Parameter.Format(input.ShapeArray)}; got {target.DType.Name()} {Parameter.Format(target.ShapeArray)}.");
        if (input.Rank != 2) throw new ArgumentException($"CrossEntropyLoss: input must be [batch, classes]; got {Parameter.Format(input.ShapeArray)}.");
        int classes = input.Shape[1];
        using var logp = input.LogSoftmax(1);
        var q = LabelSmoothing > 0 ? target * (1 - LabelSmoothing) + LabelSmoothing / classes : target.Alias();
        try
        {
            using var prod = q * logp;
            using var sum = prod.Sum(1);
            return Reduce(-sum);
        }
        finally
        {
            q.Dispose();
        }
    }
}

/// <summary>Negative log-likelihood of log-probabilities [N, C] against Int32 labels [N] (PyTorch's <c>nn.NLLLoss</c>): −x[i, yᵢ].</summary>
/// <param name="reduction">How per-sample losses are combined.</param>
public sealed class NLLLoss(Reduction reduction = Reduction.Mean) : Loss(reduction)
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input, Tensor target)
    {
        CheckClassification("NLLLoss", input, target);
        using var picked = PickLabels(input, target);
        return Reduce(-picked);
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
