namespace GpuNet.Kernels;

/// <summary>
/// The Philox-4x32-10 counter-based generator (Salmon et al., "Parallel random numbers: as easy
/// as 1, 2, 3", SC 2011) and the exact mapping from its output words to the values GpuNet draws.
/// Every backend calls this one class (managed code and ILGPU kernels alike: it uses only
/// <c>uint</c>/<c>ulong</c> arithmetic, no arrays, no allocation), so a tensor filled with a given
/// seed is the same on every device, up to the last-ulp differences of each device's
/// <c>log</c>/<c>cos</c>/<c>sqrt</c>.
/// </summary>
/// <remarks>
/// <para>Scheme, for the element with counter <c>c</c> (the fill's counter offset plus the element's
/// row-major index) and seed <c>s</c>:</para>
/// <list type="bullet">
/// <item>key = (k0, k1) = (low 32 bits of s, high 32 bits of s);
/// counter block = (low 32 bits of c, high 32 bits of c, 0, 0);
/// ten rounds; output words w0..w3.</item>
/// <item>Uniform float32: <c>u = (w0 &gt;&gt; 8) · 2⁻²⁴</c> in [0, 1); value = <c>α + (β − α) · u</c> in float arithmetic.</item>
/// <item>Uniform float64: <c>u = (((ulong)w1 &lt;&lt; 32 | w0) &gt;&gt; 11) · 2⁻⁵³</c> in [0, 1); value = <c>α + (β − α) · u</c> in double arithmetic.</item>
/// <item>Normal float32 (Box–Muller, one value per counter): <c>u1 = ((w0 &gt;&gt; 8) + 1) · 2⁻²⁴</c> in (0, 1],
/// <c>u2 = (w1 &gt;&gt; 8) · 2⁻²⁴</c>, <c>z = √(−2 ln u1) · cos(2π u2)</c>, value = <c>α + β·z</c>, in float arithmetic.</item>
/// <item>Normal float64: the same with 53-bit uniforms, <c>u1 = ((((ulong)w1 &lt;&lt; 32 | w0) &gt;&gt; 11) + 1) · 2⁻⁵³</c>
/// and <c>u2 = (((ulong)w3 &lt;&lt; 32 | w2) &gt;&gt; 11) · 2⁻⁵³</c>, in double arithmetic.</item>
/// </list>
/// <para>u1 is never 0, so the logarithm is finite; the sine half of Box–Muller is discarded so that
/// element k depends on counter k alone, which is what lets any thread compute any element.</para>
/// </remarks>
internal static class Philox
{
    private const uint M0 = 0xD2511F53;
    private const uint M1 = 0xCD9E8D57;
    private const uint W0 = 0x9E3779B9;
    private const uint W1 = 0xBB67AE85;
    private const float Two24 = 1.0f / 16777216.0f;
    private const double Two53 = 1.0 / 9007199254740992.0;

