using GpuNet.Kernels;

namespace GpuNet.Tests.Memory;

/// <summary>The pool's bounds: a cache limit, and an out-of-memory path that reclaims dead tensors first.</summary>
[Collection("Memory")]
public sealed class PoolLimitsTests
{
    /// <summary>A buffer of the test pool: no device behind it, only the block the pool handed out.</summary>
    private sealed class FakeBuffer(MemoryPool pool, object raw, long capacity) : DeviceBuffer(pool, raw, capacity, DType.Float32, capacity / 4);

    /// <summary>A pool over a pretend device of <paramref name="deviceBytes"/> that refuses allocations beyond it.</summary>
    private static (MemoryPool Pool, Func<long> Allocated) FakePool(long deviceBytes)
    {
        long allocated = 0;
        var pool = new MemoryPool(Device.Get("cpu"),
            bytes =>
            {
                if (Interlocked.Add(ref allocated, bytes) > deviceBytes)
                {
                    Interlocked.Add(ref allocated, -bytes);
                    throw new OutOfMemoryException("pretend device is full");
                }
                return new byte[bytes];
            },
            raw => Interlocked.Add(ref allocated, -((byte[])raw).Length));
        return (pool, () => Interlocked.Read(ref allocated));
    }

    private static FakeBuffer Rent(MemoryPool pool, long bytes)
    {
        var (raw, capacity) = pool.Rent(bytes);
        return new FakeBuffer(pool, raw, capacity);
    }

    [Fact]
    public void CacheLimit_FreesBlocksReturnedBeyondIt_AndLoweringItTrimsTheCache()
    {
        long freed = 0;
        var pool = new MemoryPool(Device.Get("cpu"), bytes => new byte[bytes], raw => freed += ((byte[])raw).Length) { CacheLimitBytes = 3 << 20 };
        var buffers = Enumerable.Range(0, 5).Select(_ => Rent(pool, 1 << 20)).ToList();
        foreach (var b in buffers) b.Dispose();
        Assert.Equal(3 << 20, pool.CachedBytes);   // three cached, two freed at once
        Assert.Equal(2 << 20, freed);
        pool.CacheLimitBytes = 1 << 20;
        Assert.Equal(1 << 20, pool.CachedBytes);
        Assert.Equal(4 << 20, freed);
        pool.CacheLimitBytes = 0;
        using (Rent(pool, 1 << 20)) { }
        Assert.Equal(0, pool.CachedBytes);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.CacheLimitBytes = -1);
    }

    [Fact]
    public void OutOfMemory_ReclaimsTheBlocksOfTensorsNobodyDisposed_BeforeGivingUp()
    {
        var (pool, _) = FakePool(deviceBytes: 4 << 20);
        pool.CacheLimitBytes = long.MaxValue;
        LeakFour(pool); // the pretend device is now full of blocks only dead buffers hold
        using var again = Rent(pool, 1 << 20);
        Assert.Equal(1 << 20, again.CapacityBytes);

        // With every block held by a live buffer, the error says so.
        var held = Enumerable.Range(0, 3).Select(_ => Rent(pool, 1 << 20)).ToList();
        var e = Assert.Throws<OutOfMemoryException>(() => Rent(pool, 1 << 20));
        Assert.Contains("cannot allocate", e.Message);
        Assert.Contains("live in 4 buffers", e.Message);
        GC.KeepAlive(held);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void LeakFour(MemoryPool pool)
    {
        for (int i = 0; i < 4; i++) Rent(pool, 1 << 20);
    }
}
