using System.Numerics;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace GpuNet.Kernels.Ilgpu;

// Unary ops: the launch (op → op struct, dtype → kernel), the two kernels, and one op struct per UnaryOp.
// Op structs are field-less value types whose methods ILGPU inlines into the kernel a generic parameter
// names (kernels cannot take delegates); each implements IUnaryOp<T> once per dtype it supports, so the
// kernel registry instantiates exactly the supported pairs and the codegen tests compile each of them.

internal sealed partial class IlgpuBackend
{
    /// <inheritdoc />
    public void Unary(UnaryOp op, StridedView x, StridedView y, double alpha = 0, double beta = 0)
    {
        string name = $"Unary({op})";
        Check(name, x, null, "x");
        Check(name, y, x.DType, "y");
        SameShape(name, x, y);
        var opType = op switch
        {
            UnaryOp.Neg => typeof(NegOp),
            UnaryOp.Abs => typeof(AbsOp),
            UnaryOp.Sign => typeof(SignOp),
            UnaryOp.Exp => typeof(ExpOp),
            UnaryOp.Log => typeof(LogOp),
            UnaryOp.Sqrt => typeof(SqrtOp),
            UnaryOp.Sin => typeof(SinOp),
            UnaryOp.Cos => typeof(CosOp),
            UnaryOp.Sigmoid => typeof(SigmoidOp),
            UnaryOp.Tanh => typeof(TanhOp),
            UnaryOp.Relu => typeof(ReluOp),
            UnaryOp.Reciprocal => typeof(ReciprocalOp),
            UnaryOp.PowScalar => typeof(PowScalarOp),
            UnaryOp.Affine => typeof(AffineOp),
            UnaryOp.Clamp => typeof(ClampOp),
            _ => throw new ArgumentOutOfRangeException(nameof(op), $"Unary: unknown op {op}."),
        };
        switch (x.DType)
        {
            case DType.Float32: RunUnary(name, opType, x, y, (float)alpha, (float)beta); break;
            case DType.Float64: RunUnary(name, opType, x, y, alpha, beta); break;
            default:
                // Integer parameters: clamp bounds saturate (±∞ → int range); Affine's α, β are taken as integers.
                RunUnary(name, opType, x, y, SaturateToInt(alpha), SaturateToInt(beta));
                break;
        }
    }

    private void RunUnary<T>(string name, Type opType, StridedView x, StridedView y, T alpha, T beta) where T : unmanaged
    {
        if (Elements(name, y, out int count) && Geo.Build(y.Shape, x, y) is var (dd, ds) && Dense(dd, ds))
        {
            Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, T, T>>(name, KernelDefinitions.UnaryDense, typeof(T), opType)
                (_stream, count, Run<T>(x, ds[0], count), Run<T>(y, ds[1], count), alpha, beta);
            return;
        }
        var kernel = Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, Dims8, Strides8, Strides8, T, T>>(name, KernelDefinitions.Unary, typeof(T), opType);
        if (!Elements(name, y, out int n)) return;
        var (d, s) = Geo.Build(y.Shape, x, y);
        kernel(_stream, n, View<T>(x), View<T>(y), d, s[0], s[1], alpha, beta);
    }
}

internal static partial class IlgpuKernels
{
    [Kernel]
    public static void UnaryDense<T, TOp>(Index1D i, ArrayView<T> x, ArrayView<T> y, T alpha, T beta)
        where T : unmanaged, INumber<T> where TOp : struct, IUnaryOp<T>
    {
        y[i] = default(TOp).Apply(x[i], alpha, beta);
    }

    [Kernel]
    public static void Unary<T, TOp>(Index1D i, ArrayView<T> x, ArrayView<T> y, Dims8 d, Strides8 sx, Strides8 sy, T alpha, T beta)
        where T : unmanaged, INumber<T> where TOp : struct, IUnaryOp<T>
    {
        var c = Geo.Decompose(i, d);
        y[Geo.At(c, sy)] = default(TOp).Apply(x[Geo.At(c, sx)], alpha, beta);
    }
}

/// <summary>y = f(x; alpha, beta) for one dtype.</summary>
internal interface IUnaryOp<T> where T : unmanaged
{
    T Apply(T x, T alpha, T beta);
}

internal struct NegOp : IUnaryOp<float>, IUnaryOp<double>, IUnaryOp<int>
{
    public float Apply(float x, float a, float b) => -x;
    public double Apply(double x, double a, double b) => -x;
    public int Apply(int x, int a, int b) => -x;
}

internal struct AbsOp : IUnaryOp<float>, IUnaryOp<double>, IUnaryOp<int>
{
    public float Apply(float x, float a, float b) => XMath.Abs(x);
    public double Apply(double x, double a, double b) => XMath.Abs(x);
    // int.MinValue stays int.MinValue (two's complement), as in PyTorch; no overflow exception in kernels.
    public int Apply(int x, int a, int b) => x < 0 ? -x : x;
}

