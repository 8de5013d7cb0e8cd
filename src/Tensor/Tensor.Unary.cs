using GpuNet.Kernels;

namespace GpuNet;

// Elementwise ops of one operand: each is its forward (one backend launch through Map) and its VJP, written
// in tensor ops so that it can itself be differentiated. [UnaryKernel] names the backend op a method runs;
// the gradient-check suite finds every such method without parameters and checks it on the op's inputs.
public sealed partial class Tensor
{
    private Tensor Map(string name, UnaryOp op, double alpha = 0, double beta = 0, bool floatingOnly = true)
    {
        ThrowIfDisposed(name);
        if (floatingOnly && !DType.IsFloating())
            throw new NotSupportedException($"{name}: dtype {DType.Name()} is not supported (expected float32 or float64) for the tensor of shape {ShapeUtil.Format(ShapeArray)}; convert it with To(DType.Float32).");
        if (FuseUnary(name, op, alpha, beta) is { } fused) return fused;
        var y = Empty(ShapeArray, DType, Device, name);
        if (NumElements > 0) Backend.Unary(op, AsView(), y.AsView(), alpha, beta);
        return y;
    }

    /// <summary>
    /// The unary ops whose result does not depend on how a row is split into vectors: exactly rounded
    /// (IEEE negation, absolute value, max/min, one multiply then one add, square root, division), so the
    /// fused pass, which applies them chunk by chunk, is bit for bit the launch apart. Exp, tanh and the
    /// like are computed differently in vector bodies and scalar tails, and do not fuse.
    /// </summary>
    private static bool FusesOntoBinary(UnaryOp op) =>
        op is UnaryOp.Affine or UnaryOp.Neg or UnaryOp.Abs or UnaryOp.Sign or UnaryOp.Relu or UnaryOp.Clamp or UnaryOp.Sqrt or UnaryOp.Reciprocal;

    /// <summary>
    /// op(x) in one pass from the inputs of the binary op that x's deferred result would come from
    /// (a*b+1 and relu(a+b) read a and b and write once); x itself stays deferred, and is computed only if
    /// read. Null when x is not such a result, or not all of it, or the op does not fuse.
    /// </summary>
    private Tensor? FuseUnary(string name, UnaryOp op, double alpha, double beta)
    {
        if (!FusesOntoBinary(op) || Storage.Pending is not { } pending || Offset != 0 || !IsContiguous || !ShapeUtil.SameShape(ShapeArray, pending.Y.Shape)) return null;
        var y = Empty(ShapeArray, DType, Device, name);
        if (pending.TryFuseUnary(y.OutputView(), op, alpha, beta)) return y;
        y.Dispose();
        return null;
    }

    /// <summary>−x.</summary>
    [UnaryKernel(UnaryOp.Neg)]
    public Tensor Neg()
    {
        var y = Map("Neg", UnaryOp.Neg, floatingOnly: false);
        return Record(y, "Neg", [this], g => [g.Neg()]);
    }

    /// <summary>|x|; the gradient at 0 is 0 (sign(0) = 0), as in PyTorch.</summary>
    [UnaryKernel(UnaryOp.Abs)]
    public Tensor Abs()
    {
        var y = Map("Abs", UnaryOp.Abs, floatingOnly: false);
        return Record(y, "Abs", [this], [this], (g, s) => [g * s[0].Sign()]);
    }

    /// <summary>−1, 0 or +1; its gradient is zero everywhere.</summary>
    [UnaryKernel(UnaryOp.Sign)]
    public Tensor Sign()
    {
        var y = Map("Sign", UnaryOp.Sign, floatingOnly: false);
        return Record(y, "Sign", [this], g => [ZerosLike(g)]);
    }

    /// <summary>eˣ.</summary>
    [UnaryKernel(UnaryOp.Exp)]
    public Tensor Exp()
    {
        var y = Map("Exp", UnaryOp.Exp);
        return Record(y, "Exp", [this], [y], (g, s) => [g * s[0]]);
    }

    /// <summary>ln x.</summary>
    [UnaryKernel(UnaryOp.Log)]
    public Tensor Log()
    {
        var y = Map("Log", UnaryOp.Log);
        return Record(y, "Log", [this], [this], (g, s) => [g / s[0]]);
    }

