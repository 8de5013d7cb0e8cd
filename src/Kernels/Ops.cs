namespace GpuNet.Kernels;

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
