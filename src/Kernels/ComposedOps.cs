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

    /// <summary>SGD with momentum through three in-place passes (copy or scale, axpy into the buffer, axpy into the parameter).</summary>
    public static void SgdMomentumStep(IBackend backend, StridedView param, StridedView grad, StridedView buffer, double learningRate, double momentum, double dampening, bool firstStep)
    {
        if (firstStep) backend.Copy(grad, buffer);
        else
        {
            backend.Unary(UnaryOp.Affine, buffer, buffer, momentum, 0);
            backend.AddScaled(buffer, grad, 1 - dampening);
        }
        backend.AddScaled(param, buffer, -learningRate);
    }
}