    /// <summary>√x.</summary>
    [UnaryKernel(UnaryOp.Sqrt)]
    public Tensor Sqrt()
    {
        var y = Map("Sqrt", UnaryOp.Sqrt);
        return Record(y, "Sqrt", [this], [y], (g, s) => [g * 0.5 / s[0]]);
    }

    /// <summary>sin x.</summary>
    [UnaryKernel(UnaryOp.Sin)]
    public Tensor Sin()
    {
        var y = Map("Sin", UnaryOp.Sin);
        return Record(y, "Sin", [this], [this], (g, s) => [g * s[0].Cos()]);
    }

    /// <summary>cos x.</summary>
    [UnaryKernel(UnaryOp.Cos)]
    public Tensor Cos()
    {
        var y = Map("Cos", UnaryOp.Cos);
        return Record(y, "Cos", [this], [this], (g, s) => [-(g * s[0].Sin())]);
    }

    /// <summary>The logistic function 1 / (1 + e⁻ˣ).</summary>
    [UnaryKernel(UnaryOp.Sigmoid)]
    public Tensor Sigmoid()
    {
        var y = Map("Sigmoid", UnaryOp.Sigmoid);
        return Record(y, "Sigmoid", [this], [y], (g, s) => [g * s[0] * (1.0 - s[0])]);
    }

    /// <summary>tanh x.</summary>
    [UnaryKernel(UnaryOp.Tanh)]
    public Tensor Tanh()
    {
        var y = Map("Tanh", UnaryOp.Tanh);
        return Record(y, "Tanh", [this], [y], (g, s) => [g * (1.0 - s[0] * s[0])]);
    }

    /// <summary>max(x, 0); the gradient at 0 is 0, as in PyTorch.</summary>
    [UnaryKernel(UnaryOp.Relu)]
    public Tensor Relu()
    {
        var y = Map("Relu", UnaryOp.Relu, floatingOnly: false);
        return Record(y, "Relu", [this], [this], (g, s) => [g * s[0].Gt(0)]);
    }

    /// <summary>1 / x.</summary>
    [UnaryKernel(UnaryOp.Reciprocal)]
    public Tensor Reciprocal()
    {
        var y = Map("Reciprocal", UnaryOp.Reciprocal);
        return Record(y, "Reciprocal", [this], [y], (g, s) => [-(g * s[0] * s[0])]);
    }

    /// <summary>xᵖ for a scalar exponent.</summary>
    [UnaryKernel(UnaryOp.PowScalar)]
    public Tensor Pow(double exponent)
    {
        if (exponent == 1) return Affine(1, 0);
        var y = Map("Pow", UnaryOp.PowScalar, exponent);
        // x⁰ is constant: its gradient is 0 everywhere (PyTorch's rule), not 0 · x⁻¹, which is NaN at 0.
        if (exponent == 0) return Record(y, "Pow", [this], g => [ZerosLike(g)]);
        return Record(y, "Pow", [this], [this], (g, s) => [g * exponent * s[0].Pow(exponent - 1)]);
    }

    /// <summary>xᵉ elementwise with a tensor exponent (broadcast).</summary>
    public Tensor Pow(Tensor exponent) => ElementwiseBinary("Pow", BinaryOp.Pow, this, exponent, (g, a, b, y) =>
        [a.RequiresGrad ? g * b * a.Pow(b - 1.0) : null,
         b.RequiresGrad ? g * y * a.Log() : null], floatingOnly: true);

    /// <summary>α·x + β in one launch: the scalar forms of + − × ÷.</summary>
    [UnaryKernel(UnaryOp.Affine)]
    internal Tensor Affine(double alpha, double beta)
    {
        if (!DType.IsFloating() && (alpha != Math.Round(alpha) || beta != Math.Round(beta)))
            return Composite(() => To(DType.Float32).Affine(alpha, beta));
        var y = Map("Affine", UnaryOp.Affine, alpha, beta, floatingOnly: false);
        return Record(y, "Affine", [this], g => [g.Affine(alpha, 0)]);
    }

