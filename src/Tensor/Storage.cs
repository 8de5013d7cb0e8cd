using GpuNet.Kernels;

namespace GpuNet;

/// <summary>
/// The memory behind one or more tensors. A tensor and every view of it share one storage; each
/// tensor object holds one reference, and the buffer goes back to the device pool when the last
/// tensor using it is disposed — so disposing a tensor never pulls memory from under a view.
/// </summary>
internal sealed class Storage
{
    private int _refs = 1;
    private int _version;

    public Storage(DeviceBuffer buffer) => Buffer = buffer;

    public DeviceBuffer Buffer { get; }

    public Device Device => Buffer.Device;

    /// <summary>
    /// Counts in-place writes to this storage (PyTorch's version counter). Nodes remember it for what
    /// they save, so a backward pass can tell that a saved value changed under it.
    /// </summary>
    public int Version => _version;

    /// <summary>The in-place op that last wrote to this storage (for error messages); null if none did.</summary>
    public string? LastInPlaceOp { get; private set; }

    /// <summary>Records an in-place write by <paramref name="op"/>: one increment, no lock, as a write race on the data would be a bug anyway.</summary>
    public void MarkWritten(string op)
    {
        _version++;
        LastInPlaceOp = op;
    }

    /// <summary>True when one tensor object alone uses this storage.</summary>
    public bool IsExclusive => Volatile.Read(ref _refs) == 1;

    public void AddRef()
    {
        if (Interlocked.Increment(ref _refs) <= 1)
            throw new ObjectDisposedException(nameof(Tensor), "A view was taken of a tensor whose memory was already released.");
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _refs) == 0) Buffer.Dispose();
    }
}
