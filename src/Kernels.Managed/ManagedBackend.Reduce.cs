using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace GpuNet.Kernels.Managed;

internal sealed unsafe partial class ManagedBackend
{
    /// <inheritdoc />
    public void Reduce(ReduceOp op, StridedView x, StridedView y)
    {
        string name = OpNames.Of(op);
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
        int threads = WorkerPool.Threads;
        if (work < StridedLoop.ParallelThreshold || threads == 1)
        {
            ReduceBlock<T>(job, 0, outer, 0, inner);
            return;
        }
        if ((long)outer * inner == 1 && job.X.Strides[1] == 1 && job.Op is ReduceOp.Sum or ReduceOp.Max or ReduceOp.Min)
        {
            ReduceLongRow<T>(job, n, threads);
            return;
        }
        // Split whichever of outer / inner offers the parallelism; each task owns disjoint outputs.
        int tasks = threads * 4;
        if (outer >= tasks || outer >= inner)
        {
            int per = (outer + tasks - 1) / tasks;
            WorkerPool.For((outer + per - 1) / per, t => ReduceBlock<T>(job, t * per, Math.Min(outer, (t + 1) * per), 0, inner));
        }
        else if (typeof(T) == typeof(float) && job.Op == ReduceOp.Sum && job.X.Strides[2] == 1 && job.X.Strides[1] != 1 && n >= 2 * ColumnBlock)
        {
            SumColumnsFloatParallel(job, tasks);
        }
        else
        {
            int per = Math.Max(64, (inner + tasks - 1) / tasks);
            WorkerPool.For((inner + per - 1) / per, t => ReduceBlock<T>(job, 0, outer, t * per, Math.Min(inner, (t + 1) * per)));
        }
    }

    /// <summary>Rows folded in float before their sum joins the double total, in the column sums of <see cref="SumColumnsFloat"/>.</summary>
    private const int ColumnBlock = 64;

