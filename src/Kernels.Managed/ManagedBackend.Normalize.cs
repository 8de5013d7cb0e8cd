using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace GpuNet.Kernels.Managed;

internal sealed unsafe partial class ManagedBackend
{
    /// <inheritdoc />
    /// <remarks>
    /// Per row, one pass for the statistics (sums of x − x₀ and its square in double, shifted by the row's
    /// first element so the two-moment variance does not cancel) and one for the output. Rows run in parallel.
    /// Dense rows (LayerNorm) and dense columns (BatchNorm's transposed view, where the rows' elements sit side by
    /// side) go through TensorPrimitives on double chunks; other layouts take a scalar loop.
    /// </remarks>
    public void Normalize(StridedView x, StridedView y, StridedView mean, StridedView rstd, double epsilon)
    {
        const string op = "Normalize";
        CheckNormalize(op, x, y, mean, rstd, "y");
        if (x.Shape[0] == 0) return;
        if (x.DType == DType.Float32) RunRows(x, (r0, r1) => NormalizeRows<float>(x, y, mean, rstd, epsilon, r0, r1));
        else RunRows(x, (r0, r1) => NormalizeRows<double>(x, y, mean, rstd, epsilon, r0, r1));
    }

    /// <inheritdoc />
    /// <remarks>Per row, one pass for the two means (in double) and one for dx. Rows run in parallel; dense rows and dense columns are vectorized as in <see cref="Normalize"/>.</remarks>
    public void NormalizeBackward(StridedView grad, StridedView normalized, StridedView rstd, StridedView dx)
    {
        const string op = "NormalizeBackward";
        CheckNormalize(op, grad, normalized, rstd, rstd, "normalized");
        CheckView(dx, op);
        CheckSameDType(op, grad, dx);
        if (dx.Rank != 2 || dx.Shape[0] != grad.Shape[0] || dx.Shape[1] != grad.Shape[1]) throw new ArgumentException($"{op}: dx {dx} must have grad's shape {grad}.");
        if (grad.Shape[0] == 0) return;
        if (grad.DType == DType.Float32) RunRows(grad, (r0, r1) => NormalizeBackwardRows<float>(grad, normalized, rstd, dx, r0, r1));
        else RunRows(grad, (r0, r1) => NormalizeBackwardRows<double>(grad, normalized, rstd, dx, r0, r1));
    }

    private static void CheckNormalize(string op, StridedView x, StridedView y, StridedView mean, StridedView rstd, string yName)
    {
        CheckView(x, op);
        CheckView(y, op);
        CheckView(mean, op);
        CheckView(rstd, op);
        CheckSameDType(op, x, y, mean, rstd);
        if (x.Rank != 2) throw new ArgumentException($"{op}: x must be [rows, n], got {x}.");
        if (y.Rank != 2 || y.Shape[0] != x.Shape[0] || y.Shape[1] != x.Shape[1]) throw new ArgumentException($"{op}: {yName} {y} must have the shape of {x}.");
        if (mean.Rank != 1 || mean.Shape[0] != x.Shape[0] || rstd.Rank != 1 || rstd.Shape[0] != x.Shape[0])
            throw new ArgumentException($"{op}: the statistics {mean} and {rstd} must be [{x.Shape[0]}].");
        if (x.Shape[1] == 0 && x.Shape[0] > 0) throw new ArgumentException($"{op}: rows of {x} are empty.");
        if (!x.DType.IsFloating()) throw IntNotSupported(op);
    }

    private static void RunRows(StridedView x, Action<int, int> rows)
    {
        int count = x.Shape[0];
        if (x.Count < StridedLoop.ParallelThreshold || WorkerPool.Threads == 1 || count == 1) rows(0, count);
        else WorkerPool.ForRanges(count, WorkerPool.Threads * 4, rows);
    }

