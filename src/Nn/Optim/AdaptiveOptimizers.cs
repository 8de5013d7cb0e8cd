namespace GpuNet.Nn;

/// <summary>The pieces the composed adaptive steps share (they run under NoGrad inside <see cref="Optimizer.Step"/>'s scope).</summary>
internal static class AdaptiveSteps
{
    /// <summary>
    /// Applies weight decay: decoupled, p ← p·(1 − lr·wd) and the gradient as is; else the gradient g + wd·p (a new tensor the
    /// step's scope frees).
    /// </summary>
    public static Tensor Decay(Tensor param, Tensor grad, double lr, double weightDecay, bool decoupled)
    {
        if (weightDecay == 0) return grad;
        if (decoupled)
        {
            param.AffineInPlace(1 - lr * weightDecay);
            return grad;
        }
        var d = grad.Clone();
        d.AddInPlace(param, weightDecay);
        return d;
    }

    /// <summary>m ← β₁m + (1−β₁)g and v ← β₂v + (1−β₂)g², in place.</summary>
    public static void Moments(Tensor m, Tensor v, Tensor g, double beta1, double beta2)
    {
        m.AffineInPlace(beta1);
        m.AddInPlace(g, 1 - beta1);
        using var g2 = g * g;
        v.AffineInPlace(beta2);
        v.AddInPlace(g2, 1 - beta2);
    }
}

/// <summary>
/// Adagrad (PyTorch's <c>torch.optim.Adagrad</c>): g = g + wd·p, lr̃ = lr / (1 + (t−1)·lr_decay), s = s + g²
/// (state <c>sum</c>, starting at <c>initialAccumulatorValue</c>), p = p − lr̃ · g / (√s + ε).
/// Composed of tensor ops (no fused kernel).
/// </summary>
public sealed class Adagrad : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="parameters">Parameters to update.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="lrDecay">Learning-rate decay per step.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient.</param>
    /// <param name="initialAccumulatorValue">Starting value of the sum of squared gradients.</param>
    /// <param name="eps">Added to the denominator.</param>
    public Adagrad(IEnumerable<Parameter> parameters, double lr = 1e-2, double lrDecay = 0, double weightDecay = 0, double initialAccumulatorValue = 0, double eps = 1e-10)
        : base(parameters, lr)
    {
        LrDecay = NonNegative("Adagrad", nameof(lrDecay), lrDecay);
        WeightDecay = NonNegative("Adagrad", nameof(weightDecay), weightDecay);
        InitialAccumulatorValue = NonNegative("Adagrad", nameof(initialAccumulatorValue), initialAccumulatorValue);
        Eps = NonNegative("Adagrad", nameof(eps), eps);
    }

    /// <summary>Learning-rate decay per step.</summary>
    public double LrDecay { get; }

    /// <summary>L2 weight decay.</summary>
    public double WeightDecay { get; }

    /// <summary>Starting value of the accumulated squares.</summary>
    public double InitialAccumulatorValue { get; }

    /// <summary>ε.</summary>
    public double Eps { get; }

    /// <inheritdoc />
    protected override IReadOnlyCollection<string> StateNames(int index) => ["sum"];

    /// <inheritdoc />
    protected override void Update(int index, Tensor param, Tensor grad, long step)
    {
        var group = GroupOf(index);
        var sum = State(index, "sum", () => Tensor.ZerosLike(param).FillInPlace(InitialAccumulatorValue));
        var g = AdaptiveSteps.Decay(param, grad, group.LearningRate, group.WeightDecay ?? WeightDecay, decoupled: false);
        double clr = group.LearningRate / (1 + (step - 1) * LrDecay);
        using (var g2 = g * g) sum.AddInPlace(g2);
        using var std = sum.Sqrt();
        std.AffineInPlace(1, Eps);
        using var update = g / std;
        param.AddInPlace(update, -clr);
    }
}

