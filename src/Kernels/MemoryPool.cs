using System.Collections.Concurrent;

namespace GpuNet.Kernels;

/// <summary>
/// Per-device caching allocator. Requests are rounded up to a size class (powers of two up to
/// 1 MiB, then steps of an eighth of the power of two, so at most 12.5% is wasted), freed
/// blocks wait in their class for the next request of that class, and counters report what is
/// live and what is cached. A training loop whose tensors are disposed — by a scope or by
/// hand — therefore reaches a steady state with no allocation at all.
/// </summary>
/// <remarks>
/// <para><b>Tensors nobody disposes.</b> A tensor is a small managed object standing for a large
/// block, so without help the GC would see little reason to collect it, and a loop that never
/// disposes (the PyTorch habit) would hold dead blocks until a collection happened by chance. Every
/// block the pool holds is reported to the GC as memory pressure of its size
/// (<see cref="GC.AddMemoryPressure"/>, removed when the block goes back to the device; a steady
/// loop allocates no blocks, so this costs it nothing), and the pool itself collects whenever its
/// live bytes have doubled (<see cref="Collections"/>): dead tensors' blocks then return through the
/// finalizer queue, so a loop that never disposes stays within about twice its working set.</para>
/// <para><b>Running out.</b> When the device refuses an allocation, the pool collects, waits for
/// finalizers, takes the blocks they returned, frees the whole cache and tries once more; only
/// then does it throw.</para>
/// <para><b>The cache is bounded</b> by <see cref="CacheLimitBytes"/>: a block returned while the
/// cache is full goes back to the device.</para>
/// </remarks>
public sealed class MemoryPool
{
    private readonly Func<long, object> _allocate;
    private readonly Action<object> _free;
    private readonly Dictionary<long, Stack<object>> _cache = new();
    private readonly ConcurrentQueue<(object Raw, long Bytes)> _finalized = new();
    // Blocks handed out stay strongly referenced here: a leaked DeviceBuffer is finalized and hands its
    // block back, but the block itself (an ILGPU buffer has a finalizer of its own) must not die first.
    private readonly HashSet<object> _rented = new(ReferenceEqualityComparer.Instance);
    private readonly Lock _lock = new();

    /// <summary>Creates a pool that allocates and frees raw blocks with the given functions.</summary>
    internal MemoryPool(Device device, Func<long, object> allocate, Action<object> free)
    {
        Device = device;
        _allocate = allocate;
        _free = free;
        CacheLimitBytes = DefaultCacheLimit(device.MemoryBytes);
    }

    /// <summary>
    /// The default <see cref="CacheLimitBytes"/>: half of the device's memory (PyTorch's CUDA allocator
    /// keeps everything it frees; half still leaves room for a second process or another library).
    /// </summary>
    public static long DefaultCacheLimit(long deviceMemoryBytes) => deviceMemoryBytes > 0 ? deviceMemoryBytes / 2 : long.MaxValue;

