using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace GpuNet.Kernels.Managed;

public sealed unsafe partial class ManagedBackend
{
    /// <inheritdoc />
    public void Reduce(ReduceOp op, StridedView x, StridedView y)
    {
        string name = $"Reduce {op}";
        CheckView(x, name);
        CheckView(y, name);
        if (x.Rank != 3) throw new ArgumentException($"{name}: x must be a rank-3 [outer, n, inner] view, got {x}.");
        int outer = x.Shape[0], n = x.Shape[1], inner = x.Shape[2];
        var (ys0, ys2) = OuterInnerStrides(y, outer, inner, name);
        bool arg = op is ReduceOp.ArgMax or ReduceOp.ArgMin;
        if (arg ? y.DType != DType.Int32 : y.DType != x.DType)
            throw new ArgumentException($"{name}: output dtype {y.DType.Name()} is wrong; expected {(arg ? DType.Int32 : x.DType).Name()}.");
        if (n == 0 && op != ReduceOp.Sum)
            throw new ArgumentException($"{name}: cannot reduce an empty axis of {x} (only Sum is defined there).");
        if ((long)outer * inner == 0) return;
        var job = new ReduceJob(op, x, y, ys0, ys2);
        switch (x.DType)
        {
            case DType.Float32: RunReduce<float>(job); break;
            case DType.Float64: RunReduce<double>(job); break;
            default: RunReduce<int>(job); break;
        }
    }

    /// <summary>Strides of an [outer, inner] output, accepting [outer, inner], [outer, 1, inner] or any dense view of outer·inner elements.</summary>
    private static (long Outer, long Inner) OuterInnerStrides(in StridedView y, int outer, int inner, string op)
    {
        if (y.Rank == 2 && y.Shape[0] == outer && y.Shape[1] == inner) return (y.Strides[0], y.Strides[1]);
        if (y.Rank == 3 && y.Shape[0] == outer && y.Shape[1] == 1 && y.Shape[2] == inner) return (y.Strides[0], y.Strides[2]);
        if (y.Count == (long)outer * inner && y.IsContiguous) return (inner, 1);
        throw new ArgumentException($"{op}: output {y} does not have shape [{outer},{inner}].");
    }

    private readonly record struct ReduceJob(ReduceOp Op, StridedView X, StridedView Y, long Ys0, long Ys2);

    private static void RunReduce<T>(ReduceJob job) where T : unmanaged, INumber<T>
    {
        int outer = job.X.Shape[0], n = job.X.Shape[1], inner = job.X.Shape[2];
        long work = (long)outer * Math.Max(n, 1) * inner;
        if (work < StridedLoop.ParallelThreshold || Environment.ProcessorCount == 1)
        {
            ReduceBlock<T>(job, 0, outer, 0, inner);
            return;
        }
        // Split whichever of outer / inner offers the parallelism; each task owns disjoint outputs.
        int tasks = Environment.ProcessorCount * 4;
        if (outer >= tasks || outer >= inner)
        {
            int per = (outer + tasks - 1) / tasks;
            Parallel.For(0, (outer + per - 1) / per, t => ReduceBlock<T>(job, t * per, Math.Min(outer, (t + 1) * per), 0, inner));
        }
        else
        {
            int per = Math.Max(64, (inner + tasks - 1) / tasks);
            Parallel.For(0, (inner + per - 1) / per, t => ReduceBlock<T>(job, 0, outer, t * per, Math.Min(inner, (t + 1) * per)));
        }
    }

