namespace GpuNet.Tape;

/// <summary>
/// One recorded operation in the graph: it knows the nodes that produced its inputs and how to
/// turn the gradient of its output into gradients of its inputs (a vector-Jacobian product).
/// Leaves (tensors that require grad and were not computed) are <see cref="LeafNode{T}"/>s.
/// </summary>
/// <typeparam name="T">The value type gradients are made of: a tensor, or a plain number in tests.</typeparam>
public abstract class Node<T> where T : class
{
    private bool _released;

    /// <summary>Creates a node whose inputs come from <paramref name="inputs"/>; null marks an input that needs no gradient.</summary>
    protected Node(string name, Node<T>?[] inputs)
    {
        Name = name;
        Inputs = inputs;
    }

    /// <summary>The op's name, used in error messages and graph printouts.</summary>
    public string Name { get; }

    /// <summary>Producers of this op's inputs; null where an input does not need a gradient.</summary>
    public Node<T>?[] Inputs { get; private set; }

    /// <summary>True after the graph through this node was freed by a backward pass without retainGraph.</summary>
    public bool IsReleased => _released;

    /// <summary>
    /// The vector-Jacobian product: given ∂L/∂output, returns ∂L/∂inputᵢ for each input
    /// (null entries where <see cref="Inputs"/> is null, or where the gradient is zero).
    /// </summary>
    public abstract T?[] Backward(T gradOutput);

    /// <summary>
    /// <see cref="Backward(T)"/>, told whether <paramref name="gradOutput"/> is spare: the engine frees it as soon
    /// as this call returns and nothing else reads it (it is not a captured gradient, and no graph of the
    /// backward pass is being recorded), so the VJP may write its own temporaries into its memory. A VJP
    /// that does keeps a backward's peak memory one gradient lower. The default ignores the hint.
    /// </summary>
    public virtual T?[] Backward(T gradOutput, bool spare) => Backward(gradOutput);

    /// <summary>
    /// Throws when something this node saved for its backward has changed since it was saved (an
    /// in-place write), so its VJP would compute a wrong gradient. The engine calls it on every node it
    /// is about to run before running any, so a failed check leaves every gradient untouched.
    /// </summary>
    public virtual void CheckSaved() { }

    /// <summary>Drops what the node saved for its backward (inputs, outputs, temporaries).</summary>
    protected virtual void ReleaseSaved() { }

    /// <summary>Frees the saved state; a later <see cref="Backward(T)"/> through this node is an error.</summary>
    internal void Release()
    {
        if (_released) return;
        _released = true;
        ReleaseSaved();
        Inputs = [];
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
