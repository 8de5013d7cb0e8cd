namespace GpuNet.Tape;

/// <summary>
/// The end of every path: a value the user created with gradients requested. Backward hands the
/// total gradient to <see cref="Accumulate"/>, which adds it to the leaf's stored gradient.
/// </summary>
/// <param name="name">The leaf's name in error messages.</param>
/// <param name="accumulate">Takes the gradient: keeps it as the leaf's gradient, or adds it in and frees it.</param>
public sealed class LeafNode<T>(string name, Action<T> accumulate) : Node<T>(name, []) where T : class
{
    /// <summary>Hands <paramref name="gradient"/> to the leaf, which owns it from now on.</summary>
    public void Accumulate(T gradient) => accumulate(gradient);

    /// <inheritdoc />
    public override T?[] Backward(T gradOutput) => [];
}