    private static void ReduceBlock<T>(ReduceJob job, int o0, int o1, int i0, int i1) where T : unmanaged, INumber<T>
    {
        var x = job.X;
        int n = x.Shape[1];
        long xs0 = x.Strides[0], xs1 = x.Strides[1], xs2 = x.Strides[2];
        T* px = Ptr<T>(x);
        byte* py = ((ManagedBuffer)job.Y.Buffer).Pointer + job.Y.Offset * job.Y.DType.SizeOf();
        bool arg = job.Op is ReduceOp.ArgMax or ReduceOp.ArgMin;
        int width = i1 - i0;

        if (n == 0)
        {
            for (int o = o0; o < o1; o++)
                for (int i = i0; i < i1; i++) ((T*)py)[o * job.Ys0 + i * job.Ys2] = T.Zero;
            return;
        }

        if (xs2 == 1 && xs1 != 1 && width > 1)
        {
            // Rows along inner are dense: fold whole rows with SIMD into a scratch row, the
            // cache-friendly order when reducing over a leading axis.
            T[] bestArr = ArrayPool<T>.Shared.Rent(width);
            int[]? idxArr = arg ? ArrayPool<int>.Shared.Rent(width) : null;
            try
            {
                var best = bestArr.AsSpan(0, width);
                for (int o = o0; o < o1; o++)
                {
                    T* row = px + o * xs0 + i0;
                    new ReadOnlySpan<T>(row, width).CopyTo(best);
                    if (arg) idxArr.AsSpan(0, width).Clear();
                    for (int j = 1; j < n; j++)
                    {
                        var r = new ReadOnlySpan<T>(row + j * xs1, width);
                        switch (job.Op)
                        {
                            case ReduceOp.Sum: TensorPrimitives.Add(best, r, best); break;
                            case ReduceOp.Max: TensorPrimitives.Max(best, r, best); break;
                            case ReduceOp.Min: TensorPrimitives.Min(best, r, best); break;
                            default:
                                bool isMax = job.Op == ReduceOp.ArgMax;
                                for (int i = 0; i < width; i++)
                                    if (Better(r[i], best[i], isMax)) { best[i] = r[i]; idxArr![i] = j; }
                                break;
                        }
                    }
                    for (int i = 0; i < width; i++)
                    {
                        long at = o * job.Ys0 + (i0 + i) * job.Ys2;
                        if (arg) ((int*)py)[at] = idxArr![i];
                        else ((T*)py)[at] = best[i];
                    }
                }
            }
            finally
            {
                ArrayPool<T>.Shared.Return(bestArr);
                if (idxArr != null) ArrayPool<int>.Shared.Return(idxArr);
            }
            return;
        }

        for (int o = o0; o < o1; o++)
            for (int i = i0; i < i1; i++)
            {
                T* row = px + o * xs0 + i * xs2;
                long at = o * job.Ys0 + i * job.Ys2;
                if (arg) ((int*)py)[at] = ArgExtreme(row, xs1, n, job.Op == ReduceOp.ArgMax);
                else ((T*)py)[at] = ReduceRow(job.Op, row, xs1, n);
            }
    }

    /// <summary>True when v should replace the running extreme: strictly better, or the first NaN (NaN ranks as the extreme, as in PyTorch).</summary>
    private static bool Better<T>(T v, T best, bool isMax) where T : INumber<T> =>
        !T.IsNaN(best) && (T.IsNaN(v) || (isMax ? v > best : v < best));

    private static int ArgExtreme<T>(T* row, long stride, int n, bool isMax) where T : unmanaged, INumber<T>
    {
        T best = row[0];
        int bi = 0;
        for (int j = 1; j < n && !T.IsNaN(best); j++)
        {
            T v = row[j * stride];
            if (Better(v, best, isMax)) { best = v; bi = j; }
        }
        return bi;
    }

    private static T ReduceRow<T>(ReduceOp op, T* row, long stride, int n) where T : unmanaged, INumber<T>
    {
        if (stride == 1)
        {
            var s = new ReadOnlySpan<T>(row, n);
            return op switch
            {
                ReduceOp.Sum => SumSpan(s),
                ReduceOp.Max => TensorPrimitives.Max(s),
                _ => TensorPrimitives.Min(s),
            };
        }
        T acc = row[0];
        if (op == ReduceOp.Sum)
        {
            if (typeof(T) == typeof(float))
            {
                double d = 0;
                for (int j = 0; j < n; j++) d += double.CreateTruncating(row[j * stride]);
                return T.CreateTruncating(d);
            }
            for (int j = 1; j < n; j++) acc += row[j * stride];
            return acc;
        }
        bool isMax = op == ReduceOp.Max;
        for (int j = 1; j < n && !T.IsNaN(acc); j++)
        {
            T v = row[j * stride];
            if (Better(v, acc, isMax)) acc = v;
        }
        return acc;
    }

    /// <summary>
    /// Sum of a dense span. Float32 sums are taken in blocks whose partial sums add up in double, so a
    /// long reduction keeps float accuracy instead of losing a bit per doubling of length.
    /// </summary>
    internal static T SumSpan<T>(ReadOnlySpan<T> s) where T : unmanaged, INumber<T>
    {
        if (typeof(T) != typeof(float) || s.Length <= 4096) return TensorPrimitives.Sum(s);
        var f = MemoryMarshal.Cast<T, float>(s);
        double acc = 0;
        for (int i = 0; i < f.Length; i += 4096) acc += TensorPrimitives.Sum(f.Slice(i, Math.Min(4096, f.Length - i)));
        return T.CreateTruncating(acc);
    }
}
