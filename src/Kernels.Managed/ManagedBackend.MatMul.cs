namespace GpuNet.Kernels.Managed;

internal sealed unsafe partial class ManagedBackend
{
    /// <inheritdoc />
    public void MatMul(StridedView a, StridedView b, StridedView c) => MatMulCore("MatMul", a, b, c, null, Activation.None);

    /// <inheritdoc />
    /// <remarks>The bias and activation are applied to each register tile of c as the GEMM finishes it.</remarks>
    public void MatMulEpilogue(StridedView a, StridedView b, StridedView c, StridedView? bias, Activation activation) =>
        MatMulCore("MatMulEpilogue", a, b, c, bias, activation);

    private void MatMulCore(string op, in StridedView a, in StridedView b, in StridedView c, StridedView? bias, Activation activation)
    {
        CheckView(a, op);
        CheckView(b, op);
        CheckView(c, op);
        if (a.Rank != 3 || b.Rank != 3 || c.Rank != 3)
            throw new ArgumentException($"{op}: operands must be rank-3 [batch, rows, cols] views, got {a}, {b}, {c}.");
        int batch = c.Shape[0], m = c.Shape[1], n = c.Shape[2], k = a.Shape[2];
        if (a.Shape[0] != batch || b.Shape[0] != batch || a.Shape[1] != m || b.Shape[2] != n || b.Shape[1] != k)
            throw new ArgumentException($"{op}: [{string.Join(",", a.Shape)}] x [{string.Join(",", b.Shape)}] -> [{string.Join(",", c.Shape)}]: shapes do not chain as [batch,m,k] x [batch,k,n] -> [batch,m,n].");
        CheckSameDType(op, a, b, c);
        if (bias is { } bv)
        {
            CheckView(bv, op);
            if (bv.Rank != 3 || bv.Shape[0] != batch || bv.Shape[1] != m || bv.Shape[2] != n)
                throw new ArgumentException($"{op}: bias {bv} must be broadcast to the output's shape [{batch},{m},{n}].");
            CheckSameDType(op, c, bv);
        }
        switch (c.DType)
        {
            case DType.Float32: Run<float>(a, b, c, bias, activation); break;
            case DType.Float64: Run<double>(a, b, c, bias, activation); break;
            default: throw IntNotSupported(op);
        }
    }

    private static void Run<T>(in StridedView a, in StridedView b, in StridedView c, StridedView? bias, Activation activation) where T : unmanaged, System.Numerics.INumber<T>
    {
        var epilogue = bias is { } bv
            ? new Epilogue<T>(Ptr<T>(bv), bv.Strides[0], bv.Strides[1], bv.Strides[2], activation)
            : new Epilogue<T>(null, 0, 0, 0, activation);
        Gemm.Batched(c.Shape[0], c.Shape[1], c.Shape[2], a.Shape[2], Ptr<T>(a), a.Strides[0], a.Strides[1], a.Strides[2],
            Ptr<T>(b), b.Strides[0], b.Strides[1], b.Strides[2], Ptr<T>(c), c.Strides[0], c.Strides[1], c.Strides[2], epilogue);
    }
}
