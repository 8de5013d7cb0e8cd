using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels.Ilgpu;

internal sealed partial class IlgpuBackend
{
    /// <inheritdoc />
    public void Fill(StridedView y, double value)
    {
        Check("Fill", y, null, "y");
        switch (y.DType)
        {
            case DType.Float32: RunFill(y, (float)value); break;
            case DType.Float64: RunFill(y, value); break;
            default: RunFill(y, SaturateToInt(value)); break;
        }
    }

    private void RunFill<T>(StridedView y, T value) where T : unmanaged
    {
        if (!Elements("Fill", y, out int n)) return;
        var (d, s) = Geo.Build(y.Shape, y);
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, Dims8, Strides8, T>>("Fill", KernelDefinitions.Fill, typeof(T))
            (_stream, n, View<T>(y), d, s[0], value);
    }

    /// <inheritdoc />
    public void FillAffine(StridedView y, double start, double step)
    {
        Check("FillAffine", y, null, "y");
        switch (y.DType)
        {
            case DType.Float32: RunFillAffine<float>(y, start, step); break;
            case DType.Float64: RunFillAffine<double>(y, start, step); break;
            default: RunFillAffine<int>(y, start, step); break;
        }
    }

    private void RunFillAffine<T>(StridedView y, double start, double step) where T : unmanaged
    {
        if (!Elements("FillAffine", y, out int n)) return;
        var (d, s) = Geo.Build(y.Shape, y);
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, Dims8, Strides8, double, double>>("FillAffine", KernelDefinitions.FillAffine, typeof(T), typeof(Conv))
            (_stream, n, View<T>(y), d, s[0], start, step);
    }

    /// <inheritdoc />
    public void FillRandom(StridedView y, RandomDistribution distribution, ulong seed, ulong counterOffset, double alpha, double beta)
    {
        Check("FillRandom", y, null, "y");
        var dist = distribution switch
        {
            RandomDistribution.Uniform => typeof(UniformDist),
            RandomDistribution.Normal => typeof(NormalDist),
            _ => throw new ArgumentOutOfRangeException(nameof(distribution), $"FillRandom: unknown distribution {distribution}."),
        };
        switch (y.DType)
        {
            case DType.Float32: RunFillRandom(y, dist, seed, counterOffset, (float)alpha, (float)beta); break;
            case DType.Float64: RunFillRandom(y, dist, seed, counterOffset, alpha, beta); break;
            default: throw new NotSupportedException($"FillRandom: {distribution} needs a floating dtype, got int32 for {y}.");
        }
    }

    private void RunFillRandom<T>(StridedView y, Type dist, ulong seed, ulong counterOffset, T alpha, T beta) where T : unmanaged
    {
        if (!Elements("FillRandom", y, out int n)) return;
        var (d, s) = Geo.Build(y.Shape, y);
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, Dims8, Strides8, uint, uint, ulong, T, T>>("FillRandom", KernelDefinitions.FillRandom, typeof(T), dist)
            (_stream, n, View<T>(y), d, s[0], (uint)seed, (uint)(seed >> 32), counterOffset, alpha, beta);
    }

    /// <inheritdoc />
    public void Copy(StridedView x, StridedView y)
    {
        Check("Copy", x, null, "x");
        Check("Copy", y, null, "y");
        SameShape("Copy", x, y);
        switch (x.DType)
        {
            case DType.Float32: CopyFrom<float>(x, y); break;
            case DType.Float64: CopyFrom<double>(x, y); break;
            default: CopyFrom<int>(x, y); break;
        }
    }

    private void CopyFrom<TIn>(StridedView x, StridedView y) where TIn : unmanaged
    {
        switch (y.DType)
        {
            case DType.Float32: RunCopy<TIn, float>(x, y); break;
            case DType.Float64: RunCopy<TIn, double>(x, y); break;
            default: RunCopy<TIn, int>(x, y); break;
        }
    }

    private void RunCopy<TIn, TOut>(StridedView x, StridedView y) where TIn : unmanaged where TOut : unmanaged
    {
        if (!Elements("Copy", y, out int n)) return;
        var (d, s) = Geo.Build(y.Shape, x, y);
        if (Dense(d, s))
        {
            Kernel<Action<AcceleratorStream, Index1D, ArrayView<TIn>, ArrayView<TOut>>>("Copy", KernelDefinitions.CopyDense, typeof(TIn), typeof(TOut), typeof(Conv))
                (_stream, n, Run<TIn>(x, s[0], n), Run<TOut>(y, s[1], n));
            return;
        }
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<TIn>, ArrayView<TOut>, Dims8, Strides8, Strides8>>("Copy", KernelDefinitions.Copy, typeof(TIn), typeof(TOut), typeof(Conv))
            (_stream, n, View<TIn>(x), View<TOut>(y), d, s[0], s[1]);
    }


    /// <inheritdoc />
    public void Where(StridedView condition, StridedView a, StridedView b, StridedView y)
    {
        Check("Where", condition, null, "condition");
        Check("Where", a, null, "a");
        Check("Where", b, a.DType, "b");
        Check("Where", y, a.DType, "y");
        SameShape("Where", condition, y);
        SameShape("Where", a, y);
        SameShape("Where", b, y);
        switch (condition.DType)
        {
            case DType.Float32: WhereCond<float>(condition, a, b, y); break;
            case DType.Float64: WhereCond<double>(condition, a, b, y); break;
            default: WhereCond<int>(condition, a, b, y); break;
        }
    }

    private void WhereCond<TC>(StridedView c, StridedView a, StridedView b, StridedView y) where TC : unmanaged
    {
        switch (a.DType)
        {
            case DType.Float32: RunWhere<TC, float>(c, a, b, y); break;
            case DType.Float64: RunWhere<TC, double>(c, a, b, y); break;
            default: RunWhere<TC, int>(c, a, b, y); break;
        }
    }

    private void RunWhere<TC, T>(StridedView c, StridedView a, StridedView b, StridedView y) where TC : unmanaged where T : unmanaged
    {
        if (!Elements("Where", y, out int n)) return;
        var (d, s) = Geo.Build(y.Shape, c, a, b, y);
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<TC>, ArrayView<T>, ArrayView<T>, ArrayView<T>, Dims8, Strides8, Strides8, Strides8, Strides8>>("Where", KernelDefinitions.Where, typeof(TC), typeof(T))
            (_stream, n, View<TC>(c), View<T>(a), View<T>(b), View<T>(y), d, s[0], s[1], s[2], s[3]);
    }
}
