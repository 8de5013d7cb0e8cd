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

    public Storage(DeviceBuffer buffer) => Buffer = buffer;

    public DeviceBuffer Buffer { get; }

    public Device Device => Buffer.Device;

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
