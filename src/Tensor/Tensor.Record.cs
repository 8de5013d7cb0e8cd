using GpuNet.Tape;

namespace GpuNet;

public sealed partial class Tensor
{
    /// <summary>
    /// Runs the body of an op composed of other ops in a scope of its own: the intermediate tensors it
    /// creates are freed when it returns (the body never disposes them), and only its result outlives it,
    /// with what the graph recorded inside saved for backward. VJPs run the same way (see
    /// <see cref="TensorNode.Backward(Tensor)"/>).
    /// </summary>
    internal static Tensor Composite(Func<Tensor> body)
    {
        using var scope = TensorScope.Begin();
        return scope.Keep(body());
    }

    /// <summary>Runs a computation whose tensors are all temporaries (it returns plain values, e.g. a check): they are freed when it returns.</summary>
    internal static T Scoped<T>(Func<T> body)
    {
        using var scope = TensorScope.Begin();
        return body();
    }

    /// <summary>
    /// Attaches the op that produced <paramref name="output"/> to the graph when grad mode is on and
    /// some input requires grad. <paramref name="backward"/> maps ∂L/∂output to ∂L/∂inputᵢ (null where
    /// an input needs none). <paramref name="owned"/> are op-internal temporaries the VJP needs; the
    /// node disposes them when the graph is freed.
    /// </summary>
    internal static Tensor Record(Tensor output, string name, Tensor[] inputs, Func<Tensor, Tensor?[]> backward, params Tensor[] owned)
    {
        if (!GradMode.IsEnabled || !AnyRequiresGrad(inputs))
        {
            foreach (var t in owned) t.Dispose();
            return output;
        }
        var edges = new Node<Tensor>?[inputs.Length];
        for (int i = 0; i < inputs.Length; i++) edges[i] = inputs[i].RequiresGrad ? inputs[i].EdgeFor(name) : null;
        output.GradFn = new TensorNode(name, edges, backward, owned.Length == 0 ? null : owned);
        output._producedVersion = output._storage.Version;
        output._requiresGrad = true;
        return output;
    }

    /// <summary>
    /// The node gradients for this input of op <paramref name="consumer"/> go to: its own, unless its values
    /// were changed in place after the op that computed it ran. In-place ops are not recorded, so that
    /// op's VJP no longer describes them; the edge then leads to a node whose backward is an error.
    /// </summary>
    private Node<Tensor>? EdgeFor(string consumer)
    {
        var node = GradNode;
        var source = _graphSource ?? this;
        if (source._gradFn is null || _storage.Version == source._producedVersion) return node;
        return TensorNode.Stale(node!, StaleMessage("Backward", $"before '{consumer}' used it"));
    }

    private string StaleMessage(string op, string when) =>
        $"{op}: the {ShapeUtil.Format(ShapeArray)} tensor computed by '{GradFn!.Name}' was modified in place by '{_storage.LastInPlaceOp}' {when}; " +
        "in-place ops are not recorded, so no gradient can flow through its new values. Use the out-of-place op, or change a Clone() of the tensor.";

    /// <summary>Throws when this tensor was computed by a recorded op and changed in place afterwards (backward from it would be wrong).</summary>
    internal void ThrowIfModifiedSinceRecorded(string op)
    {
        var source = _graphSource ?? this;
        if (source._gradFn is not null && _storage.Version != source._producedVersion)
            throw new InvalidOperationException(StaleMessage(op, "afterwards"));
    }

    /// <summary>
    /// Called by every in-place op after its checks and before it writes: a leaf that requires grad may
    /// be changed only under <see cref="Autograd.NoGrad"/> (as optimizers do), and the write bumps the
    /// storage's version so graphs that saved these values refuse to backward through them.
    /// </summary>
    internal void MarkWritten(string op)
    {
        var source = _graphSource ?? this;
        if (source._requiresGrad && source._gradFn is null && GradMode.IsEnabled)
            throw new InvalidOperationException(
                $"{op}: this {ShapeUtil.Format(ShapeArray)} tensor is a leaf that requires grad; changing it in place outside Autograd.NoGrad() would leave its gradient wrong. " +
                "Wrap the update in 'using (Autograd.NoGrad())' (as optimizers do), or change a Detach()ed or Clone()d tensor.");
        _storage.MarkWritten(op);
    }

    /// <summary>
    /// <see cref="Record(Tensor, string, Tensor[], Func{Tensor, Tensor?[]}, Tensor[])"/> for a VJP that needs some tensors
    /// (inputs or the output): each is kept as a saved alias (<see cref="Saved"/>) owned by the node,
    /// and handed to <paramref name="backward"/> in the order given.
    /// </summary>
    internal static Tensor Record(Tensor output, string name, Tensor[] inputs, Tensor[] save, Func<Tensor, Tensor[], Tensor?[]> backward)
    {
        if (!GradMode.IsEnabled || !AnyRequiresGrad(inputs)) return output;
        var saved = new Tensor[save.Length];
        for (int i = 0; i < save.Length; i++) saved[i] = save[i].Saved();
        return Record(output, name, inputs, g => backward(g, saved), saved);
    }

    internal static bool AnyRequiresGrad(Tensor[] inputs)
    {
        foreach (var t in inputs) if (t.RequiresGrad) return true;
        return false;
    }

    /// <summary>True when an op on these inputs will be recorded.</summary>
    internal static bool WillRecord(params Tensor[] inputs) => GradMode.IsEnabled && AnyRequiresGrad(inputs);

    /// <summary>
    /// Computes gradients of this tensor with respect to every leaf that requires grad, adding them
    /// into each leaf's <see cref="Grad"/>. A scalar needs no argument; any other tensor needs the
    /// gradient of the final result with respect to it (as in PyTorch).
    /// </summary>
    /// <param name="gradient">∂L/∂this; defaults to 1 for a one-element tensor.</param>
    /// <param name="retainGraph">Keep the graph so backward can run through it again.</param>
    /// <param name="createGraph">Record the backward pass, so the gradients can be differentiated again.</param>
    public void Backward(Tensor? gradient = null, bool retainGraph = false, bool createGraph = false)
    {
        ThrowIfDisposed("Backward");
        if (!RequiresGrad)
            throw new InvalidOperationException($"Backward: this {ShapeUtil.Format(ShapeArray)} tensor does not require grad and has no graph (did no input have RequiresGrad = true, or was it computed under NoGrad?).");
        ThrowIfModifiedSinceRecorded("Backward");
        Tensor seed;
        if (gradient is null)
        {
            if (NumElements != 1)
                throw new InvalidOperationException($"Backward: gradient can be implicitly created only for a one-element tensor; this one has shape {ShapeUtil.Format(ShapeArray)}. Pass the gradient of the result with respect to it.");
            using (TensorScope.Suspend()) seed = OnesLike(this);
        }
        else
        {
            if (!ShapeUtil.SameShape(gradient.ShapeArray, ShapeArray))
                throw new ArgumentException($"Backward: gradient shape {ShapeUtil.Format(gradient.ShapeArray)} does not match the tensor's shape {ShapeUtil.Format(ShapeArray)}.");
            CheckSameDevice("Backward", this, gradient);
            using (TensorScope.Suspend()) seed = gradient.Alias();
        }
        // The engine takes the seed (and frees it unless createGraph keeps everything).
        using var mode = createGraph ? GradMode.Enable() : GradMode.Disable();
        Engine.Backward([GradNode!], [seed], TensorGradientArithmetic.Instance, retainGraph || createGraph, createGraph);
    }
}
