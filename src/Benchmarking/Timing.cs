using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuNet.Benchmarking;

/// <summary>Timing helpers: medians of repeated runs after warm-up.</summary>
internal static class Timing
{
    /// <summary>
    /// Median seconds per call of <paramref name="action"/> over <paramref name="repeats"/> timed runs of <paramref name="inner"/> calls each.
    /// On an asynchronous device pass its <paramref name="sync"/>: it runs after the warm-up and closes each timed run,
    /// so a run measures the device's work, not only the launches.
    /// </summary>
    public static double Median(Action action, int repeats = 7, int inner = 1, int warmup = 2, double warmupSeconds = 0.35, int warmupCalls = 60, Action? sync = null)
    {
        // At least a third of a second of warm-up as well, and 60 calls unless they take more than
        // 1.5 s, so the JIT's tiering has promoted the hot methods: a microsecond op measured at tier 0
        // reads several times slower than it runs, and a 16M-float relu(a+b) ran at 8–10 GB/s for its
        // first 20–25 calls, then at 40–48 (a method is promoted after 30 calls, and TensorPrimitives'
        // per-vector helpers are not inlined until it is).
        var warm = Stopwatch.StartNew();
        for (int i = 0; i < warmup || (warm.Elapsed.TotalSeconds < warmupSeconds && i < 100_000) || (i < warmupCalls && warm.Elapsed.TotalSeconds < 1.5); i++) action();
        sync?.Invoke();
        var samples = new double[repeats];
        for (int r = 0; r < repeats; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < inner; i++) action();
            sync?.Invoke();
            samples[r] = Stopwatch.GetElapsedTime(t0).TotalSeconds / inner;
        }
        Array.Sort(samples);
        return samples[repeats / 2];
    }

    /// <summary>
    /// Median seconds per call of <paramref name="a"/> and of <paramref name="b"/>, timed in alternation
    /// (one run of each per round, a pause between) so both see the same moments of a shared machine:
    /// back-to-back blocks let a neighbour's burst land on one side only. The pause lets each side's
    /// idle threads stop spinning (OpenBLAS's spin for about 0.1 s after a call) before the other runs.
    /// </summary>
    public static (double A, double B) Interleaved(Action a, Action b, int rounds, double runSeconds = 0.05, int pauseMs = 150)
    {
        Median(a, repeats: 1, warmup: 2);
        Median(b, repeats: 1, warmup: 2);
        int innerA = Calibrate(a, runSeconds), innerB = Calibrate(b, runSeconds);
        var sa = new double[rounds];
        var sb = new double[rounds];
        for (int r = 0; r < rounds; r++)
        {
            Thread.Sleep(pauseMs);
            sa[r] = Median(a, repeats: 1, inner: innerA, warmup: 0, warmupSeconds: 0, warmupCalls: 0);
            Thread.Sleep(pauseMs);
            sb[r] = Median(b, repeats: 1, inner: innerB, warmup: 0, warmupSeconds: 0, warmupCalls: 0);
        }
        Array.Sort(sa);
        Array.Sort(sb);
        return (sa[rounds / 2], sb[rounds / 2]);
    }

    /// <summary>
    /// gpunet's side of its Interleaved GEMM comparison, alone: the same warm-up and calibration, then
    /// <paramref name="rounds"/> runs of about <paramref name="runSeconds"/>, each after a pause of
    /// <paramref name="pauseMs"/>; the median seconds per call. The pause is the one gpunet's runs see.
    /// </summary>
    public static double Paused(Action a, int rounds, double runSeconds = 0.05, int pauseMs = 150)
    {
        Median(a, repeats: 1, warmup: 2);
        int inner = Calibrate(a, runSeconds);
        var s = new double[rounds];
        for (int r = 0; r < rounds; r++)
        {
            Thread.Sleep(pauseMs);
            s[r] = Median(a, repeats: 1, inner: inner, warmup: 0, warmupSeconds: 0, warmupCalls: 0);
            // gpunet's rounds also sleep while OpenBLAS runs; the second pause keeps the rhythm the same.
            Thread.Sleep(pauseMs);
        }
        Array.Sort(s);
        return s[rounds / 2];
    }

    /// <summary>Calls per timed run so one run lasts about <paramref name="targetSeconds"/>.</summary>
    public static int Calibrate(Action action, double targetSeconds = 0.02, Action? sync = null)
    {
        action();
        sync?.Invoke();
        long t0 = Stopwatch.GetTimestamp();
        action();
        sync?.Invoke();
        double one = Math.Max(Stopwatch.GetElapsedTime(t0).TotalSeconds, 1e-8);
        return (int)Math.Clamp(targetSeconds / one, 1, 1_000_000);
    }
}