/// <summary>
/// NAdam, Adam with Nesterov momentum (PyTorch's <c>torch.optim.NAdam</c>): g = g + wd·p (or p ← p·(1 − lr·wd) when
/// decoupled), μₜ = β₁(1 − ½·0.96^(t·ψ)) with ψ the momentum decay, Πₜ = μ₁⋯μₜ, m = β₁m + (1−β₁)g,
/// v = β₂v + (1−β₂)g², d = √(v/(1−β₂ᵗ)) + ε, p = p − lr(1−μₜ)/(1−Πₜ) · g/d − lr·μₜ₊₁/(1−Πₜμₜ₊₁) · m/d.
/// Πₜ is carried from step to step in memory, as PyTorch's state <c>mu_product</c> is, but not saved: after a load it is
/// recomputed from the step count with the current β₁ (exact unless β₁ was cycled), so the state dict holds <c>exp_avg</c>
/// and <c>exp_avg_sq</c>. Composed of tensor ops (no fused kernel).
/// </summary>
public sealed class NAdam : Optimizer
{
    private readonly Dictionary<int, (long Step, double Product)> _muProducts = [];

    /// <summary>Creates the optimizer.</summary>
    /// <param name="parameters">Parameters to update.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="beta1">Decay of the first-moment average.</param>
    /// <param name="beta2">Decay of the second-moment average.</param>
    /// <param name="eps">Added to the denominator.</param>
    /// <param name="weightDecay">L2 penalty (or decoupled decay).</param>
    /// <param name="momentumDecay">ψ, how fast μₜ approaches β₁.</param>
    /// <param name="decoupledWeightDecay">Decay the weights directly, as AdamW does.</param>
    public NAdam(IEnumerable<Parameter> parameters, double lr = 2e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0,
        double momentumDecay = 4e-3, bool decoupledWeightDecay = false)
        : base(parameters, lr)
    {
        Beta1 = UnitInterval("NAdam", nameof(beta1), beta1);
        Beta2 = UnitInterval("NAdam", nameof(beta2), beta2);
        Eps = NonNegative("NAdam", nameof(eps), eps);
        WeightDecay = NonNegative("NAdam", nameof(weightDecay), weightDecay);
        MomentumDecay = NonNegative("NAdam", nameof(momentumDecay), momentumDecay);
        DecoupledWeightDecay = decoupledWeightDecay;
    }

    /// <summary>β₁.</summary>
    public double Beta1 { get; }

    /// <summary>β₂.</summary>
    public double Beta2 { get; }

    /// <summary>ε.</summary>
    public double Eps { get; }

    /// <summary>Weight decay coefficient.</summary>
    public double WeightDecay { get; }

    /// <summary>ψ.</summary>
    public double MomentumDecay { get; }

    /// <summary>Whether weight decay is decoupled.</summary>
    public bool DecoupledWeightDecay { get; }

    /// <inheritdoc />
    protected override IReadOnlyCollection<string> StateNames(int index) => ["exp_avg", "exp_avg_sq"];

    private protected override void StateLoaded() => _muProducts.Clear();

    private double Mu(double beta1, long t) => beta1 * (1 - 0.5 * Math.Pow(0.96, t * MomentumDecay));

    // Πₜ: the previous step's product times μₜ (with this step's β₁, as PyTorch multiplies), or from scratch after a load.
    private double MuProduct(int index, double beta1, long t)
    {
        double product;
        if (_muProducts.TryGetValue(index, out var c) && c.Step == t - 1) product = c.Product * Mu(beta1, t);
        else
        {
            product = 1;
            for (long k = 1; k <= t; k++) product *= Mu(beta1, k);
        }
        _muProducts[index] = (t, product);
        return product;
    }

