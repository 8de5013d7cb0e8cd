namespace GpuNet.Nn;

/// <summary>
/// Inverted dropout (PyTorch's <c>nn.Dropout</c>): in training mode each element is zeroed with
/// probability <see cref="P"/> and the survivors are scaled by 1/(1−p), so evaluation (where this
/// module is the identity) needs no rescaling.
/// </summary>
/// <remarks>
/// Masks come from <see cref="Tensor.Rand"/> keyed by a seed derived from (<see cref="Seed"/>,
/// <see cref="Counter"/>); the counter advances once per training-mode call, so a run is
/// reproducible and a resumed run continues the same masks when the counter is restored.
/// </remarks>
public sealed class Dropout : Module
{
    /// <summary>Creates the layer.</summary>
    /// <param name="p">Probability of zeroing an element, in [0, 1).</param>
    /// <param name="seed">Seed of the mask stream; null draws masks from the global random stream.</param>
    public Dropout(double p = 0.5, long? seed = null)
    {
        if (!(p >= 0 && p < 1))
            throw new ArgumentOutOfRangeException(nameof(p), $"Dropout: p must be in [0, 1); got {p}.");
        P = p;
        Seed = seed;
    }

    /// <summary>Probability of zeroing an element.</summary>
    public double P { get; }

    /// <summary>Seed of the mask stream (null: the global stream).</summary>
    public long? Seed { get; }

    /// <summary>Training-mode calls so far; the next mask uses this value. Save and restore it to resume bit-for-bit.</summary>
    public long Counter { get; set; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        if (!IsTraining || P == 0) return input.Alias();
        var seed = Seeds.DeriveOrNull(Seed, Counter++);
        using var u = Tensor.Rand(input.ShapeArray, seed, dtype: input.DType, device: input.Device);
        using var keep = u.Ge(P);
        using var mask = keep * (1.0 / (1.0 - P));
        return input * mask;
    }

    /// <inheritdoc />
    protected override string ExtraRepr() => $"p={P}";
}
