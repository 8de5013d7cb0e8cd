using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace GpuNet.Kernels.Managed;

internal sealed unsafe partial class ManagedBackend
{
    /// <summary>Elements per stack-buffer chunk when a strided row is gathered for a contiguous SIMD kernel.</summary>
    internal const int Chunk = 512;

    /// <inheritdoc />
    public void Fill(StridedView y, double value)
    {
        CheckView(y, "Fill");
        var l = StridedLoop.Create([y]);
        switch (y.DType)
        {
            case DType.Float32: { var k = new FillRow<float>((float)value); StridedLoop.Run(ref l, ref k); break; }
            case DType.Float64: { var k = new FillRow<double>(value); StridedLoop.Run(ref l, ref k); break; }
            default: { var k = new FillRow<int>(int.CreateSaturating(value)); StridedLoop.Run(ref l, ref k); break; }
        }
    }

    /// <inheritdoc />
    public void FillAffine(StridedView y, double start, double step)
    {
        CheckView(y, "FillAffine");
        var l = StridedLoop.Create([y]);
        switch (y.DType)
        {
            case DType.Float32: { var k = new AffineRow<float>(start, step); StridedLoop.Run(ref l, ref k); break; }
            case DType.Float64: { var k = new AffineRow<double>(start, step); StridedLoop.Run(ref l, ref k); break; }
            default: { var k = new AffineRow<int>(start, step); StridedLoop.Run(ref l, ref k); break; }
        }
    }

    /// <inheritdoc />
    public void FillRandom(StridedView y, RandomDistribution distribution, ulong seed, ulong counterOffset, double alpha, double beta)
    {
        CheckView(y, "FillRandom");
        if (y.DType == DType.Int32) throw IntNotSupported($"FillRandom ({distribution})");
        var l = StridedLoop.Create([y]);
        var k = new RandomRow(y.DType, distribution, seed, counterOffset, alpha, beta);
        StridedLoop.Run(ref l, ref k);
    }

    /// <inheritdoc />
    public void Copy(StridedView x, StridedView y)
    {
        CheckView(x, "Copy");
        CheckView(y, "Copy");
        var l = StridedLoop.Create([x, y]);
        switch ((x.DType, y.DType))
        {
            case (DType.Float32, DType.Float32): { var k = new CopyRow<float>(); StridedLoop.Run(ref l, ref k); break; }
            case (DType.Float64, DType.Float64): { var k = new CopyRow<double>(); StridedLoop.Run(ref l, ref k); break; }
            case (DType.Int32, DType.Int32): { var k = new CopyRow<int>(); StridedLoop.Run(ref l, ref k); break; }
            case (DType.Float32, DType.Float64): { var k = new ConvertRow<float, double>(); StridedLoop.Run(ref l, ref k); break; }
            case (DType.Float32, DType.Int32): { var k = new ConvertRow<float, int>(); StridedLoop.Run(ref l, ref k); break; }
            case (DType.Float64, DType.Float32): { var k = new ConvertRow<double, float>(); StridedLoop.Run(ref l, ref k); break; }
            case (DType.Float64, DType.Int32): { var k = new ConvertRow<double, int>(); StridedLoop.Run(ref l, ref k); break; }
            case (DType.Int32, DType.Float32): { var k = new ConvertRow<int, float>(); StridedLoop.Run(ref l, ref k); break; }
            default: { var k = new ConvertRow<int, double>(); StridedLoop.Run(ref l, ref k); break; }
        }
    }

    /// <inheritdoc />
    public void Where(StridedView condition, StridedView a, StridedView b, StridedView y)
    {
        CheckView(condition, "Where");
        CheckView(a, "Where");
        CheckView(b, "Where");
        CheckView(y, "Where");
        CheckSameDType("Where", a, b, y);
        var l = StridedLoop.Create([condition, a, b, y]);
        switch (y.DType)
        {
            case DType.Float32: WhereT<float>(condition.DType, ref l); break;
            case DType.Float64: WhereT<double>(condition.DType, ref l); break;
            default: WhereT<int>(condition.DType, ref l); break;
        }
    }

    private static void WhereT<T>(DType conditionType, ref StridedLoop.Layout l) where T : unmanaged, INumber<T>
    {
        switch (conditionType)
        {
            case DType.Float32: { var k = new WhereRow<float, T>(); StridedLoop.Run(ref l, ref k); break; }
            case DType.Float64: { var k = new WhereRow<double, T>(); StridedLoop.Run(ref l, ref k); break; }
            default: { var k = new WhereRow<int, T>(); StridedLoop.Run(ref l, ref k); break; }
        }
    }

    private static void CheckSameDType(string op, params ReadOnlySpan<StridedView> views)
    {
        for (int i = 1; i < views.Length; i++)
            if (views[i].DType != views[0].DType)
                throw new ArgumentException($"{op}: operands must share one dtype, got {views[0].DType.Name()} and {views[i].DType.Name()}.");
    }

