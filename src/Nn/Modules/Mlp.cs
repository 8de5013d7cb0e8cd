using GpuNet.Kernels;

namespace GpuNet.Nn;

/// <summary>
/// A multilayer perceptron: Linear → activation (→ Dropout) for each hidden layer, then a final
/// Linear with no activation (logits). The layers are the module's children, named by their index as PyTorch's
/// <c>nn.Sequential</c> names them, so parameters are <c>0.weight</c>, <c>0.bias</c>, <c>2.weight</c>, … and a state dict
/// loads into <c>nn.Sequential(nn.Linear(…), nn.ReLU(), nn.Linear(…), …)</c> without renaming. State dicts of older
/// versions, whose keys carry a <c>layers.</c> prefix, still load.
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
        var layers = new List<Module>();
        for (int i = 0; i + 1 < sizes.Length; i++)
        {
            layers.Add(new Linear(sizes[i], sizes[i + 1], seed: Seeds.DeriveOrNull(seed, i), dtype: dtype, device: device));
            if (i + 2 < sizes.Length)
            {
                layers.Add(Activations.Create(activation));
                if (dropout > 0) layers.Add(new Dropout(dropout, Seeds.DeriveOrNull(seed, 1000 + i)));
            }
        }
        // The children are registered here, not under a Sequential child, so their names carry no prefix; Layers runs them.
        for (int i = 0; i < layers.Count; i++) RegisterModule(i.ToString(System.Globalization.CultureInfo.InvariantCulture), layers[i]);
        Layers = new Sequential(layers);
    }

    /// <summary>The key prefix of this model's parameters before they were named as PyTorch's <c>nn.Sequential</c> names them.</summary>
    private const string OldPrefix = "layers.";

    /// <summary>Layer widths from input to output.</summary>
    public int[] Sizes { get; }

    /// <summary>The hidden activation.</summary>
    public Activation Activation { get; }

    /// <summary>The layers, in order (the same modules as the children, which hold the names).</summary>
    public Sequential Layers { get; }

    /// <inheritdoc />
    /// <remarks>A state dict whose every key starts with <c>layers.</c> (written before the keys matched PyTorch's) loads with the prefix dropped.</remarks>
    protected override IReadOnlyDictionary<string, Tensor> UpgradeStateDict(IReadOnlyDictionary<string, Tensor> stateDict) =>
        stateDict.Count > 0 && stateDict.Keys.All(k => k.StartsWith(OldPrefix, StringComparison.Ordinal))
            ? stateDict.ToDictionary(kv => kv.Key[OldPrefix.Length..], kv => kv.Value)
            : stateDict;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => Layers.Forward(input);

    /// <inheritdoc />
    protected override string ExtraRepr() => $"sizes=[{string.Join(",", Sizes)}], activation={Activations.Name(Activation)}";
}
