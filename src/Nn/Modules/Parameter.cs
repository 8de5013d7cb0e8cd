namespace GpuNet.Nn;

/// <summary>
/// A learnable tensor owned by a <see cref="Module"/> (PyTorch's <c>nn.Parameter</c>): a leaf with
/// <see cref="Tensor.RequiresGrad"/> set, living outside every <see cref="TensorScope"/> so that a
/// training step's scope never frees it. Its gradient is <see cref="Grad"/> after <c>Backward</c>.
/// </summary>
/// <remarks>
/// <see cref="Tensor"/> is sealed, so a parameter wraps its tensor: use <see cref="Data"/> (or the
/// implicit conversion) where a <see cref="Tensor"/> is expected. <see cref="Module.To(Device)"/>
/// swaps <see cref="Data"/> for a copy on the new device, so optimizers and other holders of the
/// <see cref="Parameter"/> object keep working.
/// </remarks>
public sealed class Parameter : IDisposable
{
    private Tensor _data;

    /// <summary>Wraps <paramref name="data"/> as a parameter: takes it out of any scope and sets RequiresGrad (unless <paramref name="requiresGrad"/> is false).</summary>
    /// <param name="data">A floating-point leaf tensor; the parameter takes ownership of it.</param>
    /// <param name="requiresGrad">Whether gradients flow to it (false gives a frozen parameter).</param>
    public Parameter(Tensor data, bool requiresGrad = true)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!data.IsLeaf)
            throw new ArgumentException($"Parameter: the {Format(data.ShapeArray)} tensor was computed by '{data.GradFn!.Name}'; a parameter must be a leaf (call Detach() first).", nameof(data));
        if (!data.DType.IsFloating())
            throw new ArgumentException($"Parameter: only floating-point tensors can be parameters; got {data.DType.Name()} {Format(data.ShapeArray)}.", nameof(data));
        _data = data.DetachFromScope();
        _data.RequiresGrad = requiresGrad;
    }

    /// <summary>The parameter's tensor (a leaf). Do not dispose it: the owning module does.</summary>
    public Tensor Data
    {
        get => _data;
        internal set
        {
            value.DetachFromScope();
            value.RequiresGrad = _data.RequiresGrad;
            _data = value;
        }
    }

    /// <summary>The accumulated gradient, or null before the first backward (or after <see cref="ZeroGrad"/>).</summary>
    public Tensor? Grad => _data.Grad;

    /// <summary>Whether gradients flow to this parameter.</summary>
    public bool RequiresGrad
    {
        get => _data.RequiresGrad;
        set => _data.RequiresGrad = value;
    }

    /// <summary>Shape of the parameter.</summary>
    public System.Collections.Immutable.ImmutableArray<int> Shape => _data.Shape;

    internal int[] ShapeArray => _data.ShapeArray;

    /// <summary>Number of elements.</summary>
    public long NumElements => _data.NumElements;

    /// <summary>Element type.</summary>
    public DType DType => _data.DType;

    /// <summary>Where the parameter lives.</summary>
    public Device Device => _data.Device;

    /// <summary>The values as <c>float[]</c> (see <see cref="Tensor.ToArray()"/>).</summary>
    public float[] ToArray() => _data.ToArray();

    /// <summary>Drops the gradient (sets it to null), as PyTorch's <c>zero_grad(set_to_none=True)</c>.</summary>
    public void ZeroGrad() => _data.ZeroGrad();

    /// <summary>The parameter's tensor.</summary>
    public static implicit operator Tensor(Parameter p) => p.Data;

    /// <summary>Frees the tensor and its gradient.</summary>
    public void Dispose() => _data.Dispose();

    /// <inheritdoc />
    public override string ToString() => $"Parameter {Format(ShapeArray)} {DType.Name()} on {Device}";

    internal static string Format(int[] shape) => "[" + string.Join(",", shape) + "]";
}
