using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuNet.Kernels.Managed;

internal static unsafe partial class Gemm
{
    /// <summary>
    /// Packs <paramref name="lines"/> contiguous runs of <paramref name="kc"/> elements (run l at
    /// src + l·lineStride) into a panel laid out [kc][width]: dst[p·width + l] = run_l[p], lines past
    /// the last zeroed. This is the packing of a row-major A and of a transposed B (k contiguous), a
    /// transpose that element by element costs about as much as a small product's multiply; done in
    /// 8×8 (float) or 4×4 (double) register blocks it streams.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackTransposed<T>(int lines, int kc, int width, T* src, long lineStride, T* dst) where T : unmanaged
    {
        int p0 = 0;
        if (Avx.IsSupported && typeof(T) == typeof(float))
        {
            int full = lines & ~7;
            for (; p0 + 8 <= kc; p0 += 8)
                for (int l = 0; l < full; l += 8)
                    Transpose8x8((float*)src + l * lineStride + p0, lineStride, (float*)dst + p0 * width + l, width);
            for (int p = 0; p < p0; p++)
                for (int l = full; l < lines; l++) dst[p * width + l] = src[l * lineStride + p];
        }
        else if (Avx.IsSupported && typeof(T) == typeof(double))
        {
            int full = lines & ~3;
            for (; p0 + 4 <= kc; p0 += 4)
                for (int l = 0; l < full; l += 4)
                    Transpose4x4((double*)src + l * lineStride + p0, lineStride, (double*)dst + p0 * width + l, width);
            for (int p = 0; p < p0; p++)
                for (int l = full; l < lines; l++) dst[p * width + l] = src[l * lineStride + p];
        }
        for (int l = 0; l < lines; l++)
        {
            T* run = src + l * lineStride;
            for (int p = p0; p < kc; p++) dst[p * width + l] = run[p];
        }
        for (int p = 0; p < kc; p++)
            for (int l = lines; l < width; l++) dst[p * width + l] = default;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* s, long ls, float* d, int ld)
    {
        var r0 = Avx.LoadVector256(s); var r1 = Avx.LoadVector256(s + ls);
        var r2 = Avx.LoadVector256(s + 2 * ls); var r3 = Avx.LoadVector256(s + 3 * ls);
        var r4 = Avx.LoadVector256(s + 4 * ls); var r5 = Avx.LoadVector256(s + 5 * ls);
        var r6 = Avx.LoadVector256(s + 6 * ls); var r7 = Avx.LoadVector256(s + 7 * ls);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(d + ld, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(d + 2 * ld, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(d + 3 * ld, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(d + 4 * ld, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(d + 5 * ld, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(d + 6 * ld, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(d + 7 * ld, Avx.Permute2x128(u3, u7, 0x31));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4x4(double* s, long ls, double* d, int ld)
    {
        var r0 = Avx.LoadVector256(s); var r1 = Avx.LoadVector256(s + ls);
        var r2 = Avx.LoadVector256(s + 2 * ls); var r3 = Avx.LoadVector256(s + 3 * ls);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        Avx.Store(d, Avx.Permute2x128(t0, t2, 0x20));
        Avx.Store(d + ld, Avx.Permute2x128(t1, t3, 0x20));
        Avx.Store(d + 2 * ld, Avx.Permute2x128(t0, t2, 0x31));
        Avx.Store(d + 3 * ld, Avx.Permute2x128(t1, t3, 0x31));
    }
}
