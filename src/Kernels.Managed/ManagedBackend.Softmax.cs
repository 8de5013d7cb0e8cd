using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace GpuNet.Kernels.Managed;

internal sealed unsafe partial class ManagedBackend
{
    /// <inheritdoc />
    /// <remarks>
    /// A row whose entries are all −∞ (fully masked) has no finite maximum; like PyTorch and JAX it
    /// gives NaN rather than an arbitrary distribution. Rows with some −∞ entries are fine: those
    /// entries get probability 0 (log-probability −∞). x and y may be the same memory.
    /// </remarks>
    public void Softmax(StridedView x, StridedView y, bool log)
    {
        string name = log ? "LogSoftmax" : "Softmax";
        CheckView(x, name);
        CheckView(y, name);
        CheckSameDType(name, x, y);
        if (x.Rank != 3 || y.Rank != 3) throw new ArgumentException($"{name}: x and y must be rank-3 [outer, n, inner] views, got {x} and {y}.");
        for (int d = 0; d < 3; d++)
            if (x.Shape[d] != y.Shape[d]) throw new ArgumentException($"{name}: x {x} and y {y} differ in shape.");
        if (x.DType == DType.Int32) throw IntNotSupported(name);
        if (x.Count == 0) return;
        if (x.DType == DType.Float32) RunSoftmax<float>(x, y, log);
        else RunSoftmax<double>(x, y, log);
    }

    private static void RunSoftmax<T>(StridedView x, StridedView y, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int outer = x.Shape[0], inner = x.Shape[2];
        int rows = outer * inner;
        if (x.Count < StridedLoop.ParallelThreshold || WorkerPool.Threads == 1 || rows == 1)
        {
            SoftmaxRows<T>(x, y, log, 0, rows);
            return;
        }
        int tasks = Math.Min(rows, WorkerPool.Threads * 4);
        int per = (rows + tasks - 1) / tasks;
        WorkerPool.For((rows + per - 1) / per, t => SoftmaxRows<T>(x, y, log, t * per, Math.Min(rows, (t + 1) * per)));
    }

    private static void SoftmaxRows<T>(StridedView x, StridedView y, bool log, int r0, int r1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Shape[1], inner = x.Shape[2];
        T* px = Ptr<T>(x), py = Ptr<T>(y);
        long xs1 = x.Strides[1], ys1 = y.Strides[1];
        T[]? scratch = xs1 == 1 && ys1 == 1 ? null : ArrayPool<T>.Shared.Rent(n);
        try
        {
            for (int r = r0; r < r1; r++)
            {
                int o = r / inner, i = r % inner;
                T* xr = px + o * (long)x.Strides[0] + i * (long)x.Strides[2];
                T* yr = py + o * (long)y.Strides[0] + i * (long)y.Strides[2];
                if (scratch is null)
                {
                    SoftmaxRow(new ReadOnlySpan<T>(xr, n), new Span<T>(yr, n), log);
                    continue;
                }
                var s = scratch.AsSpan(0, n);
                for (int j = 0; j < n; j++) s[j] = xr[j * xs1];
                SoftmaxRow(s, s, log);
                for (int j = 0; j < n; j++) yr[j * ys1] = s[j];
            }
        }
        finally
        {
            if (scratch != null) ArrayPool<T>.Shared.Return(scratch);
        }
    }

    /// <summary>One dense row; alias-safe (x may be y).</summary>
    private static void SoftmaxRow<T>(ReadOnlySpan<T> x, Span<T> y, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T max = TensorPrimitives.Max(x);
        if (T.IsNegativeInfinity(max)) { y.Fill(T.NaN); return; }
        TensorPrimitives.Subtract(x, max, y); // y = x − max ≤ 0, so exp cannot overflow
        if (!log)
        {
            TensorPrimitives.Exp(y, y);
            TensorPrimitives.Divide(y, SumSpan<T>(y), y);
            return;
        }
        // log-softmax = (x − max) − log Σ exp(x − max); the exponentials go through a stack chunk
        // so y keeps the shifted logits.
        Span<T> e = stackalloc T[Chunk];
        T sum = T.Zero;
        for (int s = 0; s < y.Length; s += Chunk)
        {
            int len = Math.Min(Chunk, y.Length - s);
            TensorPrimitives.Exp(y.Slice(s, len), e[..len]);
            sum += TensorPrimitives.Sum<T>(e[..len]);
        }
        TensorPrimitives.Subtract(y, T.Log(sum), y);
    }
}