    private static void NormalizeRows<T>(StridedView x, StridedView y, StridedView mean, StridedView rstd, double epsilon, int r0, int r1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Shape[1];
        T* px = Ptr<T>(x), py = Ptr<T>(y), pm = Ptr<T>(mean), pr = Ptr<T>(rstd);
        long xs0 = x.Strides[0], xs1 = x.Strides[1], ys0 = y.Strides[0], ys1 = y.Strides[1];
        if (xs1 == 1 && ys1 == 1)
        {
            for (int r = r0; r < r1; r++)
            {
                var (m, rs) = NormalizeDenseRow(px + r * xs0, py + r * ys0, n, epsilon);
                pm[r * (long)mean.Strides[0]] = T.CreateTruncating(m);
                pr[r * (long)rstd.Strides[0]] = T.CreateTruncating(rs);
            }
            return;
        }
        if (xs0 == 1 && ys0 == 1 && n > 1)
        {
            NormalizeDenseColumns<T>(x, y, mean, rstd, epsilon, r0, r1);
            return;
        }
        for (int r = r0; r < r1; r++)
        {
            T* xr = px + r * xs0;
            double shift = double.CreateTruncating(xr[0]), s = 0, s2 = 0;
            for (int j = 0; j < n; j++)
            {
                double d = double.CreateTruncating(xr[j * xs1]) - shift;
                s += d;
                s2 += d * d;
            }
            double mu = s / n;
            double variance = s2 / n - mu * mu;
            if (variance < 0) variance = 0; // rounding; NaN stays NaN
            double m = shift + mu, rs = 1 / Math.Sqrt(variance + epsilon);
            pm[r * (long)mean.Strides[0]] = T.CreateTruncating(m);
            pr[r * (long)rstd.Strides[0]] = T.CreateTruncating(rs);
            T* yr = py + r * ys0;
            for (int j = 0; j < n; j++) yr[j * ys1] = T.CreateTruncating((double.CreateTruncating(xr[j * xs1]) - m) * rs);
        }
    }

    private static void NormalizeBackwardRows<T>(StridedView grad, StridedView normalized, StridedView rstd, StridedView dx, int r0, int r1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = grad.Shape[1];
        T* pg = Ptr<T>(grad), ph = Ptr<T>(normalized), pr = Ptr<T>(rstd), pd = Ptr<T>(dx);
        long gs0 = grad.Strides[0], gs1 = grad.Strides[1], hs0 = normalized.Strides[0], hs1 = normalized.Strides[1], ds0 = dx.Strides[0], ds1 = dx.Strides[1];
        if (gs1 == 1 && hs1 == 1 && ds1 == 1)
        {
            for (int r = r0; r < r1; r++)
                NormalizeBackwardDenseRow(pg + r * gs0, ph + r * hs0, pd + r * ds0, n, double.CreateTruncating(pr[r * (long)rstd.Strides[0]]));
            return;
        }
        if (gs0 == 1 && hs0 == 1 && ds0 == 1 && n > 1)
        {
            NormalizeBackwardDenseColumns<T>(grad, normalized, rstd, dx, r0, r1);
            return;
        }
        for (int r = r0; r < r1; r++)
        {
            T* gr = pg + r * gs0;
            T* hr = ph + r * hs0;
            double sg = 0, sgh = 0;
            for (int j = 0; j < n; j++)
            {
                double g = double.CreateTruncating(gr[j * gs1]);
                sg += g;
                sgh += g * double.CreateTruncating(hr[j * hs1]);
            }
            double mg = sg / n, mgh = sgh / n, rs = double.CreateTruncating(pr[r * (long)rstd.Strides[0]]);
            T* dr = pd + r * ds0;
            for (int j = 0; j < n; j++)
                dr[j * ds1] = T.CreateTruncating(rs * (double.CreateTruncating(gr[j * gs1]) - mg - double.CreateTruncating(hr[j * hs1]) * mgh));
        }
    }

