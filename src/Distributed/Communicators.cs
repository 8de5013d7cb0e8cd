using GpuNet.Distributed.Mpi;
using GpuNet.Distributed.Nccl;

namespace GpuNet.Distributed;

/// <summary>What moves a data-parallel group's tensors.</summary>
public enum CommunicatorKind
{
    /// <summary>MPI, through host memory for device tensors.</summary>
    Mpi,

    /// <summary>NCCL, device to device.</summary>
    Nccl,
}

/// <summary>Picks the communicator for a device: NCCL for a CUDA device when libnccl.so.2 loads, MPI otherwise.</summary>
public static class Communicators
{
    /// <summary>The rule: NCCL only when the device is CUDA and NCCL is present.</summary>
    public static CommunicatorKind Choose(DeviceKind device, bool ncclPresent) =>
        device == DeviceKind.Cuda && ncclPresent ? CommunicatorKind.Nccl : CommunicatorKind.Mpi;

    /// <summary>What <see cref="ForDevice"/> would pick for <paramref name="device"/> on this machine, and why. Loads NCCL only for a CUDA device.</summary>
    public static (CommunicatorKind Kind, string Reason) Select(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.Kind != DeviceKind.Cuda) return (CommunicatorKind.Mpi, $"{device} is not a CUDA device");
        var nccl = NcclNative.TryLoad(out var error);
        return nccl is null
            ? (Choose(device.Kind, false), $"NCCL unavailable ({error})")
            : (Choose(device.Kind, true), $"NCCL {nccl.VersionText} and a CUDA device");
    }

    /// <summary>
    /// The communicator data-parallel training on <paramref name="device"/> uses: an NCCL group over <paramref name="world"/>'s
    /// ranks when <see cref="Select"/> says so (the caller disposes it), else <paramref name="world"/> itself.
    /// </summary>
    public static ICommunicator ForDevice(MpiCommunicator world, Device device, out string reason)
    {
        ArgumentNullException.ThrowIfNull(world);
        var (kind, why) = Select(device);
        reason = why;
        return kind == CommunicatorKind.Nccl ? NcclCommunicator.Create(world, device) : new Borrowed(world);
    }

    // The world communicator lent without its Dispose (which finalizes MPI and belongs to whoever initialised it).
    private sealed class Borrowed(MpiCommunicator world) : ICommunicator
    {
        public int Rank => world.Rank;
        public int Size => world.Size;
        public string Name => world.Name;
        public void Broadcast(Tensor tensor, int root = 0) => world.Broadcast(tensor, root);
        public void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum) => world.AllReduce(tensor, op);
        public void Broadcast<T>(Span<T> values, int root = 0) where T : unmanaged => world.Broadcast(values, root);
        public void AllReduce<T>(Span<T> values, ReduceOp op = ReduceOp.Sum) where T : unmanaged => world.AllReduce(values, op);
        public void Barrier() => world.Barrier();
        public void Abort(int exitCode) => world.Abort(exitCode);
        public void Dispose() { }
    }
}