internal struct SignOp : IUnaryOp<float>, IUnaryOp<double>, IUnaryOp<int>
{
    // Returning x itself for the third case keeps ±0 and NaN.
    public float Apply(float x, float a, float b) => x > 0 ? 1f : x < 0 ? -1f : x;
    public double Apply(double x, double a, double b) => x > 0 ? 1.0 : x < 0 ? -1.0 : x;
    public int Apply(int x, int a, int b) => x > 0 ? 1 : x < 0 ? -1 : 0;
}

internal struct ExpOp : IUnaryOp<float>, IUnaryOp<double>
{
    public float Apply(float x, float a, float b) => XMath.Exp(x);
    public double Apply(double x, double a, double b) => XMath.Exp(x);
}

internal struct LogOp : IUnaryOp<float>, IUnaryOp<double>
{
    public float Apply(float x, float a, float b) => XMath.Log(x);
    public double Apply(double x, double a, double b) => XMath.Log(x);
}

internal struct SqrtOp : IUnaryOp<float>, IUnaryOp<double>
{
    public float Apply(float x, float a, float b) => XMath.Sqrt(x);
    public double Apply(double x, double a, double b) => XMath.Sqrt(x);
}

internal struct SinOp : IUnaryOp<float>, IUnaryOp<double>
{
    public float Apply(float x, float a, float b) => XMath.Sin(x);
    public double Apply(double x, double a, double b) => XMath.Sin(x);
}

internal struct CosOp : IUnaryOp<float>, IUnaryOp<double>
{
    public float Apply(float x, float a, float b) => XMath.Cos(x);
    public double Apply(double x, double a, double b) => XMath.Cos(x);
}

internal struct SigmoidOp : IUnaryOp<float>, IUnaryOp<double>
{
    // exp(-x) overflows to +inf for very negative x, giving 1/inf = 0: the right limit.
    public float Apply(float x, float a, float b) => 1f / (1f + XMath.Exp(-x));
    public double Apply(double x, double a, double b) => 1.0 / (1.0 + XMath.Exp(-x));
}

internal struct TanhOp : IUnaryOp<float>, IUnaryOp<double>
{
    // Not XMath.Tanh: on CUDA its float form is PTX tanh.approx.f32 (relative error up to 2^-11, seen as
    // 5e-6 off at 0.7 on an H200), and its double form divides exp by exp, giving inf/inf = NaN past
    // |x| ≈ 355. Below 1/4 the odd Taylor series to x⁹ (truncation < 1e-8 relative); above, 1 − 2/(e^{2|x|}+1),
    // which saturates to exactly 1 when the exponential overflows. NaN falls through to the exponential.
    public float Apply(float x, float a, float b)
    {
        float ax = XMath.Abs(x);
        if (ax < 0.25f)
        {
            float x2 = x * x;
            return x * (1f + x2 * (-1f / 3f + x2 * (2f / 15f + x2 * (-17f / 315f + x2 * (62f / 2835f)))));
        }
        float r = 1f - 2f / (XMath.Exp(2f * ax) + 1f);
        return x < 0f ? -r : r;
    }

    public double Apply(double x, double a, double b) => XMath.Abs(x) > 20.0 ? (x < 0.0 ? -1.0 : 1.0) : XMath.Tanh(x);
}

internal struct ReluOp : IUnaryOp<float>, IUnaryOp<double>, IUnaryOp<int>
{
    // NaN propagates (as in PyTorch): only a number known to be negative becomes 0.
    public float Apply(float x, float a, float b) => x < 0 ? 0f : x;
    public double Apply(double x, double a, double b) => x < 0 ? 0.0 : x;
    public int Apply(int x, int a, int b) => x < 0 ? 0 : x;
}

internal struct ReciprocalOp : IUnaryOp<float>, IUnaryOp<double>
{
    public float Apply(float x, float a, float b) => 1f / x;
    public double Apply(double x, double a, double b) => 1.0 / x;
}

internal struct PowScalarOp : IUnaryOp<float>, IUnaryOp<double>
{
    public float Apply(float x, float a, float b) => XMath.Pow(x, a);
    public double Apply(double x, double a, double b) => XMath.Pow(x, a);
}

internal struct AffineOp : IUnaryOp<float>, IUnaryOp<double>, IUnaryOp<int>
{
    public float Apply(float x, float a, float b) => a * x + b;
    public double Apply(double x, double a, double b) => a * x + b;
    public int Apply(int x, int a, int b) => a * x + b;
}

internal struct ClampOp : IUnaryOp<float>, IUnaryOp<double>, IUnaryOp<int>
{
    // Written as two comparisons so NaN passes through unchanged.
    public float Apply(float x, float lo, float hi) => x < lo ? lo : x > hi ? hi : x;
    public double Apply(double x, double lo, double hi) => x < lo ? lo : x > hi ? hi : x;
    public int Apply(int x, int lo, int hi) => x < lo ? lo : x > hi ? hi : x;
}
