using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels.Ilgpu;

internal sealed partial class IlgpuBackend
{
    /// <inheritdoc />
    public void Reduce(ReduceOp op, StridedView x, StridedView y)
    {
        string name = $"Reduce({op})";
        bool arg = op is ReduceOp.ArgMax or ReduceOp.ArgMin;
        Check(name, x, null, "x");
        Check(name, y, arg ? DType.Int32 : x.DType, "y");
        RequireRank(name, x, 3, "x = [outer, n, inner]");
        int outer = x.Shape[0], n = x.Shape[1], inner = x.Shape[2];
        var ay = ReducedAxis(name, y, outer, inner);
        if ((long)outer * inner == 0) return;
        if (n == 0)
        {
            if (op != ReduceOp.Sum) throw new ArgumentException($"{name}: cannot reduce an empty axis (x {Shape(x)}); only Sum of nothing is defined (0).");
            Fill(y, 0);
            return;
        }
        switch (x.DType)
        {
            case DType.Float32: RunReduce<float>(name, op, x, y, ay); break;
            case DType.Float64: RunReduce<double>(name, op, x, y, ay); break;
            default: RunReduce<int>(name, op, x, y, ay); break;
        }
    }

    private void RunReduce<T>(string name, ReduceOp op, StridedView x, StridedView y, Axis3 ay) where T : unmanaged, INumber<T>
    {
        int outer = x.Shape[0], n = x.Shape[1], inner = x.Shape[2];
        long rows = (long)outer * inner;
        // Few long rows: give each row `lanes` interleaved partial reductions, then reduce the partials.
        int lanes = 1;
        if (rows < SplitRows && n >= SplitMinN)
            lanes = (int)Math.Clamp(_splitTargetThreads / rows, 1, n / SplitMinPerLane);
        CheckLaunchSize(name, rows * lanes);
        var ax = Axis3.Of(x);
        var pass1 = new Rows { Outer = outer, N = n, Inner = inner, M = lanes };
        int threads1 = (int)(rows * lanes);
        var dense = new Axis3 { Offset = 0, SO = lanes * inner, SN = inner, SI = 1 };

        bool rowGroups = lanes == 1 && UseRowGroups(n, inner, ax.SI, rows);
        var groupLaunch = new KernelConfig((int)Math.Min(rows, int.MaxValue), _rowGroup);

        if (op is ReduceOp.Sum or ReduceOp.Max or ReduceOp.Min)
        {
            var red = op switch { ReduceOp.Sum => typeof(SumRed<T>), ReduceOp.Max => typeof(MaxRed<T>), _ => typeof(MinRed<T>) };
            if (rowGroups)
            {
                Kernel<Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<T>, Rows, Axis3, Axis3>>(name, KernelDefinitions.ReduceRows, typeof(T), red)
                    (_stream, groupLaunch, View<T>(x), View<T>(y), pass1, ax, ay);
                return;
            }
            var kernel = Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, Rows, Axis3, Axis3>>(name, KernelDefinitions.Reduce, typeof(T), red);
            if (lanes == 1)
            {
                kernel(_stream, threads1, View<T>(x), View<T>(y), pass1, ax, ay);
                return;
            }
            // Disposing temporaries right after queuing is safe: all work is on one in-order stream,
            // so whoever rents the memory next is queued after these kernels.
            using var partial = Allocate(x.DType, rows * lanes);
            kernel(_stream, threads1, View<T>(x), ((IlgpuBuffer)partial).View<T>(), pass1, ax, dense);
            var pass2 = new Rows { Outer = outer, N = lanes, Inner = inner, M = 1 };
            // Many lanes per row (a whole-tensor sum has a quarter million): one group per row, not one thread.
            if (UseRowGroups(lanes, inner, 1, rows))
                Kernel<Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<T>, Rows, Axis3, Axis3>>(name, KernelDefinitions.ReduceRows, typeof(T), red)
                    (_stream, groupLaunch, ((IlgpuBuffer)partial).View<T>(), View<T>(y), pass2, dense, ay);
            else
                kernel(_stream, (int)rows, ((IlgpuBuffer)partial).View<T>(), View<T>(y), pass2, dense, ay);
        }
        else
        {
            var cmp = op == ReduceOp.ArgMax ? typeof(ArgMaxCmp<T>) : typeof(ArgMinCmp<T>);
            if (rowGroups)
            {
                Kernel<Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<int>, Rows, Axis3, Axis3>>(name, KernelDefinitions.ArgReduceRows, typeof(T), cmp)
                    (_stream, groupLaunch, View<T>(x), View<int>(y), pass1, ax, ay);
                return;
            }
            var kernel = Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<int>, Rows, Axis3, Axis3, Axis3, int>>(name, KernelDefinitions.ArgReduce, typeof(T), cmp);
            if (lanes == 1)
            {
                kernel(_stream, threads1, View<T>(x), View<T>(x), View<int>(y), pass1, ax, default, ay, 0);
                return;
            }
            using var vals = Allocate(x.DType, rows * lanes);
            using var idx = Allocate(DType.Int32, rows * lanes);
            kernel(_stream, threads1, View<T>(x), ((IlgpuBuffer)vals).View<T>(), ((IlgpuBuffer)idx).View<int>(), pass1, ax, dense, dense, 1);
            var finish = Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<int>, ArrayView<int>, Rows, Axis3>>(name, KernelDefinitions.ArgFinish, typeof(T), cmp);
            finish(_stream, (int)rows, ((IlgpuBuffer)vals).View<T>(), ((IlgpuBuffer)idx).View<int>(), View<int>(y), new Rows { Outer = outer, N = lanes, Inner = inner, M = lanes }, ay);
        }
    }
}
