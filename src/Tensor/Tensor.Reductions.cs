using GpuNet.Kernels;

namespace GpuNet;

public sealed partial class Tensor
{
    /// <summary>
    /// This tensor seen as [outer, n, inner] around dim <paramref name="d"/>, the form every
    /// reduction kernel takes. Non-contiguous inputs stay views when their outer and inner dims
    /// collapse; otherwise a dense copy is made (returned in <paramref name="copy"/> for disposal).
    /// </summary>
    internal StridedView AsThreeAxis(int d, out Tensor? copy)
    {
        copy = null;
        var src = this;
        if (!ShapeUtil.TryCollapse(ShapeArray, StrideArray, 0, d, out int outer, out int outerStride)
            || !ShapeUtil.TryCollapse(ShapeArray, StrideArray, d + 1, Rank, out int inner, out int innerStride))
        {
            copy = src = Contiguous(forceCopy: true);
            ShapeUtil.TryCollapse(src.ShapeArray, src.StrideArray, 0, d, out outer, out outerStride);
            ShapeUtil.TryCollapse(src.ShapeArray, src.StrideArray, d + 1, Rank, out inner, out innerStride);
        }
        int n = Rank == 0 ? 1 : ShapeArray[d];
        int nStride = Rank == 0 ? 1 : src.Strides[d];
        return new StridedView(src.Buffer, [outer, n, inner], [outerStride, nStride, innerStride], src.Offset);
    }

    /// <summary>One backend reduction along dim d; the result keeps d as size 1 when keepDim.</summary>
    private Tensor ReduceDim(string name, ReduceOp op, int d, bool keepDim, DType outDType)
    {
        var view = AsThreeAxis(d, out var copy);
        using (copy)
        {
            var shape = ReducedShape(d, keepDim);
            if (op is ReduceOp.Max or ReduceOp.Min or ReduceOp.ArgMax or ReduceOp.ArgMin && view.Shape[1] == 0)
                throw new ArgumentException($"{name}: cannot reduce dim {d} of size 0 (shape {ShapeUtil.Format(ShapeArray)}); the result would have no identity.");
            var y = Empty(shape, outDType, Device, name);
            if (y.NumElements > 0)
                Backend.Reduce(op, view, new StridedView(y.Buffer, [view.Shape[0], view.Shape[2]], [view.Shape[2], 1], 0));
            return y;
        }
    }

    private int[] ReducedShape(int d, bool keepDim)
    {
        if (Rank == 0) return [];
        var shape = ShapeArray.ToList();
        if (keepDim) shape[d] = 1; else shape.RemoveAt(d);
        return [.. shape];
    }

    /// <summary>This tensor flattened to [1, N, 1] for whole-tensor reductions.</summary>
    private Tensor AllAsRow(out bool copied)
    {
        copied = false;
        if (IsContiguous) return this;
        copied = true;
        return Contiguous(forceCopy: true);
    }

    private Tensor ReduceAll(string name, ReduceOp op, DType outDType)
    {
        ThrowIfDisposed(name);
        var src = AllAsRow(out bool copied);
        try
        {
            if (op != ReduceOp.Sum && NumElements == 0)
                throw new ArgumentException($"{name}: cannot reduce an empty tensor of shape {ShapeUtil.Format(ShapeArray)}; the result would have no identity.");
            var y = Empty([], outDType, Device, name);
            var view = new StridedView(src.Buffer, [1, (int)NumElements, 1], [0, 1, 0], src.Offset);
            Backend.Reduce(op, view, new StridedView(y.Buffer, [1, 1], [1, 1], 0));
            return y;
        }
        finally
        {
            if (copied) src.Dispose();
        }
    }

    /// <summary>Sum of all elements (a 0-dimensional tensor).</summary>
    public Tensor Sum()
    {
        var y = ReduceAll("Sum", ReduceOp.Sum, DType);
        var shape = ShapeArray;
        return Record(y, "Sum", [this], g => [g.Reshape([.. shape.Select(_ => 1)]).Expand(shape)]);
    }

