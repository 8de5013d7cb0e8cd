namespace GpuNet;

/// <summary>
/// Disposes, when it ends, every tensor created on this thread while it was the innermost scope —
/// except those moved out with <see cref="Tensor.MoveToOuterScope"/> or <see cref="Tensor.DetachFromScope"/>.
/// A training step wrapped in <c>using var scope = Tensor.NewScope();</c> therefore returns all of
/// its temporaries (activations, gradients of intermediates, loss) to the pool with no per-tensor
/// <c>Dispose</c>. Parameters, their gradients and optimizer state live outside scopes.
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? t_current;

    private readonly HashSet<Tensor> _tensors = new(ReferenceEqualityComparer.Instance);
    private readonly TensorScope? _parent;
    private readonly bool _suspends;
    private readonly long _firstNode;
    private bool _disposed;

    private TensorScope(bool suspends)
    {
        _parent = t_current;
        _suspends = suspends;
        _firstNode = TensorNode.NextSequence;
        t_current = this;
    }

    /// <summary>The scope new tensors will join once this one ends (null where they will join none).</summary>
    internal TensorScope? Enclosing => _parent is { _suspends: true } ? null : _parent;

    /// <summary>The innermost active scope on this thread, or null; a suspending scope reads as null.</summary>
    internal static TensorScope? Current => t_current is { _suspends: true } ? null : t_current;

    /// <summary>Starts a scope that collects tensors created on this thread (users open one with <see cref="Tensor.NewScope"/>).</summary>
    internal static TensorScope Begin() => new(suspends: false);

    /// <summary>Starts a region in which new tensors belong to no scope (e.g. optimizer state created mid-loop).</summary>
    public static TensorScope Suspend() => new(suspends: true);

    /// <summary>Tensors this scope will dispose.</summary>
    public int Count => _tensors.Count;

    internal void Register(Tensor t)
    {
        _tensors.Add(t);
        t.Scope = this;
    }

    internal void Unregister(Tensor t)
    {
        _tensors.Remove(t);
        t.Scope = null;
    }

    /// <summary>
    /// Lets <paramref name="result"/> outlive this scope: it moves to <paramref name="to"/> (null: no scope),
    /// together with what the graph nodes recorded inside this scope and reachable from it saved for
    /// backward. Everything else created inside is freed when the scope ends. This is what makes op bodies
    /// and VJPs free of per-temporary <c>Dispose</c>: they run in a scope and keep only their result.
    /// </summary>
    internal Tensor? Keep(Tensor? result, TensorScope? to)
    {
        if (result is null) return null;
        if (result.Scope == this) Move(result, to);
        if (result.GradFn is not TensorNode root || root.Sequence < _firstNode) return result;
        // Only nodes recorded inside this scope can own tensors registered in it, so the walk stops at
        // older ones: its cost is the op's own subgraph, not the whole graph.
        var stack = new Stack<TensorNode>([root]);
        var seen = new HashSet<TensorNode>(ReferenceEqualityComparer.Instance) { root };
        while (stack.TryPop(out var node))
        {
            foreach (var saved in node.Owned)
                if (saved.Scope == this) Move(saved, to);
            foreach (var input in node.Inputs)
                if (input is TensorNode tn && tn.Sequence >= _firstNode && seen.Add(tn)) stack.Push(tn);
        }
        return result;
    }

    /// <summary>Keeps <paramref name="result"/> in the scope that encloses this one (see <see cref="Keep(Tensor?, TensorScope?)"/>).</summary>
    internal Tensor Keep(Tensor result) => Keep(result, Enclosing)!;

    private void Move(Tensor t, TensorScope? to)
    {
        Unregister(t);
        to?.Register(t);
    }

    internal TensorScope? Parent
    {
        get
        {
            for (var p = _parent; p is not null; p = p._parent)
                if (!p._suspends) return p;
            return null;
        }
    }

    /// <summary>Ends the scope: disposes its tensors and makes the enclosing scope current again.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (t_current != this)
            throw new InvalidOperationException("TensorScope: scopes must be disposed in reverse order of creation, on the thread that created them.");
        t_current = _parent;
        foreach (var t in _tensors)
        {
            t.Scope = null;
            t.Dispose();
        }
        _tensors.Clear();
    }
}
