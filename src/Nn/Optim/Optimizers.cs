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
    protected override void Update(int index, Tensor param, Tensor grad, long step)
    {
        if (Momentum != 0)
        {
            bool first = !HasState(index, "momentum_buffer");
            var buffer = State(index, "momentum_buffer", () => Tensor.ZerosLike(param));
            Functional.SgdMomentumStep(param, grad, buffer, new Kernels.SgdParameters(LearningRate, Momentum, Dampening, first, WeightDecay, Nesterov));
            return;
        }
        // Plain SGD (no momentum, so no buffer and no Nesterov): p −= lr·(g + wd·p).
        if (WeightDecay == 0)
        {
            param.AddInPlace(grad, -LearningRate);
            return;
        }
        using var d = grad.Clone();
        d.AddInPlace(param, WeightDecay);
        param.AddInPlace(d, -LearningRate);
    }
}

/// <summary>
/// Adam (PyTorch's <c>torch.optim.Adam</c>): m = β₁m + (1−β₁)g, v = β₂v + (1−β₂)g²,
/// p = p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε), with L2 weight decay added to the gradient.
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
    public Adam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : this(parameters, lr, beta1, beta2, eps, weightDecay, decoupled: false) { }

    private protected Adam(IEnumerable<Parameter> parameters, double lr, double beta1, double beta2, double eps, double weightDecay, bool decoupled)
        : base(parameters, lr)
    {
        string name = decoupled ? "AdamW" : "Adam";
        Beta1 = UnitInterval(name, nameof(beta1), beta1);
        Beta2 = UnitInterval(name, nameof(beta2), beta2);
        Eps = NonNegative(name, nameof(eps), eps);
        WeightDecay = NonNegative(name, nameof(weightDecay), weightDecay);
        Decoupled = decoupled;
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

    /// <inheritdoc />
    protected override void Update(int index, Tensor param, Tensor grad, long step)
    {
        var m = State(index, "exp_avg", () => Tensor.ZerosLike(param));
        var v = State(index, "exp_avg_sq", () => Tensor.ZerosLike(param));
        Functional.AdamStep(param, grad, m, v, new Kernels.AdamParameters(LearningRate, Beta1, Beta2, Eps, WeightDecay, Decoupled, step));
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
    public AdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 1e-2)
        : base(parameters, lr, beta1, beta2, eps, weightDecay, decoupled: true) { }
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
    protected override void Update(int index, Tensor param, Tensor grad, long step)
    {
        var square = State(index, "square_avg", () => Tensor.ZerosLike(param));
        var gradAvg = Centered ? State(index, "grad_avg", () => Tensor.ZerosLike(param)) : null;
        var buffer = Momentum > 0 ? State(index, "momentum_buffer", () => Tensor.ZerosLike(param)) : null;
        Functional.RmsPropStep(param, grad, square, gradAvg, buffer, new Kernels.RmsPropParameters(LearningRate, Alpha, Eps, WeightDecay, Momentum, Centered));
    }
}
