using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels.Ilgpu;

internal sealed partial class IlgpuBackend
{
    /// <inheritdoc />
    public void Softmax(StridedView x, StridedView y, bool log)
    {
        string name = log ? "LogSoftmax" : "Softmax";
        Check(name, x, null, "x");
        Check(name, y, x.DType, "y");
        RequireRank(name, x, 3, "x = [outer, n, inner]");
        SameShape(name, x, y);
        if (!x.DType.IsFloating()) throw new NotSupportedException($"{name}: needs a floating dtype, got int32 for x {Shape(x)}.");
        int outer = x.Shape[0], n = x.Shape[1], inner = x.Shape[2];
        long rows = (long)outer * inner;
        if (rows == 0 || n == 0) return;
        CheckLaunchSize(name, rows);
        var r = new Rows { Outer = outer, N = n, Inner = inner, M = n };
        if (x.DType == DType.Float32) RunSoftmax<float>(name, x, y, r, log);
        else RunSoftmax<double>(name, x, y, r, log);
    }

    private void RunSoftmax<T>(string name, StridedView x, StridedView y, Rows r, bool log) where T : unmanaged
    {
        long rows = (long)r.Outer * r.Inner;
        if (UseRowGroups(r.N, r.Inner, x.Strides[2], rows))
        {
            Kernel<Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<T>, Rows, Axis3, Axis3, int>>(name, KernelDefinitions.SoftmaxRows, typeof(T), typeof(ExpLog))
                (_stream, new KernelConfig((int)rows, _rowGroup), View<T>(x), View<T>(y), r, Axis3.Of(x), Axis3.Of(y), log ? 1 : 0);
            return;
        }
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, Rows, Axis3, Axis3, int>>(name, KernelDefinitions.Softmax, typeof(T), typeof(ExpLog))
            (_stream, r.Outer * r.Inner, View<T>(x), View<T>(y), r, Axis3.Of(x), Axis3.Of(y), log ? 1 : 0);
    }

    /// <summary>
    /// One group per row (rather than one thread) when the rows are long enough to give every thread of
    /// the group an element, unless the rows sit side by side in memory (inner ≥ 32 with unit inner
    /// stride): then one thread per row already reads coalesced, neighbouring threads taking
    /// neighbouring rows, and needs no barriers.
    /// </summary>
    private bool UseRowGroups(int n, int inner, int innerStride, long rows) =>
        n >= Math.Max(RowGroupMinN, _rowGroup) && !(inner >= 32 && Math.Abs(innerStride) == 1) && rows * _rowGroup <= int.MaxValue;
}

internal sealed partial class IlgpuBackend
{
    /// <inheritdoc />
    public void SoftmaxCrossEntropy(StridedView logits, StridedView labels, StridedView losses, StridedView? gradient, int? ignoreIndex = null)
    {
        const string name = "SoftmaxCrossEntropy";
        Check(name, logits, null, "logits");
        Check(name, labels, DType.Int32, "labels");
        Check(name, losses, logits.DType, "losses");
        RequireRank(name, logits, 2, "logits = [rows, classes]");
        RequireRank(name, labels, 1, "labels = [rows]");
        RequireRank(name, losses, 1, "losses = [rows]");
        if (!logits.DType.IsFloating()) throw new NotSupportedException($"{name}: needs floating logits, got int32 {Shape(logits)}.");
        int rows = logits.Shape[0], classes = logits.Shape[1];
        if (labels.Shape[0] != rows || losses.Shape[0] != rows)
            throw new ArgumentException($"{name}: logits {Shape(logits)}, labels {Shape(labels)} and losses {Shape(losses)} must agree on the rows ({rows}).");
        if (gradient is { } gv)
        {
            Check(name, gv, logits.DType, "gradient");
            SameShape(name, gv, logits);
        }
        if (rows == 0) return;
        if (classes == 0) throw new ArgumentException($"{name}: logits {Shape(logits)} have no classes.");
        CheckLaunchSize(name, rows);
        if (logits.DType == DType.Float32) RunXent<float>(logits, labels, losses, gradient, rows, classes, ignoreIndex);
        else RunXent<double>(logits, labels, losses, gradient, rows, classes, ignoreIndex);
    }

    private void RunXent<T>(StridedView logits, StridedView labels, StridedView losses, StridedView? gradient, int rows, int classes, int? ignoreIndex) where T : unmanaged
    {
        var r = new Rows { Outer = rows, N = classes, Inner = 1, M = 1 };
        int useIgnore = ignoreIndex is null ? 0 : 1, ignore = ignoreIndex ?? 0;
        var ax = new Axis3 { Offset = logits.Offset, SO = logits.Strides[0], SN = logits.Strides[1] };
        var al = new Axis3 { Offset = labels.Offset, SO = labels.Strides[0] };
        var aloss = new Axis3 { Offset = losses.Offset, SO = losses.Strides[0] };
        // Without a gradient the kernel never writes through it: pass the losses as a stand-in.
        var ag = gradient is { } g ? new Axis3 { Offset = g.Offset, SO = g.Strides[0], SN = g.Strides[1] } : default;
        var gradView = gradient is { } g2 ? View<T>(g2) : View<T>(losses);
        int writeGrad = gradient is null ? 0 : 1;
        if (UseRowGroups(classes, 1, 0, rows))
        {
            Kernel<Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<int>, ArrayView<T>, ArrayView<T>, Rows, Axis3, Axis3, Axis3, Axis3, int, int, int>>(
                "SoftmaxCrossEntropy", KernelDefinitions.SoftmaxXentRows, typeof(T), typeof(ExpLog))
                (_stream, new KernelConfig(rows, _rowGroup), View<T>(logits), View<int>(labels), View<T>(losses), gradView, r, ax, al, aloss, ag, writeGrad, useIgnore, ignore);
            return;
        }
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<int>, ArrayView<T>, ArrayView<T>, Rows, Axis3, Axis3, Axis3, Axis3, int, int, int>>(
            "SoftmaxCrossEntropy", KernelDefinitions.SoftmaxXent, typeof(T), typeof(ExpLog))
            (_stream, rows, View<T>(logits), View<int>(labels), View<T>(losses), gradView, r, ax, al, aloss, ag, writeGrad, useIgnore, ignore);
    }
}
