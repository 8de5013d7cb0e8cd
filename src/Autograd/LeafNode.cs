namespace GpuNet.Tape;

/// <summary>
/// The end of every path: a value the user created with gradients requested. Backward hands the
/// total gradient to <see cref="Accumulate"/>, which adds it to the leaf's stored gradient.
/// </summary>
public sealed class LeafNode<T> : Node<T> where T : class
{
    private readonly Func<T, bool, bool> _accumulate;

    /// <summary>Creates a leaf whose gradient arrives through <paramref name="accumulate"/> (which copies or adds it).</summary>
    public LeafNode(string name, Action<T> accumulate) : base(name, []) =>
        _accumulate = (g, _) => { accumulate(g); return false; };

    /// <summary>
    /// Creates a leaf whose <paramref name="accumulate"/> may adopt the gradient instead of copying it:
    /// it is told whether the engine holds the only reference, and returns true when it kept the value.
    /// </summary>
    public LeafNode(string name, Func<T, bool, bool> accumulate) : base(name, []) => _accumulate = accumulate;

    /// <summary>
    /// Adds <paramref name="gradient"/> to the leaf's gradient. When <paramref name="mayAdopt"/> (nobody else
    /// holds the value) the leaf may keep the value itself; returns true when it did, so the engine must not free it.
    /// </summary>
    public bool Accumulate(T gradient, bool mayAdopt = false) => _accumulate(gradient, mayAdopt);

    /// <inheritdoc />
    public override T?[] Backward(T gradOutput) => [];
}