    private struct FillRow<T>(T value) : IRowKernel where T : unmanaged
    {
        public readonly void Row(long index, int n, ref readonly RowOperands o)
        {
            T* y = (T*)o.P0;
            if (o.S0 == 1) new Span<T>(y, n).Fill(value);
            else for (int i = 0; i < n; i++) y[i * o.S0] = value;
        }
    }

    private struct AffineRow<T>(double start, double step) : IRowKernel where T : unmanaged, INumber<T>
    {
        public readonly void Row(long index, int n, ref readonly RowOperands o)
        {
            // Computed in double from the element's index, so a long Arange does not accumulate rounding.
            T* y = (T*)o.P0;
            for (int i = 0; i < n; i++) y[i * o.S0] = T.CreateSaturating(start + (index + i) * step);
        }
    }

    private struct RandomRow(DType dtype, RandomDistribution distribution, ulong seed, ulong counterOffset, double alpha, double beta) : IRowKernel
    {
        public readonly void Row(long index, int n, ref readonly RowOperands o)
        {
            ulong c0 = counterOffset + (ulong)index;
            if (dtype == DType.Float32)
            {
                float* y = (float*)o.P0;
                float a = (float)alpha, b = (float)beta;
                if (distribution == RandomDistribution.Uniform)
                    for (int i = 0; i < n; i++) y[i * o.S0] = Philox.UniformFloat(seed, c0 + (ulong)i, a, b);
                else
                    for (int i = 0; i < n; i++) y[i * o.S0] = Philox.NormalFloat(seed, c0 + (ulong)i, a, b);
            }
            else
            {
                double* y = (double*)o.P0;
                if (distribution == RandomDistribution.Uniform)
                    for (int i = 0; i < n; i++) y[i * o.S0] = Philox.UniformDouble(seed, c0 + (ulong)i, alpha, beta);
                else
                    for (int i = 0; i < n; i++) y[i * o.S0] = Philox.NormalDouble(seed, c0 + (ulong)i, alpha, beta);
            }
        }
    }

    private struct CopyRow<T> : IMapRowKernel where T : unmanaged
    {
        public readonly void Row(long index, int n, ref readonly RowOperands o)
        {
            T* x = (T*)o.P0, y = (T*)o.P1;
            if (o.S0 == 1 && o.S1 == 1) new ReadOnlySpan<T>(x, n).CopyTo(new Span<T>(y, n));
            else if (o.S0 == 0) { T v = *x; for (int i = 0; i < n; i++) y[i * o.S1] = v; }
            else for (int i = 0; i < n; i++) y[i * o.S1] = x[i * o.S0];
        }
    }

    private struct ConvertRow<TFrom, TTo> : IMapRowKernel
        where TFrom : unmanaged, INumber<TFrom> where TTo : unmanaged, INumber<TTo>
    {
        public readonly void Row(long index, int n, ref readonly RowOperands o)
        {
            // Saturating conversion truncates toward zero, clamps out-of-range values and maps NaN to 0,
            // which is what a float→int cast should do rather than raise.
            TFrom* x = (TFrom*)o.P0;
            TTo* y = (TTo*)o.P1;
            if (o.S0 == 1 && o.S1 == 1) TensorPrimitives.ConvertSaturating(new ReadOnlySpan<TFrom>(x, n), new Span<TTo>(y, n));
            else for (int i = 0; i < n; i++) y[i * o.S1] = TTo.CreateSaturating(x[i * o.S0]);
        }
    }

    private struct WhereRow<TC, T> : IMapRowKernel where TC : unmanaged, INumber<TC> where T : unmanaged, INumber<T>
    {
        public readonly void Row(long index, int n, ref readonly RowOperands o)
        {
            TC* c = (TC*)o.P0;
            T* a = (T*)o.P1, b = (T*)o.P2, y = (T*)o.P3;
            int i = 0;
            if (typeof(TC) == typeof(T) && o.S0 == 1 && o.S1 == 1 && o.S2 == 1 && o.S3 == 1 && Vector.IsHardwareAccelerated)
            {
                for (; i <= n - Vector<T>.Count; i += Vector<T>.Count)
                {
                    var mask = Vector.Equals(Vector.LoadUnsafe(ref Unsafe.AsRef<T>((T*)c + i)), Vector<T>.Zero);
                    var r = Vector.ConditionalSelect(mask, Vector.LoadUnsafe(ref Unsafe.AsRef<T>(b + i)), Vector.LoadUnsafe(ref Unsafe.AsRef<T>(a + i)));
                    r.StoreUnsafe(ref Unsafe.AsRef<T>(y + i));
                }
            }
            for (; i < n; i++) y[i * o.S3] = c[i * o.S0] != TC.Zero ? a[i * o.S1] : b[i * o.S2];
        }
    }
}
