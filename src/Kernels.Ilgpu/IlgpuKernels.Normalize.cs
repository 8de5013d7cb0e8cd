using System.Numerics;
using ILGPU;
using ILGPU.Algorithms;

namespace GpuNet.Kernels.Ilgpu;

/// <summary>Conversions between a floating dtype and double, for kernels that accumulate in double.</summary>
internal interface INormMath<T> where T : unmanaged
{
    double ToDouble(T x);
    T From(double x);
}

internal struct NormMath : INormMath<float>, INormMath<double>
{
    public readonly double ToDouble(float x) => x;
    readonly float INormMath<float>.From(double x) => (float)x;
    public readonly double ToDouble(double x) => x;
    readonly double INormMath<double>.From(double x) => x;
}

internal static partial class IlgpuKernels
{
    // ---- normalization (LayerNorm rows, BatchNorm columns through a transposed view) -----------------

    /// <summary>
    /// One thread per row o of x = [rows, n] (axes O and N of <see cref="Axis3"/>): the mean and biased variance
    /// from sums of x − x₀ and its square in double (shifted by the row's first element so the two moments do
    /// not cancel), rstd = 1/√(var + ε), then y = (x − mean)·rstd. With BatchNorm's transposed view neighbouring
    /// threads take neighbouring columns, so every read is coalesced.
    /// </summary>
    [Kernel]
    public static void NormalizeRows<T, TM>(Index1D t, ArrayView<T> x, ArrayView<T> y, ArrayView<T> mean, ArrayView<T> rstd, Rows r, Axis3 ax, Axis3 ay, Axis3 am, Axis3 ar, double epsilon)
        where T : unmanaged, INumber<T> where TM : struct, INormMath<T>
    {
        int o = t;
        TM f = default;
        double shift = f.ToDouble(x[ax.At(o, 0, 0)]);
        double s = 0.0, s2 = 0.0;
        for (int j = 0; j < r.N; j++)
        {
            double d = f.ToDouble(x[ax.At(o, j, 0)]) - shift;
            s += d;
            s2 += d * d;
        }
        double mu = s / r.N;
        double variance = s2 / r.N - mu * mu;
        if (variance < 0.0) variance = 0.0;
        double m = shift + mu;
        double rs = 1.0 / XMath.Sqrt(variance + epsilon);
        mean[am.At(o, 0, 0)] = f.From(m);
        rstd[ar.At(o, 0, 0)] = f.From(rs);
        for (int j = 0; j < r.N; j++) y[ay.At(o, j, 0)] = f.From((f.ToDouble(x[ax.At(o, j, 0)]) - m) * rs);
    }

    /// <summary>
    /// One thread per row: mean(g) and mean(g·ŷ) in double, then dx = rstd·(g − mean(g) − ŷ·mean(g·ŷ)), the
    /// closed-form backward of <see cref="NormalizeRows{T, TM}"/>.
    /// </summary>
    [Kernel]
    public static void NormalizeBackwardRows<T, TM>(Index1D t, ArrayView<T> g, ArrayView<T> h, ArrayView<T> rstd, ArrayView<T> dx, Rows r, Axis3 ag, Axis3 ah, Axis3 ar, Axis3 ad)
        where T : unmanaged, INumber<T> where TM : struct, INormMath<T>
    {
        int o = t;
        TM f = default;
        double sg = 0.0, sgh = 0.0;
        for (int j = 0; j < r.N; j++)
        {
            double gj = f.ToDouble(g[ag.At(o, j, 0)]);
            sg += gj;
            sgh += gj * f.ToDouble(h[ah.At(o, j, 0)]);
        }
        double mg = sg / r.N, mgh = sgh / r.N;
        double rs = f.ToDouble(rstd[ar.At(o, 0, 0)]);
        for (int j = 0; j < r.N; j++)
            dx[ad.At(o, j, 0)] = f.From(rs * (f.ToDouble(g[ag.At(o, j, 0)]) - mg - f.ToDouble(h[ah.At(o, j, 0)]) * mgh));
    }
}
