namespace GpuNet.Kernels;

/// <summary>Activation functions a fused matmul epilogue can apply.</summary>
public enum Activation
{
    /// <summary>Identity.</summary>
    None,
    /// <summary>max(x, 0)</summary>
    Relu,
    /// <summary>1 / (1 + e⁻ˣ)</summary>
    Sigmoid,
    /// <summary>tanh x</summary>
    Tanh,
    /// <summary>GELU x·Φ(x), the exact (erf) form</summary>
    Gelu,
    /// <summary>GELU's tanh approximation (PyTorch's <c>approximate="tanh"</c>)</summary>
    GeluTanh,
    /// <summary>SiLU x·σ(x)</summary>
    Silu,
    /// <summary>LeakyReLU with PyTorch's default negative slope 0.01</summary>
    LeakyRelu,
    /// <summary>ELU with PyTorch's default α = 1</summary>
    Elu,
    /// <summary>Softplus with PyTorch's defaults β = 1, threshold = 20</summary>
    Softplus,
}

/// <summary>Hyper-parameters of one Adam / AdamW step, as PyTorch defines them.</summary>
/// <param name="LearningRate">Step size.</param>
/// <param name="Beta1">Decay of the first-moment average.</param>
/// <param name="Beta2">Decay of the second-moment average.</param>
/// <param name="Epsilon">Added to the denominator.</param>
/// <param name="WeightDecay">L2 coefficient (Adam: added to the gradient) or decay rate (AdamW: applied to the weights).</param>
/// <param name="Decoupled">True for AdamW's decoupled weight decay.</param>
/// <param name="Step">1-based step count, for bias correction.</param>
public readonly record struct AdamParameters(double LearningRate, double Beta1, double Beta2, double Epsilon, double WeightDecay, bool Decoupled, long Step);

/// <summary>
/// Hyper-parameters of one SGD-with-momentum step, as PyTorch's <c>torch.optim.SGD</c> defines them:
/// d = g + wd·p; b = d on the first step, else b = μ·b + (1 − τ)·d; p = p − lr·(d + μ·b) with
/// Nesterov momentum, else p = p − lr·b.
/// </summary>
/// <param name="LearningRate">Step size lr.</param>
/// <param name="Momentum">Momentum factor μ.</param>
/// <param name="Dampening">Dampening τ.</param>
/// <param name="FirstStep">True on the buffer's first update, which copies d instead of decaying the buffer.</param>
/// <param name="WeightDecay">L2 coefficient wd, added to the gradient.</param>
/// <param name="Nesterov">Nesterov momentum.</param>
public readonly record struct SgdParameters(double LearningRate, double Momentum, double Dampening, bool FirstStep, double WeightDecay = 0, bool Nesterov = false);

/// <summary>
/// Hyper-parameters of one RMSProp step, as PyTorch's <c>torch.optim.RMSprop</c> defines them:
/// d = g + wd·p; s = α·s + (1 − α)·d²; with <paramref name="Centered"/> also a = α·a + (1 − α)·d and
/// the denominator √(s − a²) + ε, else √s + ε; r = d / denominator; with momentum b = μ·b + r and
/// p = p − lr·b, else p = p − lr·r.
/// </summary>
/// <param name="LearningRate">Step size lr.</param>
/// <param name="Alpha">Smoothing constant α of the averages.</param>
/// <param name="Epsilon">Added to the denominator.</param>
/// <param name="WeightDecay">L2 coefficient wd, added to the gradient.</param>
/// <param name="Momentum">Momentum factor μ (0: no buffer).</param>
/// <param name="Centered">Normalise by the variance estimate instead of the second moment.</param>
public readonly record struct RmsPropParameters(double LearningRate, double Alpha, double Epsilon, double WeightDecay, double Momentum, bool Centered);

/// <summary>The unary op that computes an <see cref="Activation"/>.</summary>
public static class ActivationOps
{
    /// <summary>The matching <see cref="UnaryOp"/>, or null for <see cref="Activation.None"/>.</summary>
    public static UnaryOp? ToUnaryOp(this Activation activation) => activation switch
    {
        Activation.Relu => UnaryOp.Relu,
        Activation.Sigmoid => UnaryOp.Sigmoid,
        Activation.Tanh => UnaryOp.Tanh,
        Activation.Gelu => UnaryOp.Gelu,
        Activation.GeluTanh => UnaryOp.GeluTanh,
        Activation.Silu => UnaryOp.Silu,
        Activation.LeakyRelu => UnaryOp.LeakyRelu,
        Activation.Elu => UnaryOp.Elu,
        Activation.Softplus => UnaryOp.Softplus,
        _ => null,
    };

    /// <summary>
    /// The alpha and beta the activation's <see cref="UnaryOp"/> takes: PyTorch's defaults (LeakyReLU's
    /// slope 0.01, ELU's α = 1, Softplus's β = 1 and threshold 20), zero for the rest.
    /// </summary>
    public static (double Alpha, double Beta) Parameters(this Activation activation) => activation switch
    {
        Activation.LeakyRelu => (0.01, 0),
        Activation.Elu => (1, 0),
        Activation.Softplus => (1, 20),
        _ => (0, 0),
    };

    /// <summary>
    /// True when the derivative is not a function of the activation's output (GELU and SiLU are not
    /// monotonic), so <see cref="IBackend.ActivationBackward"/> is given the activation's input instead.
    /// </summary>
    public static bool SlopeFromInput(this Activation activation) =>
        activation is Activation.Gelu or Activation.GeluTanh or Activation.Silu;
}
