using GpuNet.Kernels;

namespace GpuNet;

public sealed partial class Tensor
{
    /// <summary>Throws unless every value of the Int32 <paramref name="index"/> lies in [0, <paramref name="size"/>).</summary>
    private static void CheckIndexRange(string op, Tensor index, int size, int[] targetShape, int dim) =>
        CheckIndexRange(op, index, size, $"dim {dim} of size {size} (tensor shape {ShapeUtil.Format(targetShape)})");

    /// <summary>Throws unless every index lies in [0, size); <paramref name="target"/> says what they address ("dim 1 of size 3 (tensor shape [2,3])").</summary>
    private static void CheckIndexRange(string op, Tensor index, int size, string target)
    {
        if (index.DType != DType.Int32)
            throw new ArgumentException($"{op}: index must be an int32 tensor; got {index.DType.Name()} {ShapeUtil.Format(index.ShapeArray)}.");
        if (index.NumElements == 0) return;
        var (min, max) = Scoped(() => (index.Min().Item<int>(), index.Max().Item<int>()));
        if (min < 0 || max >= size)
            throw new ArgumentOutOfRangeException(nameof(index), $"{op}: index {(min < 0 ? min : max)} is out of range for {target}; indices must be in [0, {size}).");
    }

    /// <summary>
    /// y[…, j, …] = x[…, index[…, j, …], …] along <paramref name="dim"/> (PyTorch's gather): the index has
    /// this tensor's rank, its other dims no larger than this tensor's, and gives the output's shape.
    /// </summary>
    public Tensor Gather(int dim, Tensor index) => Gather(dim, index, checkRange: true);

    private Tensor Gather(int dim, Tensor index, bool checkRange)
    {
        ThrowIfDisposed("Gather");
        index.ThrowIfDisposed("Gather");
        CheckSameDevice("Gather", this, index);
        int d = ShapeUtil.NormalizeDim("Gather", dim, Rank, ShapeArray);
        if (index.Rank != Rank)
            throw new ArgumentException($"Gather: index of shape {ShapeUtil.Format(index.ShapeArray)} must have the same rank as the input {ShapeUtil.Format(ShapeArray)}.");
        for (int i = 0; i < Rank; i++)
            if (i != d && index.Shape[i] > ShapeArray[i])
                throw new ArgumentException($"Gather: index shape {ShapeUtil.Format(index.ShapeArray)} exceeds input shape {ShapeUtil.Format(ShapeArray)} at dim {i}.");
        if (checkRange) CheckIndexRange("Gather", index, Rank == 0 ? 1 : ShapeArray[d], ShapeArray, d);
        var y = Composite(() =>
        {
            // Narrow the other dims to the index's extent so source and index agree outside dim d.
            var source = this;
            for (int i = 0; i < Rank; i++)
                if (i != d && index.Shape[i] < ShapeArray[i]) source = source.Narrow(i, 0, index.Shape[i]);
            var y = Empty(index.ShapeArray, DType, Device, "Gather");
            if (y.NumElements > 0)
            {
                var vx = source.AsThreeAxis(d, out var cx);
                var vi = index.AsThreeAxis(d, out var ci);
                using (cx) using (ci)
                    Backend.Gather(vx, vi, StridedView.Contiguous(y.Buffer, vi.Shape));
            }
            return y;
        });
        var inputShape = ShapeArray;
        return Record(y, "Gather", [this], [index], (g, s) =>
        {
            // Scatter into the index's extent (ScatterAdd needs index and target to agree outside dim d),
            // then zero-pad the dims where the index was narrower than the input.
            var scatterShape = (int[])s[0].ShapeArray.Clone();
            scatterShape[d] = inputShape[d];
            var grad = Zeros(scatterShape, g.DType, g.Device).ScatterAdd(d, s[0], g);
            for (int i = 0; i < inputShape.Length; i++)
            {
                if (i == d || grad.Shape[i] == inputShape[i]) continue;
                var padded = (int[])grad.ShapeArray.Clone();
                padded[i] = inputShape[i];
                grad = grad.EmbedInto(padded, i, 0);
            }
            return [grad];
        });
    }

