using GpuNet.Kernels;

namespace GpuNet;

public sealed partial class Tensor
{
    /// <summary>
    /// Matrix product with PyTorch's rules: 1-D × 1-D is a dot product, a 1-D operand is treated as a
    /// row (left) or column (right) vector and that dim is removed from the result, and leading batch
    /// dims broadcast. Transposed operands are passed to the kernel as strides, never copied.
    /// </summary>
    public Tensor MatMul(Tensor other)
    {
        ThrowIfDisposed("MatMul");
        other.ThrowIfDisposed("MatMul");
        CheckSameDevice("MatMul", this, other);
        if (Rank == 0 || other.Rank == 0)
            throw new ArgumentException($"MatMul: {ShapeUtil.Format(ShapeArray)} x {ShapeUtil.Format(other.ShapeArray)}: both operands need at least one dim.");
        if (Rank == 1 && other.Rank == 1)
        {
            if (ShapeArray[0] != other.Shape[0])
                throw new ArgumentException($"MatMul: {ShapeUtil.Format(ShapeArray)} x {ShapeUtil.Format(other.ShapeArray)}: inner dimensions {ShapeArray[0]} and {other.ShapeArray[0]} differ.");
            return Composite(() => Unsqueeze(0).MatMul(other.Unsqueeze(1)).Reshape([]));
        }
        if (Rank == 1) return Composite(() => Unsqueeze(0).MatMul(other).Squeeze(-2));
        if (other.Rank == 1) return Composite(() => MatMul(other.Unsqueeze(1)).Squeeze(-1));
        return BatchedMatMul(this, other);
    }

    // Both operands have rank ≥ 2 here: [..., m, k] x [..., k, n] with broadcast batch dims.
    private static Tensor BatchedMatMul(Tensor a, Tensor b)
    {
        int m = a.Shape[^2], k = a.Shape[^1], k2 = b.Shape[^2], n = b.Shape[^1];
        if (k != k2)
            throw new ArgumentException($"MatMul: {ShapeUtil.Format(a.ShapeArray)} x {ShapeUtil.Format(b.ShapeArray)}: inner dimensions {k} and {k2} differ.");
        var dtype = Promote(a.DType, b.DType);
        if (!dtype.IsFloating())
            throw new NotSupportedException($"MatMul: {ShapeUtil.Format(a.ShapeArray)} x {ShapeUtil.Format(b.ShapeArray)}: dtype int32 is not supported (expected float32 or float64).");
        if (a.DType != b.DType)
            throw new ArgumentException($"MatMul: {ShapeUtil.Format(a.ShapeArray)} {a.DType.Name()} x {ShapeUtil.Format(b.ShapeArray)} {b.DType.Name()}: dtypes differ; convert one with To(DType).");
        int[] batch;
        try { batch = ShapeUtil.BroadcastShape("MatMul", a.ShapeArray[..^2], b.ShapeArray[..^2]); }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"MatMul: {ShapeUtil.Format(a.ShapeArray)} x {ShapeUtil.Format(b.ShapeArray)}: batch dims {ShapeUtil.Format(a.ShapeArray[..^2])} and {ShapeUtil.Format(b.ShapeArray[..^2])} cannot be broadcast.", e);
        }
        int[] outShape = [.. batch, m, n];
        ShapeUtil.CheckShape("MatMul", outShape);
        var y = Empty(outShape, dtype, a.Device, "MatMul");
        if (y.NumElements > 0)
        {
            var va = BatchView(a, batch, out var ca);
            var vb = BatchView(b, batch, out var cb);
            using (ca)
            using (cb)
            {
                int batchCount = (int)ShapeUtil.Count(batch);
                if (k == 0) a.Backend.Fill(y.AsView(), 0);
                else a.Backend.MatMul(va, vb, StridedView.Contiguous(y.Buffer, [batchCount, m, n]));
            }
        }
        var aShape = a.ShapeArray;
        var bShape = b.ShapeArray;
        return Record(y, "MatMul", [a, b], [a, b], (g, s) =>
        [
            s[0].RequiresGrad ? g.MatMul(s[1].Transpose(-1, -2)).SumToShape(aShape) : null,
            s[1].RequiresGrad ? s[0].Transpose(-1, -2).MatMul(g).SumToShape(bShape) : null,
        ]);
    }

    // The operand as [batch, rows, cols] for the kernel: broadcast batch dims get stride 0, and
    // batch dims that cannot be expressed by one stride are materialised.
    private static StridedView BatchView(Tensor t, int[] batch, out Tensor? copy)
    {
        copy = null;
        int[] full = [.. batch, t.Shape[^2], t.Shape[^1]];
        var strides = ShapeUtil.BroadcastStrides(t.ShapeArray, t.StrideArray, full);
        int rank = full.Length;
        if (ShapeUtil.TryCollapse(full, strides, 0, rank - 2, out int count, out int stride))
            return new StridedView(t.Buffer, [count, full[^2], full[^1]], [stride, strides[^2], strides[^1]], t.Offset);
        var expanded = new StridedView(t.Buffer, full, strides, t.Offset);
        copy = Empty(full, t.DType, t.Device, "MatMul");
        t.Backend.Copy(expanded, copy.AsView());
        return new StridedView(copy.Buffer, [count, full[^2], full[^1]], [full[^2] * full[^1], full[^1], 1], 0);
    }
}
