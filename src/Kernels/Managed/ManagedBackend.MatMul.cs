namespace GpuNet.Kernels.Managed;

public sealed unsafe partial class ManagedBackend
{
    /// <inheritdoc />
    public void MatMul(StridedView a, StridedView b, StridedView c)
    {
        CheckView(a, "MatMul");
        CheckView(b, "MatMul");
        CheckView(c, "MatMul");
        if (a.Rank != 3 || b.Rank != 3 || c.Rank != 3)
            throw new ArgumentException($"MatMul: operands must be rank-3 [batch, rows, cols] views, got {a}, {b}, {c}.");
        int batch = c.Shape[0], m = c.Shape[1], n = c.Shape[2], k = a.Shape[2];
        if (a.Shape[0] != batch || b.Shape[0] != batch || a.Shape[1] != m || b.Shape[2] != n || b.Shape[1] != k)
            throw new ArgumentException($"MatMul: [{string.Join(",", a.Shape)}] x [{string.Join(",", b.Shape)}] -> [{string.Join(",", c.Shape)}]: shapes do not chain as [batch,m,k] x [batch,k,n] -> [batch,m,n].");
        CheckSameDType("MatMul", a, b, c);
        switch (c.DType)
        {
            case DType.Float32:
                Gemm.Batched(batch, m, n, k, Ptr<float>(a), a.Strides[0], a.Strides[1], a.Strides[2],
                    Ptr<float>(b), b.Strides[0], b.Strides[1], b.Strides[2], Ptr<float>(c), c.Strides[0], c.Strides[1], c.Strides[2]);
                break;
            case DType.Float64:
                Gemm.Batched(batch, m, n, k, Ptr<double>(a), a.Strides[0], a.Strides[1], a.Strides[2],
                    Ptr<double>(b), b.Strides[0], b.Strides[1], b.Strides[2], Ptr<double>(c), c.Strides[0], c.Strides[1], c.Strides[2]);
                break;
            default:
                throw IntNotSupported("MatMul");
        }
    }
}
