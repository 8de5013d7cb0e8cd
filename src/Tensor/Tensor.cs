using System.Collections.Immutable;
using System.Runtime.InteropServices;
using GpuNet.Kernels;
using GpuNet.Tape;

namespace GpuNet;

/// <summary>
/// An n-dimensional array on a <see cref="Device"/>: a shape, strides and an offset over shared
/// storage, with an element type. Ops that involve a tensor that requires grad record themselves
/// so <see cref="Backward"/> can compute gradients. Views (<see cref="Transpose"/>,
/// <see cref="Narrow"/>, <see cref="Expand"/>, …) share memory; everything else allocates from the device pool.
/// </summary>
/// <remarks>
/// Memory: a tensor's storage returns to the pool when the tensor (and every view of it) is disposed,
/// either by hand or by the <see cref="TensorScope"/> it was created in (<see cref="NewScope"/>).
/// </remarks>
public sealed partial class Tensor : IDisposable
{
    private readonly Storage _storage;
    private bool _requiresGrad;
    private LeafNode<Tensor>? _leafNode;
    private Node<Tensor>? _gradFn;
    private bool _disposed;
    // The storage's version when _gradFn was recorded: a later in-place write makes the node stale.
    private int _producedVersion;

    /// <summary>On a tensor a graph node owns (saved for its backward): the storage's version when the node saved it.</summary>
    internal int SavedVersion { get; set; }

    // Set on the aliases a node saves for its backward: they share the original's storage (keeping
    // it alive however the original is disposed) and its place in the graph.
    private Tensor? _graphSource;

    internal Tensor(Storage storage, int[] shape, int[] strides, long offset, bool registerInScope = true)
    {
        _storage = storage;
        ShapeArray = shape;
        StrideArray = strides;
        Offset = offset;
        if (registerInScope) TensorScope.Current?.Register(this);
    }

    /// <summary>Extent of each dimension. Pass it where an <c>int[]</c> shape is expected with <c>[.. t.Shape]</c>.</summary>
    public ImmutableArray<int> Shape => ImmutableCollectionsMarshal.AsImmutableArray(ShapeArray);

    /// <summary>Step in elements per dimension (0 for broadcast dimensions).</summary>
    public ImmutableArray<int> Strides => ImmutableCollectionsMarshal.AsImmutableArray(StrideArray);

    // The arrays behind ShapeArray and StrideArray, for the library's own use: never mutated, so the public
    // read-only views wrap them without a copy.
    internal int[] ShapeArray { get; }

    internal int[] StrideArray { get; }

    /// <summary>Element offset of the first element in the storage.</summary>
    public long Offset { get; }

    /// <summary>Number of dimensions.</summary>
    public int Rank => ShapeArray.Length;

    /// <summary>Number of elements.</summary>
    public long NumElements => ShapeUtil.Count(ShapeArray);

    /// <summary>Element type.</summary>
    public DType DType => _storage.Buffer.DType;

    /// <summary>Where the data lives.</summary>
    public Device Device => _storage.Device;

    /// <summary>True when the elements are dense and row-major.</summary>
    public bool IsContiguous => ShapeUtil.IsContiguous(ShapeArray, StrideArray);

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>The scope that will dispose this tensor, if any.</summary>
    internal TensorScope? Scope { get; set; }

    internal Storage Storage => _storage;

    /// <summary>The op that produced this tensor, when it was computed from tensors that require grad.</summary>
    public Node<Tensor>? GradFn
    {
        get => _graphSource is { } src ? src.GradFn : _gradFn;
        internal set => _gradFn = value;
    }

    /// <summary>True for tensors not produced by a recorded op (user-created, or detached).</summary>
    public bool IsLeaf => GradFn is null;

    /// <summary>
    /// Whether gradients flow to this tensor. Set it on leaves you want gradients for; results of
    /// ops on such tensors require grad automatically. Only floating tensors can.
    /// </summary>
    public bool RequiresGrad
    {
        get => _graphSource?.RequiresGrad ?? _requiresGrad;
        set
        {
            if (value == _requiresGrad) return;
            if (!IsLeaf)
                throw new InvalidOperationException($"RequiresGrad: can only be changed on leaf tensors; this {ShapeUtil.Format(ShapeArray)} tensor was computed by '{GradFn!.Name}'. Use Detach() to get a leaf.");
            if (value && !DType.IsFloating())
                throw new InvalidOperationException($"RequiresGrad: only floating-point tensors can require gradients; got a {DType.Name()} tensor {ShapeUtil.Format(ShapeArray)}. Convert it with To(DType.Float32) first.");
            _requiresGrad = value;
        }
    }

