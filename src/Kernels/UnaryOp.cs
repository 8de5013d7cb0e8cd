namespace GpuNet.Kernels;

/// <summary>
/// Elementwise functions of one operand. <c>alpha</c>/<c>beta</c> are the scalar parameters where noted.
/// Each op is registered in <see cref="UnaryOps"/> with its definition; adding an op is described in CONTRIBUTING.md.
/// </summary>
public enum UnaryOp
{
    /// <summary>−x</summary>
    Neg,
    /// <summary>|x|</summary>
    Abs,
    /// <summary>−1, 0 or 1</summary>
    Sign,
    /// <summary>eˣ (floating only)</summary>
    Exp,
    /// <summary>ln x (floating only)</summary>
    Log,
    /// <summary>√x (floating only)</summary>
    Sqrt,
    /// <summary>sin x (floating only)</summary>
    Sin,
    /// <summary>cos x (floating only)</summary>
    Cos,
    /// <summary>1 / (1 + e⁻ˣ) (floating only)</summary>
    Sigmoid,
    /// <summary>tanh x (floating only)</summary>
    Tanh,
    /// <summary>max(x, 0)</summary>
    Relu,
    /// <summary>1 / x (floating only)</summary>
    Reciprocal,
    /// <summary>xᵅ with α = alpha (floating only)</summary>
    PowScalar,
    /// <summary>α·x + β: scalar add, subtract, multiply in one launch</summary>
    Affine,
    /// <summary>min(max(x, alpha), beta); either bound may be ±∞</summary>
    Clamp,
    /// <summary>The error function erf x (floating only)</summary>
    Erf,
    /// <summary>ln(1 + x), accurate near 0 (floating only)</summary>
    Log1p,
    /// <summary>eˣ − 1, accurate near 0 (floating only)</summary>
    Expm1,
    /// <summary>GELU x·Φ(x), Φ the standard normal CDF (floating only)</summary>
    Gelu,
    /// <summary>GELU's tanh approximation x/2·(1 + tanh(√(2/π)(x + 0.044715x³))) (floating only)</summary>
    GeluTanh,
    /// <summary>SiLU x·σ(x) (floating only)</summary>
    Silu,
    /// <summary>LeakyReLU: x for x &gt; 0, else alpha·x (floating only)</summary>
    LeakyRelu,
    /// <summary>ELU: x for x &gt; 0, else alpha·(eˣ − 1) (floating only)</summary>
    Elu,
    /// <summary>Softplus with β = alpha and threshold = beta: x where βx &gt; threshold, else ln(1 + e^(βx))/β (floating only)</summary>
    Softplus,
}

/// <summary>
/// What the contract says about one <see cref="UnaryOp"/>: its value in exact arithmetic (the definition the
/// backends are held to), whether int32 tensors support it, and where it is sensibly sampled.
/// </summary>
/// <param name="Op">The op.</param>
/// <param name="Reference">y = f(x, alpha, beta) computed in double: the definition, and the conformance suite's oracle.</param>
/// <param name="Integer">Defined for int32 tensors too (else floating only).</param>
/// <param name="Exact">Every backend must give the correctly rounded result (no approximate instructions).</param>
/// <param name="Low">Lower end of the inputs the op is exercised on (of |x| when <paramref name="AwayFromZero"/>).</param>
/// <param name="High">Upper end of those inputs.</param>
/// <param name="AwayFromZero">Inputs have |x| in [<paramref name="Low"/>, <paramref name="High"/>] with either sign (a pole or kink at 0).</param>
/// <param name="Specials">Inputs worth trying on purpose besides random ones (kinks, exact results).</param>
internal sealed record UnaryOpInfo(UnaryOp Op, Func<double, double, double, double> Reference, bool Integer, bool Exact,
    double Low, double High, bool AwayFromZero = false, double[]? Specials = null);

/// <summary>The registration of every <see cref="UnaryOp"/>; the conformance and gradient-check suites read it.</summary>
internal static class UnaryOps
{
    private static readonly double[] s_kinks = [0, -0.5, 0.75];
    private static readonly double[] s_positives = [1, 4];
    private static readonly double[] s_small = [1e-10, -1e-10, 1e-5, -1e-5];
    // Where erf and erfc switch between the series and the continued fraction (see SpecialFunctions).
    private static readonly double[] s_erfSwitch = [0, 2.5, -2.5, 2.4999, 2.5001, 1.25, -1.25, 1.5, -1.5];
    // ±√2 × erfc's switches (1.25 float, 1.5 double): where the normal CDF inside GELU changes method.
    private static readonly double[] s_geluSpecials = [0, 1.7677, -1.7677, 1.7678, -1.7678, 2.1213, -2.1213, 2.1214, -2.1214];

