using GpuNet.Kernels;
using GpuNet.Kernels.Managed;

namespace GpuNet.Tests.Managed;

/// <summary>Helpers shared by the managed-backend tests: one backend per process, buffers from arrays, double references.</summary>
internal static class M
{
    private static readonly Lazy<IBackend> s_backend = new(() => ManagedBackend.CreateDevice().Backend);

    public static IBackend B => s_backend.Value;

    public static DeviceBuffer Buf<T>(T[] data) where T : unmanaged
    {
        var b = B.Allocate(DTypeInfo.Of<T>(), data.Length);
        B.Upload<T>(data, b);
        return b;
    }

    public static DeviceBuffer Empty<T>(long n) where T : unmanaged => B.Allocate(DTypeInfo.Of<T>(), n);

    public static T[] Read<T>(DeviceBuffer b) where T : unmanaged
    {
        var r = new T[b.Length];
        B.Download<T>(b, r);
        return r;
    }

    public static StridedView V(DeviceBuffer b, int[] shape, int[]? strides = null, long offset = 0) =>
        new(b, shape, strides ?? StridedView.RowMajorStrides(shape), offset);

    public static double[] RandomDoubles(int n, int seed, double lo = -1, double hi = 1)
    {
        var r = new Random(seed);
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * r.NextDouble();
        return a;
    }

    public static float[] RandomFloats(int n, int seed, double lo = -1, double hi = 1) =>
        RandomDoubles(n, seed, lo, hi).Select(x => (float)x).ToArray();

    /// <summary>Element at a multi-index of a strided view over host data.</summary>
    public static long At(int[] strides, long offset, params int[] idx)
    {
        long o = offset;
        for (int d = 0; d < idx.Length; d++) o += (long)idx[d] * strides[d];
        return o;
    }

    /// <summary>True when actual is within tol (relative above 1, absolute below) of expected; NaN matches NaN.</summary>
    public static bool Near(double expected, double actual, double tol) =>
        (double.IsNaN(expected) && double.IsNaN(actual)) || expected == actual
        || Math.Abs(expected - actual) <= tol * Math.Max(1, Math.Abs(expected));

    public static void Close(double expected, double actual, double tol, string what)
    {
        if (!Near(expected, actual, tol))
            throw new Xunit.Sdk.XunitException($"{what}: expected {expected:R}, got {actual:R} (error {Math.Abs(expected - actual):E2}, tolerance {tol:E1}).");
    }
}
