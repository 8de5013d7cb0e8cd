using System.Reflection;
using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels.Ilgpu;

internal sealed partial class IlgpuBackend
{
    /// <inheritdoc />
    public void Gather(StridedView x, StridedView index, StridedView y)
    {
        Check("Gather", x, null, "x");
        Check("Gather", index, DType.Int32, "index");
        Check("Gather", y, x.DType, "y");
        RequireRank("Gather", x, 3, "x = [outer, n, inner]");
        RequireRank("Gather", index, 3, "index = [outer, m, inner]");
        SameShape("Gather", index, y);
        if (x.Shape[0] != y.Shape[0] || x.Shape[2] != y.Shape[2])
            throw new ArgumentException($"Gather: x {Shape(x)} and index {Shape(index)} must agree on the outer and inner dimensions.");
        var r = new Rows { Outer = y.Shape[0], N = x.Shape[1], M = y.Shape[1], Inner = y.Shape[2] };
        if (!Elements("Gather", y, out int count)) return;
        RunIndexed("Gather", KernelDefinitions.Gather, x, index, y, r, count);
    }

    /// <inheritdoc />
    public void ScatterAdd(StridedView src, StridedView index, StridedView y)
    {
        Check("ScatterAdd", src, null, "src");
        Check("ScatterAdd", index, DType.Int32, "index");
        Check("ScatterAdd", y, src.DType, "y");
        RequireRank("ScatterAdd", src, 3, "src = [outer, m, inner]");
        RequireRank("ScatterAdd", y, 3, "y = [outer, n, inner]");
        SameShape("ScatterAdd", index, src);
        if (src.Shape[0] != y.Shape[0] || src.Shape[2] != y.Shape[2])
            throw new ArgumentException($"ScatterAdd: src {Shape(src)} and y {Shape(y)} must agree on the outer and inner dimensions.");
        var r = new Rows { Outer = y.Shape[0], N = y.Shape[1], M = src.Shape[1], Inner = y.Shape[2] };
        if (!Elements("ScatterAdd", y, out int count)) return;
        RunIndexed("ScatterAdd", KernelDefinitions.ScatterAdd, src, index, y, r, count);
    }

    // Gather and ScatterAdd launch alike: kernel op<x dtype>(x, index, y) on count threads.
    private void RunIndexed(string op, MethodInfo kernel, StridedView x, StridedView index, StridedView y, Rows r, int count)
    {
        switch (x.DType)
        {
            case DType.Float32: RunIndexed<float>(op, kernel, x, index, y, r, count); break;
            case DType.Float64: RunIndexed<double>(op, kernel, x, index, y, r, count); break;
            default: RunIndexed<int>(op, kernel, x, index, y, r, count); break;
        }
    }

    private void RunIndexed<T>(string op, MethodInfo kernel, StridedView x, StridedView index, StridedView y, Rows r, int count) where T : unmanaged =>
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<int>, ArrayView<T>, Rows, Axis3, Axis3, Axis3>>(op, kernel, typeof(T))
            (_stream, count, View<T>(x), View<int>(index), View<T>(y), r, Axis3.Of(x), Axis3.Of(index), Axis3.Of(y));
}
