using System.Runtime.CompilerServices;
using CsCheck;
using GpuNet.Kernels;
using Xunit;

namespace GpuNet.Tests.Backends;

/// <summary>
/// The pool's size classes and bookkeeping, as properties and on a fake device (no backend needed):
/// what every backend's pool inherits.
/// </summary>
public sealed class MemoryPoolPropertyTests
{
    private const long MiB = 1 << 20;

    [Fact]
    public void SizeClass_IsAtLeastTheRequest()
    {
        Gen.Long[1, 1L << 40].Sample(b => MemoryPool.SizeClass(b) >= b);
    }

    [Fact]
    public void SizeClass_AboveOneMiB_WastesAtMostAnEighth()
    {
        Gen.Long[MiB + 1, 1L << 40].Sample(b => (double)(MemoryPool.SizeClass(b) - b) <= 0.125 * b);
    }

    [Fact]
    public void SizeClass_UpToOneMiB_IsAPowerOfTwoOfAtLeast256()
    {
        Gen.Long[1, MiB].Sample(b =>
        {
            long c = MemoryPool.SizeClass(b);
            return c >= 256 && (c & (c - 1)) == 0 && (c == 256 || c < 2 * b);
        });
    }

    [Fact]
    public void SizeClass_IsMonotone()
    {
        Gen.Select(Gen.Long[1, 1L << 40], Gen.Long[0, 1L << 20]).Sample((b, d) => MemoryPool.SizeClass(b) <= MemoryPool.SizeClass(b + d));
    }

    [Fact]
    public void SizeClass_IsIdempotent()
    {
        Gen.Long[1, 1L << 40].Sample(b => MemoryPool.SizeClass(MemoryPool.SizeClass(b)) == MemoryPool.SizeClass(b));
    }

    [Theory]
    [InlineData(1, 256)]
    [InlineData(256, 256)]
    [InlineData(257, 512)]
    [InlineData(1 << 20, 1 << 20)]
    [InlineData((1 << 20) + 1, (1 << 20) + (1 << 17))]
    [InlineData(3L << 30, 3L << 30)]
    public void SizeClass_KnownValues(long bytes, long expected) => Assert.Equal(expected, MemoryPool.SizeClass(bytes));

    // ------------------------------------------------------------------ bookkeeping on a fake device

    private sealed class FakeBuffer(MemoryPool pool, object raw, long capacity, DType dtype, long length)
        : DeviceBuffer(pool, raw, capacity, dtype, length);

    private static (MemoryPool Pool, List<long> Allocated, List<object> Freed) FakePool()
    {
        var device = new Device("fake", DeviceKind.Cpu, 0, 0, 1, _ => throw new NotSupportedException("fake device"));
        var allocated = new List<long>();
        var freed = new List<object>();
        var pool = new MemoryPool(device, bytes => { allocated.Add(bytes); return new byte[bytes]; }, freed.Add);
        return (pool, allocated, freed);
    }

    private static FakeBuffer Rent(MemoryPool pool, long length)
    {
        var (raw, cap) = pool.Rent(length * 4);
        return new FakeBuffer(pool, raw, cap, DType.Float32, length);
    }

    [Fact]
    public void Pool_RentDisposeRent_ReusesTheCachedBlock()
    {
        var (pool, allocated, _) = FakePool();
        var a = Rent(pool, 1000);
        Assert.Equal(4096, a.CapacityBytes);
        Assert.Equal(4096, pool.LiveBytes);
        a.Dispose();
        a.Dispose();
        Assert.Equal(0, pool.LiveBytes);
        Assert.Equal(0, pool.LiveBuffers);
        Assert.Equal(4096, pool.CachedBytes);
        var b = Rent(pool, 900);
        Assert.Single(allocated);
        Assert.Equal(0, pool.CachedBytes);
        Assert.Equal(1, pool.Allocations);
        b.Dispose();
    }

    [Fact]
    public void Pool_Trim_FreesEveryCachedBlock()
    {
        var (pool, _, freed) = FakePool();
        var buffers = Enumerable.Range(1, 5).Select(i => Rent(pool, i * 1000)).ToList();
        long peak = pool.PeakLiveBytes;
        buffers.ForEach(b => b.Dispose());
        Assert.Equal(peak, pool.PeakLiveBytes);
        pool.Trim();
        Assert.Equal(5, freed.Count);
        Assert.Equal(0, pool.CachedBytes);
        pool.ResetPeak();
        Assert.Equal(0, pool.PeakLiveBytes);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Leak(MemoryPool pool) => Rent(pool, 5000);

    [Fact]
    public void Pool_LeakedBuffer_IsReturnedAfterFinalization()
    {
        var (pool, _, _) = FakePool();
        Leak(pool);
        Assert.Equal(MemoryPool.SizeClass(20000), pool.LiveBytes);
        for (int i = 0; i < 5 && pool.LiveBytes != 0; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            pool.DrainFinalized();
        }
        Assert.Equal(0, pool.LiveBytes);
        Assert.Equal(MemoryPool.SizeClass(20000), pool.CachedBytes);
    }
}
