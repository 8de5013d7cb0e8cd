namespace GpuNet.Kernels;

/// <summary>
/// Scalar definitions, in double, of the unary ops that .NET's <see cref="Math"/> lacks or computes
/// inaccurately: erf/erfc, log(1 + x), eˣ − 1 and the activations built on them. They are the
/// registered definitions the conformance suite holds the backends to, and the managed backend's
/// implementation (float rounds the double result).
/// </summary>
/// <remarks>
/// erf: for |x| &lt; 2.5 the series erf x = (2/√π)·e^(−x²)·Σₙ x(2x²)ⁿ / (1·3·…·(2n+1)), whose terms are
/// all positive (no cancellation), to n = 35 (24 for float); beyond, erfc x = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …))))
/// (the Laplace continued fraction), 40 levels deep, evaluated from the bottom; erfc takes the fraction from
/// 1.5 on, 80 levels deep. The truncations are below 2e-15 relative on their ranges (checked against Python's
/// math.erf/erfc). log1p and expm1 use
/// Kahan's correction: with u = 1 + x rounded, log(1 + x) = log(u)·x / (u − 1), exact to a few ulp.
/// </remarks>
internal static class SpecialFunctions
{
    private const double TwoOverSqrtPi = 1.1283791670955126;
    private const double OneOverSqrtPi = 0.5641895835477563;
    private const double OneOverSqrt2 = 0.7071067811865476;
    private const double OneOverSqrt2Pi = 0.3989422804014327;
    private const double SqrtTwoOverPi = 0.7978845608028654;

    /// <summary>Where erf switches from the series to the continued fraction.</summary>
    public const double ErfSwitch = 2.5;

    /// <summary>Where erfc switches from 1 − erf to the continued fraction (80 levels deep there: below 2e-15 relative from 1.5 on).</summary>
    public const double ErfcSwitch = 1.5;

    // cₙ = 2ⁿ/(1·3·…·(2n+1)): erf x = (2/√π)·e^(−x²)·x·Σ cₙ(x²)ⁿ, summed by Horner (no division per term).
    private static readonly double[] s_series = Series(35);

    private static double[] Series(int terms)
    {
        var c = new double[terms + 1];
        c[0] = 1;
        for (int n = 1; n <= terms; n++) c[n] = c[n - 1] * 2 / (2 * n + 1);
        return c;
    }

    /// <summary>
    /// How far the series and the fractions go: double's (the definition), or float's (24 terms, 12 and 32 levels:
    /// truncation below 1e-7 relative, what the backends' float kernels use; the managed backend evaluates them in double).
    /// </summary>
    private readonly record struct Terms(int Series, int ErfFraction, int ErfcFraction, double ErfcSwitch);

    private static readonly Terms s_double = new(35, 40, 80, ErfcSwitch);
    private static readonly Terms s_single = new(24, 12, 32, 1.25);

    /// <summary>The error function (2/√π)∫₀ˣ e^(−t²) dt.</summary>
    public static double Erf(double x) => Erf(x, s_double);

    /// <summary><see cref="Erf(double)"/> to float accuracy (fewer terms).</summary>
    public static double ErfSingle(double x) => Erf(x, s_single);

    private static double Erf(double x, Terms terms)
    {
        double ax = Math.Abs(x);
        if (!(ax >= ErfSwitch)) return ErfSeries(x, terms.Series); // NaN falls into the series and stays NaN
        double r = 1 - ErfcFraction(ax, terms.ErfFraction);
        return x < 0 ? -r : r;
    }

    /// <summary>
    /// 1 − erf x, accurate in relative terms for large positive x: from <see cref="ErfcSwitch"/> on it comes from
    /// the continued fraction, not from 1 − erf x (which would lose the digits that the tail of GELU needs).
    /// </summary>
    public static double Erfc(double x) => Erfc(x, s_double);

