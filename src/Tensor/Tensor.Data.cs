using GpuNet.Kernels;

namespace GpuNet;

public sealed partial class Tensor
{
    /// <summary>The elements in row-major order as <c>float[]</c>, converting from the tensor's dtype.</summary>
    public float[] ToArray()
    {
        if (DType == DType.Float32) return ToArray<float>();
        return Scoped(() => To(DType.Float32).ToArray<float>());
    }

    /// <summary>The elements in row-major order; <typeparamref name="T"/> must match the dtype (float, double, int).</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        ThrowIfDisposed("ToArray");
        var want = DTypeInfo.Of<T>();
        if (want != DType)
            throw new InvalidOperationException($"ToArray<{typeof(T).Name}>: the tensor's dtype is {DType.Name()}; call ToArray<{DType.ClrType().Name}>() or convert with To(DType.{want}) first.");
        var result = new T[NumElements];
        if (result.Length == 0) return result;
        if (IsContiguous)
        {
            Backend.Download<T>(Buffer, result, Offset);
            return result;
        }
        return Scoped(() =>
        {
            var dense = Contiguous();
            Backend.Download<T>(dense.Buffer, result, dense.Offset);
            return result;
        });
    }

    /// <summary>The value of a one-element tensor, as float.</summary>
    public float Item() => NumElements == 1
        ? ToArray()[0]
        : throw new InvalidOperationException($"Item: only one-element tensors can be converted to a scalar; this one has shape {ShapeUtil.Format(ShapeArray)}.");

    /// <summary>The value of a one-element tensor in its own dtype (float, double or int).</summary>
    public T Item<T>() where T : unmanaged => NumElements == 1
        ? ToArray<T>()[0]
        : throw new InvalidOperationException($"Item: only one-element tensors can be converted to a scalar; this one has shape {ShapeUtil.Format(ShapeArray)}.");

    /// <summary>A dense row-major tensor of these elements: an <see cref="Alias"/> when this one already is (unless <paramref name="forceCopy"/>), else a copy. Gradients pass through. The caller owns the result.</summary>
    public Tensor Contiguous(bool forceCopy = false)
    {
        ThrowIfDisposed("Contiguous");
        if (IsContiguous && !forceCopy) return Alias();
        var y = Empty(ShapeArray, DType, Device, "Contiguous");
        if (NumElements > 0) Backend.Copy(AsView(), y.AsView());
        return Record(y, "Contiguous", [this], g => [g]);
    }

    /// <summary>A dense copy that stays in the graph (gradients pass through).</summary>
    public Tensor Clone() => Contiguous(forceCopy: true);

    /// <summary>The elements converted to <paramref name="dtype"/> (an <see cref="Alias"/> when they already are). Gradients flow back converted. The caller owns the result.</summary>
    public Tensor To(DType dtype)
    {
        ThrowIfDisposed("To");
        if (dtype == DType) return Alias();
        var y = Empty(ShapeArray, dtype, Device, "To");
        if (NumElements > 0) Backend.Copy(AsView(), y.AsView());
        var from = DType;
        if (!dtype.IsFloating()) return y; // integers carry no gradient
        return Record(y, $"To({dtype.Name()})", [this], g => [g.To(from)]);
    }

    /// <summary>A copy on <paramref name="device"/> (an <see cref="Alias"/> when already there). Gradients flow back to the original device. The caller owns the result.</summary>
    public Tensor To(Device device)
    {
        ThrowIfDisposed("To");
        ArgumentNullException.ThrowIfNull(device);
        if (device == Device) return Alias();
        var y = Empty(ShapeArray, DType, device, "To");
        using (var dense = Contiguous()) // staged from this tensor's own memory when it is already dense
            if (NumElements > 0) TransferTo(dense, y);
        var from = Device;
        return Record(y, $"To({device})", [this], g => [g.To(from)]);
    }

    private static void TransferTo(Tensor src, Tensor dst)
    {
        // Host staging keeps the backends independent of each other.
        switch (src.DType)
        {
            case DType.Float32: Stage<float>(); break;
            case DType.Float64: Stage<double>(); break;
            default: Stage<int>(); break;
        }

        void Stage<T>() where T : unmanaged
        {
            var host = new T[src.NumElements];
            src.Backend.Download<T>(src.Buffer, host, src.Offset);
            dst.Backend.Upload<T>(host, dst.Buffer, dst.Offset);
        }
    }

    /// <summary>
    /// Copies <paramref name="source"/> (broadcast to this shape, converted to this dtype) into this tensor, in place. Not recorded.
    /// </summary>
    /// <remarks>
    /// Every in-place op (this one, <see cref="FillInPlace"/>, <see cref="AddInPlace"/>, <see cref="AffineInPlace"/>,
    /// <see cref="MulInPlace"/> and the optimizer steps in <see cref="Functional"/>) refuses a leaf that requires grad
    /// outside <see cref="Autograd.NoGrad"/>, and bumps the storage's version: a graph that saved these values for its
    /// backward, or an op that uses them later as the output of the op that computed them, then makes
    /// <see cref="Backward"/> throw instead of returning a wrong gradient.
    /// </remarks>
    public Tensor CopyFrom(Tensor source)
    {
        ThrowIfDisposed("CopyFrom");
        CheckSameDevice("CopyFrom", this, source);
        var src = source.BroadcastView("CopyFrom", ShapeArray);
        MarkWritten("CopyFrom");
        if (NumElements > 0) Backend.Copy(src, AsView());
        return this;
    }

    /// <summary>Sets every element to <paramref name="value"/>, in place. Not recorded.</summary>
    public Tensor FillInPlace(double value)
    {
        ThrowIfDisposed("FillInPlace");
        MarkWritten("FillInPlace");
        if (NumElements > 0) Backend.Fill(AsView(), value);
        return this;
    }

    /// <summary>this += alpha · other (broadcast), in place. Not recorded: for optimizers and gradient accumulation.</summary>
    public Tensor AddInPlace(Tensor other, double alpha = 1)
    {
        ThrowIfDisposed("AddInPlace");
        CheckSameDevice("AddInPlace", this, other);
        if (other.DType != DType) throw new ArgumentException($"AddInPlace: dtypes {DType.Name()} and {other.DType.Name()} differ.");
        var src = other.BroadcastView("AddInPlace", ShapeArray);
        MarkWritten("AddInPlace");
        if (NumElements > 0) Backend.AddScaled(AsView(), src, alpha);
        return this;
    }

    /// <summary>this = alpha · this + beta, in place. Not recorded.</summary>
    public Tensor AffineInPlace(double alpha, double beta = 0)
    {
        ThrowIfDisposed("AffineInPlace");
        MarkWritten("AffineInPlace");
        if (NumElements > 0) Backend.Unary(UnaryOp.Affine, AsView(), AsView(), alpha, beta);
        return this;
    }

    /// <summary>this = this ⊙ other (broadcast), in place. Not recorded.</summary>
    public Tensor MulInPlace(Tensor other)
    {
        ThrowIfDisposed("MulInPlace");
        CheckSameDevice("MulInPlace", this, other);
        var src = other.BroadcastView("MulInPlace", ShapeArray);
        MarkWritten("MulInPlace");
        if (NumElements > 0) Backend.Binary(BinaryOp.Mul, AsView(), src, AsView());
        return this;
    }

    /// <summary>A backend view of this tensor broadcast to <paramref name="target"/> (which it must broadcast to exactly).</summary>
    internal StridedView BroadcastView(string op, int[] target)
    {
        ThrowIfDisposed(op);
        var full = ShapeUtil.BroadcastShape(op, ShapeArray, target);
        if (!ShapeUtil.SameShape(full, target))
            throw new ArgumentException($"{op}: a tensor of shape {ShapeUtil.Format(ShapeArray)} cannot be broadcast to {ShapeUtil.Format(target)}.");
        return new StridedView(Buffer, target, ShapeUtil.BroadcastStrides(ShapeArray, StrideArray, target), Offset);
    }

    internal static void CheckSameDevice(string op, Tensor a, Tensor b)
    {
        if (a.Device != b.Device)
            throw new ArgumentException($"{op}: tensors are on two devices, {a.Device} ({ShapeUtil.Format(a.ShapeArray)}) and {b.Device} ({ShapeUtil.Format(b.ShapeArray)}); move one with To(device).");
    }
}
