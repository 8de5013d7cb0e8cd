namespace GpuNet.Kernels;

/// <summary>
/// Why some fused ops store subnormal results as zero. x86 cores take a microcode assist for every
/// subnormal operand or result of a multiply, and they turn up in training: a unit whose gradient is
/// exactly zero (a dead ReLU) keeps a momentum that decays geometrically into the subnormal range
/// after some hundreds of steps, and a confident classifier's softmax gives probabilities below
/// 2⁻¹²⁶, which the backward GEMMs then multiply. Over 535k parameters an Adam step takes 0.2 ms
/// with normal moments and 7.5 ms with subnormal ones, so without the flush later epochs of
/// <c>gpunet train</c> would run slower than early ones. The optimizer steps (Adam, SGD with momentum, RMSProp: their state) and the softmax
/// cross-entropy (its gradient) therefore flush, as flush-to-zero hardware and GPUs built with fast math do; what is lost is
/// below 10⁻³⁸ in absolute size.
/// </summary>
internal static class Subnormals
{
    /// <summary>2⁻¹²⁶, the smallest positive normal float32.</summary>
    public const float MinNormalSingle = 1.17549435e-38f;

    /// <summary>2⁻¹⁰²², the smallest positive normal float64.</summary>
    public const double MinNormalDouble = 2.2250738585072014e-308;

    /// <summary>The smallest positive normal number of <paramref name="dtype"/> (a floating dtype).</summary>
    public static double MinNormal(DType dtype) => dtype == DType.Float32 ? MinNormalSingle : MinNormalDouble;

    /// <summary>The smallest positive normal <typeparamref name="T"/> (float or double).</summary>
    public static T MinNormal<T>() where T : System.Numerics.IFloatingPointIeee754<T> =>
        T.CreateTruncating(typeof(T) == typeof(float) ? MinNormalSingle : MinNormalDouble);
}