    /// <summary>
    /// Most bytes of freed blocks the pool keeps for reuse; a block returned beyond it is freed to the
    /// device at once. Lowering it frees cached blocks down to the new limit. Default:
    /// <see cref="DefaultCacheLimit"/>. Set 0 to cache nothing.
    /// </summary>
    public long CacheLimitBytes
    {
        get => Volatile.Read(ref _cacheLimit);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(CacheLimitBytes));
            Volatile.Write(ref _cacheLimit, value);
            if (CachedBytes > value) TrimTo(value);
        }
    }

    private long _cacheLimit;

    /// <summary>The device whose memory this pool manages.</summary>
    public Device Device { get; }

    /// <summary>Bytes held by buffers not yet disposed.</summary>
    public long LiveBytes { get; private set; }

    /// <summary>Buffers not yet disposed.</summary>
    public long LiveBuffers { get; private set; }

    /// <summary>Highest <see cref="LiveBytes"/> seen since creation or <see cref="ResetPeak"/>.</summary>
    public long PeakLiveBytes { get; private set; }

    /// <summary>Bytes cached for reuse.</summary>
    public long CachedBytes { get; private set; }

    /// <summary>Raw allocations made from the device (cache misses).</summary>
    public long Allocations { get; private set; }

    /// <summary>Rounds a request up to its size class.</summary>
    public static long SizeClass(long bytes)
    {
        if (bytes <= 256) return 256;
        long pow = 1L << (64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(bytes - 1)));
        if (pow <= 1 << 20) return pow;
        long step = pow / 16; // pow/2 .. pow in eighths of pow/2
        return (bytes + step - 1) / step * step;
    }

    /// <summary>Rents a block of at least <paramref name="bytes"/>; returns it with its class size.</summary>
    internal (object Raw, long Capacity) Rent(long bytes)
    {
        DrainFinalized();
        long size = SizeClass(Math.Max(bytes, 1));
        if (LiveBytes + size > Volatile.Read(ref _collectAt)) CollectDeadTensors();
        if (TryRentCached(size) is { } cached) return (cached, size);
        try
        {
            return (Track(_allocate(size), size), size);
        }
        catch (Exception e) when (IsOutOfMemory(e))
        {
            // Out of device memory. Dead tensors may still hold blocks: collect, let their finalizers hand
            // the blocks back, and take one of the right size if that freed any; else free the whole cache
            // and try the device once more.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            DrainFinalized();
            if (TryRentCached(size) is { } reclaimed) return (reclaimed, size);
            Trim();
            try { return (Track(_allocate(size), size), size); }
            catch (Exception e2) when (IsOutOfMemory(e2))
            {
                throw new OutOfMemoryException($"{Device}: cannot allocate {size:N0} bytes ({LiveBytes:N0} bytes live in {LiveBuffers} buffers after collecting dead tensors and freeing the cache).", e2);
            }
        }
    }

    /// <summary>Live bytes below which the pool never collects: tiny working sets need no help.</summary>
    public const long CollectFloorBytes = 8 << 20;

    private long _collectAt = CollectFloorBytes;
    private int _collecting;

    /// <summary>
    /// Live bytes have doubled since the last look (or grown by <see cref="CollectFloorBytes"/>, for
    /// small working sets): some of them may belong to tensors nobody will dispose. Collect the young
    /// generations (dead tensors are usually young), take back what their finalizers return, and
    /// escalate to a full collection when that freed nothing; then allow the live bytes to double
    /// again. A loop that disposes never gets here, since its live bytes stay flat; one that does not
    /// keeps its pool within about twice its working set, or the floor above it.
    /// </summary>
    private void CollectDeadTensors()
    {
        if (Interlocked.Exchange(ref _collecting, 1) != 0) return;
        try
        {
            long before = LiveBytes;
            Collect(1);
            if (LiveBytes >= before) Collect(2);
            long live = LiveBytes;
            Volatile.Write(ref _collectAt, live + Math.Max(live, CollectFloorBytes));
            Collections++;
        }
        finally { Volatile.Write(ref _collecting, 0); }

        void Collect(int generation)
        {
            GC.Collect(generation, GCCollectionMode.Forced, blocking: true);
            GC.WaitForPendingFinalizers();
            DrainFinalized();
        }
    }

    /// <summary>Times the pool collected to reclaim blocks of tensors that were never disposed.</summary>
    public long Collections { get; private set; }

    private static bool IsOutOfMemory(Exception e) => e is OutOfMemoryException || e.GetType().Name.Contains("OutOfMemory", StringComparison.Ordinal);

    /// <summary>A cached block of class <paramref name="size"/> made live, or null (then counted as an allocation to come).</summary>
    private object? TryRentCached(long size)
    {
        lock (_lock)
        {
            if (!_cache.TryGetValue(size, out var stack) || stack.Count == 0) return null;
            CachedBytes -= size;
            var cached = stack.Pop();
            _rented.Add(cached);
            MarkLive(size);
            return cached;
        }
    }

    // Caller holds _lock.
    private void MarkLive(long size)
    {
        LiveBytes += size;
        LiveBuffers++;
        if (LiveBytes > PeakLiveBytes) PeakLiveBytes = LiveBytes;
    }

    private object Track(object raw, long size)
    {
        lock (_lock)
        {
            _rented.Add(raw);
            Allocations++;
            MarkLive(size);
        }
        GC.AddMemoryPressure(size);
        return raw;
    }

    /// <summary>Gives a block back to its class. Called by <see cref="DeviceBuffer.Dispose"/>.</summary>
    internal void Return(object raw, long capacity, bool fromFinalizer)
    {
        if (fromFinalizer) { _finalized.Enqueue((raw, capacity)); return; }
        bool keep;
        lock (_lock)
        {
            _rented.Remove(raw);
            LiveBytes -= capacity;
            LiveBuffers--;
            keep = CachedBytes + capacity <= CacheLimitBytes;
            if (keep)
            {
                if (!_cache.TryGetValue(capacity, out var stack)) _cache[capacity] = stack = new Stack<object>();
                stack.Push(raw);
                CachedBytes += capacity;
            }
        }
        if (!keep) Free(raw, capacity);
    }

    private void Free(object raw, long size)
    {
        _free(raw);
        GC.RemoveMemoryPressure(size);
    }

    /// <summary>Frees every cached block back to the device.</summary>
    public void Trim()
    {
        DrainFinalized();
        TrimTo(0);
    }

    /// <summary>Frees cached blocks, largest classes first, until at most <paramref name="limit"/> bytes stay cached.</summary>
    private void TrimTo(long limit)
    {
        List<(object Raw, long Size)> toFree = [];
        lock (_lock)
        {
            foreach (var (size, stack) in _cache.OrderByDescending(kv => kv.Key))
            {
                while (CachedBytes > limit && stack.Count > 0)
                {
                    toFree.Add((stack.Pop(), size));
                    CachedBytes -= size;
                }
            }
        }
        foreach (var (raw, size) in toFree) Free(raw, size);
    }

    /// <summary>Sets <see cref="PeakLiveBytes"/> to the current <see cref="LiveBytes"/>.</summary>
    public void ResetPeak()
    {
        lock (_lock) PeakLiveBytes = LiveBytes;
    }

    /// <summary>Moves blocks whose buffers were finalized (never disposed) back into the cache.</summary>
    public void DrainFinalized()
    {
        while (_finalized.TryDequeue(out var item)) Return(item.Raw, item.Bytes, fromFinalizer: false);
    }
}
