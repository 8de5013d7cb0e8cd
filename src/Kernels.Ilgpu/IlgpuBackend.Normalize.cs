using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels.Ilgpu;

internal sealed partial class IlgpuBackend
{
    /// <inheritdoc />
    /// <remarks>One launch, one thread per row: a pass for the statistics and one for the output.</remarks>
    public void Normalize(StridedView x, StridedView y, StridedView mean, StridedView rstd, double epsilon)
    {
        const string name = "Normalize";
        CheckNormalize(name, x, y, mean, rstd, "y");
        int rows = x.Shape[0];
        if (rows == 0) return;
        CheckLaunchSize(name, rows);
        var r = new Rows { Outer = rows, N = x.Shape[1], Inner = 1, M = 1 };
        if (x.DType == DType.Float32) RunNormalize<float>(x, y, mean, rstd, r, epsilon);
        else RunNormalize<double>(x, y, mean, rstd, r, epsilon);
    }

    /// <inheritdoc />
    /// <remarks>One launch, one thread per row: a pass for the two means and one for dx.</remarks>
    public void NormalizeBackward(StridedView grad, StridedView normalized, StridedView rstd, StridedView dx)
    {
        const string name = "NormalizeBackward";
        CheckNormalize(name, grad, normalized, rstd, rstd, "normalized");
        Check(name, dx, grad.DType, "dx");
        SameShape(name, dx, grad);
        int rows = grad.Shape[0];
        if (rows == 0) return;
        CheckLaunchSize(name, rows);
        var r = new Rows { Outer = rows, N = grad.Shape[1], Inner = 1, M = 1 };
        if (grad.DType == DType.Float32) RunNormalizeBackward<float>(grad, normalized, rstd, dx, r);
        else RunNormalizeBackward<double>(grad, normalized, rstd, dx, r);
    }

    private void CheckNormalize(string name, StridedView x, StridedView y, StridedView mean, StridedView rstd, string yName)
    {
        Check(name, x, null, "x");
        Check(name, y, x.DType, yName);
        Check(name, mean, x.DType, "mean");
        Check(name, rstd, x.DType, "rstd");
        RequireRank(name, x, 2, "x = [rows, n]");
        SameShape(name, y, x);
        RequireRank(name, mean, 1, "mean = [rows]");
        RequireRank(name, rstd, 1, "rstd = [rows]");
        if (mean.Shape[0] != x.Shape[0] || rstd.Shape[0] != x.Shape[0])
            throw new ArgumentException($"{name}: the statistics {Shape(mean)} and {Shape(rstd)} must be [{x.Shape[0]}] for x {Shape(x)}.");
        if (!x.DType.IsFloating()) throw new NotSupportedException($"{name}: needs a floating dtype, got int32 for x {Shape(x)}.");
        if (x.Shape[1] == 0 && x.Shape[0] > 0) throw new ArgumentException($"{name}: rows of x {Shape(x)} are empty.");
    }

    private static Axis3 RowAxis(StridedView v) => new() { Offset = v.Offset, SO = v.Strides[0], SN = v.Rank > 1 ? v.Strides[1] : 0 };

    private void RunNormalize<T>(StridedView x, StridedView y, StridedView mean, StridedView rstd, Rows r, double epsilon) where T : unmanaged =>
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, Rows, Axis3, Axis3, Axis3, Axis3, double>>(
            "Normalize", KernelDefinitions.NormalizeRows, typeof(T), typeof(NormMath))
            (_stream, r.Outer, View<T>(x), View<T>(y), View<T>(mean), View<T>(rstd), r, RowAxis(x), RowAxis(y), RowAxis(mean), RowAxis(rstd), epsilon);

    private void RunNormalizeBackward<T>(StridedView grad, StridedView normalized, StridedView rstd, StridedView dx, Rows r) where T : unmanaged =>
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, Rows, Axis3, Axis3, Axis3, Axis3>>(
            "NormalizeBackward", KernelDefinitions.NormalizeBackwardRows, typeof(T), typeof(NormMath))
            (_stream, r.Outer, View<T>(grad), View<T>(normalized), View<T>(rstd), View<T>(dx), r, RowAxis(grad), RowAxis(normalized), RowAxis(rstd), RowAxis(dx));
}
