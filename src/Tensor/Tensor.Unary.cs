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
            throw new NotSupportedException($"{name}: dtype {DType.Name()} is not supported (expected float32 or float64) for the tensor of shape {ShapeUtil.Format(Shape)}; convert it with To(DType.Float32).");
        var y = Empty(Shape, DType, Device, name);
        if (NumElements > 0) Backend.Unary(op, AsView(), y.AsView(), alpha, beta);
        return y;
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
        {
            using var promoted = To(DType.Float32);
            return promoted.Affine(alpha, beta);
        }
        var y = FuseAffine(alpha, beta) ?? Map("Affine", UnaryOp.Affine, alpha, beta, floatingOnly: false);
        return Record(y, "Affine", [this], g => [g.Affine(alpha, 0)]);
    }

    /// <summary>
    /// α·x + β in one pass from the inputs of the binary op that x's deferred result would come from
    /// (a*b+1 reads a and b and writes once); x itself stays deferred, and is computed only if read.
    /// Null when x is not such a result, or not all of it.
    /// </summary>
    private Tensor? FuseAffine(double alpha, double beta)
    {
        ThrowIfDisposed("Affine");
        if (Storage.Pending is not { } pending || Offset != 0 || !IsContiguous || !ShapeUtil.SameShape(Shape, pending.Y.Shape)) return null;
        var y = Empty(Shape, DType, Device, "Affine");
        if (pending.TryFuseAffine(y.OutputView(), alpha, beta)) return y;
        y.Dispose();
        return null;
    }

    /// <summary>Limits values to [min, max] (either may be null). The gradient passes where min ≤ x ≤ max, as in PyTorch.</summary>
    [UnaryKernel(UnaryOp.Clamp)]
    public Tensor Clamp(double? min = null, double? max = null)
    {
        if (min is { } lo && max is { } hi && lo > hi)
            throw new ArgumentException($"Clamp: min {lo} is greater than max {hi}.");
        double a = min ?? double.NegativeInfinity, b = max ?? double.PositiveInfinity;
        var y = Map("Clamp", UnaryOp.Clamp, a, b, floatingOnly: false);
        return Record(y, "Clamp", [this], [this], (g, s) =>
        {
            using var inRange = s[0].Ge(a) * s[0].Le(b);
            return [g * inRange];
        });
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