    /// <inheritdoc />
    protected override void Update(int index, Tensor param, Tensor grad, long step)
    {
        var group = GroupOf(index);
        double lr = group.LearningRate, beta1 = group.Beta1 ?? Beta1, beta2 = group.Beta2 ?? Beta2;
        var m = State(index, "exp_avg", () => Tensor.ZerosLike(param));
        var v = State(index, "exp_avg_sq", () => Tensor.ZerosLike(param));
        var g = AdaptiveSteps.Decay(param, grad, lr, group.WeightDecay ?? WeightDecay, DecoupledWeightDecay);
        double mu = Mu(beta1, step), muNext = Mu(beta1, step + 1), product = MuProduct(index, beta1, step);
        AdaptiveSteps.Moments(m, v, g, beta1, beta2);
        using var denom = v.Sqrt();
        denom.AffineInPlace(1 / Math.Sqrt(1 - Math.Pow(beta2, step)), Eps);
        using (var a = g / denom) param.AddInPlace(a, -lr * (1 - mu) / (1 - product));
        using var b = m / denom;
        param.AddInPlace(b, -lr * muNext / (1 - product * muNext));
    }
}

/// <summary>
/// RAdam, rectified Adam (PyTorch's <c>torch.optim.RAdam</c>): g = g + wd·p (or p ← p·(1 − lr·wd) when decoupled),
/// m = β₁m + (1−β₁)g, v = β₂v + (1−β₂)g², m̂ = m/(1−β₁ᵗ), ρ∞ = 2/(1−β₂) − 1, ρₜ = ρ∞ − 2tβ₂ᵗ/(1−β₂ᵗ);
/// when ρₜ &gt; 5, r = √((ρₜ−4)(ρₜ−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρₜ)) and p = p − lr·r·m̂·√(1−β₂ᵗ)/(√v + ε);
/// else p = p − lr·m̂ (plain momentum while the variance estimate is unreliable). Composed of tensor ops (no fused kernel).
/// </summary>
public sealed class RAdam : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="parameters">Parameters to update.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="beta1">Decay of the first-moment average.</param>
    /// <param name="beta2">Decay of the second-moment average.</param>
    /// <param name="eps">Added to the denominator.</param>
    /// <param name="weightDecay">L2 penalty (or decoupled decay).</param>
    /// <param name="decoupledWeightDecay">Decay the weights directly, as AdamW does.</param>
    public RAdam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0,
        bool decoupledWeightDecay = false)
        : base(parameters, lr)
    {
        Beta1 = UnitInterval("RAdam", nameof(beta1), beta1);
        Beta2 = UnitInterval("RAdam", nameof(beta2), beta2);
        Eps = NonNegative("RAdam", nameof(eps), eps);
        WeightDecay = NonNegative("RAdam", nameof(weightDecay), weightDecay);
        DecoupledWeightDecay = decoupledWeightDecay;
    }

    /// <summary>β₁.</summary>
    public double Beta1 { get; }

    /// <summary>β₂.</summary>
    public double Beta2 { get; }

    /// <summary>ε.</summary>
    public double Eps { get; }

    /// <summary>Weight decay coefficient.</summary>
    public double WeightDecay { get; }

    /// <summary>Whether weight decay is decoupled.</summary>
    public bool DecoupledWeightDecay { get; }

    /// <inheritdoc />
    protected override IReadOnlyCollection<string> StateNames(int index) => ["exp_avg", "exp_avg_sq"];

    /// <inheritdoc />
    protected override void Update(int index, Tensor param, Tensor grad, long step)
    {
        var group = GroupOf(index);
        double lr = group.LearningRate, beta1 = group.Beta1 ?? Beta1, beta2 = group.Beta2 ?? Beta2;
        var m = State(index, "exp_avg", () => Tensor.ZerosLike(param));
        var v = State(index, "exp_avg_sq", () => Tensor.ZerosLike(param));
        var g = AdaptiveSteps.Decay(param, grad, lr, group.WeightDecay ?? WeightDecay, DecoupledWeightDecay);
        AdaptiveSteps.Moments(m, v, g, beta1, beta2);
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        double rhoInf = 2 / (1 - beta2) - 1, rhoT = rhoInf - 2 * step * Math.Pow(beta2, step) / bc2;
        if (rhoT <= 5)
        {
            param.AddInPlace(m, -lr / bc1);
            return;
        }
        double rect = Math.Sqrt((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
        using var denom = v.Sqrt();
        denom.AffineInPlace(1, Eps);
        using var update = m / denom;
        param.AddInPlace(update, -lr * rect * Math.Sqrt(bc2) / bc1);
    }
}