    /// <summary>Sum along <paramref name="dim"/>, removing it unless <paramref name="keepDim"/>.</summary>
    public Tensor Sum(int dim, bool keepDim = false) => Sum([dim], keepDim);

    /// <summary>Sum along several dims.</summary>
    public Tensor Sum(int[] dims, bool keepDim = false)
    {
        ThrowIfDisposed("Sum");
        var norm = dims.Select(d => ShapeUtil.NormalizeDim("Sum", d, Rank, ShapeArray)).Distinct().OrderByDescending(d => d).ToArray();
        if (norm.Length == 0) return Contiguous(forceCopy: true);
        // Reduce one dim at a time, innermost first, keeping dims so the indices stay valid.
        Tensor current = norm.Length == 1
            ? ReduceDim("Sum", ReduceOp.Sum, norm[0], keepDim: true, DType)
            : Composite(() => norm.Skip(1).Aggregate(ReduceDim("Sum", ReduceOp.Sum, norm[0], keepDim: true, DType),
                (partial, d) => partial.ReduceDim("Sum", ReduceOp.Sum, d, keepDim: true, DType)));
        Tensor y = current;
        if (!keepDim)
        {
            var finalShape = ShapeArray.Where((_, i) => !norm.Contains(i)).ToArray();
            y = current.ReshapeUnrecorded(finalShape);
        }
        var inputShape = ShapeArray;
        int[] kept = Rank == 0 ? [] : ShapeArray.Select((s, i) => norm.Contains(i) ? 1 : s).ToArray();
        return Record(y, "Sum", [this], g => [g.Reshape(kept).Expand(inputShape)]);
    }

    /// <summary>A reshaped alias of a freshly computed (contiguous, unrecorded) tensor; the original object is consumed.</summary>
    private Tensor ReshapeUnrecorded(int[] shape)
    {
        _storage.AddRef();
        var v = new Tensor(_storage, shape, ShapeUtil.RowMajorStrides(shape), Offset);
        Dispose();
        return v;
    }

    /// <summary>Mean of all elements.</summary>
    public Tensor Mean()
    {
        RequireFloating("Mean");
        return Composite(() => Sum() * (1.0 / Math.Max(NumElements, 0)));
    }

    /// <summary>Mean along <paramref name="dim"/>.</summary>
    public Tensor Mean(int dim, bool keepDim = false) => Mean([dim], keepDim);

    /// <summary>Mean along several dims.</summary>
    public Tensor Mean(int[] dims, bool keepDim = false)
    {
        RequireFloating("Mean");
        long count = 1;
        foreach (var d in dims.Select(d => ShapeUtil.NormalizeDim("Mean", d, Rank, ShapeArray)).Distinct()) count *= Rank == 0 ? 1 : ShapeArray[d];
        return Composite(() => Sum(dims, keepDim) * (1.0 / count));
    }

    private void RequireFloating(string op)
    {
        if (!DType.IsFloating())
            throw new NotSupportedException($"{op}: dtype {DType.Name()} is not supported (expected float32 or float64) for the tensor of shape {ShapeUtil.Format(ShapeArray)}; convert it with To(DType.Float32).");
    }

    /// <summary>Largest element. Its gradient is shared evenly among tied maxima, as PyTorch's <c>max()</c> does.</summary>
    public Tensor Max() => ExtremumAll("Max", ReduceOp.Max);

    /// <summary>Smallest element. Its gradient is shared evenly among tied minima.</summary>
    public Tensor Min() => ExtremumAll("Min", ReduceOp.Min);

    private Tensor ExtremumAll(string name, ReduceOp op)
    {
        var y = ReduceAll(name, op, DType);
        if (!DType.IsFloating()) return y;
        return Record(y, name, [this], [this, y], (g, s) =>
        {
            var mask = s[0].Eq(s[1]);
            return [g * mask / mask.Sum()];
        });
    }

