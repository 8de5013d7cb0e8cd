namespace GpuNet.Kernels;

/// <summary>
/// A typed allocation on one device, rented from that device's <see cref="MemoryPool"/>.
/// <see cref="Dispose"/> returns the memory to the pool (idempotent); a buffer that is never
/// disposed is returned by its finalizer on the next allocation, so a leak costs memory for a
/// while but never correctness.
/// </summary>
public abstract class DeviceBuffer : IDisposable
{
    private readonly MemoryPool _pool;
    private int _disposed;

    /// <summary>Wraps a raw allocation of <paramref name="capacityBytes"/> rented from <paramref name="pool"/>.</summary>
    internal DeviceBuffer(MemoryPool pool, object raw, long capacityBytes, DType dtype, long length)
    {
        _pool = pool;
        Raw = raw;
        CapacityBytes = capacityBytes;
        DType = dtype;
        Length = length;
    }

    /// <summary>The backend's own allocation object (an array, an ILGPU buffer).</summary>
    internal object Raw { get; }

    /// <summary>Bytes reserved, at least <c>Length · DType.SizeOf()</c>.</summary>
    public long CapacityBytes { get; }

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>Elements usable.</summary>
    public long Length { get; }

    /// <summary>The device that owns the memory.</summary>
    public Device Device => _pool.Device;

    /// <summary>True after <see cref="Dispose"/>.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Returns the memory to the pool. Safe to call more than once.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _pool.Return(Raw, CapacityBytes, fromFinalizer: false);
        GC.SuppressFinalize(this);
    }

    /// <summary>Hands the memory back from the finalizer thread; the pool frees it on its own thread later.</summary>
    ~DeviceBuffer()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _pool.Return(Raw, CapacityBytes, fromFinalizer: true);
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> naming <paramref name="op"/> when disposed.</summary>
    public void ThrowIfDisposed(string op)
    {
        if (IsDisposed) throw new ObjectDisposedException(nameof(DeviceBuffer), $"{op}: the tensor's memory was already disposed (use after Dispose or after its scope ended).");
    }
}
