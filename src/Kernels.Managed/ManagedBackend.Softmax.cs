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

internal sealed unsafe partial class ManagedBackend
{
    /// <inheritdoc />
    /// <remarks>
    /// One pass per row: the maximum, then the exponentials written straight into the gradient row
    /// (or a stack chunk when no gradient is wanted), their sum, the loss and the scaling.
    /// </remarks>
    public void SoftmaxCrossEntropy(StridedView logits, StridedView labels, StridedView losses, StridedView? gradient, int? ignoreIndex = null)
    {
        const string op = "SoftmaxCrossEntropy";
        CheckView(logits, op);
        CheckView(labels, op);
        CheckView(losses, op);
        if (logits.Rank != 2) throw new ArgumentException($"{op}: logits must be [rows, classes], got {logits}.");
        int rows = logits.Shape[0], classes = logits.Shape[1];
        if (labels.Rank != 1 || labels.Shape[0] != rows || labels.DType != DType.Int32)
            throw new ArgumentException($"{op}: labels must be int32 [{rows}], got {labels}.");
        if (losses.Rank != 1 || losses.Shape[0] != rows) throw new ArgumentException($"{op}: losses must be [{rows}], got {losses}.");
        CheckSameDType(op, logits, losses);
        if (gradient is { } g)
        {
            CheckView(g, op);
            if (g.Rank != 2 || g.Shape[0] != rows || g.Shape[1] != classes) throw new ArgumentException($"{op}: gradient must be [{rows},{classes}], got {g}.");
            CheckSameDType(op, logits, g);
        }
        if (rows == 0) return;
        if (classes == 0) throw new ArgumentException($"{op}: logits {logits} have no classes.");
        switch (logits.DType)
        {
            case DType.Float32: RunCrossEntropy<float>(logits, labels, losses, gradient, ignoreIndex); break;
            case DType.Float64: RunCrossEntropy<double>(logits, labels, losses, gradient, ignoreIndex); break;
            default: throw IntNotSupported(op);
        }
    }

    private static void RunCrossEntropy<T>(StridedView logits, StridedView labels, StridedView losses, StridedView? gradient, int? ignoreIndex) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = logits.Shape[0];
        if (logits.Count < StridedLoop.ParallelThreshold || WorkerPool.Threads == 1)
        {
            CrossEntropyRows<T>(logits, labels, losses, gradient, ignoreIndex, 0, rows);
            return;
        }
        WorkerPool.ForRanges(rows, WorkerPool.Threads * 4, (r0, r1) => CrossEntropyRows<T>(logits, labels, losses, gradient, ignoreIndex, r0, r1));
    }

    private static void CrossEntropyRows<T>(StridedView logits, StridedView labels, StridedView losses, StridedView? gradient, int? ignoreIndex, int r0, int r1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int classes = logits.Shape[1];
        T* px = Ptr<T>(logits), pl = Ptr<T>(losses);
        int* pi = Ptr<int>(labels);
        T* pg = gradient is { } gv ? Ptr<T>(gv) : null;
        long xs0 = logits.Strides[0], xs1 = logits.Strides[1], ls = losses.Strides[0], is0 = labels.Strides[0];
        long gs0 = gradient?.Strides[0] ?? 0, gs1 = gradient?.Strides[1] ?? 0;
        // Rows that are not dense go through one scratch row (x, then e^(x − max) in place).
        T[]? scratch = xs1 == 1 && (pg == null || gs1 == 1) ? null : new T[classes];
        Span<T> chunk = stackalloc T[Chunk];
        for (int r = r0; r < r1; r++)
        {
            int label = pi[r * is0];
            if (label == ignoreIndex)
            {
                pl[r * ls] = T.Zero;
                if (pg != null)
                    for (int j = 0; j < classes; j++) pg[r * gs0 + j * gs1] = T.Zero;
                continue;
            }
            if ((uint)label >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), $"SoftmaxCrossEntropy: label {label} of row {r} is out of range for {classes} classes.");
            T* xr = px + r * xs0;
            ReadOnlySpan<T> x;
            if (scratch is null) x = new ReadOnlySpan<T>(xr, classes);
            else
            {
                for (int j = 0; j < classes; j++) scratch[j] = xr[j * xs1];
                x = scratch;
            }
            T max = TensorPrimitives.Max(x);
            T picked = x[label];
            T sum;
            if (pg != null)
            {
                Span<T> e = scratch ?? new Span<T>(pg + r * gs0, classes);
                TensorPrimitives.Subtract(x, max, e);
                TensorPrimitives.Exp(e, e);
                sum = TensorPrimitives.Sum<T>(e);
                TensorPrimitives.Multiply(e, T.One / sum, e);
                FlushSubnormals(e);
                e[label] -= T.One;
                if (scratch is not null)
                {
                    T* gr = pg + r * gs0;
                    for (int j = 0; j < classes; j++) gr[j * gs1] = scratch[j];
                }
            }
            else
            {
                sum = T.Zero;
                for (int s = 0; s < classes; s += Chunk)
                {
                    int len = Math.Min(Chunk, classes - s);
                    TensorPrimitives.Subtract(x.Slice(s, len), max, chunk[..len]);
                    TensorPrimitives.Exp(chunk[..len], chunk[..len]);
                    sum += TensorPrimitives.Sum<T>(chunk[..len]);
                }
            }
            // −log softmax(x)[label] = log Σ e^(x − max) − (x[label] − max); a row of −∞ gives NaN, as log-softmax does.
            pl[r * ls] = T.IsNegativeInfinity(max) ? T.NaN : T.Log(sum) - (picked - max);
        }
    }
}
