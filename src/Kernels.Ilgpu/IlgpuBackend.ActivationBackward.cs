using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels.Ilgpu;

internal sealed partial class IlgpuBackend
{
    /// <inheritdoc />
    /// <remarks>One elementwise launch for dz, then the row sum through <see cref="Reduce"/> (the composed body takes three or four launches).</remarks>
    public void ActivationBackward(StridedView grad, StridedView output, Activation activation, StridedView dz, StridedView? biasGrad)
    {
        const string name = "ActivationBackward";
        Check(name, grad, null, "grad");
        Check(name, output, grad.DType, "output");
        Check(name, dz, grad.DType, "dz");
        RequireRank(name, grad, 2, "grad = [rows, features]");
        SameShape(name, output, grad);
        SameShape(name, dz, grad);
        if (!grad.DType.IsFloating()) throw new NotSupportedException($"{name}: needs floating gradients, got int32 {Shape(grad)}.");
        int rows = grad.Shape[0], features = grad.Shape[1];
        if (biasGrad is { } db)
        {
            Check(name, db, grad.DType, "biasGrad");
            if (db.Rank != 1 || db.Shape[0] != features) throw new ArgumentException($"{name}: biasGrad {Shape(db)} must be [{features}].");
        }
        if (Elements(name, grad, out int count))
        {
            var (d, s) = Geo.Build(grad.Shape, grad, output, dz);
            int act = ActCode(name, activation);
            if (grad.DType == DType.Float32) RunActivationGrad<float>(grad, output, dz, count, d, s, act);
            else RunActivationGrad<double>(grad, output, dz, count, d, s, act);
        }
        if (biasGrad is { } b)
            Reduce(ReduceOp.Sum, new StridedView(dz.Buffer, [1, rows, features], [0, dz.Strides[0], dz.Strides[1]], dz.Offset),
                new StridedView(b.Buffer, [1, features], [0, b.Strides[0]], b.Offset));
    }

    private void RunActivationGrad<T>(StridedView grad, StridedView output, StridedView dz, int count, Dims8 d, Strides8[] s, int activation) where T : unmanaged =>
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, Dims8, Strides8, Strides8, Strides8, int>>(
            "ActivationBackward", KernelDefinitions.ActivationGrad, typeof(T), typeof(Act))
            (_stream, count, View<T>(grad), View<T>(output), View<T>(dz), d, s[0], s[1], s[2], activation);
}
