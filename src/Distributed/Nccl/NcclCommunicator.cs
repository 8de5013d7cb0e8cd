using GpuNet.Distributed.Mpi;
using GpuNet.Kernels;
using GpuNet.Kernels.Ilgpu;
using ILGPU.Runtime.Cuda;

namespace GpuNet.Distributed.Nccl;

/// <summary>
/// <see cref="ICommunicator"/> for tensors on one CUDA device per rank, over NCCL: device memory is reduced in place on
/// the device's stream (the stream GpuNet's kernels run on, so nothing waits for the host), with no host copies.
/// The group is set up over MPI: rank 0 draws NCCL's unique id and MPI broadcasts it. Host values, the barrier and
/// abort go through MPI.
/// </summary>
/// <remarks>Not yet verified on hardware: GpuNet's CI has neither a GPU nor NCCL; the calls follow nccl.h of NCCL 2.x.</remarks>
public sealed unsafe class NcclCommunicator : ICommunicator
{
    private readonly NcclNative _nccl;
    private readonly MpiCommunicator _mpi;
    private readonly IntPtr _comm;
    private readonly IlgpuBackend _backend;
    private bool _disposed;

    private NcclCommunicator(NcclNative nccl, MpiCommunicator mpi, Device device, IntPtr comm)
    {
        _nccl = nccl;
        _mpi = mpi;
        _comm = comm;
        Device = device;
        _backend = (IlgpuBackend)device.Backend;
        Name = $"NCCL {nccl.VersionText} on {device}, set up over {mpi.Name}";
    }

    /// <summary>The CUDA device this rank's tensors live on.</summary>
    public Device Device { get; }

    /// <inheritdoc />
    public int Rank => _mpi.Rank;

    /// <inheritdoc />
    public int Size => _mpi.Size;

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>Creates the NCCL group of <paramref name="mpi"/>'s ranks, this one on <paramref name="device"/> (a CUDA device); every rank must call it.</summary>
    public static NcclCommunicator Create(MpiCommunicator mpi, Device device)
    {
        ArgumentNullException.ThrowIfNull(mpi);
        ArgumentNullException.ThrowIfNull(device);
        if (device.Kind != DeviceKind.Cuda) throw new ArgumentException($"NCCL: {device} is not a CUDA device.", nameof(device));
        var nccl = NcclNative.TryLoad(out var error) ?? throw new DllNotFoundException($"NCCL: {error}.");
        NcclUniqueId id = default;
        if (mpi.Rank == 0) nccl.Check(nccl.GetUniqueId(&id), "ncclGetUniqueId");
        mpi.Broadcast(new Span<byte>(id.Bytes, 128), 0);
        var backend = (IlgpuBackend)device.Backend;
        backend.Accelerator.Bind(); // NCCL uses the calling thread's CUDA context
        IntPtr comm;
        nccl.Check(nccl.CommInitRank(&comm, mpi.Size, id, mpi.Rank), "ncclCommInitRank");
        return new NcclCommunicator(nccl, mpi, device, comm);
    }

    /// <inheritdoc />
    public void Broadcast(Tensor tensor, int root = 0)
    {
        var (p, count, type) = Prepare(tensor, "Broadcast");
        if (root < 0 || root >= Size) throw new ArgumentOutOfRangeException(nameof(root), $"Broadcast: root {root} is not a rank of this {Size}-process group.");
        if (count > 0) _nccl.Check(_nccl.Broadcast(p, p, count, type, root, _comm, Stream), "ncclBroadcast");
    }

    /// <inheritdoc />
    public void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum)
    {
        MpiCommunicator.CheckOp(op, tensor.DType);
        var (p, count, type) = Prepare(tensor, "AllReduce");
        int ncclOp = op switch { ReduceOp.Max => NcclNative.OpMax, ReduceOp.Min => NcclNative.OpMin, _ => NcclNative.OpSum };
        if (count > 0) _nccl.Check(_nccl.AllReduce(p, p, count, type, ncclOp, _comm, Stream), "ncclAllReduce");
        if (op == ReduceOp.Average)
            using (Autograd.NoGrad())
                tensor.AffineInPlace(1.0 / Size);
    }

    /// <inheritdoc />
    public void Broadcast<T>(Span<T> values, int root = 0) where T : unmanaged => _mpi.Broadcast(values, root);

    /// <inheritdoc />
    public void AllReduce<T>(Span<T> values, ReduceOp op = ReduceOp.Sum) where T : unmanaged => _mpi.AllReduce(values, op);

    /// <inheritdoc />
    public void Barrier()
    {
        _backend.Synchronize();
        _mpi.Barrier();
    }

    /// <inheritdoc />
    public void Abort(int exitCode)
    {
        if (!_disposed) _nccl.CommAbort(_comm);
        _mpi.Abort(exitCode);
    }

    /// <summary>Destroys the NCCL group (the MPI communicator is the caller's).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _backend.Synchronize();
        _nccl.CommDestroy(_comm);
    }

    private IntPtr Stream => ((CudaStream)_backend.Accelerator.DefaultStream).StreamPtr;

    // NCCL works on dense device memory: a strided tensor would need a staging copy, which the training loop never passes.
    private (IntPtr Pointer, nuint Count, int Type) Prepare(Tensor tensor, string op)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ObjectDisposedException.ThrowIf(_disposed, this);
        tensor.ThrowIfDisposed(op);
        if (tensor.Device != Device) throw new ArgumentException($"{op}: the tensor is on {tensor.Device}; this NCCL group's rank works on {Device}.");
        if (!tensor.IsContiguous) throw new ArgumentException($"{op}: NCCL needs a contiguous tensor; call Contiguous() first.");
        tensor.MarkWritten(op);
        var buffer = (IlgpuBuffer)tensor.Buffer;
        int type = tensor.DType switch { DType.Float32 => NcclNative.Float32, DType.Float64 => NcclNative.Float64, _ => NcclNative.Int32 };
        _backend.Accelerator.Bind();
        return (buffer.Memory.NativePtr + (nint)(tensor.Offset * tensor.DType.SizeOf()), (nuint)tensor.NumElements, type);
    }
}