    /// <summary>The accumulated gradient of a leaf after <see cref="Backward"/>; null before. Owned by this tensor.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>The graph node gradients for this tensor arrive at: its op, or its leaf accumulator.</summary>
    internal Node<Tensor>? GradNode => _graphSource is { } src ? src.GradNode
        : GradFn ?? (RequiresGrad ? _leafNode ??= new LeafNode<Tensor>(LeafName, AccumulateGrad) : null);

    /// <summary>
    /// What a node keeps for its backward (PyTorch's saved variable): an alias that holds its own
    /// reference to the storage and stands at the same place in the graph. The node disposes it when
    /// the graph is freed; the caller's tensor can be disposed at any time.
    /// </summary>
    internal Tensor Saved()
    {
        ThrowIfDisposed("Saved");
        _storage.AddRef();
        // Registered in the current scope like any tensor: a graph that is never backwarded is still
        // freed when its scope ends (MoveToOuterScope carries a graph's saved tensors along).
        return new Tensor(_storage, ShapeArray, StrideArray, Offset) { _graphSource = _graphSource ?? this };
    }

    /// <summary>
    /// A new tensor object for the same elements: it shares this tensor's storage (which stays alive until
    /// both are disposed) and its place in the graph, so gradients reach this tensor's op or leaf. The
    /// caller owns it, as it owns the result of every op; ops that change nothing (<see cref="Contiguous"/>
    /// of a dense tensor, <see cref="To(DType)"/> to its own dtype) return one.
    /// </summary>
    public Tensor Alias()
    {
        ThrowIfDisposed("Alias");
        _storage.AddRef();
        var source = _graphSource ?? this;
        return new Tensor(_storage, ShapeArray, StrideArray, Offset) { _graphSource = source.GradNode is null ? null : source };
    }

    private string LeafName => $"leaf {ShapeUtil.Format(ShapeArray)}";

    internal DeviceBuffer Buffer
    {
        get
        {
            ThrowIfDisposed();
            // A deferred launch that writes or reads this memory runs first (Storage.RunPendingFor).
            Storage.RunPendingFor(_storage);
            return _storage.Buffer;
        }
    }

    internal StridedView AsView() => new(Buffer, ShapeArray, StrideArray, Offset);

    /// <summary>A view that does not run deferred launches first: only for a fresh output, or to hand a deferred launch its own output.</summary>
    private StridedView OutputView() => new(_storage.Buffer, ShapeArray, StrideArray, Offset);

    internal IBackend Backend => Device.Backend;

    /// <summary>Starts a scope that disposes every tensor created inside it (see <see cref="TensorScope"/>).</summary>
    public static TensorScope NewScope() => TensorScope.Begin();

    /// <summary>
    /// Moves this tensor out of its scope into the enclosing one (or none), so it survives the inner
    /// scope's end — together with what its graph saved for backward, so it can still be backwarded.
    /// </summary>
    public Tensor MoveToOuterScope()
    {
        if (Scope is { } s) MoveGraph(s, s.Parent);
        return this;
    }

    /// <summary>Takes this tensor (and what its graph saved for backward) out of any scope: it lives until disposed by hand.</summary>
    public Tensor DetachFromScope()
    {
        if (Scope is { } s) MoveGraph(s, null);
        return this;
    }

    private void MoveGraph(TensorScope from, TensorScope? to)
    {
        Move(this);
        if (GradFn is null) return;
        foreach (var node in Engine.TopologicalOrder([GradFn]))
            if (node is TensorNode tn)
                foreach (var saved in tn.Owned)
                    if (saved.Scope == from) Move(saved);

        void Move(Tensor t)
        {
            from.Unregister(t);
            to?.Register(t);
        }
    }

