namespace GpuNet;

public sealed partial class Tensor
{
    /// <summary>A tensor sharing this one's storage with another shape/strides; the VJP maps gradients back.</summary>
    private Tensor MakeView(string name, int[] shape, int[] strides, long offset, Func<Tensor, Tensor?[]> backward)
    {
        ThrowIfDisposed(name);
        _storage.AddRef();
        var v = new Tensor(_storage, shape, strides, offset);
        return Record(v, name, [this], backward);
    }

    /// <summary>
    /// The same elements with a new shape; one dim may be −1 (inferred). A view when the strides allow
    /// it, else a copy (as in PyTorch's reshape).
    /// </summary>
    public Tensor Reshape(params int[] shape)
    {
        ThrowIfDisposed("Reshape");
        var target = InferShape("Reshape", shape);
        if (TryViewStrides(target, out var strides)) return ViewWith("Reshape", target, strides);
        return Composite(() => Contiguous(forceCopy: true).ViewWith("Reshape", target, ShapeUtil.RowMajorStrides(target)));
    }

    /// <summary>A view with a new shape (one dim may be −1); an error when the strides do not allow a view (call Contiguous or Reshape).</summary>
    public Tensor View(params int[] shape)
    {
        ThrowIfDisposed("View");
        var target = InferShape("View", shape);
        if (!TryViewStrides(target, out var strides))
            throw new InvalidOperationException($"View: a tensor of shape {ShapeUtil.Format(ShapeArray)} with strides {ShapeUtil.Format(StrideArray)} cannot be viewed as {ShapeUtil.Format(target)} without a copy; use Reshape or Contiguous().View.");
        return ViewWith("View", target, strides);
    }

    private Tensor ViewWith(string name, int[] target, int[] strides)
    {
        var inputShape = ShapeArray;
        return MakeView(name, target, strides, Offset, g => [g.Reshape(inputShape)]);
    }

