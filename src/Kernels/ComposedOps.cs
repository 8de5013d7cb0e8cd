namespace GpuNet.Kernels;

/// <summary>
/// Fused ops written in the primitive ops: the default bodies of <see cref="IBackend"/>'s fused
/// members, and the fallback a backend's fused kernel takes for layouts it does not specialise.
/// </summary>
public static class ComposedOps
{
    /// <summary>y ← y + alpha·x through a scaled copy of x (two launches, one temporary).</summary>
    public static void AddScaled(IBackend backend, StridedView y, StridedView x, double alpha)
    {
        if (alpha == 1)
        {
            backend.Binary(BinaryOp.Add, y, x, y);
            return;
        }
        using var scaledBuffer = backend.Allocate(y.DType, y.Count);
        var scaled = StridedView.Contiguous(scaledBuffer, y.Shape);
        backend.Unary(UnaryOp.Affine, x, scaled, alpha, 0);
        backend.Binary(BinaryOp.Add, y, scaled, y);
    }
}