    /// <summary>One dense row: the shifted sums over double chunks, then y = (x − mean)·rstd chunk by chunk; returns (mean, rstd).</summary>
    private static (double Mean, double Rstd) NormalizeDenseRow<T>(T* x, T* y, int n, double epsilon) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Span<double> d = stackalloc double[Chunk];
        double shift = double.CreateTruncating(x[0]), s = 0, s2 = 0;
        for (int c = 0; c < n; c += Chunk)
        {
            var dc = d[..Math.Min(Chunk, n - c)];
            TensorPrimitives.ConvertTruncating<T, double>(new ReadOnlySpan<T>(x + c, dc.Length), dc);
            TensorPrimitives.Subtract(dc, shift, dc);
            s += TensorPrimitives.Sum<double>(dc);
            s2 += TensorPrimitives.SumOfSquares<double>(dc);
        }
        var (m, rs) = Statistics(shift, s, s2, n, epsilon);
        for (int c = 0; c < n; c += Chunk)
        {
            var dc = d[..Math.Min(Chunk, n - c)];
            TensorPrimitives.ConvertTruncating<T, double>(new ReadOnlySpan<T>(x + c, dc.Length), dc);
            TensorPrimitives.Subtract(dc, m, dc);
            TensorPrimitives.Multiply(dc, rs, dc);
            TensorPrimitives.ConvertTruncating<double, T>(dc, new Span<T>(y + c, dc.Length));
        }
        return (m, rs);
    }

    /// <summary>Mean and rstd from the sums of x − shift and of its square over n elements.</summary>
    private static (double Mean, double Rstd) Statistics(double shift, double s, double s2, int n, double epsilon)
    {
        double mu = s / n;
        double variance = s2 / n - mu * mu;
        if (variance < 0) variance = 0; // rounding; NaN stays NaN
        return (shift + mu, 1 / Math.Sqrt(variance + epsilon));
    }

    /// <summary>
    /// Rows r0..r1 of a view whose rows are columns of a row-major matrix (unit row stride): the matrix is walked line by
    /// line, each line's slice r0..r1 contiguous, accumulating every row's sums side by side in double.
    /// </summary>
    private static void NormalizeDenseColumns<T>(StridedView x, StridedView y, StridedView mean, StridedView rstd, double epsilon, int r0, int r1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Shape[1], count = r1 - r0;
        T* px = Ptr<T>(x) + r0, py = Ptr<T>(y) + r0, pm = Ptr<T>(mean), pr = Ptr<T>(rstd);
        long xs1 = x.Strides[1], ys1 = y.Strides[1];
        var rented = ArrayPool<double>.Shared.Rent(4 * count);
        try
        {
            var shift = rented.AsSpan(0, count);
            var s = rented.AsSpan(count, count);
            var s2 = rented.AsSpan(2 * count, count);
            var line = rented.AsSpan(3 * count, count);
            TensorPrimitives.ConvertTruncating<T, double>(new ReadOnlySpan<T>(px, count), shift);
            s.Clear();
            s2.Clear();
            for (int j = 0; j < n; j++)
            {
                TensorPrimitives.ConvertTruncating<T, double>(new ReadOnlySpan<T>(px + j * xs1, count), line);
                TensorPrimitives.Subtract(line, shift, line);
                TensorPrimitives.Add(s, line, s);
                TensorPrimitives.MultiplyAdd(line, line, s2, s2);
            }
            // shift ← mean, s ← rstd
            for (int i = 0; i < count; i++)
            {
                var (m, rs) = Statistics(shift[i], s[i], s2[i], n, epsilon);
                shift[i] = m;
                s[i] = rs;
                pm[(r0 + i) * (long)mean.Strides[0]] = T.CreateTruncating(m);
                pr[(r0 + i) * (long)rstd.Strides[0]] = T.CreateTruncating(rs);
            }
            for (int j = 0; j < n; j++)
            {
                TensorPrimitives.ConvertTruncating<T, double>(new ReadOnlySpan<T>(px + j * xs1, count), line);
                TensorPrimitives.Subtract(line, shift, line);
                TensorPrimitives.Multiply(line, s, line);
                TensorPrimitives.ConvertTruncating<double, T>(line, new Span<T>(py + j * ys1, count));
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(rented);
        }
    }

    /// <summary>One dense row of the backward: Σg and Σg·ŷ over double chunks, then dx = rstd·(g − mean(g) − ŷ·mean(g·ŷ)).</summary>
    private static void NormalizeBackwardDenseRow<T>(T* g, T* h, T* dx, int n, double rs) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Span<double> gd = stackalloc double[Chunk];
        Span<double> hd = stackalloc double[Chunk];
        double sg = 0, sgh = 0;
        for (int c = 0; c < n; c += Chunk)
        {
            int len = Math.Min(Chunk, n - c);
            TensorPrimitives.ConvertTruncating<T, double>(new ReadOnlySpan<T>(g + c, len), gd[..len]);
            TensorPrimitives.ConvertTruncating<T, double>(new ReadOnlySpan<T>(h + c, len), hd[..len]);
            sg += TensorPrimitives.Sum<double>(gd[..len]);
            sgh += TensorPrimitives.Dot<double>(gd[..len], hd[..len]);
        }
        double mg = sg / n, mgh = sgh / n;
        for (int c = 0; c < n; c += Chunk)
        {
            int len = Math.Min(Chunk, n - c);
            var gc = gd[..len];
            var hc = hd[..len];
            TensorPrimitives.ConvertTruncating<T, double>(new ReadOnlySpan<T>(g + c, len), gc);
            TensorPrimitives.ConvertTruncating<T, double>(new ReadOnlySpan<T>(h + c, len), hc);
            TensorPrimitives.Multiply(hc, mgh, hc);
            TensorPrimitives.Subtract(gc, hc, gc);
            TensorPrimitives.Subtract(gc, mg, gc);
            TensorPrimitives.Multiply(gc, rs, gc);
            TensorPrimitives.ConvertTruncating<double, T>(gc, new Span<T>(dx + c, len));
        }
    }

    /// <summary>Rows r0..r1 of the backward where every operand's rows are columns of a row-major matrix (see <see cref="NormalizeDenseColumns"/>).</summary>
    private static void NormalizeBackwardDenseColumns<T>(StridedView grad, StridedView normalized, StridedView rstd, StridedView dx, int r0, int r1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = grad.Shape[1], count = r1 - r0;
        T* pg = Ptr<T>(grad) + r0, ph = Ptr<T>(normalized) + r0, pd = Ptr<T>(dx) + r0, pr = Ptr<T>(rstd);
        long gs1 = grad.Strides[1], hs1 = normalized.Strides[1], ds1 = dx.Strides[1];
        var rented = ArrayPool<double>.Shared.Rent(5 * count);
        try
        {
            var sg = rented.AsSpan(0, count);
            var sgh = rented.AsSpan(count, count);
            var rs = rented.AsSpan(2 * count, count);
            var gl = rented.AsSpan(3 * count, count);
            var hl = rented.AsSpan(4 * count, count);
            sg.Clear();
            sgh.Clear();
            for (int j = 0; j < n; j++)
            {
                TensorPrimitives.ConvertTruncating<T, double>(new ReadOnlySpan<T>(pg + j * gs1, count), gl);
                TensorPrimitives.ConvertTruncating<T, double>(new ReadOnlySpan<T>(ph + j * hs1, count), hl);
                TensorPrimitives.Add(sg, gl, sg);
                TensorPrimitives.MultiplyAdd(gl, hl, sgh, sgh);
            }
            TensorPrimitives.Divide(sg, n, sg);
            TensorPrimitives.Divide(sgh, n, sgh);
            for (int i = 0; i < count; i++) rs[i] = double.CreateTruncating(pr[(r0 + i) * (long)rstd.Strides[0]]);
            for (int j = 0; j < n; j++)
            {
                TensorPrimitives.ConvertTruncating<T, double>(new ReadOnlySpan<T>(pg + j * gs1, count), gl);
                TensorPrimitives.ConvertTruncating<T, double>(new ReadOnlySpan<T>(ph + j * hs1, count), hl);
                TensorPrimitives.Multiply(hl, sgh, hl);
                TensorPrimitives.Subtract(gl, hl, gl);
                TensorPrimitives.Subtract(gl, sg, gl);
                TensorPrimitives.Multiply(gl, rs, gl);
                TensorPrimitives.ConvertTruncating<double, T>(gl, new Span<T>(pd + j * ds1, count));
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(rented);
        }
    }
}
