namespace GpuNet.Nn;

/// <summary>
/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2 weight
/// decay, exactly as PyTorch's <c>torch.optim.SGD</c>:
/// d = g + wd·p; b = d on the first step, else b = μ·b + (1 − τ)·d; d = d + μ·b (Nesterov) or b; p = p − lr·d.
/// </summary>
public sealed class SGD : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="parameters">Parameters to update.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="momentum">Momentum factor μ (0: plain SGD).</param>
    /// <param name="dampening">Dampening τ of the momentum.</param>
    /// <param name="nesterov">Use Nesterov momentum (needs μ &gt; 0 and τ = 0).</param>
    /// <param name="weightDecay">L2 penalty coefficient wd, added to the gradient.</param>
    public SGD(IEnumerable<Parameter> parameters, double lr, double momentum = 0, double dampening = 0, bool nesterov = false, double weightDecay = 0)
        : base(parameters, lr)
    {
        Momentum = NonNegative("SGD", nameof(momentum), momentum);
        Dampening = dampening;
        WeightDecay = NonNegative("SGD", nameof(weightDecay), weightDecay);
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new ArgumentException($"SGD: Nesterov momentum requires momentum > 0 and zero dampening; got momentum {momentum}, dampening {dampening}.");
        Nesterov = nesterov;
    }

    /// <summary>Momentum factor μ.</summary>
    public double Momentum { get; }

    /// <summary>Dampening τ.</summary>
    public double Dampening { get; }

    /// <summary>Whether Nesterov momentum is used.</summary>
    public bool Nesterov { get; }

    /// <summary>L2 weight decay.</summary>
    public double WeightDecay { get; }

    /// <inheritdoc />
    protected override void CheckParamGroup(ParamGroup group)
    {
        if (Nesterov && !((group.Momentum ?? Momentum) > 0))
            throw new ArgumentException($"SGD.AddParamGroup: Nesterov momentum requires momentum > 0 in every group; the new group has momentum {group.Momentum}.");
    }

    /// <inheritdoc />
    protected override IReadOnlyCollection<string> StateNames(int index) => (GroupOf(index).Momentum ?? Momentum) != 0 ? ["momentum_buffer"] : [];

    /// <inheritdoc />
    protected override void Update(int index, Tensor param, Tensor grad, long step)
    {
        var group = GroupOf(index);
        double lr = group.LearningRate, momentum = group.Momentum ?? Momentum, weightDecay = group.WeightDecay ?? WeightDecay;
        if (momentum != 0)
        {
            bool first = !HasState(index, "momentum_buffer");
            var buffer = State(index, "momentum_buffer", () => Tensor.ZerosLike(param));
            Functional.SgdMomentumStep(param, grad, buffer, new Kernels.SgdParameters(lr, momentum, Dampening, first, weightDecay, Nesterov));
            return;
        }
        // Plain SGD (no momentum, so no buffer and no Nesterov): p −= lr·(g + wd·p).
        if (weightDecay == 0)
        {
            param.AddInPlace(grad, -lr);
            return;
        }
        using var d = grad.Clone();
        d.AddInPlace(param, weightDecay);
        param.AddInPlace(d, -lr);
    }
}

/// <summary>
/// Adam (PyTorch's <c>torch.optim.Adam</c>): g = g + wd·p, m = β₁m + (1−β₁)g, v = β₂v + (1−β₂)g²,
/// p = p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε). With <c>amsgrad</c>, v̂ = max(v̂, v) (kept as state
/// <c>max_exp_avg_sq</c>) replaces v in the denominator: p = p − lr/(1−β₁ᵗ) · m / (√v̂/√(1−β₂ᵗ) + ε).
/// The plain step is one fused kernel; the amsgrad step is composed of tensor ops.
/// </summary>
public class Adam : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="parameters">Parameters to update.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="beta1">Decay of the first-moment average.</param>
    /// <param name="beta2">Decay of the second-moment average.</param>
    /// <param name="eps">Added to the denominator for stability.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient (Adam) or decoupled decay (AdamW).</param>
    /// <param name="amsgrad">Use the running maximum of the second moment in the denominator (AMSGrad).</param>
    public Adam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0, bool amsgrad = false)
        : this(parameters, lr, beta1, beta2, eps, weightDecay, decoupled: false, amsgrad) { }

    private protected Adam(IEnumerable<Parameter> parameters, double lr, double beta1, double beta2, double eps, double weightDecay, bool decoupled, bool amsgrad)
        : base(parameters, lr)
    {
        string name = decoupled ? "AdamW" : "Adam";
        Beta1 = UnitInterval(name, nameof(beta1), beta1);
        Beta2 = UnitInterval(name, nameof(beta2), beta2);
        Eps = NonNegative(name, nameof(eps), eps);
        WeightDecay = NonNegative(name, nameof(weightDecay), weightDecay);
        Decoupled = decoupled;
        Amsgrad = amsgrad;
    }

    /// <summary>β₁.</summary>
    public double Beta1 { get; }

    /// <summary>β₂.</summary>
    public double Beta2 { get; }

    /// <summary>ε.</summary>
    public double Eps { get; }

    /// <summary>Weight decay coefficient.</summary>
    public double WeightDecay { get; }

    /// <summary>True for AdamW's decoupled decay (p ← p·(1 − lr·wd) before the Adam step).</summary>
    public bool Decoupled { get; }

    /// <summary>Whether the AMSGrad variant is used.</summary>
    public bool Amsgrad { get; }

    /// <inheritdoc />
    protected override IReadOnlyCollection<string> StateNames(int index) => Amsgrad ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"];

    /// <inheritdoc />
    protected override void Update(int index, Tensor param, Tensor grad, long step)
    {
        var group = GroupOf(index);
        double lr = group.LearningRate, beta1 = group.Beta1 ?? Beta1, beta2 = group.Beta2 ?? Beta2, weightDecay = group.WeightDecay ?? WeightDecay;
        var m = State(index, "exp_avg", () => Tensor.ZerosLike(param));
        var v = State(index, "exp_avg_sq", () => Tensor.ZerosLike(param));
        if (!Amsgrad)
        {
            Functional.AdamStep(param, grad, m, v, new Kernels.AdamParameters(lr, beta1, beta2, Eps, weightDecay, Decoupled, step));
            return;
        }
        var vMax = State(index, "max_exp_avg_sq", () => Tensor.ZerosLike(param));
        var g = AdaptiveSteps.Decay(param, grad, lr, weightDecay, Decoupled);
        AdaptiveSteps.Moments(m, v, g, beta1, beta2);
        using (var max = Tensor.Maximum(vMax, v)) vMax.CopyFrom(max);
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        using var denom = vMax.Sqrt();
        denom.AffineInPlace(1 / Math.Sqrt(bc2), Eps);
        using var update = m / denom;
        param.AddInPlace(update, -lr / bc1);
    }
}