    private static double Erfc(double x, Terms terms)
    {
        if (x >= terms.ErfcSwitch) return ErfcFraction(x, terms.ErfcFraction);
        if (x <= -terms.ErfcSwitch) return 2 - ErfcFraction(-x, terms.ErfcFraction);
        return 1 - ErfSeries(x, terms.Series);
    }

    private static double ErfSeries(double x, int terms)
    {
        double x2 = x * x, sum = s_series[terms];
        for (int n = terms - 1; n >= 0; n--) sum = sum * x2 + s_series[n];
        return TwoOverSqrtPi * Math.Exp(-x2) * x * sum;
    }

    private static double ErfcFraction(double x, int depth)
    {
        double t = x;
        for (int k = depth; k >= 1; k--) t = x + 0.5 * k / t;
        return Math.Exp(-x * x) * OneOverSqrtPi / t;
    }

    /// <summary>ln(1 + x), accurate for small |x|.</summary>
    public static double Log1p(double x)
    {
        double u = 1 + x;
        if (u == 1) return x;
        if (double.IsPositiveInfinity(u)) return u;
        return Math.Log(u) * x / (u - 1);
    }

    /// <summary>eˣ − 1, accurate for small |x|.</summary>
    public static double Expm1(double x)
    {
        double u = Math.Exp(x);
        if (u == 1) return x;
        double um1 = u - 1;
        if (um1 == -1) return -1;
        if (double.IsPositiveInfinity(u)) return u;
        return um1 * x / Math.Log(u);
    }

    /// <summary>The standard normal CDF Φ(x) = erfc(−x/√2)/2, accurate in relative terms for negative x too.</summary>
    public static double NormalCdf(double x) => 0.5 * Erfc(-x * OneOverSqrt2);

    /// <summary>GELU, exact form: x·Φ(x).</summary>
    public static double Gelu(double x) => x * NormalCdf(x);

    /// <summary>GELU's derivative Φ(x) + x·φ(x).</summary>
    public static double GeluSlope(double x) => NormalCdf(x) + x * Math.Exp(-0.5 * x * x) * OneOverSqrt2Pi;

    /// <summary>
    /// GELU, tanh approximation: x/2·(1 + tanh u), u = √(2/π)(x + 0.044715x³), computed as x·σ(2u) (the same
    /// function: 1 + tanh u = 2σ(2u)), which does not cancel where tanh u is near −1.
    /// </summary>
    public static double GeluTanh(double x) => x / (1 + Math.Exp(-2 * SqrtTwoOverPi * (x + 0.044715 * x * x * x)));

    /// <summary>The tanh approximation's derivative: with s = σ(2u), s·(1 + 2x(1 − s)·√(2/π)(1 + 3·0.044715x²)).</summary>
    public static double GeluTanhSlope(double x)
    {
        double s = 1 / (1 + Math.Exp(-2 * SqrtTwoOverPi * (x + 0.044715 * x * x * x)));
        return s * (1 + 2 * x * (1 - s) * SqrtTwoOverPi * (1 + 3 * 0.044715 * x * x));
    }

    /// <summary>SiLU x·σ(x).</summary>
    public static double Silu(double x) => x / (1 + Math.Exp(-x));

    /// <summary>SiLU's derivative σ(x)(1 + x(1 − σ(x))).</summary>
    public static double SiluSlope(double x)
    {
        double s = 1 / (1 + Math.Exp(-x));
        return s * (1 + x * (1 - s));
    }

    /// <summary>LeakyReLU: x for x &gt; 0, else slope·x (PyTorch's; NaN stays NaN).</summary>
    public static double LeakyRelu(double x, double slope) => x > 0 ? x : x * slope;

    /// <summary>ELU: x for x &gt; 0, else α(eˣ − 1).</summary>
    public static double Elu(double x, double alpha) => x > 0 ? x : alpha * Expm1(x);

    /// <summary>Softplus as PyTorch defines it: x where βx &gt; threshold, else ln(1 + e^(βx))/β.</summary>
    public static double Softplus(double x, double beta, double threshold) => x * beta > threshold ? x : Log1p(Math.Exp(beta * x)) / beta;
}
