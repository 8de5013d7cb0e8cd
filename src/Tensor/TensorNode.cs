using GpuNet.Tape;

namespace GpuNet;

/// <summary>
/// A recorded op on tensors: its VJP is a closure written next to the op's forward (in the op's
/// own method), in tensor ops, so with createGraph the backward pass records itself and gradients
/// of gradients work.
/// </summary>
internal sealed class TensorNode : Node<Tensor>
{
    private Func<Tensor, Tensor?[]>? _backward;
    private Tensor[]? _owned;

    public TensorNode(string name, Node<Tensor>?[] inputs, Func<Tensor, Tensor?[]> backward, Tensor[]? owned)
        : base(name, inputs)
    {
        _backward = backward;
        _owned = owned;
    }

    /// <summary>The saved tensors and temporaries this node disposes when its graph is freed.</summary>
    public IEnumerable<Tensor> Owned => _owned ?? [];

    public override Tensor?[] Backward(Tensor gradOutput)
    {
        var backward = _backward ?? throw new InvalidOperationException($"Backward through '{Name}' after its graph was freed.");
        if (GradMode.IsEnabled) return backward(gradOutput); // createGraph: the temporaries are part of the new graph
        // Temporaries of the VJP are freed as soon as it returns; only the gradients survive.
        Tensor?[] grads;
        using (var scope = TensorScope.Begin())
        {
            grads = backward(gradOutput);
            foreach (var g in grads) if (g?.Scope == scope) scope.Unregister(g);
        }
        return grads;
    }

    protected override void ReleaseSaved()
    {
        _backward = null;
        if (_owned is null) return;
        foreach (var t in _owned) t.Dispose();
        _owned = null;
    }
}

/// <summary>Adds and frees gradient tensors for the engine.</summary>
internal sealed class TensorGradientArithmetic : IGradientArithmetic<Tensor>
{
    public static readonly TensorGradientArithmetic Instance = new();

    public Tensor Add(Tensor a, Tensor b)
    {
        var sum = a + b;
        if (!GradMode.IsEnabled) sum.Scope?.Unregister(sum); // engine-owned until freed or handed to a leaf
        return sum;
    }

    public void Free(Tensor value) => value.Dispose();
}
