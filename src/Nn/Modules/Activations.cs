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
    /// <summary>A new activation module: <see cref="ReLU"/>, <see cref="Sigmoid"/>, <see cref="Tanh"/>, or <see cref="Identity"/> for <see cref="Activation.None"/>.</summary>
    public static Module Create(Activation activation) => activation switch
    {
        Activation.Relu => new ReLU(),
        Activation.Sigmoid => new Sigmoid(),
        Activation.Tanh => new Tanh(),
        Activation.None => new Identity(),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Activations.Create: unknown activation."),
    };

    /// <summary>The activation's lower-case name as module listings show it (relu, sigmoid, tanh, identity).</summary>
    public static string Name(Activation activation) => activation == Activation.None ? "identity" : activation.ToString().ToLowerInvariant();
}
