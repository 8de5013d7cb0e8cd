namespace GpuNet.Kernels;

/// <summary>Elementwise functions of one operand. <c>alpha</c>/<c>beta</c> are the scalar parameters where noted.</summary>
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
}

/// <summary>Elementwise functions of two operands of the same shape (broadcast through zero strides).</summary>
public enum BinaryOp
{
    /// <summary>a + b</summary>
    Add,
    /// <summary>a − b</summary>
    Sub,
    /// <summary>a · b</summary>
    Mul,
    /// <summary>a / b (floating only)</summary>
    Div,
    /// <summary>aᵇ (floating only)</summary>
    Pow,
    /// <summary>max(a, b)</summary>
    Maximum,
    /// <summary>min(a, b)</summary>
    Minimum,
    /// <summary>1 where a &gt; b else 0, in the operands' dtype</summary>
    Gt,
    /// <summary>1 where a ≥ b else 0</summary>
    Ge,
    /// <summary>1 where a &lt; b else 0</summary>
    Lt,
    /// <summary>1 where a ≤ b else 0</summary>
    Le,
    /// <summary>1 where a = b else 0</summary>
    Eq,
    /// <summary>1 where a ≠ b else 0</summary>
    Ne,
}

/// <summary>Reductions along the middle axis of an [outer, n, inner] view.</summary>
public enum ReduceOp
{
    /// <summary>Σ</summary>
    Sum,
    /// <summary>max; NaN propagates</summary>
    Max,
    /// <summary>min; NaN propagates</summary>
    Min,
    /// <summary>index of the first maximum, written as Int32</summary>
    ArgMax,
    /// <summary>index of the first minimum, written as Int32</summary>
    ArgMin,
}

/// <summary>Distributions the counter-based generator draws from.</summary>
public enum RandomDistribution
{
    /// <summary>Uniform on [alpha, beta).</summary>
    Uniform,
    /// <summary>Normal with mean alpha and standard deviation beta.</summary>
    Normal,
}