    /// <summary>Limits values to [min, max] (either may be null). The gradient passes where min ≤ x ≤ max, as in PyTorch.</summary>
    [UnaryKernel(UnaryOp.Clamp)]
    public Tensor Clamp(double? min = null, double? max = null)
    {
        if (min is { } lo && max is { } hi && lo > hi)
            throw new ArgumentException($"Clamp: min {lo} is greater than max {hi}.");
        double a = min ?? double.NegativeInfinity, b = max ?? double.PositiveInfinity;
        var y = Map("Clamp", UnaryOp.Clamp, a, b, floatingOnly: false);
        return Record(y, "Clamp", [this], [this], (g, s) => [g * (s[0].Ge(a) * s[0].Le(b))]);
    }

    /// <summary>The error function erf x = (2/√π)∫₀ˣ e^(−t²) dt.</summary>
    [UnaryKernel(UnaryOp.Erf)]
    public Tensor Erf()
    {
        var y = Map("Erf", UnaryOp.Erf);
        // d/dx erf x = (2/√π)·e^(−x²)
        return Record(y, "Erf", [this], [this], (g, s) => [g * ((s[0] * s[0]).Neg().Exp() * TwoOverSqrtPi)]);
    }

    /// <summary>ln(1 + x), accurate where x is near 0 (PyTorch's <c>log1p</c>).</summary>
    [UnaryKernel(UnaryOp.Log1p)]
    public Tensor Log1p()
    {
        var y = Map("Log1p", UnaryOp.Log1p);
        return Record(y, "Log1p", [this], [this], (g, s) => [g / (s[0] + 1.0)]);
    }

    /// <summary>eˣ − 1, accurate where x is near 0 (PyTorch's <c>expm1</c>).</summary>
    [UnaryKernel(UnaryOp.Expm1)]
    public Tensor Expm1()
    {
        var y = Map("Expm1", UnaryOp.Expm1);
        return Record(y, "Expm1", [this], [y], (g, s) => [g * (s[0] + 1.0)]);
    }

    /// <summary>
    /// GELU (PyTorch's <c>gelu</c>): x·Φ(x) with Φ the standard normal CDF, Φ(x) = (1 + erf(x/√2))/2, or with
    /// <paramref name="approximate"/> = "tanh" the approximation x/2·(1 + tanh(√(2/π)(x + 0.044715x³))).
    /// </summary>
    /// <param name="approximate">"none" (the exact erf form) or "tanh".</param>
    [UnaryKernel(UnaryOp.Gelu)]
    public Tensor Gelu(string approximate = "none")
    {
        if (approximate == "tanh") return GeluTanh();
        if (approximate != "none")
            throw new ArgumentException($"Gelu: approximate must be \"none\" or \"tanh\"; got \"{approximate}\".", nameof(approximate));
        var y = Map("Gelu", UnaryOp.Gelu);
        return Record(y, "Gelu", [this], [this], (g, s) => [g * GeluSlope(s[0])]);
    }

    /// <summary>GELU's tanh approximation (<see cref="Gelu"/> with approximate = "tanh").</summary>
    [UnaryKernel(UnaryOp.GeluTanh)]
    internal Tensor GeluTanh()
    {
        var y = Map("Gelu", UnaryOp.GeluTanh);
        return Record(y, "Gelu(tanh)", [this], [this], (g, s) => [g * GeluTanhSlope(s[0])]);
    }

    /// <summary>SiLU (swish) x·σ(x) (PyTorch's <c>silu</c>).</summary>
    [UnaryKernel(UnaryOp.Silu)]
    public Tensor Silu()
    {
        var y = Map("Silu", UnaryOp.Silu);
        return Record(y, "Silu", [this], [this], (g, s) => [g * SiluSlope(s[0])]);
    }

    /// <summary>LeakyReLU: x where x &gt; 0, else negativeSlope·x (PyTorch's <c>leaky_relu</c>; the gradient at 0 is the slope).</summary>
    /// <param name="negativeSlope">The slope for negative inputs.</param>
    [UnaryKernel(UnaryOp.LeakyRelu)]
    public Tensor LeakyRelu(double negativeSlope = 0.01)
    {
        var y = Map("LeakyRelu", UnaryOp.LeakyRelu, negativeSlope);
        return Record(y, "LeakyRelu", [this], [this], (g, s) =>
        {
            using var positive = s[0].Gt(0);
            return [Where(positive, g, g * negativeSlope)];
        });
    }