    /// <summary>
    /// A copy of this tensor with <paramref name="source"/> added at the positions <paramref name="index"/>
    /// names along <paramref name="dim"/> (PyTorch's scatter_add, out of place). Repeated indices add up;
    /// the order of additions is fixed, so results are deterministic.
    /// </summary>
    public Tensor ScatterAdd(int dim, Tensor index, Tensor source)
    {
        ThrowIfDisposed("ScatterAdd");
        CheckSameDevice("ScatterAdd", this, index);
        CheckSameDevice("ScatterAdd", this, source);
        int d = ShapeUtil.NormalizeDim("ScatterAdd", dim, Rank, ShapeArray);
        if (!ShapeUtil.SameShape(index.ShapeArray, source.ShapeArray) || index.Rank != Rank)
            throw new ArgumentException($"ScatterAdd: index {ShapeUtil.Format(index.ShapeArray)} and source {ShapeUtil.Format(source.ShapeArray)} must have one shape, of the same rank as the target {ShapeUtil.Format(ShapeArray)}.");
        for (int i = 0; i < Rank; i++)
            if (i != d && index.Shape[i] != ShapeArray[i])
                throw new ArgumentException($"ScatterAdd: index shape {ShapeUtil.Format(index.ShapeArray)} must match the target {ShapeUtil.Format(ShapeArray)} outside dim {d}.");
        if (source.DType != DType)
            throw new ArgumentException($"ScatterAdd: source dtype {source.DType.Name()} differs from the target's {DType.Name()}.");
        CheckIndexRange("ScatterAdd", index, Rank == 0 ? 1 : ShapeArray[d], ShapeArray, d);
        var y = Contiguous(forceCopy: true).DetachGraphInPlace();
        if (index.NumElements > 0)
        {
            var vs = source.AsThreeAxis(d, out var cs);
            var vi = index.AsThreeAxis(d, out var ci);
            using (cs) using (ci)
                Backend.ScatterAdd(vs, vi, y.AsThreeAxis(d, out _));
        }
        return Record(y, "ScatterAdd", [this, source], [index], (g, s) =>
            [g, g.Gather(d, s[0])]);
    }

    // A freshly made copy, taken out of the graph so the op that made it can record itself instead.
    private Tensor DetachGraphInPlace()
    {
        GradFn = null;
        _requiresGrad = false;
        return this;
    }

    /// <summary>The slices of dim <paramref name="dim"/> listed in the 1-D Int32 <paramref name="index"/>, in order (repeats allowed).</summary>
    public Tensor IndexSelect(int dim, Tensor index) => IndexSelect(dim, index, checkRange: true);

    /// <summary>
    /// <see cref="IndexSelect(int, Tensor)"/> without the range check, for callers that built the index
    /// themselves and know it is in range (the data loader's permutation): the check reads the index's
    /// minimum and maximum back to the host, two synchronisations per batch on a GPU.
    /// </summary>
    internal Tensor IndexSelectInRange(int dim, Tensor index) => IndexSelect(dim, index, checkRange: false);

    private Tensor IndexSelect(int dim, Tensor index, bool checkRange)
    {
        ThrowIfDisposed("IndexSelect");
        int d = ShapeUtil.NormalizeDim("IndexSelect", dim, Rank, ShapeArray);
        if (index.Rank != 1)
            throw new ArgumentException($"IndexSelect: index must be 1-D; got shape {ShapeUtil.Format(index.ShapeArray)}.");
        if (Rank == 0)
            throw new ArgumentException("IndexSelect: cannot select from a 0-dimensional tensor.");
        CheckSameDevice("IndexSelect", this, index);
        // Checked once on the 1-D index (not on its expansion below), and reported as IndexSelect's.
        if (checkRange) CheckIndexRange("IndexSelect", index, ShapeArray[d], ShapeArray, d);
        // A 1-D index broadcast along the other dims is exactly a gather index.
        var viewShape = Enumerable.Repeat(1, Rank).ToArray();
        viewShape[d] = index.Shape[0];
        var outShape = (int[])ShapeArray.Clone();
        outShape[d] = index.Shape[0];
        return Composite(() => Gather(d, index.Reshape(viewShape).Expand(outShape), checkRange: false));
    }

