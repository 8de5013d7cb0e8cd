using GpuNet.Kernels;

namespace GpuNet.Nn;

/// <summary>max(x, 0) elementwise (PyTorch's <c>nn.ReLU</c>).</summary>
public sealed class ReLU : Module
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Relu();
}

/// <summary>The logistic function 1 / (1 + e⁻ˣ) elementwise (PyTorch's <c>nn.Sigmoid</c>).</summary>
public sealed class Sigmoid : Module
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Sigmoid();
}

/// <summary>tanh x elementwise (PyTorch's <c>nn.Tanh</c>).</summary>
public sealed class Tanh : Module
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Tanh();
}

/// <summary>GELU x·Φ(x) elementwise (PyTorch's <c>nn.GELU</c>), exact or with the tanh approximation.</summary>
/// <param name="approximate">"none" (the erf form) or "tanh".</param>
public sealed class GELU(string approximate = "none") : Module
{
    /// <summary>"none" or "tanh".</summary>
    public string Approximate { get; } = approximate is "none" or "tanh" ? approximate
        : throw new ArgumentException($"GELU: approximate must be \"none\" or \"tanh\"; got \"{approximate}\".", nameof(approximate));

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Gelu(Approximate);

    /// <inheritdoc />
    protected override string ExtraRepr() => $"approximate='{Approximate}'";
}

/// <summary>SiLU (swish) x·σ(x) elementwise (PyTorch's <c>nn.SiLU</c>).</summary>
public sealed class SiLU : Module
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Silu();
}

/// <summary>x for x &gt; 0, else negativeSlope·x, elementwise (PyTorch's <c>nn.LeakyReLU</c>).</summary>
/// <param name="negativeSlope">The slope for negative inputs.</param>
public sealed class LeakyReLU(double negativeSlope = 0.01) : Module
{
    /// <summary>The slope for negative inputs.</summary>
    public double NegativeSlope { get; } = negativeSlope;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.LeakyRelu(NegativeSlope);

    /// <inheritdoc />
    protected override string ExtraRepr() => $"negative_slope={NegativeSlope}";
}

/// <summary>x for x &gt; 0, else α(eˣ − 1), elementwise (PyTorch's <c>nn.ELU</c>).</summary>
/// <param name="alpha">α.</param>
public sealed class ELU(double alpha = 1) : Module
{
    /// <summary>α.</summary>
    public double Alpha { get; } = alpha;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Elu(Alpha);

    /// <inheritdoc />
    protected override string ExtraRepr() => $"alpha={Alpha}";
}

/// <summary>ln(1 + e^(βx))/β elementwise, linear where βx &gt; threshold (PyTorch's <c>nn.Softplus</c>).</summary>
/// <param name="beta">β.</param>
/// <param name="threshold">Above this βx the output is x.</param>
public sealed class Softplus(double beta = 1, double threshold = 20) : Module
{
    /// <summary>β.</summary>
    public double Beta { get; } = beta;

    /// <summary>Above this βx the output is x.</summary>
    public double Threshold { get; } = threshold;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Softplus(Beta, Threshold);

    /// <inheritdoc />
    protected override string ExtraRepr() => $"beta={Beta}, threshold={Threshold}";
}

/// <summary>Softmax along <see cref="Dim"/> (PyTorch's <c>nn.Softmax</c>). For training, feed logits to <see cref="CrossEntropyLoss"/> instead.</summary>
/// <param name="dim">The dim whose entries sum to 1 (the last by default).</param>
public sealed class Softmax(int dim = -1) : Module
{
    /// <summary>The dim normalised over.</summary>
    public int Dim { get; } = dim;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Softmax(Dim);

    /// <inheritdoc />
    protected override string ExtraRepr() => $"dim={Dim}";
}

/// <summary>log(softmax(x)) along <see cref="Dim"/> (PyTorch's <c>nn.LogSoftmax</c>); pairs with <see cref="NLLLoss"/>.</summary>
/// <param name="dim">The dim normalised over (the last by default).</param>
public sealed class LogSoftmax(int dim = -1) : Module
{
    /// <summary>The dim normalised over.</summary>
    public int Dim { get; } = dim;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.LogSoftmax(Dim);

    /// <inheritdoc />
    protected override string ExtraRepr() => $"dim={Dim}";
}

/// <summary>The input unchanged (PyTorch's <c>nn.Identity</c>).</summary>
public sealed class Identity : Module
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Alias();
}

/// <summary>Merges dims <see cref="StartDim"/>..<see cref="EndDim"/> into one (PyTorch's <c>nn.Flatten</c>; by default [N, …] → [N, rest]).</summary>
/// <param name="startDim">First dim merged.</param>
/// <param name="endDim">Last dim merged.</param>
public sealed class Flatten(int startDim = 1, int endDim = -1) : Module
{
    /// <summary>First dim merged.</summary>
    public int StartDim { get; } = startDim;

    /// <summary>Last dim merged.</summary>
    public int EndDim { get; } = endDim;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Flatten(StartDim, EndDim);
}

/// <summary>The module of each <see cref="Activation"/>.</summary>
public static class Activations
{
    /// <summary>A new activation module (<see cref="ReLU"/>, <see cref="GELU"/>, …, with PyTorch's default parameters), or <see cref="Identity"/> for <see cref="Activation.None"/>.</summary>
    public static Module Create(Activation activation) => activation switch
    {
        Activation.Relu => new ReLU(),
        Activation.Sigmoid => new Sigmoid(),
        Activation.Tanh => new Tanh(),
        Activation.Gelu => new GELU(),
        Activation.GeluTanh => new GELU("tanh"),
        Activation.Silu => new SiLU(),
        Activation.LeakyRelu => new LeakyReLU(),
        Activation.Elu => new ELU(),
        Activation.Softplus => new Softplus(),
        Activation.None => new Identity(),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Activations.Create: unknown activation."),
    };

    /// <summary>The activation's lower-case name as module listings show it (relu, sigmoid, tanh, gelu, gelu-tanh, silu, leaky-relu, elu, softplus, identity).</summary>
    public static string Name(Activation activation) => activation switch
    {
        Activation.None => "identity",
        Activation.GeluTanh => "gelu-tanh",
        Activation.LeakyRelu => "leaky-relu",
        _ => activation.ToString().ToLowerInvariant(),
    };

    /// <summary>
    /// The <see cref="Activation"/> a module computes when a fused GEMM epilogue can apply it (its parameters
    /// are PyTorch's defaults, the ones <see cref="ActivationOps.Parameters"/> gives), else <see cref="Activation.None"/>.
    /// </summary>
    public static Activation Fusable(Module module) => module switch
    {
        ReLU => Activation.Relu,
        Sigmoid => Activation.Sigmoid,
        Tanh => Activation.Tanh,
        GELU { Approximate: "none" } => Activation.Gelu,
        GELU { Approximate: "tanh" } => Activation.GeluTanh,
        SiLU => Activation.Silu,
        LeakyReLU l when l.NegativeSlope == Activation.LeakyRelu.Parameters().Alpha => Activation.LeakyRelu,
        ELU e when e.Alpha == Activation.Elu.Parameters().Alpha => Activation.Elu,
        Softplus p when (p.Beta, p.Threshold) == Activation.Softplus.Parameters() => Activation.Softplus,
        _ => Activation.None,
    };
}