    private static readonly UnaryOpInfo[] s_all =
    [
        new(UnaryOp.Neg, (x, _, _) => -x, Integer: true, Exact: true, -3, 3),
        new(UnaryOp.Abs, (x, _, _) => Math.Abs(x), Integer: true, Exact: true, -3, 3, Specials: s_kinks),
        new(UnaryOp.Sign, (x, _, _) => double.IsNaN(x) ? double.NaN : x > 0 ? 1 : x < 0 ? -1 : 0, Integer: true, Exact: true, -3, 3, Specials: s_kinks),
        new(UnaryOp.Exp, (x, _, _) => Math.Exp(x), Integer: false, Exact: false, -10, 10),
        new(UnaryOp.Log, (x, _, _) => Math.Log(x), Integer: false, Exact: false, 0.05, 5, Specials: s_positives),
        new(UnaryOp.Sqrt, (x, _, _) => Math.Sqrt(x), Integer: false, Exact: false, 0.05, 5, Specials: s_positives),
        new(UnaryOp.Sin, (x, _, _) => Math.Sin(x), Integer: false, Exact: false, -6.5, 6.5),
        new(UnaryOp.Cos, (x, _, _) => Math.Cos(x), Integer: false, Exact: false, -6.5, 6.5),
        new(UnaryOp.Sigmoid, (x, _, _) => 1.0 / (1.0 + Math.Exp(-x)), Integer: false, Exact: false, -8, 8),
        new(UnaryOp.Tanh, (x, _, _) => Math.Tanh(x), Integer: false, Exact: false, -8, 8),
        new(UnaryOp.Relu, (x, _, _) => double.IsNaN(x) ? double.NaN : x > 0 ? x : 0, Integer: true, Exact: true, -3, 3, Specials: s_kinks),
        new(UnaryOp.Reciprocal, (x, _, _) => 1.0 / x, Integer: false, Exact: false, 0.1, 4, AwayFromZero: true),
        new(UnaryOp.PowScalar, (x, a, _) => Math.Pow(x, a), Integer: false, Exact: false, 0.1, 3),
        new(UnaryOp.Affine, (x, a, b) => a * x + b, Integer: true, Exact: false, -3, 3),
        new(UnaryOp.Clamp, (x, a, b) => double.IsNaN(x) ? double.NaN : Math.Min(Math.Max(x, a), b), Integer: true, Exact: true, -3, 3, Specials: s_kinks),
        new(UnaryOp.Erf, (x, _, _) => SpecialFunctions.Erf(x), Integer: false, Exact: false, -4, 4, Specials: s_erfSwitch),
        new(UnaryOp.Log1p, (x, _, _) => SpecialFunctions.Log1p(x), Integer: false, Exact: false, -0.9, 5, Specials: s_small),
        new(UnaryOp.Expm1, (x, _, _) => SpecialFunctions.Expm1(x), Integer: false, Exact: false, -5, 5, Specials: s_small),
        new(UnaryOp.Gelu, (x, _, _) => SpecialFunctions.Gelu(x), Integer: false, Exact: false, -6, 6, Specials: s_geluSpecials),
        new(UnaryOp.GeluTanh, (x, _, _) => SpecialFunctions.GeluTanh(x), Integer: false, Exact: false, -6, 6),
        new(UnaryOp.Silu, (x, _, _) => SpecialFunctions.Silu(x), Integer: false, Exact: false, -8, 8),
        new(UnaryOp.LeakyRelu, (x, a, _) => SpecialFunctions.LeakyRelu(x, a), Integer: false, Exact: false, -3, 3, Specials: s_kinks),
        new(UnaryOp.Elu, (x, a, _) => SpecialFunctions.Elu(x, a), Integer: false, Exact: false, -4, 3, Specials: s_kinks),
        new(UnaryOp.Softplus, (x, a, b) => SpecialFunctions.Softplus(x, a, b), Integer: false, Exact: false, -8, 8),
    ];

    /// <summary>Every registered op, in enum order.</summary>
    public static IReadOnlyList<UnaryOpInfo> All => s_all;

    /// <summary>The registration of <paramref name="op"/>.</summary>
    public static UnaryOpInfo Get(UnaryOp op) =>
        (uint)op < (uint)s_all.Length && s_all[(int)op].Op == op ? s_all[(int)op]
        : throw new ArgumentOutOfRangeException(nameof(op), op, "UnaryOps: the op is not registered (each UnaryOp needs an entry, in enum order).");
}