/// <summary>
/// AdamW (PyTorch's <c>torch.optim.AdamW</c>): Adam with decoupled weight decay, p ← p·(1 − lr·wd)
/// before the Adam step; the default decay is 1e-2.
/// </summary>
public sealed class AdamW : Adam
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="parameters">Parameters to update.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="beta1">Decay of the first-moment average.</param>
    /// <param name="beta2">Decay of the second-moment average.</param>
    /// <param name="eps">Added to the denominator for stability.</param>
    /// <param name="weightDecay">Decoupled weight decay.</param>
    /// <param name="amsgrad">Use the running maximum of the second moment in the denominator (AMSGrad).</param>
    public AdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 1e-2, bool amsgrad = false)
        : base(parameters, lr, beta1, beta2, eps, weightDecay, decoupled: true, amsgrad) { }
}

/// <summary>
/// RMSProp (PyTorch's <c>torch.optim.RMSprop</c>): s = αs + (1−α)g²; with <c>centered</c>,
/// ḡ = αḡ + (1−α)g and the denominator is √(s − ḡ²) + ε, else √s + ε; with momentum μ,
/// b = μb + g/denominator and p = p − lr·b, else p = p − lr·g/denominator.
/// </summary>
public sealed class RMSProp : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="parameters">Parameters to update.</param>
    /// <param name="lr">Learning rate (PyTorch's default is 1e-2).</param>
    /// <param name="alpha">Smoothing constant of the squared-gradient average.</param>
    /// <param name="eps">Added to the denominator.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient.</param>
    /// <param name="momentum">Momentum factor (0: none).</param>
    /// <param name="centered">Normalise by the estimated variance instead of the raw second moment.</param>
    public RMSProp(IEnumerable<Parameter> parameters, double lr = 1e-2, double alpha = 0.99, double eps = 1e-8, double weightDecay = 0, double momentum = 0, bool centered = false)
        : base(parameters, lr)
    {
        Alpha = UnitInterval("RMSProp", nameof(alpha), alpha);
        Eps = NonNegative("RMSProp", nameof(eps), eps);
        WeightDecay = NonNegative("RMSProp", nameof(weightDecay), weightDecay);
        Momentum = NonNegative("RMSProp", nameof(momentum), momentum);
        Centered = centered;
    }

    /// <summary>α.</summary>
    public double Alpha { get; }

    /// <summary>ε.</summary>
    public double Eps { get; }

    /// <summary>L2 weight decay.</summary>
    public double WeightDecay { get; }

    /// <summary>Momentum factor.</summary>
    public double Momentum { get; }

    /// <summary>Whether the centered variant is used.</summary>
    public bool Centered { get; }

    /// <inheritdoc />
    protected override IReadOnlyCollection<string> StateNames(int index)
    {
        var names = new List<string> { "square_avg" };
        if (Centered) names.Add("grad_avg");
        if ((GroupOf(index).Momentum ?? Momentum) > 0) names.Add("momentum_buffer");
        return names;
    }

    /// <inheritdoc />
    protected override void Update(int index, Tensor param, Tensor grad, long step)
    {
        var group = GroupOf(index);
        double momentum = group.Momentum ?? Momentum;
        var square = State(index, "square_avg", () => Tensor.ZerosLike(param));
        var gradAvg = Centered ? State(index, "grad_avg", () => Tensor.ZerosLike(param)) : null;
        var buffer = momentum > 0 ? State(index, "momentum_buffer", () => Tensor.ZerosLike(param)) : null;
        Functional.RmsPropStep(param, grad, square, gradAvg, buffer,
            new Kernels.RmsPropParameters(group.LearningRate, Alpha, Eps, group.WeightDecay ?? WeightDecay, momentum, Centered));
    }
}
