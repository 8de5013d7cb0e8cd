namespace GpuNet.Nn;

/// <summary>
/// A fully connected layer, y = x·Wᵀ + b (PyTorch's <c>nn.Linear</c>). The weight is stored
/// [out, in]; inputs are [..., in] and outputs [..., out].
/// </summary>
public sealed class Linear : Module
{
    /// <summary>
    /// Creates the layer with PyTorch's default initialisation: kaiming_uniform(a = √5) on the weight, which is
    /// U(−1/√in, 1/√in), and the same range for the bias.
    /// </summary>
    /// <param name="inFeatures">Size of each input row.</param>
    /// <param name="outFeatures">Size of each output row.</param>
    /// <param name="bias">Whether to learn an additive bias.</param>
    /// <param name="seed">Seed for the initial values; null draws from the global stream (<see cref="Tensor.ManualSeed"/>).</param>
    /// <param name="dtype">Parameter dtype (float32 by default; float64 for gradient checks).</param>
    /// <param name="device">Where the parameters live (<see cref="Device.Default"/> when null).</param>
    public Linear(int inFeatures, int outFeatures, bool bias = true, long? seed = null, DType dtype = DType.Float32, Device? device = null)
    {
        if (inFeatures <= 0 || outFeatures <= 0)
            throw new ArgumentException($"Linear: inFeatures and outFeatures must be positive; got {inFeatures} and {outFeatures}.");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        double bound = 1.0 / Math.Sqrt(inFeatures);
        using (TensorScope.Suspend())
        {
            Weight = RegisterParameter("weight", new Parameter(
                Tensor.Rand([outFeatures, inFeatures], Seeds.DeriveOrNull(seed, 0), -bound, bound, dtype, device)));
            if (bias)
                Bias = RegisterParameter("bias", new Parameter(
                    Tensor.Rand([outFeatures], Seeds.DeriveOrNull(seed, 1), -bound, bound, dtype, device)));
        }
    }

    /// <summary>Input features.</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>The [out, in] weight.</summary>
    public Parameter Weight { get; }

    /// <summary>The [out] bias, or null when created with <c>bias: false</c>.</summary>
    public Parameter? Bias { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank == 0 || input.Shape[^1] != InFeatures)
            throw new ArgumentException($"Linear({InFeatures} → {OutFeatures}): input of shape {Parameter.Format(input.ShapeArray)} must have {InFeatures} features in its last dim.");
        return Forward(input, Kernels.Activation.None);
    }

    /// <summary>activation(x·Wᵀ + b) as one fused op: the bias and activation run in the GEMM's epilogue (<see cref="Functional.Linear"/>).</summary>
    internal Tensor Forward(Tensor input, Kernels.Activation activation) => Functional.Linear(input, Weight.Data, Bias?.Data, activation);

    /// <inheritdoc />
    protected override string ExtraRepr() => $"in={InFeatures}, out={OutFeatures}, bias={Bias is not null}";
}
