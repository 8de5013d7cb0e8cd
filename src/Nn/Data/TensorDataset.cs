namespace GpuNet.Nn;

/// <summary>
/// Paired features and labels held as two tensors whose first dims agree (PyTorch's <c>TensorDataset</c>):
/// row i of <see cref="Features"/> goes with row i of <see cref="Labels"/>. The dataset does not own the tensors.
/// </summary>
public sealed class TensorDataset
{
    /// <summary>Pairs <paramref name="features"/> [N, …] with <paramref name="labels"/> [N, …].</summary>
    public TensorDataset(Tensor features, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        if (features.Rank == 0 || labels.Rank == 0 || features.Shape[0] != labels.Shape[0])
            throw new ArgumentException($"TensorDataset: features {Parameter.Format(features.ShapeArray)} and labels {Parameter.Format(labels.ShapeArray)} must have the same first dim (one label per sample).");
        if (features.Device != labels.Device)
            throw new ArgumentException($"TensorDataset: features are on {features.Device} but labels on {labels.Device}.");
        Features = features;
        Labels = labels;
    }

    /// <summary>The inputs, [N, …].</summary>
    public Tensor Features { get; }

    /// <summary>The targets, [N, …].</summary>
    public Tensor Labels { get; }

    /// <summary>Number of samples N.</summary>
    public int Count => Features.Shape[0];

    /// <summary>Where the data lives.</summary>
    public Device Device => Features.Device;
}
