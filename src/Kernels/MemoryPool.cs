using System.Collections.Concurrent;

namespace GpuNet.Kernels;

/// <summary>
/// Per-device caching allocator. Requests are rounded up to a size class (powers of two up to
/// 1 MiB, then steps of an eighth of the power of two, so at most 12.5% is wasted), freed
/// blocks wait in their class for the next request of that class, and counters report what is
/// live and what is cached. A training loop whose tensors are disposed — by a scope or by
/// hand — therefore reaches a steady state with no allocation at all.
/// </summary>
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
    public MemoryPool(Device device, Func<long, object> allocate, Action<object> free)
    {
        Device = device;
        _allocate = allocate;
        _free = free;
    }

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
    public (object Raw, long Capacity) Rent(long bytes)
    {
        DrainFinalized();
        long size = SizeClass(Math.Max(bytes, 1));
        lock (_lock)
        {
            LiveBytes += size;
            LiveBuffers++;
            if (LiveBytes > PeakLiveBytes) PeakLiveBytes = LiveBytes;
            if (_cache.TryGetValue(size, out var stack) && stack.Count > 0)
            {
                CachedBytes -= size;
                var cached = stack.Pop();
                _rented.Add(cached);
                return (cached, size);
            }
            Allocations++;
        }
        try
        {
            return (Track(_allocate(size)), size);
        }
        catch (Exception e) when (e is OutOfMemoryException || e.GetType().Name.Contains("OutOfMemory"))
        {
            // Out of device memory: give the cache back and try once more before failing.
            Trim();
            try { return (Track(_allocate(size)), size); }
            catch (Exception e2) when (e2 is OutOfMemoryException || e2.GetType().Name.Contains("OutOfMemory"))
            {
                lock (_lock) { LiveBytes -= size; LiveBuffers--; }
                throw new OutOfMemoryException($"{Device}: cannot allocate {size:N0} bytes ({LiveBytes:N0} bytes live in {LiveBuffers} buffers).", e2);
            }
        }
    }

    private object Track(object raw)
    {
        lock (_lock) _rented.Add(raw);
        return raw;
    }

    /// <summary>Gives a block back to its class. Called by <see cref="DeviceBuffer.Dispose"/>.</summary>
    internal void Return(object raw, long capacity, bool fromFinalizer)
    {
        if (fromFinalizer) { _finalized.Enqueue((raw, capacity)); return; }
        lock (_lock)
        {
            _rented.Remove(raw);
            LiveBytes -= capacity;
            LiveBuffers--;
            if (!_cache.TryGetValue(capacity, out var stack)) _cache[capacity] = stack = new Stack<object>();
            stack.Push(raw);
            CachedBytes += capacity;
        }
    }

    /// <summary>Frees every cached block back to the device.</summary>
    public void Trim()
    {
        DrainFinalized();
        List<object> toFree = [];
        lock (_lock)
        {
            foreach (var stack in _cache.Values) { toFree.AddRange(stack); stack.Clear(); }
            CachedBytes = 0;
        }
        foreach (var raw in toFree) _free(raw);
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
