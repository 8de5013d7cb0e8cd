using System.Runtime.CompilerServices;

namespace GpuNet.Kernels.Ilgpu;

/// <summary>
/// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"), kernel-side.
/// Private stand-in for the shared <c>GpuNet.Kernels.Philox</c> being written elsewhere; same
/// scheme, to be replaced by it. Pure uint/ulong arithmetic so ILGPU compiles it for every backend.
/// </summary>
internal static class PhiloxRng
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>The four output words for counter (c0, c1, c2, c3) under key (k0, k1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1,
        out uint o0, out uint o1, out uint o2, out uint o3)
    {
        // Ten rounds, unrolled by hand: a loop with out-parameters is harder on some backends and
        // the key schedule is just two additions.
        Round(ref c0, ref c1, ref c2, ref c3, k0, k1); k0 += W0; k1 += W1;
        Round(ref c0, ref c1, ref c2, ref c3, k0, k1); k0 += W0; k1 += W1;
        Round(ref c0, ref c1, ref c2, ref c3, k0, k1); k0 += W0; k1 += W1;
        Round(ref c0, ref c1, ref c2, ref c3, k0, k1); k0 += W0; k1 += W1;
        Round(ref c0, ref c1, ref c2, ref c3, k0, k1); k0 += W0; k1 += W1;
        Round(ref c0, ref c1, ref c2, ref c3, k0, k1); k0 += W0; k1 += W1;
        Round(ref c0, ref c1, ref c2, ref c3, k0, k1); k0 += W0; k1 += W1;
        Round(ref c0, ref c1, ref c2, ref c3, k0, k1); k0 += W0; k1 += W1;
        Round(ref c0, ref c1, ref c2, ref c3, k0, k1); k0 += W0; k1 += W1;
        Round(ref c0, ref c1, ref c2, ref c3, k0, k1);
        o0 = c0; o1 = c1; o2 = c2; o3 = c3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round(ref uint c0, ref uint c1, ref uint c2, ref uint c3, uint k0, uint k1)
    {
        ulong p0 = (ulong)M0 * c0;
        ulong p1 = (ulong)M1 * c2;
        uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0;
        uint hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
        uint n0 = hi1 ^ c1 ^ k0;
        uint n2 = hi0 ^ c3 ^ k1;
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    }
}
