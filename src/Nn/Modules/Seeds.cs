namespace GpuNet.Nn;

/// <summary>Derives independent random streams from one user seed (SplitMix64 mixing), so seeded layers, dropout masks and shuffles never share numbers.</summary>
internal static class Seeds
{
    /// <summary>A well-mixed seed for stream <paramref name="stream"/> of <paramref name="seed"/>.</summary>
    public static long Derive(long seed, long stream)
    {
        unchecked
        {
            ulong z = (ulong)seed + 0x9E3779B97F4A7C15UL * (ulong)(stream + 1);
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return (long)(z ^ (z >> 31));
        }
    }

    /// <summary><see cref="Derive"/> when a seed is given; null (the global stream) otherwise.</summary>
    public static long? DeriveOrNull(long? seed, long stream) => seed is { } s ? Derive(s, stream) : null;
}
