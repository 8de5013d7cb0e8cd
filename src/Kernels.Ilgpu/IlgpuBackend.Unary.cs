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
            UnaryOp.Erf => typeof(ErfOp),
            UnaryOp.Log1p => typeof(Log1pOp),
            UnaryOp.Expm1 => typeof(Expm1Op),
            UnaryOp.Gelu => typeof(GeluOp),
            UnaryOp.GeluTanh => typeof(GeluTanhOp),
            UnaryOp.Silu => typeof(SiluOp),
            UnaryOp.LeakyRelu => typeof(LeakyReluOp),
            UnaryOp.Elu => typeof(EluOp),
            UnaryOp.Softplus => typeof(SoftplusOp),
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

/// <summary>
/// erf/erfc, log1p and expm1 in kernel code (ILGPU's XMath has none of them), by the algorithms of the
/// registered definitions (GpuNet.Kernels.SpecialFunctions): for |x| &lt; 2.5 the positive-term series
/// erf x = (2/√π)e^(−x²)Σ x(2x²)ⁿ/(2n+1)!!, beyond it the Laplace continued fraction for erfc, which erfc
/// itself takes from 1.5 on (double) or 1.25 on (float) so that the tail keeps its relative accuracy; Kahan's
/// corrections for log1p and expm1. Float runs in float (no double on devices without fp64) with fewer
/// terms: 24 series terms, 12 fraction levels for erf and 32 for erfc keep the truncation below 1e-7
/// relative (double: 35, 40 and 80, below 2e-15), so what remains is float rounding.
/// </summary>
internal static class KernelMath
{
    public static float Erf(float x)
    {
        float ax = XMath.Abs(x);
        if (!(ax >= 2.5f)) return ErfSeries(x);
        float r = 1f - ErfcFraction(ax, 12);
        return x < 0f ? -r : r;
    }

    public static double Erf(double x)
    {
        double ax = XMath.Abs(x);
        if (!(ax >= 2.5)) return ErfSeries(x);
        double r = 1.0 - ErfcFraction(ax, 40);
        return x < 0.0 ? -r : r;
    }

    public static float Erfc(float x) => x >= 1.25f ? ErfcFraction(x, 32) : x <= -1.25f ? 2f - ErfcFraction(-x, 32) : 1f - ErfSeries(x);

    public static double Erfc(double x) => x >= 1.5 ? ErfcFraction(x, 80) : x <= -1.5 ? 2.0 - ErfcFraction(-x, 80) : 1.0 - ErfSeries(x);

    private static float ErfSeries(float x)
    {
        float x2 = x * x, term = x, sum = x;
        for (int n = 1; n <= 24; n++)
        {
            term *= 2f * x2 / (2 * n + 1);
            sum += term;
        }
        return 1.1283791670955126f * XMath.Exp(-x2) * sum;
    }

    private static double ErfSeries(double x)
    {
        double x2 = x * x, term = x, sum = x;
        for (int n = 1; n <= 35; n++)
        {
            term *= 2.0 * x2 / (2 * n + 1);
            sum += term;
        }
        return 1.1283791670955126 * XMath.Exp(-x2) * sum;
    }

    private static float ErfcFraction(float x, int depth)
    {
        float t = x;
        for (int k = depth; k >= 1; k--) t = x + 0.5f * k / t;
        return XMath.Exp(-x * x) * 0.5641895835477563f / t;
    }

    private static double ErfcFraction(double x, int depth)
    {
        double t = x;
        for (int k = depth; k >= 1; k--) t = x + 0.5 * k / t;
        return XMath.Exp(-x * x) * 0.5641895835477563 / t;
    }

    public static float Log1p(float x)
    {
        float u = 1f + x;
        if (u == 1f) return x;
        if (u == float.PositiveInfinity) return u;
        return XMath.Log(u) * x / (u - 1f);
    }

    public static double Log1p(double x)
    {
        double u = 1.0 + x;
        if (u == 1.0) return x;
        if (u == double.PositiveInfinity) return u;
        return XMath.Log(u) * x / (u - 1.0);
    }

    public static float Expm1(float x)
    {
        float u = XMath.Exp(x);
        if (u == 1f) return x;
        float um1 = u - 1f;
        if (um1 == -1f) return -1f;
        if (u == float.PositiveInfinity) return u;
        return um1 * x / XMath.Log(u);
    }

    public static double Expm1(double x)
    {
        double u = XMath.Exp(x);
        if (u == 1.0) return x;
        double um1 = u - 1.0;
        if (um1 == -1.0) return -1.0;
        if (u == double.PositiveInfinity) return u;
        return um1 * x / XMath.Log(u);
    }

    /// <summary>Φ(x) = erfc(−x/√2)/2.</summary>
    public static float NormalCdf(float x) => 0.5f * Erfc(-x * 0.70710678118654752f);

    public static double NormalCdf(double x) => 0.5 * Erfc(-x * 0.70710678118654752);

