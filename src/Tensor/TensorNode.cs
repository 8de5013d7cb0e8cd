using GpuNet.Tape;

namespace GpuNet;

/// <summary>
/// A recorded op on tensors: its VJP is a closure written next to the op's forward (in the op's
/// own method), in tensor ops, so with createGraph the backward pass records itself and gradients
/// of gradients work.
/// </summary>
internal sealed class TensorNode : Node<Tensor>
{
    private static long s_sequence;
    private Func<Tensor, Tensor?[]>? _backward;
    private Tensor[]? _owned;
    // Set on the stand-in edge of a tensor that was changed in place after its op computed it (see Tensor.Record).
    private readonly string? _staleError;

    public TensorNode(string name, Node<Tensor>?[] inputs, Func<Tensor, Tensor?[]> backward, Tensor[]? owned)
        : base(name, inputs)
    {
        _backward = backward;
        _owned = owned;
        if (owned is null) return;
        // Each owned tensor belongs to this node alone, so it can carry the version it was saved at (no array per node).
        foreach (var t in owned) t.SavedVersion = t.Storage.Version;
    }

    private TensorNode(string name, Node<Tensor> input, string staleError)
        : base(name, [input])
    {
        _staleError = staleError;
        _backward = _ => throw new InvalidOperationException(staleError);
    }

    /// <summary>
    /// The edge a new op gets for an input whose values were changed in place (by an unrecorded op)
    /// after <paramref name="producer"/> computed them: backward through it is an error, since the
    /// producer's VJP describes values that are gone.
    /// </summary>
    public static TensorNode Stale(Node<Tensor> producer, string staleError) => new(producer.Name + " (modified in place)", producer, staleError);

    public override void CheckSaved()
    {
        if (_staleError is not null) throw new InvalidOperationException(_staleError);
        if (_owned is null) return;
        foreach (var t in _owned)
        {
            var storage = t.Storage;
            if (storage.Version != t.SavedVersion)
                throw new InvalidOperationException(
                    $"Backward: a {ShapeUtil.Format(t.ShapeArray)} tensor that '{Name}' saved for its backward was modified in place by " +
                    $"'{storage.LastInPlaceOp}' after it was saved (version {storage.Version}, saved at version {t.SavedVersion}), so the gradient would be wrong. " +
                    "Clone() the tensor before changing it in place, or use the out-of-place op.");
        }
    }

    /// <summary>The saved tensors and temporaries this node disposes when its graph is freed.</summary>
    public IEnumerable<Tensor> Owned => _owned ?? [];

    /// <summary>
    /// Runs the VJP and hands the engine gradients it owns: a VJP that passes its incoming gradient
    /// through, or one tensor to two inputs, gets an alias for each extra use. The VJP runs in a scope of
    /// its own, so its temporaries are freed as soon as it returns; only the gradients survive (and, with
    /// createGraph, what their graph saved for a second backward).
    /// </summary>
    public override Tensor?[] Backward(Tensor gradOutput) => Backward(gradOutput, spare: false);

    /// <inheritdoc />
    /// <remarks>A spare gradient is marked for the VJP's duration; see <see cref="Tensor.IsSpareGradient"/>.</remarks>
    public override Tensor?[] Backward(Tensor gradOutput, bool spare)
    {
        var backward = _backward ?? throw new InvalidOperationException($"Backward through '{Name}' after its graph was freed.");
        using var scope = TensorScope.Begin();
        gradOutput.SpareGradient = spare;
        Tensor?[] vjp;
        try { vjp = backward(gradOutput); }
        finally { gradOutput.SpareGradient = false; }
        var grads = Distinct(vjp, gradOutput);
        // With createGraph the gradients (and what their graph saved) join the caller's scope, like any
        // op's result; without it they belong to the engine, which hands each on exactly once.
        var to = GradMode.IsEnabled ? scope.Enclosing : null;
        foreach (var g in grads) scope.Keep(g, to);
        return grads;
    }

    /// <summary>Order of creation: a node recorded later has a larger number.</summary>
    public long Sequence { get; } = Interlocked.Increment(ref s_sequence);

    /// <summary>The <see cref="Sequence"/> the next node will get (or a later one, when other threads record too).</summary>
    public static long NextSequence => Volatile.Read(ref s_sequence) + 1;

    private static Tensor?[] Distinct(Tensor?[] grads, Tensor gradOutput)
    {
        for (int i = 0; i < grads.Length; i++)
        {
            if (grads[i] is not { } g) continue;
            bool shared = ReferenceEquals(g, gradOutput);
            for (int j = 0; j < i && !shared; j++) shared = ReferenceEquals(grads[j], g);
            if (shared) grads[i] = g.Alias();
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
