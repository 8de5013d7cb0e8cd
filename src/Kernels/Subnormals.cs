namespace GpuNet.Kernels;

/// <summary>
/// Why the fused optimizer steps store subnormal moments as zero. A unit whose gradient is exactly
/// zero (a dead ReLU, an unused embedding row) keeps a momentum that decays geometrically, and after
/// some hundreds of steps it enters the subnormal range. x86 cores take a microcode assist for every
/// subnormal operand or result: over 535k parameters an Adam step went from 0.2 ms to 7.5 ms when
/// the moments were subnormal, which made later epochs of <c>gpunet train</c> slower than early ones.
/// Storing them as zero is what flush-to-zero hardware (and GPUs built with fast math) do; such a
/// value moves a parameter by less than 10⁻³⁰ of its size.
/// </summary>
internal static class Subnormals
{
    /// <summary>2⁻¹²⁶, the smallest positive normal float32.</summary>
    public const float MinNormalSingle = 1.17549435e-38f;

    /// <summary>2⁻¹⁰²², the smallest positive normal float64.</summary>
    public const double MinNormalDouble = 2.2250738585072014e-308;

    /// <summary>The smallest positive normal number of <paramref name="dtype"/> (a floating dtype).</summary>
    public static double MinNormal(DType dtype) => dtype == DType.Float32 ? MinNormalSingle : MinNormalDouble;
}