    /// <summary>Releases this tensor's reference to its storage (and drops its gradient). Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Scope?.Unregister(this);
        _storage.Release();
        Grad?.Dispose();
        Grad = null;
    }

    internal void ThrowIfDisposed(string op = "Tensor")
    {
        if (_disposed || _storage.Buffer.IsDisposed)
            throw new ObjectDisposedException(nameof(Tensor), $"{op}: the {ShapeUtil.Format(ShapeArray)} tensor was already disposed (use after Dispose, or its TensorScope ended).");
    }

    /// <summary>Sets <see cref="Grad"/> to null, disposing it.</summary>
    public void ZeroGrad()
    {
        Grad?.Dispose();
        Grad = null;
    }

    /// <summary>A new leaf sharing this tensor's storage, cut from the graph.</summary>
    public Tensor Detach()
    {
        ThrowIfDisposed("Detach");
        _storage.AddRef();
        return new Tensor(_storage, ShapeArray, StrideArray, Offset);
    }

    /// <summary>Sets <see cref="RequiresGrad"/> and returns this tensor, for chaining.</summary>
    public Tensor RequiresGrad_(bool requiresGrad = true)
    {
        RequiresGrad = requiresGrad;
        return this;
    }

    private List<Action<Tensor>>? _gradHooks;

    /// <summary>
    /// Calls <paramref name="hook"/> with this leaf each time a backward pass has accumulated its gradient into
    /// <see cref="Grad"/> (PyTorch's <c>register_post_accumulate_grad_hook</c>): within one backward, the moment this
    /// gradient is final. Data-parallel training starts a bucket's all-reduce from it while backward goes on. Dispose
    /// the result to remove the hook.
    /// </summary>
    public IDisposable RegisterPostAccumulateGradHook(Action<Tensor> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        ThrowIfDisposed("RegisterPostAccumulateGradHook");
        if (!IsLeaf || !RequiresGrad)
            throw new InvalidOperationException($"RegisterPostAccumulateGradHook: only a leaf that requires grad accumulates a gradient; this {ShapeUtil.Format(ShapeArray)} tensor is {(IsLeaf ? "a leaf that does not require grad" : $"computed by '{GradFn!.Name}'")}.");
        if (_graphSource is { } source) return source.RegisterPostAccumulateGradHook(hook);
        (_gradHooks ??= []).Add(hook);
        return new HookRegistration(this, hook);
    }

    private sealed class HookRegistration(Tensor leaf, Action<Tensor> hook) : IDisposable
    {
        public void Dispose() => leaf._gradHooks?.Remove(hook);
    }

    /// <summary>
    /// Takes a gradient from the engine (which owns it, and hands it on only here): the first becomes
    /// <see cref="Grad"/> as it is when nothing else shares its memory, else a dense copy; later ones are added
    /// in place. Under createGraph the gradient is part of the new graph and is kept, not freed.
    /// </summary>
    /// <summary>Set by the engine while a VJP runs on this gradient, which it frees afterwards and nobody else reads.</summary>
    internal bool SpareGradient { get; set; }

    /// <summary>
    /// True when a VJP may overwrite this incoming gradient with its own temporaries: the engine marked it
    /// spare, it is dense, and no other tensor or saved value shares its memory (no alias, no view).
    /// </summary>
    internal bool IsSpareGradient => SpareGradient && !IsDisposed && GradFn is null && IsContiguous && _storage.IsExclusive;

    private void AccumulateGrad(Tensor g)
    {
        AccumulateGradCore(g);
        if (_gradHooks is { } hooks)
            foreach (var hook in hooks.ToArray()) hook(this);
    }

    private void AccumulateGradCore(Tensor g)
    {
        using var suspend = TensorScope.Suspend();
        bool recording = GradMode.IsEnabled;
        if (Grad is null || Grad.IsDisposed)
        {
            if (!recording && g.GradFn is null && g.IsContiguous && g._storage.IsExclusive
                && g.DType == DType && g.Device == Device && ShapeUtil.SameShape(g.ShapeArray, ShapeArray))
            {
                g.Scope?.Unregister(g);
                Grad = g;
                return;
            }
            Grad = recording ? g.Clone() : g.Contiguous(forceCopy: true);
            if (!ShapeUtil.SameShape(Grad.ShapeArray, ShapeArray))
                throw new InvalidOperationException($"Backward: gradient of shape {ShapeUtil.Format(g.ShapeArray)} reached a leaf of shape {ShapeUtil.Format(ShapeArray)} (an op's VJP is wrong).");
        }
        else if (recording)
        {
            var old = Grad;
            Grad = old + g;
        }
        else Grad.AddInPlace(g);
        if (!recording) g.Dispose();
    }
}
