namespace GpuNet.Tape;

/// <summary>
/// The end of every path: a value the user created with gradients requested. Backward hands the
/// total gradient to <see cref="Accumulate"/>, which adds it to the leaf's stored gradient.
/// </summary>
public sealed class LeafNode<T> : Node<T> where T : class
{
    private readonly Action<T> _accumulate;

    /// <summary>Creates a leaf whose gradient arrives through <paramref name="accumulate"/>.</summary>
    public LeafNode(string name, Action<T> accumulate) : base(name, []) => _accumulate = accumulate;

    /// <summary>Adds <paramref name="gradient"/> to the leaf's gradient.</summary>
    public void Accumulate(T gradient) => _accumulate(gradient);

    /// <inheritdoc />
    public override T?[] Backward(T gradOutput) => [];
}