    // GELU's tanh form as x·σ(2u), u = √(2/π)(x + 0.044715x³): 1 + tanh u = 2σ(2u) without the cancellation near −1.
    public static float GeluTanh(float x) => x / (1f + XMath.Exp(-1.5957691216057308f * (x + 0.044715f * x * x * x)));

    public static double GeluTanh(double x) => x / (1.0 + XMath.Exp(-1.5957691216057308 * (x + 0.044715 * x * x * x)));

    public static float Silu(float x) => x / (1f + XMath.Exp(-x));

    public static double Silu(double x) => x / (1.0 + XMath.Exp(-x));

    public static float Softplus(float x, float beta, float threshold) => x * beta > threshold ? x : Log1p(XMath.Exp(beta * x)) / beta;

    public static double Softplus(double x, double beta, double threshold) => x * beta > threshold ? x : Log1p(XMath.Exp(beta * x)) / beta;

    // Derivatives for ActivationBackward: GELU and SiLU of their input z, Softplus of its output y.

    public static float GeluSlope(float z) => NormalCdf(z) + z * XMath.Exp(-0.5f * z * z) * 0.3989422804014327f;

    public static double GeluSlope(double z) => NormalCdf(z) + z * XMath.Exp(-0.5 * z * z) * 0.3989422804014327;

    // s·(1 + 2z(1 − s)·√(2/π)(1 + 3·0.044715z²)), s = σ(2u).
    public static float GeluTanhSlope(float z)
    {
        float s = 1f / (1f + XMath.Exp(-1.5957691216057308f * (z + 0.044715f * z * z * z)));
        return s * (1f + 2f * z * (1f - s) * 0.7978845608028654f * (1f + 0.134145f * z * z));
    }

    public static double GeluTanhSlope(double z)
    {
        double s = 1.0 / (1.0 + XMath.Exp(-1.5957691216057308 * (z + 0.044715 * z * z * z)));
        return s * (1.0 + 2.0 * z * (1.0 - s) * 0.7978845608028654 * (1.0 + 0.134145 * z * z));
    }

    public static float SiluSlope(float z)
    {
        float s = 1f / (1f + XMath.Exp(-z));
        return s * (1f + z * (1f - s));
    }

    public static double SiluSlope(double z)
    {
        double s = 1.0 / (1.0 + XMath.Exp(-z));
        return s * (1.0 + z * (1.0 - s));
    }

    public static float SoftplusSlope(float y) => y > 20f ? 1f : -Expm1(-y);

    public static double SoftplusSlope(double y) => y > 20.0 ? 1.0 : -Expm1(-y);
}

internal struct ErfOp : IUnaryOp<float>, IUnaryOp<double>
{
    public float Apply(float x, float a, float b) => KernelMath.Erf(x);
    public double Apply(double x, double a, double b) => KernelMath.Erf(x);
}

internal struct Log1pOp : IUnaryOp<float>, IUnaryOp<double>
{
    public float Apply(float x, float a, float b) => KernelMath.Log1p(x);
    public double Apply(double x, double a, double b) => KernelMath.Log1p(x);
}

internal struct Expm1Op : IUnaryOp<float>, IUnaryOp<double>
{
    public float Apply(float x, float a, float b) => KernelMath.Expm1(x);
    public double Apply(double x, double a, double b) => KernelMath.Expm1(x);
}

internal struct GeluOp : IUnaryOp<float>, IUnaryOp<double>
{
    public float Apply(float x, float a, float b) => x * KernelMath.NormalCdf(x);
    public double Apply(double x, double a, double b) => x * KernelMath.NormalCdf(x);
}

internal struct GeluTanhOp : IUnaryOp<float>, IUnaryOp<double>
{
    public float Apply(float x, float a, float b) => KernelMath.GeluTanh(x);
    public double Apply(double x, double a, double b) => KernelMath.GeluTanh(x);
}

internal struct SiluOp : IUnaryOp<float>, IUnaryOp<double>
{
    public float Apply(float x, float a, float b) => KernelMath.Silu(x);
    public double Apply(double x, double a, double b) => KernelMath.Silu(x);
}

internal struct LeakyReluOp : IUnaryOp<float>, IUnaryOp<double>
{
    // x > 0 keeps x, anything else (NaN included) is scaled: NaN stays NaN.
    public float Apply(float x, float slope, float b) => x > 0f ? x : x * slope;
    public double Apply(double x, double slope, double b) => x > 0.0 ? x : x * slope;
}

internal struct EluOp : IUnaryOp<float>, IUnaryOp<double>
{
    public float Apply(float x, float alpha, float b) => x > 0f ? x : alpha * KernelMath.Expm1(x);
    public double Apply(double x, double alpha, double b) => x > 0.0 ? x : alpha * KernelMath.Expm1(x);
}

internal struct SoftplusOp : IUnaryOp<float>, IUnaryOp<double>
{
    public float Apply(float x, float beta, float threshold) => KernelMath.Softplus(x, beta, threshold);
    public double Apply(double x, double beta, double threshold) => KernelMath.Softplus(x, beta, threshold);
}
