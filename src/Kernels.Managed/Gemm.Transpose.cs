using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static GpuNet.Kernels.Managed.RegisterTranspose;

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
}
