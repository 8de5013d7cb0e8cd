using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels.Ilgpu;

internal sealed partial class IlgpuBackend
{
    /// <inheritdoc />
    public void Binary(BinaryOp op, StridedView a, StridedView b, StridedView y)
    {
        string name = $"Binary({op})";
        Check(name, a, null, "a");
        Check(name, b, a.DType, "b");
        Check(name, y, a.DType, "y");
        SameShape(name, a, y);
        SameShape(name, b, y);
        var opType = op switch
        {
            BinaryOp.Add => typeof(AddOp),
            BinaryOp.Sub => typeof(SubOp),
            BinaryOp.Mul => typeof(MulOp),
            BinaryOp.Div => typeof(DivOp),
            BinaryOp.Pow => typeof(PowOp),
            BinaryOp.Maximum => typeof(MaximumOp),
            BinaryOp.Minimum => typeof(MinimumOp),
            BinaryOp.Gt => typeof(GtOp),
            BinaryOp.Ge => typeof(GeOp),
            BinaryOp.Lt => typeof(LtOp),
            BinaryOp.Le => typeof(LeOp),
            BinaryOp.Eq => typeof(EqOp),
            BinaryOp.Ne => typeof(NeOp),
            _ => throw new ArgumentOutOfRangeException(nameof(op), $"Binary: unknown op {op}."),
        };
        switch (a.DType)
        {
            case DType.Float32: RunBinary<float>(name, opType, a, b, y); break;
            case DType.Float64: RunBinary<double>(name, opType, a, b, y); break;
            default: RunBinary<int>(name, opType, a, b, y); break;
        }
    }

    private void RunBinary<T>(string name, Type opType, StridedView a, StridedView b, StridedView y) where T : unmanaged
    {
        if (Elements(name, y, out int count) && Geo.Build(y.Shape, a, b, y) is var (dd, ds) && Dense(dd, ds))
        {
            Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>>>(name, KernelDefinitions.BinaryDense, typeof(T), opType)
                (_stream, count, Run<T>(a, ds[0], count), Run<T>(b, ds[1], count), Run<T>(y, ds[2], count));
            return;
        }
        var kernel = Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, Dims8, Strides8, Strides8, Strides8>>(name, KernelDefinitions.Binary, typeof(T), opType);
        if (!Elements(name, y, out int n)) return;
        var (d, s) = Geo.Build(y.Shape, a, b, y);
        kernel(_stream, n, View<T>(a), View<T>(b), View<T>(y), d, s[0], s[1], s[2]);
    }
}