    /// <summary>
    /// Runs the ten Philox-4x32 rounds on counter (c0, c1, c2, c3) with key (k0, k1) and returns the four
    /// output words. This is the raw primitive the known-answer tests check.
    /// </summary>
    public static Philox4x32 Generate(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            // One Philox S-box: two 32×32→64 multiplies; the high halves are mixed with the key.
            ulong p0 = (ulong)M0 * c0;
            ulong p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0;
            uint hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
            k0 += W0;
            k1 += W1;
        }
        return new Philox4x32(c0, c1, c2, c3);
    }

    /// <summary>The output block for element counter <paramref name="counter"/> under <paramref name="seed"/>, per the scheme above.</summary>
    public static Philox4x32 Generate(ulong seed, ulong counter) =>
        Generate((uint)counter, (uint)(counter >> 32), 0u, 0u, (uint)seed, (uint)(seed >> 32));

    /// <summary>Uniform float in [0, 1) from word 0: 24 random bits, exactly representable.</summary>
    public static float UniformFloat(in Philox4x32 r) => (r.X0 >> 8) * Two24;

    /// <summary>Uniform double in [0, 1) from words 0 and 1: 53 random bits, exactly representable.</summary>
    public static double UniformDouble(in Philox4x32 r) => ((((ulong)r.X1 << 32) | r.X0) >> 11) * Two53;

    /// <summary>Uniform float on [<paramref name="low"/>, <paramref name="high"/>) from one block.</summary>
    public static float UniformFloat(in Philox4x32 r, float low, float high) => low + (high - low) * UniformFloat(r);

    /// <summary>Uniform double on [<paramref name="low"/>, <paramref name="high"/>) from one block.</summary>
    public static double UniformDouble(in Philox4x32 r, double low, double high) => low + (high - low) * UniformDouble(r);

    /// <summary>Normal float with the given mean and standard deviation (Box–Muller on words 0 and 1).</summary>
    public static float NormalFloat(in Philox4x32 r, float mean, float std)
    {
        float u1 = ((r.X0 >> 8) + 1u) * Two24;
        float u2 = (r.X1 >> 8) * Two24;
        float z = MathF.Sqrt(-2.0f * MathF.Log(u1)) * MathF.Cos(2.0f * MathF.PI * u2);
        return mean + std * z;
    }

    /// <summary>Normal double with the given mean and standard deviation (Box–Muller on 53-bit uniforms from words 0–1 and 2–3).</summary>
    public static double NormalDouble(in Philox4x32 r, double mean, double std)
    {
        double u1 = (((((ulong)r.X1 << 32) | r.X0) >> 11) + 1UL) * Two53;
        double u2 = ((((ulong)r.X3 << 32) | r.X2) >> 11) * Two53;
        double z = Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
        return mean + std * z;
    }

    /// <summary>Uniform float in [0, 1) for element <paramref name="counter"/>.</summary>
    public static float UniformFloat(ulong seed, ulong counter) => UniformFloat(Generate(seed, counter));

    /// <summary>Uniform double in [0, 1) for element <paramref name="counter"/>.</summary>
    public static double UniformDouble(ulong seed, ulong counter) => UniformDouble(Generate(seed, counter));

    /// <summary>Uniform float on [<paramref name="low"/>, <paramref name="high"/>) for element <paramref name="counter"/>.</summary>
    public static float UniformFloat(ulong seed, ulong counter, float low, float high) => UniformFloat(Generate(seed, counter), low, high);

    /// <summary>Uniform double on [<paramref name="low"/>, <paramref name="high"/>) for element <paramref name="counter"/>.</summary>
    public static double UniformDouble(ulong seed, ulong counter, double low, double high) => UniformDouble(Generate(seed, counter), low, high);

    /// <summary>Normal float for element <paramref name="counter"/>.</summary>
    public static float NormalFloat(ulong seed, ulong counter, float mean, float std) => NormalFloat(Generate(seed, counter), mean, std);

    /// <summary>Normal double for element <paramref name="counter"/>.</summary>
    public static double NormalDouble(ulong seed, ulong counter, double mean, double std) => NormalDouble(Generate(seed, counter), mean, std);
}

/// <summary>
/// The four 32-bit output words of one Philox-4x32 block. A plain struct of fields (not a record)
/// so that ILGPU kernels can return and read it with no hidden members involved.
/// </summary>
internal readonly struct Philox4x32
{
    /// <summary>Word 0.</summary>
    public readonly uint X0;
    /// <summary>Word 1.</summary>
    public readonly uint X1;
    /// <summary>Word 2.</summary>
    public readonly uint X2;
    /// <summary>Word 3.</summary>
    public readonly uint X3;

    /// <summary>Bundles four output words.</summary>
    public Philox4x32(uint x0, uint x1, uint x2, uint x3)
    {
        X0 = x0;
        X1 = x1;
        X2 = x2;
        X3 = x3;
    }
}
