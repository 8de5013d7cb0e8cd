using GpuNet.Kernels;
using Xunit;

namespace GpuNet.Tests.Backends;

public sealed partial class BackendConformanceTests
{
    /// <summary>Lets buffers that earlier tests leaked reach the pool, so the counters hold still.</summary>
    private static MemoryPool SettledPool(Device device)
    {
        var pool = device.Backend.Pool;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        pool.DrainFinalized();
        return pool;
    }

    [Theory]
    [MemberData(nameof(BackendDevices.All), MemberType = typeof(BackendDevices))]
    public void Pool_AllocateThenDispose_ReturnsLiveBytesToBaseline(string device)
    {
        var dev = BackendDevices.Resolve(device);
        var pool = SettledPool(dev);
        long baseBytes = pool.LiveBytes, baseBuffers = pool.LiveBuffers;
        var requests = new (DType DType, long Length)[] { (DType.Float32, 1), (DType.Float64, 100), (DType.Int32, 1000), (DType.Float32, (1 << 20) + 3), (DType.Float64, 33) };
        var buffers = new List<DeviceBuffer>();
        long expected = 0;
        foreach (var (dtype, length) in requests)
        {
            var b = dev.Backend.Allocate(dtype, length);
            buffers.Add(b);
            Assert.Equal(dtype, b.DType);
            Assert.Equal(length, b.Length);
            Assert.Same(dev, b.Device);
            Assert.False(b.IsDisposed);
            Assert.True(b.CapacityBytes >= length * dtype.SizeOf(), $"{device}: {dtype} x {length}: capacity {b.CapacityBytes} below {length * dtype.SizeOf()} bytes");
            Assert.Equal(MemoryPool.SizeClass(length * dtype.SizeOf()), b.CapacityBytes);
            expected += b.CapacityBytes;
        }
        Assert.Equal(baseBytes + expected, pool.LiveBytes);
        Assert.Equal(baseBuffers + requests.Length, pool.LiveBuffers);
        Assert.True(pool.PeakLiveBytes >= pool.LiveBytes);
        foreach (var b in buffers) b.Dispose();
        Assert.Equal(baseBytes, pool.LiveBytes);
        Assert.Equal(baseBuffers, pool.LiveBuffers);
        Assert.All(buffers, b => Assert.True(b.IsDisposed));
    }

    [Theory]
    [MemberData(nameof(BackendDevices.All), MemberType = typeof(BackendDevices))]
    public void Pool_DoubleDispose_IsHarmless(string device)
    {
        var dev = BackendDevices.Resolve(device);
        var pool = SettledPool(dev);
        long baseBytes = pool.LiveBytes, baseBuffers = pool.LiveBuffers, baseCached = pool.CachedBytes;
        var b = dev.Backend.Allocate(DType.Float32, 300);
        b.Dispose();
        b.Dispose();
        Assert.Equal(baseBytes, pool.LiveBytes);
        Assert.Equal(baseBuffers, pool.LiveBuffers);
        // The block went back to the cache once, not twice.
        Assert.True(pool.CachedBytes - baseCached <= b.CapacityBytes, $"{device}: cached bytes grew by {pool.CachedBytes - baseCached} for one {b.CapacityBytes}-byte block");
        Assert.Throws<ObjectDisposedException>(() => b.ThrowIfDisposed("test"));
    }

    [Theory]
    [MemberData(nameof(BackendDevices.All), MemberType = typeof(BackendDevices))]
    public void Pool_DisposedBlock_IsReusedBySameSizeClass(string device)
    {
        var dev = BackendDevices.Resolve(device);
        var pool = SettledPool(dev);
        var first = dev.Backend.Allocate(DType.Float64, 5000);
        first.Dispose();
        long allocations = pool.Allocations;
        // 40 000 bytes and 39 000 bytes share the 64 KiB class: no new device allocation.
        using var second = dev.Backend.Allocate(DType.Float32, 9750);
        Assert.Equal(allocations, pool.Allocations);
        Assert.Equal(first.CapacityBytes, second.CapacityBytes);
        // And the reused block works: upload, download.
        var data = Enumerable.Range(0, 9750).Select(i => (float)i).ToArray();
        dev.Backend.Upload<float>(data, second);
        var back = new float[9750];
        dev.Backend.Download<float>(second, back);
        Assert.Equal(data, back);
    }
}
