using System.Numerics;

namespace GpuNet.Kernels.Managed;

internal sealed unsafe partial class ManagedBackend
{
    /// <inheritdoc />
    /// <remarks>
    /// Per row, one pass for the statistics (sums of x − x₀ and its square in double, shifted by the row's
    /// first element so the two-moment variance does not cancel) and one for the output. Rows run in parallel.
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
    /// <remarks>Per row, one pass for the two means (in double) and one for dx. Rows run in parallel.</remarks>
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
}