    /// <summary>
    /// One-hot rows: for Int32 labels of shape S, a tensor of shape S + [numClasses] with 1 at each
    /// label's position, in <paramref name="dtype"/> (float32 by default, ready for a loss).
    /// </summary>
    public static Tensor OneHot(Tensor labels, int numClasses, DType dtype = DType.Float32)
    {
        labels.ThrowIfDisposed("OneHot");
        if (numClasses <= 0) throw new ArgumentException($"OneHot: numClasses must be positive; got {numClasses}.");
        CheckIndexRange("OneHot", labels, numClasses, $"{numClasses} classes (labels of shape {ShapeUtil.Format(labels.ShapeArray)})");
        return Composite(() =>
        {
            var mask = labels.Unsqueeze(-1).Eq(Arange(0, numClasses, 1, DType.Int32, labels.Device));
            return dtype == DType.Int32 ? mask : mask.To(dtype);
        });
    }

    /// <summary>Joins tensors along an existing dim; all other dims must agree.</summary>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("Cat: expected at least one tensor.");
        var first = tensors[0];
        int d = ShapeUtil.NormalizeDim("Cat", dim, first.Rank, first.ShapeArray);
        if (first.Rank == 0) throw new ArgumentException("Cat: zero-dimensional tensors cannot be concatenated; use Stack.");
        int total = 0;
        var dtype = first.DType;
        foreach (var t in tensors)
        {
            t.ThrowIfDisposed("Cat");
            CheckSameDevice("Cat", first, t);
            if (t.Rank != first.Rank)
                throw new ArgumentException($"Cat: tensors must have the same rank; got {ShapeUtil.Format(first.ShapeArray)} and {ShapeUtil.Format(t.ShapeArray)}.");
            for (int i = 0; i < t.Rank; i++)
                if (i != d && t.Shape[i] != first.Shape[i])
                    throw new ArgumentException($"Cat: shapes {ShapeUtil.Format(first.ShapeArray)} and {ShapeUtil.Format(t.ShapeArray)} differ at dim {i} (only dim {d} may differ).");
            if (t.DType != dtype)
                throw new ArgumentException($"Cat: dtypes {dtype.Name()} and {t.DType.Name()} differ; convert with To(DType) first.");
            total += t.Shape[d];
        }
        var shape = (int[])first.ShapeArray.Clone();
        shape[d] = total;
        var y = Empty(shape, dtype, first.Device, "Cat");
        var sizes = new int[tensors.Count];
        int offset = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            sizes[i] = t.Shape[d];
            if (t.NumElements > 0)
                first.Backend.Copy(t.AsView(), new StridedView(y.Buffer, t.ShapeArray, y.StrideArray, (long)offset * y.Strides[d]));
            offset += sizes[i];
        }
        if (!dtype.IsFloating()) return y;
        return Record(y, "Cat", [.. tensors], g =>
        {
            var grads = new Tensor?[sizes.Length];
            int start = 0;
            for (int i = 0; i < sizes.Length; i++)
            {
                if (tensors[i].RequiresGrad) grads[i] = g.Narrow(d, start, sizes[i]);
                start += sizes[i];
            }
            return grads;
        });
    }

    /// <summary>Joins tensors of one shape along a new dim.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("Stack: expected at least one tensor.");
        foreach (var t in tensors)
            if (!ShapeUtil.SameShape(t.ShapeArray, tensors[0].ShapeArray))
                throw new ArgumentException($"Stack: every tensor must have the same shape; got {ShapeUtil.Format(tensors[0].ShapeArray)} and {ShapeUtil.Format(t.ShapeArray)}.");
        int rank = tensors[0].Rank + 1;
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= rank)
            throw new ArgumentOutOfRangeException(nameof(dim), $"Stack: dim {dim} is out of range for the result's rank {rank}.");
        var parts = tensors.Select(t => t.Unsqueeze(d)).ToArray();
        try { return Cat(parts, d); }
        finally { foreach (var p in parts) p.Dispose(); }
    }
}
