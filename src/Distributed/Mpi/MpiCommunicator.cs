using System.Runtime.InteropServices;
using GpuNet.Kernels;
using GpuNet.Kernels.Managed;

namespace GpuNet.Distributed.Mpi;

/// <summary>
/// <see cref="ICommunicator"/> over MPI's <c>MPI_COMM_WORLD</c>, through Open MPI loaded at run time
/// (<see cref="MpiNative"/> says why the binding is GpuNet's own and Open MPI-specific).
/// </summary>
/// <remarks>
/// MPI is initialised once per process by <see cref="InitializeWorld"/>, and disposing the world communicator finalizes
/// it (MPI cannot be initialised again afterwards). Tensors on the managed CPU device are reduced where they lie, with
/// <c>MPI_IN_PLACE</c>; tensors on any other device go through a host copy. MPI's error handler on the world is set to
/// return codes, so a failed call is an <see cref="MpiException"/> naming the call, not an abort inside the library.
/// </remarks>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    // MPI counts are C ints: larger buffers go in pieces of this many elements.
    internal const int MaxCount = 1 << 30;

    private static readonly Lock s_lock = new();
    private static MpiCommunicator? s_world;
    private static bool s_finalized;

    private readonly MpiNative _mpi;
    private readonly IntPtr _comm;
    private readonly bool _ownsInit;
    private bool _disposed;

    private MpiCommunicator(MpiNative mpi, IntPtr comm, bool ownsInit)
    {
        _mpi = mpi;
        _comm = comm;
        _ownsInit = ownsInit;
        int rank, size;
        mpi.Check(mpi.CommRank(comm, &rank), "MPI_Comm_rank");
        mpi.Check(mpi.CommSize(comm, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
        Name = $"MPI ({mpi.Version})";
    }

    /// <inheritdoc />
    public int Rank { get; }

    /// <inheritdoc />
    public int Size { get; }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>
    /// Whether Open MPI's library can be loaded in this process; when not, <paramref name="reason"/> says why.
    /// Loading does not initialise MPI.
    /// </summary>
    public static bool IsAvailable(out string? reason) => MpiNative.TryLoad(out reason) is not null;

    /// <summary>
    /// Initialises MPI (once per process) and returns the communicator of all its processes. Under <c>mpirun</c> these
    /// are the job's ranks; a process started without it is a world of one. Throws when Open MPI cannot be loaded or
    /// MPI was already finalized in this process.
    /// </summary>
    public static MpiCommunicator InitializeWorld()
    {
        lock (s_lock)
        {
            if (s_world is { _disposed: false } w) return w;
            if (s_finalized) throw new InvalidOperationException("MPI: the world communicator was disposed, which finalized MPI; MPI cannot be initialised twice in one process.");
            var mpi = MpiNative.Get();
            int initialized = 0, provided = 0;
            mpi.Check(mpi.Initialized(&initialized), "MPI_Initialized");
            bool owns = initialized == 0;
            if (owns) mpi.Check(mpi.InitThread(null, IntPtr.Zero, MpiNative.ThreadSerialized, &provided), "MPI_Init_thread");
            mpi.Check(mpi.CommSetErrhandler(mpi.CommWorld, mpi.ErrorsReturn), "MPI_Comm_set_errhandler");
            return s_world = new MpiCommunicator(mpi, mpi.CommWorld, owns);
        }
    }

    /// <inheritdoc />
    public void Broadcast(Tensor tensor, int root = 0)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        CheckRoot(root);
        InPlace(tensor, "Broadcast", (p, count, type) => _mpi.Check(_mpi.Bcast(p, count, type, root, _comm), "MPI_Bcast"));
    }

    /// <inheritdoc />
    public void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        CheckOp(op, tensor.DType);
        var mpiOp = Op(op);
        InPlace(tensor, "AllReduce", (p, count, type) => _mpi.Check(_mpi.Allreduce(MpiNative.InPlace, p, count, type, mpiOp, _comm), "MPI_Allreduce"));
        if (op == ReduceOp.Average)
            using (Autograd.NoGrad())
                tensor.AffineInPlace(1.0 / Size);
    }

    /// <inheritdoc />
    public void AllReduce<T>(Span<T> values, ReduceOp op = ReduceOp.Sum) where T : unmanaged
    {
        ThrowIfDisposed();
        var type = DataType<T>();
        if (op == ReduceOp.Average && typeof(T) != typeof(float) && typeof(T) != typeof(double))
            throw new ArgumentException($"AllReduce: Average needs float or double values; got {typeof(T).Name} (use Sum and divide).");
        var mpiOp = Op(op);
        fixed (T* p = values)
            for (long at = 0; at < values.Length; at += MaxCount)
                _mpi.Check(_mpi.Allreduce(MpiNative.InPlace, (IntPtr)(p + at), (int)Math.Min(MaxCount, values.Length - at), type, mpiOp, _comm), "MPI_Allreduce");
        if (op == ReduceOp.Average)
        {
            if (typeof(T) == typeof(float)) foreach (ref var v in MemoryMarshal.Cast<T, float>(values)) v /= Size;
            else foreach (ref var v in MemoryMarshal.Cast<T, double>(values)) v /= Size;
        }
    }

    /// <inheritdoc />
    public void Broadcast<T>(Span<T> values, int root = 0) where T : unmanaged
    {
        ThrowIfDisposed();
        CheckRoot(root);
        var type = DataType<T>();
        fixed (T* p = values)
            for (long at = 0; at < values.Length; at += MaxCount)
                _mpi.Check(_mpi.Bcast((IntPtr)(p + at), (int)Math.Min(MaxCount, values.Length - at), type, root, _comm), "MPI_Bcast");
    }

    /// <summary>
    /// Starts a sum of <paramref name="count"/> host values at <paramref name="data"/> over the ranks (MPI_Iallreduce),
    /// in place; the memory must stay put until <see cref="PendingReduce.Wait"/> returns.
    /// </summary>
    internal PendingReduce StartSum<T>(T* data, int count) where T : unmanaged
    {
        ThrowIfDisposed();
        IntPtr request;
        _mpi.Check(_mpi.Iallreduce(MpiNative.InPlace, (IntPtr)data, count, DataType<T>(), _mpi.Sum, _comm, &request), "MPI_Iallreduce");
        return new PendingReduce(_mpi, request);
    }

    /// <inheritdoc />
    public void Barrier()
    {
        ThrowIfDisposed();
        _mpi.Check(_mpi.Barrier(_comm), "MPI_Barrier");
    }

    /// <inheritdoc />
    public void Abort(int exitCode)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        if (!_disposed) _mpi.Abort(_comm, exitCode);
        // MPI_Abort does not return on Open MPI; this is for a finalized MPI.
        Environment.Exit(exitCode);
    }

    /// <summary>Finalizes MPI when this process initialised it (every rank must reach this point).</summary>
    public void Dispose()
    {
        lock (s_lock)
        {
            if (_disposed) return;
            _disposed = true;
            s_finalized = true;
            if (!_ownsInit) return;
            int finalized = 0;
            _mpi.Finalized(&finalized);
            if (finalized == 0) _mpi.Check(_mpi.Finalize(), "MPI_Finalize");
        }
    }

    /// <summary>A started <see cref="StartSum{T}"/>.</summary>
    internal readonly struct PendingReduce(MpiNative mpi, IntPtr request)
    {
        /// <summary>Blocks until the sum is in place.</summary>
        public void Wait()
        {
            var r = request;
            mpi.Check(mpi.Wait(&r, IntPtr.Zero), "MPI_Wait");
        }
    }

    private delegate void Call(IntPtr data, int count, IntPtr type);

    // Runs an in-place collective on the tensor's elements: where they lie on the managed CPU device, else through a host copy.
    private void InPlace(Tensor tensor, string op, Call call)
    {
        ThrowIfDisposed();
        tensor.ThrowIfDisposed(op);
        tensor.MarkWritten(op);
        long n = tensor.NumElements;
        if (n == 0) return;
        using var noGrad = Autograd.NoGrad();
        // Ours to dispose either way: a fresh alias when the tensor is already dense, else a dense copy.
        using var dense = tensor.Contiguous();
        switch (tensor.DType)
        {
            case DType.Float32: Run<float>(dense, n, call); break;
            case DType.Float64: Run<double>(dense, n, call); break;
            default: Run<int>(dense, n, call); break;
        }
        if (!tensor.IsContiguous) tensor.CopyFrom(dense);
    }

    private void Run<T>(Tensor dense, long n, Call call) where T : unmanaged
    {
        var type = DataType<T>();
        if (dense.Buffer is ManagedBuffer managed)
        {
            fixed (T* p = managed.AsSpan<T>().Slice(checked((int)dense.Offset), checked((int)n)))
                Pieces(p, n, type, call);
            return;
        }
        var host = GC.AllocateUninitializedArray<T>(checked((int)n), pinned: true);
        dense.Backend.Download<T>(dense.Buffer, host, dense.Offset);
        fixed (T* p = host)
            Pieces(p, n, type, call);
        dense.Backend.Upload<T>(host, dense.Buffer, dense.Offset);
    }

    private static void Pieces<T>(T* p, long n, IntPtr type, Call call) where T : unmanaged
    {
        for (long at = 0; at < n; at += MaxCount)
            call((IntPtr)(p + at), (int)Math.Min(MaxCount, n - at), type);
    }

    private IntPtr DataType<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? _mpi.Float
        : typeof(T) == typeof(double) ? _mpi.Double
        : typeof(T) == typeof(int) ? _mpi.Int
        : typeof(T) == typeof(long) ? _mpi.Long
        : typeof(T) == typeof(byte) ? _mpi.Byte
        : throw new ArgumentException($"MPI: no datatype for {typeof(T).Name}; expected float, double, int, long or byte.");

    private IntPtr Op(ReduceOp op) => op switch
    {
        ReduceOp.Sum or ReduceOp.Average => _mpi.Sum,
        ReduceOp.Max => _mpi.Max,
        ReduceOp.Min => _mpi.Min,
        _ => throw new ArgumentOutOfRangeException(nameof(op), $"AllReduce: unknown operation {op}."),
    };

    internal static void CheckOp(ReduceOp op, DType dtype)
    {
        if (op == ReduceOp.Average && !dtype.IsFloating())
            throw new ArgumentException($"AllReduce: Average needs a floating-point tensor; got {dtype.Name()} (use Sum and divide).");
    }

    private void CheckRoot(int root)
    {
        if (root < 0 || root >= Size) throw new ArgumentOutOfRangeException(nameof(root), $"Broadcast: root {root} is not a rank of this {Size}-process group.");
    }

    private void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(nameof(MpiCommunicator), "MPI: the communicator was disposed (MPI is finalized).");
    }
}