    /// <summary>
    /// Largest value along <paramref name="dim"/>. The gradient goes to the first maximal element
    /// of each slice (the index <see cref="ArgMax(int, bool)"/> returns), as PyTorch's <c>max(dim)</c> does.
    /// </summary>
    public Tensor Max(int dim, bool keepDim = false) => ExtremumDim("Max", ReduceOp.Max, ReduceOp.ArgMax, dim, keepDim);

    /// <summary>Smallest value along <paramref name="dim"/>; the gradient goes to the first minimal element.</summary>
    public Tensor Min(int dim, bool keepDim = false) => ExtremumDim("Min", ReduceOp.Min, ReduceOp.ArgMin, dim, keepDim);

    private Tensor ExtremumDim(string name, ReduceOp op, ReduceOp argOp, int dim, bool keepDim)
    {
        ThrowIfDisposed(name);
        int d = ShapeUtil.NormalizeDim(name, dim, Rank, ShapeArray);
        var y = ReduceDim(name, op, d, keepDim, DType);
        if (!WillRecord(this) || !DType.IsFloating()) return y;
        var index = ReduceDim(name, argOp, d, keepDim: true, DType.Int32);
        var inputShape = ShapeArray;
        int[] kept = Rank == 0 ? [] : ShapeArray.Select((s, i) => i == d ? 1 : s).ToArray();
        return Record(y, name, [this], g =>
        {
            return [Zeros(inputShape, g.DType, g.Device).ScatterAdd(d, index, g.Reshape(kept))];
        }, index);
    }

    /// <summary>Index of the largest element in the flattened tensor (Int32, 0-dimensional); the first one on ties.</summary>
    public Tensor ArgMax() => ReduceAll("ArgMax", ReduceOp.ArgMax, DType.Int32);

    /// <summary>Index of the smallest element in the flattened tensor.</summary>
    public Tensor ArgMin() => ReduceAll("ArgMin", ReduceOp.ArgMin, DType.Int32);

    /// <summary>Indices (Int32) of the largest values along <paramref name="dim"/>; the first one on ties.</summary>
    public Tensor ArgMax(int dim, bool keepDim = false) =>
        ReduceDim("ArgMax", ReduceOp.ArgMax, ShapeUtil.NormalizeDim("ArgMax", dim, Rank, ShapeArray), keepDim, DType.Int32);

    /// <summary>Indices (Int32) of the smallest values along <paramref name="dim"/>.</summary>
    public Tensor ArgMin(int dim, bool keepDim = false) =>
        ReduceDim("ArgMin", ReduceOp.ArgMin, ShapeUtil.NormalizeDim("ArgMin", dim, Rank, ShapeArray), keepDim, DType.Int32);

    /// <summary>Softmax along <paramref name="dim"/>, computed stably (the maximum is subtracted first).</summary>
    public Tensor Softmax(int dim)
    {
        var y = SoftmaxCore("Softmax", dim, log: false, out int d);
        return Record(y, "Softmax", [this], [y], (g, s) =>
        {
            // ∂pᵢ/∂sⱼ = pᵢ(δᵢⱼ − pⱼ), so the VJP is p ⊙ (g − Σⱼ gⱼpⱼ).
            return [s[0] * (g - (g * s[0]).Sum(d, keepDim: true))];
        });
    }

    /// <summary>log(softmax(x)) along <paramref name="dim"/>, computed stably in one pass.</summary>
    public Tensor LogSoftmax(int dim)
    {
        var y = SoftmaxCore("LogSoftmax", dim, log: true, out int d);
        return Record(y, "LogSoftmax", [this], [y], (g, s) =>
        {
            return [g - s[0].Exp() * g.Sum(d, keepDim: true)];
        });
    }

    private Tensor SoftmaxCore(string name, int dim, bool log, out int d)
    {
        ThrowIfDisposed(name);
        RequireFloating(name);
        d = ShapeUtil.NormalizeDim(name, dim, Rank, ShapeArray);
        var view = AsThreeAxis(d, out var copy);
        using (copy)
        {
            var y = Empty(ShapeArray, DType, Device, name);
            if (y.NumElements > 0)
                Backend.Softmax(view, StridedView.Contiguous(y.Buffer, view.Shape), log);
            return y;
        }
    }
}