    private int[] InferShape(string op, int[] shape)
    {
        var result = (int[])shape.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < result.Length; i++)
        {
            if (result[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"{op}: only one dimension can be -1 in {ShapeUtil.Format(shape)}.");
                infer = i;
            }
            else if (result[i] < 0) throw new ArgumentException($"{op}: invalid size {result[i]} in {ShapeUtil.Format(shape)}.");
            else known *= result[i];
        }
        long n = NumElements;
        if (infer >= 0)
        {
            if (known == 0 || n % known != 0)
                throw new ArgumentException($"{op}: cannot reshape a tensor of shape {ShapeUtil.Format(ShapeArray)} ({n} elements) into {ShapeUtil.Format(shape)}.");
            result[infer] = (int)(n / known);
        }
        else if (known != n)
            throw new ArgumentException($"{op}: cannot reshape a tensor of shape {ShapeUtil.Format(ShapeArray)} ({n} elements) into {ShapeUtil.Format(shape)} ({known} elements).");
        ShapeUtil.CheckShape(op, result);
        return result;
    }

    // Splits/merges dims where memory allows: each group of old dims that maps to a group of new
    // dims must itself be collapsible (the rule PyTorch's view follows).
    private bool TryViewStrides(int[] target, out int[] strides)
    {
        strides = new int[target.Length];
        if (NumElements == 0 || IsContiguous)
        {
            strides = ShapeUtil.RowMajorStrides(target);
            return true;
        }
        var oldShape = ShapeArray.Where(d => d != 1).ToArray();
        var oldStrides = ShapeArray.Select((d, i) => (d, i)).Where(p => p.d != 1).Select(p => StrideArray[p.i]).ToArray();
        int oi = 0, ni = 0;
        while (ni < target.Length)
        {
            if (target[ni] == 1) { strides[ni] = 1; ni++; continue; }
            if (oi >= oldShape.Length) return false;
            // Group old dims [oi, oj) and new dims [ni, nj) with equal products.
            long po = oldShape[oi], pn = target[ni];
            int oj = oi + 1, nj = ni + 1;
            while (po != pn)
            {
                if (po < pn) { if (oj >= oldShape.Length) return false; po *= oldShape[oj++]; }
                else { if (nj >= target.Length) return false; pn *= target[nj++]; }
            }
            for (int k = oi; k < oj - 1; k++)
                if (oldStrides[k] != (long)oldStrides[k + 1] * oldShape[k + 1]) return false;
            long stride = oldStrides[oj - 1];
            for (int k = nj - 1; k >= ni; k--)
            {
                strides[k] = (int)stride;
                stride *= target[k];
            }
            oi = oj;
            ni = nj;
        }
        return oi == oldShape.Length;
    }

    /// <summary>All elements as one dimension.</summary>
    public Tensor Flatten() => Reshape(-1);

    /// <summary>Dims <paramref name="startDim"/>..<paramref name="endDim"/> merged into one.</summary>
    public Tensor Flatten(int startDim, int endDim = -1)
    {
        int s = ShapeUtil.NormalizeDim("Flatten", startDim, Rank, ShapeArray);
        int e = ShapeUtil.NormalizeDim("Flatten", endDim, Rank, ShapeArray);
        if (Rank == 0) return Reshape(1);
        var shape = ShapeArray.Take(s).Append(-1).Concat(ShapeArray.Skip(e + 1)).ToArray();
        if (e < s) throw new ArgumentException($"Flatten: startDim {startDim} comes after endDim {endDim} for shape {ShapeUtil.Format(ShapeArray)}.");
        shape[s] = ShapeArray.Skip(s).Take(e - s + 1).Aggregate(1, (a, b) => a * b);
        return Reshape(shape);
    }

    /// <summary>Reorders dims: result dim i is this tensor's dim <c>dims[i]</c>. A view.</summary>
    public Tensor Permute(params int[] dims)
    {
        if (dims.Length != Rank)
            throw new ArgumentException($"Permute: {dims.Length} dims given for a tensor of rank {Rank} (shape {ShapeUtil.Format(ShapeArray)}).");
        var norm = dims.Select(d => ShapeUtil.NormalizeDim("Permute", d, Rank, ShapeArray)).ToArray();
        if (norm.Distinct().Count() != Rank)
            throw new ArgumentException($"Permute: [{string.Join(",", dims)}] is not a permutation of the {Rank} dims.");
        var inverse = new int[Rank];
        for (int i = 0; i < Rank; i++) inverse[norm[i]] = i;
        return MakeView("Permute", norm.Select(d => ShapeArray[d]).ToArray(), norm.Select(d => StrideArray[d]).ToArray(), Offset,
            g => [g.Permute(inverse)]);
    }

    /// <summary>Swaps two dims. A view.</summary>
    public Tensor Transpose(int dim0, int dim1)
    {
        int a = ShapeUtil.NormalizeDim("Transpose", dim0, Rank, ShapeArray);
        int b = ShapeUtil.NormalizeDim("Transpose", dim1, Rank, ShapeArray);
        var perm = Enumerable.Range(0, Rank).ToArray();
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return Permute(perm);
    }

    /// <summary>The transpose of a 2-D tensor (of a 0-D or 1-D tensor, an <see cref="Alias"/>), as PyTorch's <c>.T</c> for matrices. A view the caller owns.</summary>
    public Tensor T => Rank < 2 ? Alias()
        : Rank == 2 ? Transpose(0, 1)
        : throw new InvalidOperationException($"T: defined for tensors of rank ≤ 2; this one has shape {ShapeUtil.Format(ShapeArray)}. Use Transpose(dim0, dim1) or Permute.");

    /// <summary>Elements [start, start + length) of dim <paramref name="dim"/>. A view.</summary>
    public Tensor Narrow(int dim, int start, int length)
    {
        int d = ShapeUtil.NormalizeDim("Narrow", dim, Rank, ShapeArray);
        if (Rank == 0) throw new ArgumentException("Narrow: cannot narrow a 0-dimensional tensor.");
        if (start < 0) start += ShapeArray[d];
        if (start < 0 || length < 0 || start + length > ShapeArray[d])
            throw new ArgumentOutOfRangeException(nameof(start), $"Narrow: range [{start}, {start + length}) is outside dim {d} of size {ShapeArray[d]} (shape {ShapeUtil.Format(ShapeArray)}).");
        var shape = (int[])ShapeArray.Clone();
        shape[d] = length;
        var inputShape = ShapeArray;
        return MakeView("Narrow", shape, StrideArray, Offset + (long)start * StrideArray[d],
            g => [g.EmbedInto(inputShape, d, start)]);
    }

    /// <summary>Index <paramref name="index"/> of dim <paramref name="dim"/>, with that dim removed. A view.</summary>
    public Tensor Select(int dim, int index)
    {
        int d = ShapeUtil.NormalizeDim("Select", dim, Rank, ShapeArray);
        if (index < -ShapeArray[d] || index >= ShapeArray[d])
            throw new ArgumentOutOfRangeException(nameof(index), $"Select: index {index} is out of range for dim {d} of size {ShapeArray[d]} (shape {ShapeUtil.Format(ShapeArray)}).");
        return Composite(() => Narrow(d, index < 0 ? index + ShapeArray[d] : index, 1).Squeeze(d));
    }

    /// <summary>Row <paramref name="index"/> along the first dim (<c>x[i]</c>), a view.</summary>
    [System.Runtime.CompilerServices.IndexerName("At")]
    public Tensor this[int index] => Select(0, index);

    /// <summary>
    /// Zeros of <paramref name="shape"/> with this tensor written into [start, start + size) of dim
    /// <paramref name="dim"/>: the adjoint of <see cref="Narrow"/>, so its VJP is Narrow.
    /// </summary>
    internal Tensor EmbedInto(int[] shape, int dim, int start)
    {
        var y = Zeros(shape, DType, Device);
        if (NumElements > 0)
        {
            var target = new Kernels.StridedView(y.Buffer, ShapeArray, y.StrideArray, (long)start * y.StrideArray[dim]);
            Backend.Copy(AsView(), target);
        }
        int length = ShapeArray[dim];
        return Record(y, "EmbedInto", [this], g => [g.Narrow(dim, start, length)]);
    }

    /// <summary>Broadcasts size-1 dims (and new leading dims) to <paramref name="shape"/>; −1 keeps a dim. A view with zero strides.</summary>
    public Tensor Expand(params int[] shape)
    {
        ThrowIfDisposed("Expand");
        if (shape.Length < Rank)
            throw new ArgumentException($"Expand: target {ShapeUtil.Format(shape)} has fewer dims than the tensor's shape {ShapeUtil.Format(ShapeArray)}.");
        var target = (int[])shape.Clone();
        int lead = target.Length - Rank;
        for (int i = 0; i < target.Length; i++)
        {
            if (target[i] == -1)
            {
                if (i < lead) throw new ArgumentException($"Expand: -1 is not allowed for the new leading dim {i} in {ShapeUtil.Format(shape)}.");
                target[i] = ShapeArray[i - lead];
            }
            else if (i >= lead && ShapeArray[i - lead] != 1 && ShapeArray[i - lead] != target[i])
                throw new ArgumentException($"Expand: the tensor's shape {ShapeUtil.Format(ShapeArray)} cannot be expanded to {ShapeUtil.Format(shape)}: dim {i - lead} has size {ShapeArray[i - lead]}, which is neither 1 nor {target[i]}.");
        }
        ShapeUtil.CheckShape("Expand", target);
        var inputShape = ShapeArray;
        return MakeView("Expand", target, ShapeUtil.BroadcastStrides(ShapeArray, StrideArray, target), Offset,
            g => [g.SumToShape(inputShape)]);
    }

    /// <summary>Expands to the shape of <paramref name="other"/>.</summary>
    public Tensor ExpandAs(Tensor other) => Expand(other.ShapeArray);

    /// <summary>Removes every size-1 dim (or only <paramref name="dim"/> when given and of size 1). A view.</summary>
    public Tensor Squeeze(int? dim = null)
    {
        int[] keep;
        if (dim is { } dd)
        {
            int d = ShapeUtil.NormalizeDim("Squeeze", dd, Rank, ShapeArray);
            if (Rank == 0 || ShapeArray[d] != 1) return ViewWith("Squeeze", ShapeArray, StrideArray);
            keep = Enumerable.Range(0, Rank).Where(i => i != d).ToArray();
        }
        else keep = Enumerable.Range(0, Rank).Where(i => ShapeArray[i] != 1).ToArray();
        return ViewWith("Squeeze", keep.Select(i => ShapeArray[i]).ToArray(), keep.Select(i => StrideArray[i]).ToArray());
    }

    /// <summary>Inserts a size-1 dim at <paramref name="dim"/> (−1 appends). A view.</summary>
    public Tensor Unsqueeze(int dim)
    {
        int d = dim < 0 ? dim + Rank + 1 : dim;
        if (d < 0 || d > Rank)
            throw new ArgumentOutOfRangeException(nameof(dim), $"Unsqueeze: dim {dim} is out of range for a tensor of shape {ShapeUtil.Format(ShapeArray)} (expected {-Rank - 1}..{Rank}).");
        var shape = ShapeArray.ToList();
        var strides = StrideArray.ToList();
        shape.Insert(d, 1);
        strides.Insert(d, d < Rank ? StrideArray[d] * ShapeArray[d] : 1);
        return ViewWith("Unsqueeze", shape.ToArray(), strides.ToArray());
    }
}