    /// <summary>ELU: x where x &gt; 0, else α(eˣ − 1) (PyTorch's <c>elu</c>).</summary>
    /// <param name="alpha">The value −α approached for large negative x.</param>
    [UnaryKernel(UnaryOp.Elu)]
    public Tensor Elu(double alpha = 1)
    {
        var y = Map("Elu", UnaryOp.Elu, alpha);
        return Record(y, "Elu", [this], [this], (g, s) =>
        {
            using var positive = s[0].Gt(0);
            return [Where(positive, g, g * (s[0].Exp() * alpha))];
        });
    }

    /// <summary>
    /// Softplus ln(1 + e^(βx))/β (PyTorch's <c>softplus</c>): x itself where βx &gt; <paramref name="threshold"/>,
    /// for numerical stability. The gradient is σ(βx), or 1 above the threshold.
    /// </summary>
    /// <param name="beta">β.</param>
    /// <param name="threshold">Above this βx the function is taken as linear.</param>
    [UnaryKernel(UnaryOp.Softplus)]
    public Tensor Softplus(double beta = 1, double threshold = 20)
    {
        if (beta == 0) throw new ArgumentException("Softplus: beta must not be 0 (the function divides by it).", nameof(beta));
        var y = Map("Softplus", UnaryOp.Softplus, beta, threshold);
        return Record(y, "Softplus", [this], [this], (g, s) =>
        {
            using var bx = s[0] * beta;
            using var linear = bx.Gt(threshold);
            return [Where(linear, g, g * bx.Sigmoid())];
        });
    }

    private const double TwoOverSqrtPi = 1.1283791670955126, OneOverSqrt2 = 0.7071067811865476, OneOverSqrt2Pi = 0.3989422804014327;
    private const double SqrtTwoOverPi = 0.7978845608028654, GeluTanhC = 0.044715;

    /// <summary>GELU′(x) = Φ(x) + x·φ(x), in differentiable ops.</summary>
    internal static Tensor GeluSlope(Tensor x)
    {
        using var erf = (x * OneOverSqrt2).Erf();
        using var cdf = erf * 0.5 + 0.5;
        using var pdf = (x * x * -0.5).Exp() * OneOverSqrt2Pi;
        using var xpdf = x * pdf;
        return cdf + xpdf;
    }

    /// <summary>
    /// The tanh approximation's derivative in differentiable ops: with u = √(2/π)(x + 0.044715x³) and
    /// s = σ(2u) (so that (1 + tanh u)/2 = s and 1 − tanh²u = 4s(1 − s)), s·(1 + 2x(1 − s)·√(2/π)(1 + 3·0.044715x²)).
    /// </summary>
    internal static Tensor GeluTanhSlope(Tensor x)
    {
        using var x2 = x * x;
        using var inner = x * (x2 * GeluTanhC + 1.0) * (2 * SqrtTwoOverPi);
        using var s = inner.Sigmoid();
        using var dInner = x2 * (3 * GeluTanhC * SqrtTwoOverPi) + SqrtTwoOverPi;
        using var rest = x * 2.0 * (1.0 - s) * dInner + 1.0;
        return s * rest;
    }

    /// <summary>SiLU′(x) = σ(x)(1 + x(1 − σ(x))), in differentiable ops.</summary>
    internal static Tensor SiluSlope(Tensor x)
    {
        using var sigma = x.Sigmoid();
        using var inner = x * (1.0 - sigma) + 1.0;
        return sigma * inner;
    }
}

/// <summary>Marks the tensor method that computes a <see cref="UnaryOp"/>, so the test suites find it from the op.</summary>
/// <param name="op">The backend op the method launches.</param>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class UnaryKernelAttribute(UnaryOp op) : Attribute
{
    /// <summary>The backend op.</summary>
    public UnaryOp Op { get; } = op;
}
