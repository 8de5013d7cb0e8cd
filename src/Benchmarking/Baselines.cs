using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuNet.Benchmarking;

/// <summary>Physical baselines: the FMA peak and memory bandwidth of this machine, measured now.</summary>
internal static unsafe class Baselines
{
    /// <summary>
    /// FP32 GFLOP/s of a pure Vector512 (or widest available) FMA loop with 12 independent
    /// accumulators on <paramref name="threads"/> threads: the ceiling any GEMM can reach here.
    /// </summary>
    public static double FmaPeakGflops(int threads)
    {
        const long iterations = 20_000_000;
        int lanes = Vector512.IsHardwareAccelerated ? 16 : Vector256.IsHardwareAccelerated ? 8 : 4;
        double flops = iterations * 12.0 * lanes * 2 * threads;
        double seconds = Timing.Median(() =>
        {
            if (threads == 1) { Sink(FmaLoop(iterations)); return; }
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => Sink(FmaLoop(iterations)));
        }, repeats: 5, warmup: 1);
        return flops / seconds / 1e9;
    }

    private static float s_sink;
    private static void Sink(float v) => s_sink += v;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float FmaLoop(long iterations)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            var x = Vector512.Create(1.0000001f);
            var y = Vector512.Create(0.9999999f);
            Vector512<float> a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x;
            for (long i = 0; i < iterations; i++)
            {
                a0 = Vector512.FusedMultiplyAdd(a0, y, x); a1 = Vector512.FusedMultiplyAdd(a1, y, x);
                a2 = Vector512.FusedMultiplyAdd(a2, y, x); a3 = Vector512.FusedMultiplyAdd(a3, y, x);
                a4 = Vector512.FusedMultiplyAdd(a4, y, x); a5 = Vector512.FusedMultiplyAdd(a5, y, x);
                a6 = Vector512.FusedMultiplyAdd(a6, y, x); a7 = Vector512.FusedMultiplyAdd(a7, y, x);
                a8 = Vector512.FusedMultiplyAdd(a8, y, x); a9 = Vector512.FusedMultiplyAdd(a9, y, x);
                a10 = Vector512.FusedMultiplyAdd(a10, y, x); a11 = Vector512.FusedMultiplyAdd(a11, y, x);
            }
            return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
        }
        {
            var x = Vector256.Create(1.0000001f);
            var y = Vector256.Create(0.9999999f);
            Vector256<float> a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x;
            for (long i = 0; i < iterations; i++)
            {
                a0 = Vector256.FusedMultiplyAdd(a0, y, x); a1 = Vector256.FusedMultiplyAdd(a1, y, x);
                a2 = Vector256.FusedMultiplyAdd(a2, y, x); a3 = Vector256.FusedMultiplyAdd(a3, y, x);
                a4 = Vector256.FusedMultiplyAdd(a4, y, x); a5 = Vector256.FusedMultiplyAdd(a5, y, x);
                a6 = Vector256.FusedMultiplyAdd(a6, y, x); a7 = Vector256.FusedMultiplyAdd(a7, y, x);
                a8 = Vector256.FusedMultiplyAdd(a8, y, x); a9 = Vector256.FusedMultiplyAdd(a9, y, x);
                a10 = Vector256.FusedMultiplyAdd(a10, y, x); a11 = Vector256.FusedMultiplyAdd(a11, y, x);
            }
            return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
        }
    }

    /// <summary>
    /// memcpy bandwidth in GB/s (bytes read + bytes written) over <paramref name="floats"/> floats: the
    /// better of one thread and all cores, so the baseline is never understated.
    /// </summary>
    public static double MemcpyGBps(int floats) => Math.Max(MemcpyGBps(floats, 1), MemcpyGBps(floats, Environment.ProcessorCount));

    private static double MemcpyGBps(int floats, int threads)
    {
        var src = GC.AllocateUninitializedArray<float>(floats, pinned: true);
        var dst = GC.AllocateUninitializedArray<float>(floats, pinned: true);
        src.AsSpan().Fill(1);
        dst.AsSpan().Clear();
        double seconds = Timing.Median(() =>
        {
            if (threads == 1) { src.AsSpan().CopyTo(dst); return; }
            Parallel.For(0, threads, t =>
            {
                long per = (floats + threads - 1) / threads;
                long start = t * per, len = Math.Min(per, floats - start);
                if (len > 0) src.AsSpan((int)start, (int)len).CopyTo(dst.AsSpan((int)start, (int)len));
            });
        }, repeats: 9);
        return 2.0 * floats * sizeof(float) / seconds / 1e9;
    }
}
