using GpuNet.Kernels;

namespace GpuNet.Nn;

/// <summary>
/// A multilayer perceptron: Linear → activation (→ Dropout) for each hidden layer, then a final
/// Linear with no activation (logits). The layers live in a <see cref="Sequential"/> named
/// <c>layers</c>, so parameters are named <c>layers.0.weight</c>, <c>layers.0.bias</c>, <c>layers.2.weight</c>, ….
/// </summary>
public sealed class Mlp : Module
{
    /// <summary>Builds the network.</summary>
    /// <param name="sizes">Layer widths from input to output, e.g. [784, 512, 256, 10]; at least two.</param>
    /// <param name="activation">Hidden activation; <see cref="Kernels.Activation.None"/> for none.</param>
    /// <param name="dropout">Dropout probability after each hidden activation (0: none).</param>
    /// <param name="seed">Seed for the initial weights and the dropout masks; null uses the global stream.</param>
    /// <param name="dtype">Parameter dtype.</param>
    /// <param name="device">Where the parameters live.</param>
    public Mlp(int[] sizes, Activation activation = Activation.Relu, double dropout = 0, long? seed = null, DType dtype = DType.Float32, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        if (sizes.Length < 2)
            throw new ArgumentException($"Mlp: sizes needs at least an input and an output width; got [{string.Join(",", sizes)}].");
        if (sizes.Any(s => s <= 0))
            throw new ArgumentException($"Mlp: every width must be positive; got [{string.Join(",", sizes)}].");
        Sizes = (int[])sizes.Clone();
        Activation = activation;
        Layers = RegisterModule("layers", new Sequential());
        for (int i = 0; i + 1 < sizes.Length; i++)
        {
            Layers.Append(new Linear(sizes[i], sizes[i + 1], seed: Seeds.DeriveOrNull(seed, i), dtype: dtype, device: device));
            if (i + 2 < sizes.Length)
            {
                Layers.Append(Activations.Create(activation));
                if (dropout > 0) Layers.Append(new Dropout(dropout, Seeds.DeriveOrNull(seed, 1000 + i)));
            }
        }
    }

    /// <summary>Layer widths from input to output.</summary>
    public int[] Sizes { get; }

    /// <summary>The hidden activation.</summary>
    public Activation Activation { get; }

    /// <summary>The layers, in order.</summary>
    public Sequential Layers { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => Layers.Forward(input);

    /// <inheritdoc />
    protected override string ExtraRepr() => $"sizes=[{string.Join(",", Sizes)}], activation={Activations.Name(Activation)}";
}