    /// <summary>
    /// A float Sum over a leading axis with dense rows, split by blocks of <see cref="ColumnBlock"/> rows
    /// rather than by columns, so each thread streams whole rows in memory order. Each block's float
    /// sums go to scratch, and the double totals then add the blocks in order: exactly the sums
    /// <see cref="SumColumnsFloat"/> takes, whatever the thread count.
    /// </summary>
    private static void SumColumnsFloatParallel(ReduceJob job, int tasks)
    {
        var x = job.X;
        int outer = x.Shape[0], n = x.Shape[1], inner = x.Shape[2];
        long xs0 = x.Strides[0], xs1 = x.Strides[1];
        float* px = Ptr<float>(x);
        float* py = (float*)(((ManagedBuffer)job.Y.Buffer).Pointer + job.Y.Offset * job.Y.DType.SizeOf());
        int blocks = (n + ColumnBlock - 1) / ColumnBlock;
        long total = (long)outer * blocks;
        float[] scratch = ArrayPool<float>.Shared.Rent(checked((int)(total * inner)));
        try
        {
            fixed (float* ps = scratch)
            {
                float* sums = ps;
                int chunks = (int)Math.Min(total, tasks);
                long per = (total + chunks - 1) / chunks;
                WorkerPool.For(chunks, c =>
                {
                    for (long b = c * per; b < Math.Min(total, (c + 1) * per); b++)
                    {
                        long o = b / blocks;
                        int j0 = (int)(b % blocks) * ColumnBlock, j1 = Math.Min(n, j0 + ColumnBlock);
                        FoldRowsFloat(px + o * xs0 + j0 * xs1, xs1, j1 - j0, inner, sums + b * inner);
                    }
                });
                WorkerPool.ForRanges(inner, tasks, (i0, i1) =>
                {
                    Span<double> acc = stackalloc double[ColumnStrip];
                    for (int o = 0; o < outer; o++)
                        for (int s0 = i0; s0 < i1; s0 += ColumnStrip)
                        {
                            int w = Math.Min(ColumnStrip, i1 - s0);
                            acc[..w].Clear();
                            for (int b = 0; b < blocks; b++) AddWidened(sums + ((long)o * blocks + b) * inner + s0, acc[..w]);
                            for (int i = 0; i < w; i++) py[o * job.Ys0 + (s0 + i) * job.Ys2] = (float)acc[i];
                        }
                }, align: 16);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
        }
    }

    /// <summary>Columns of double totals kept on the stack while the block sums are added.</summary>
    private const int ColumnStrip = 256;

    /// <summary>acc[i] += (double)f[i], the same rounding as the scalar sum, eight lanes at a time.</summary>
    private static void AddWidened(float* f, Span<double> acc)
    {
        int i = 0;
        fixed (double* pa = acc)
        {
            if (Vector256.IsHardwareAccelerated)
                for (; i + 8 <= acc.Length; i += 8)
                {
                    var (lo, hi) = Vector256.Widen(Vector256.Load(f + i));
                    Vector256.Store(Vector256.Load(pa + i) + lo, pa + i);
                    Vector256.Store(Vector256.Load(pa + i + 4) + hi, pa + i + 4);
                }
            for (; i < acc.Length; i++) pa[i] += f[i];
        }
    }

    /// <summary>A whole-tensor Sum/Max/Min of one dense row: each thread reduces a slice, then the partials combine in slice order.</summary>
    private static void ReduceLongRow<T>(ReduceJob job, int n, int threads) where T : unmanaged, INumber<T>
    {
        T* px = Ptr<T>(job.X);
        if (typeof(T) == typeof(float) && job.Op == ReduceOp.Sum)
        {
            SumLongRowFloat((float*)px, n, threads, (float*)(((ManagedBuffer)job.Y.Buffer).Pointer + job.Y.Offset * sizeof(float)));
            return;
        }
        // Slices are multiples of the float blocking in SumSpan, so the result does not depend on the thread count's rounding.
        int per = (n + threads - 1) / threads;
        per = (per + 4095) / 4096 * 4096;
        int slices = (n + per - 1) / per;
        var partial = new double[slices];
        var partialT = new T[slices];
        WorkerPool.For(slices, t =>
        {
            var span = new ReadOnlySpan<T>(px + (long)t * per, Math.Min(per, n - t * per));
            if (job.Op == ReduceOp.Sum)
            {
                if (typeof(T) == typeof(float)) partial[t] = SumFloatAsDouble(System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(span));
                else partialT[t] = TensorPrimitives.Sum(span);
            }
            else partialT[t] = job.Op == ReduceOp.Max ? TensorPrimitives.Max(span) : TensorPrimitives.Min(span);
        });
        T result;
        if (job.Op == ReduceOp.Sum)
        {
            if (typeof(T) == typeof(float)) { double d = 0; foreach (var p in partial) d += p; result = T.CreateTruncating(d); }
            else { result = T.Zero; foreach (var p in partialT) result += p; }
        }
        else
        {
            result = partialT[0];
            for (int i = 1; i < slices; i++)
                if (Better(partialT[i], result, job.Op == ReduceOp.Max)) result = partialT[i];
        }
        byte* py = ((ManagedBuffer)job.Y.Buffer).Pointer + job.Y.Offset * job.Y.DType.SizeOf();
        *(T*)py = result;
    }

    /// <summary>
    /// A float Sum of one long dense row: threads claim chunks of <see cref="SumBlock"/>-element blocks
    /// (four chunks a thread, so a thread the scheduler delays holds up little), each block's float sum
    /// lands in its slot, and the slots add up in double in order: bit for bit <see cref="SumSpan"/>'s
    /// sequential result, whatever the thread count.
    /// </summary>
    private static void SumLongRowFloat(float* px, int n, int threads, float* py)
    {
        int blocks = (n + SumBlock - 1) / SumBlock;
        float[] partial = ArrayPool<float>.Shared.Rent(blocks);
        try
        {
            WorkerPool.ForRanges(blocks, threads * 4, (b0, b1) =>
            {
                for (int b = b0; b < b1; b++)
                    partial[b] = TensorPrimitives.Sum(new ReadOnlySpan<float>(px + (long)b * SumBlock, Math.Min(SumBlock, n - b * SumBlock)));
            });
            double acc = 0;
            for (int b = 0; b < blocks; b++) acc += partial[b];
            *py = (float)acc;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(partial);
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
                if (job.Op == ReduceOp.Sum && typeof(T) == typeof(float))
                {
                    SumColumnsFloat(job, (float*)px, xs0, xs1, n, o0, o1, i0, width, (float*)py);
                    return;
                }
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

    /// <summary>
    /// Float sums over a leading axis: rows are folded with SIMD in float for blocks of 64, and the
    /// block sums added in double, so a long axis keeps float accuracy (as SumSpan does for rows).
    /// </summary>
    private static void SumColumnsFloat(ReduceJob job, float* px, long xs0, long xs1, int n, int o0, int o1, int i0, int width, float* py)
    {
        const int block = ColumnBlock;
        var blockSum = new float[width];
        var total = new double[width];
        fixed (float* pb = blockSum)
            for (int o = o0; o < o1; o++)
            {
                float* row = px + o * xs0 + i0;
                Array.Clear(total);
                for (int j0 = 0; j0 < n; j0 += block)
                {
                    FoldRowsFloat(row + j0 * xs1, xs1, Math.Min(n, j0 + block) - j0, width, pb);
                    for (int i = 0; i < width; i++) total[i] += blockSum[i];
                }
                for (int i = 0; i < width; i++) py[o * job.Ys0 + (i0 + i) * job.Ys2] = (float)total[i];
            }
    }

    /// <summary>Rows whose partial sums stay in registers between two visits of the sum row in <see cref="FoldRowsFloat"/>.</summary>
    private const int FoldGroup = 8;

    /// <summary>
    /// sum[i] = ((row₀[i] + row₁[i]) + row₂[i]) + … in float over <paramref name="count"/> ≥ 1 rows of
    /// <paramref name="width"/> floats, <paramref name="stride"/> apart: bit for bit adding the rows one by
    /// one, but each 256-byte strip of the sum is loaded and stored once per <see cref="FoldGroup"/> rows
    /// rather than once per row. Folding row by row with TensorPrimitives.Add read a [4096,4096] matrix at
    /// 0.31–0.70 of a plain sum's speed on a 2-vCPU Zen 5; this reads it at 0.97–1.16.
    /// </summary>
    private static void FoldRowsFloat(float* first, long stride, int count, int width, float* sum)
    {
        for (int j0 = 0; j0 < count; j0 += FoldGroup)
        {
            int j1 = Math.Min(count, j0 + FoldGroup);
            // The first group starts from row 0 itself, later ones from the sum so far.
            float* start = j0 == 0 ? first : sum;
            int from = j0 == 0 ? 1 : j0;
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; i + 64 <= width; i += 64)
                {
                    // Four independent accumulators, so the adds of one strip do not wait on each other.
                    var a = Vector512.Load(start + i);
                    var b = Vector512.Load(start + i + 16);
                    var c = Vector512.Load(start + i + 32);
                    var d = Vector512.Load(start + i + 48);
                    for (int j = from; j < j1; j++)
                    {
                        float* r = first + j * stride + i;
                        a += Vector512.Load(r);
                        b += Vector512.Load(r + 16);
                        c += Vector512.Load(r + 32);
                        d += Vector512.Load(r + 48);
                    }
                    a.Store(sum + i);
                    b.Store(sum + i + 16);
                    c.Store(sum + i + 32);
                    d.Store(sum + i + 48);
                }
            if (Vector256.IsHardwareAccelerated)
                for (; i + 8 <= width; i += 8)
                {
                    var a = Vector256.Load(start + i);
                    for (int j = from; j < j1; j++) a += Vector256.Load(first + j * stride + i);
                    a.Store(sum + i);
                }
            for (; i < width; i++)
            {
                float a = start[i];
                for (int j = from; j < j1; j++) a += first[j * stride + i];
                sum[i] = a;
            }
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
        if (typeof(T) != typeof(float) || s.Length <= SumBlock) return TensorPrimitives.Sum(s);
        return T.CreateTruncating(SumFloatAsDouble(MemoryMarshal.Cast<T, float>(s)));
    }

    /// <summary>Elements of a float block whose sum is taken in float before it joins a double total.</summary>
    private const int SumBlock = 4096;

    /// <summary>Float sum in <see cref="SumBlock"/>-element blocks whose partial sums add up in double.</summary>
    private static double SumFloatAsDouble(ReadOnlySpan<float> f)
    {
        double acc = 0;
        for (int i = 0; i < f.Length; i += SumBlock) acc += TensorPrimitives.Sum(f.Slice(i, Math.Min(SumBlock, f.Length - i)));
        return acc;
    }
}
