using System.Numerics;
using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels.Ilgpu;

/// <summary>
/// The ILGPU backend: one set of kernels (<see cref="IlgpuKernels"/>) for CUDA, OpenCL and
/// ILGPU's CPU accelerator. Every op validates its views (device, dtype, shape, bounds) on the
/// host and throws a message naming the op before anything is launched, so a bad call never
/// reaches a kernel. Launches are queued on the accelerator's default stream and run in order;
/// <see cref="Synchronize"/> and <see cref="Download{T}"/> wait for them.
/// </summary>
/// <remarks>
/// <para><b>One in-order stream, asynchronous launches.</b> Every kernel, every cuBLAS call (its
/// handle is bound to the same stream) and every upload is queued on the accelerator's default
/// stream; the host waits only in <see cref="Download{T}"/>, <see cref="Synchronize"/> and
/// <see cref="Dispose"/>. No op synchronises on its own: the host-side checks read only shapes and
/// strides, never device data.</para>
/// <para><b>Temporaries.</b> An op that needs scratch memory (the split reduction's partial lanes)
/// rents it from the pool and returns it as soon as its kernels are <i>queued</i>, while they may
/// still read it. That is safe only because there is a single in-order stream: whoever rents the
/// block next queues its kernels behind the ones still reading it. A second stream would need an
/// event per returned block.</para>
/// <para><b>Where the driver may still wait.</b> A pool miss allocates device memory (cuMemAlloc
/// can serialise with running work); <see cref="MemoryPool.Trim"/> and disposal free it (cuMemFree
/// synchronises the device), which a training loop in its steady state never does; an upload from
/// pageable managed memory is staged by the driver, which may wait for the stream before copying
/// (pinned staging buffers would avoid it); the first launch of each kernel loads its module.</para>
/// </remarks>
internal sealed partial class IlgpuBackend : IBackend
{
    // Split a reduction into interleaved partial lanes when there are fewer rows than this and each is long: one
    // thread per row would leave the device idle (sum of everything would run on one thread).
    private const int SplitRowLimit = 1024;
    // ... or fewer rows than a quarter of the threads the device keeps resident (a GPU has ~270k: a column
    // sum of [8192, 8192] has 8192 rows, each a long strided walk, far too few threads to fill it).
    private int SplitRows => Math.Max(SplitRowLimit, _splitTargetThreads / 4);
    private const int SplitMinN = 2048;
    private const int SplitMinPerLane = 64;

    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly AcceleratorStream _stream;
    private readonly Dictionary<(MethodInfo Kernel, Type? A0, Type? A1, Type? A2), Delegate> _kernels = new();
    private readonly Lock _kernelLock = new();
    // One for every OpenCL backend of the process: PoCL also mixed launches of two contexts.
    private static readonly object s_openClLaunchLock = new();
    private readonly Type _tileType;
    private readonly int _tile;
    private readonly int _splitTargetThreads;
    private readonly GemmShape _gemm4, _gemm8;
    private readonly int _rowGroup;
    private int _disposed;

    internal IlgpuBackend(Device device, Context context, Accelerator accelerator)
    {
        Device = device;
        _context = context;
        _accelerator = accelerator;
        _stream = accelerator.DefaultStream;
        // Largest square tile whose group fits the device: 16×16 on GPUs, 2×2 on the small CPU device.
        int maxGroup = accelerator.MaxNumThreadsPerGroup;
        (_tile, _tileType) = maxGroup >= 256 ? (16, typeof(Tile16))
            : maxGroup >= 64 ? (8, typeof(Tile8))
            : maxGroup >= 16 ? (4, typeof(Tile4))
            : (2, typeof(Tile2));
        // Register-tiled GEMMs: 16×16 threads where the device allows 256, else the 2×2 shapes the CPU accelerator runs.
        (_gemm4, _gemm8) = maxGroup >= 256
            ? (new GemmShape(typeof(Gemm4x16), 16, 64), new GemmShape(typeof(Gemm8x16), 16, 128))
            : (new GemmShape(typeof(Gemm4x2), 2, 8), new GemmShape(typeof(Gemm8x2), 2, 16));
        // One group per row for long rows: the largest power of two the device allows, up to RowGroupMax.
        _rowGroup = (int)Math.Min(IlgpuKernels.RowGroupMax, 1u << (31 - BitOperations.LeadingZeroCount((uint)Math.Max(maxGroup, 1))));
        RowGroupMinN = _rowGroup;
        // Enough partial lanes to fill the device (its resident thread count), within sane bounds.
        _splitTargetThreads = (int)Math.Clamp((long)accelerator.MaxNumThreads, 64, 1 << 18);
        Pool = new MemoryPool(device, AllocateRaw, FreeRaw);
    }

    /// <inheritdoc />
    public Device Device { get; }

    /// <inheritdoc />
    public MemoryPool Pool { get; }

    /// <summary>Edge of the square matmul tile this accelerator uses.</summary>
    public int MatMulTile => _tile;

    /// <summary>Threads of the group that reduces one long row (a power of two, at most <see cref="IlgpuKernels.RowGroupMax"/>).</summary>
    internal int RowGroup => _rowGroup;

    /// <summary>
    /// Shortest row (reduced extent n) handed to the one-group-per-row kernels; never below <see cref="RowGroup"/>,
    /// so every thread of the group owns an element. Tests raise it to force the one-thread-per-row kernels.
    /// </summary>
    internal int RowGroupMinN { get; set; }

    /// <summary>The ILGPU accelerator running the kernels (for diagnostics and benchmarks).</summary>
    internal Accelerator Accelerator => _accelerator;

    private object AllocateRaw(long bytes)
    {
        Bind();
        return _accelerator.Allocate1D<byte>(bytes);
    }

    private static void FreeRaw(object raw) => ((MemoryBuffer)raw).Dispose();

    /// <inheritdoc />
    public DeviceBuffer Allocate(DType dtype, long length)
    {
        ThrowIfDisposed();
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), $"Allocate: length {length} is negative.");
        var (raw, capacity) = Pool.Rent(length * dtype.SizeOf());
        return new IlgpuBuffer(Pool, (MemoryBuffer1D<byte, Stride1D.Dense>)raw, capacity, dtype, length);
    }

    /// <inheritdoc />
    public unsafe void Upload<T>(ReadOnlySpan<T> src, DeviceBuffer dst, long dstOffset = 0) where T : unmanaged
    {
        var buffer = CheckBuffer("Upload", dst);
        CheckHostType<T>("Upload", dst);
        if (dstOffset < 0 || dstOffset + src.Length > dst.Length)
            throw new ArgumentOutOfRangeException(nameof(dstOffset), $"Upload: {src.Length} elements at offset {dstOffset} do not fit a buffer of {dst.Length}.");
        if (src.IsEmpty) return;
        Bind();
        // ILGPU queues the copy without waiting (on OpenCL a non-blocking clEnqueueWriteBuffer from the
        // host address) and pins the source only for the call; the GC may then move the array while the
        // driver still reads it. Pin it ourselves and, on OpenCL, wait for the copy before unpinning.
        fixed (T* pinned = src)
        {
            buffer.View<T>().SubView(dstOffset, src.Length).CopyFromCPU(_stream, src);
            if (_accelerator.AcceleratorType == AcceleratorType.OpenCL)
            {
                Device.Counters.AddSynchronization();
                _stream.Synchronize();
            }
        }
        Device.Counters.AddUpload((long)src.Length * Unsafe.SizeOf<T>());
    }

    /// <inheritdoc />
    public unsafe void Download<T>(DeviceBuffer src, Span<T> dst, long srcOffset = 0) where T : unmanaged
    {
        var buffer = CheckBuffer("Download", src);
        CheckHostType<T>("Download", src);
        if (srcOffset < 0 || srcOffset + dst.Length > src.Length)
            throw new ArgumentOutOfRangeException(nameof(srcOffset), $"Download: {dst.Length} elements at offset {srcOffset} do not fit a buffer of {src.Length}.");
        Bind();
        Device.Counters.AddSynchronization();
        _stream.Synchronize();
        if (dst.IsEmpty) return;
        ArrayView1D<T, Stride1D.Dense> view = buffer.View<T>().SubView(srcOffset, dst.Length);
        // Pinned until the copy has finished (see Upload): the read may still be running when ILGPU returns,
        // and PoCL under load left parts of a moved array unwritten (zeros where a NaN was downloaded).
        fixed (T* pinned = dst)
        {
            view.CopyToCPU(_stream, dst);
            _stream.Synchronize();
        }
        Device.Counters.AddDownload((long)dst.Length * Unsafe.SizeOf<T>());
    }

    /// <inheritdoc />
    public void Synchronize()
    {
        ThrowIfDisposed();
        Bind();
        Device.Counters.AddSynchronization();
        _stream.Synchronize();
    }


    /// <summary>Waits for queued work, frees the pool's cached memory, the accelerator and its ILGPU context.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try
        {
            Bind();
            _stream.Synchronize();
            Pool.Trim();
        }
        finally
        {
            try { _cuBlas?.Dispose(); } catch (Exception) { /* a failing cuBLAS teardown must not keep the accelerator alive */ }
            _accelerator.Dispose();
            _context.Dispose();
        }
    }


    /// <summary>
    /// The launcher for <paramref name="kernel"/> (a <see cref="KernelDefinitions"/> entry) closed over
    /// <paramref name="typeArgs"/>, compiled on first use and cached (compiling costs ~10–80 ms; a cached
    /// launch well under a millisecond). An instantiation that violates the kernel's constraints is an
    /// op/dtype pair the kernels do not implement, reported as <see cref="NotSupportedException"/> naming <paramref name="op"/>.
    /// </summary>
    private TDelegate Kernel<TDelegate>(string op, MethodInfo kernel, params Type[] typeArgs) where TDelegate : Delegate
    {
        ThrowIfDisposed();
        Bind();
        var key = (kernel, typeArgs.Length > 0 ? typeArgs[0] : null, typeArgs.Length > 1 ? typeArgs[1] : null, typeArgs.Length > 2 ? typeArgs[2] : null);
        lock (_kernelLock)
        {
            if (_kernels.TryGetValue(key, out var cached)) return (TDelegate)cached;
            MethodInfo method;
            try { method = KernelRegistry.Close(kernel, typeArgs); }
            catch (ArgumentException)
            {
                throw new NotSupportedException($"{op}: not implemented for dtype {DTypeName(typeArgs[0])}.");
            }
            bool grouped = method.GetCustomAttribute<KernelAttribute>()!.Grouped;
            var loaded = grouped ? _accelerator.LoadKernel(method) : _accelerator.LoadAutoGroupedKernel(method);
            var launcher = Counted(loaded.CreateLauncherDelegate<TDelegate>());
            _kernels[key] = launcher;
            return launcher;
        }
    }

    /// <summary>
    /// The launcher wrapped so that each call also counts one launch in <see cref="Device.Counters"/>
    /// (and, on OpenCL, is serialised): compiled once per kernel, it costs an interlocked add per launch.
    /// </summary>
    private TDelegate Counted<TDelegate>(TDelegate launcher) where TDelegate : Delegate
    {
        var invoke = typeof(TDelegate).GetMethod("Invoke")!;
        var args = invoke.GetParameters().Select(p => Expression.Parameter(p.ParameterType, p.Name)).ToArray();
        var count = Expression.Call(Expression.Constant(Device.Counters), typeof(DeviceCounters).GetMethod(nameof(DeviceCounters.AddLaunches), BindingFlags.Instance | BindingFlags.NonPublic)!, Expression.Constant(1L));
        Expression body = Expression.Block(count, Expression.Invoke(Expression.Constant(launcher), args));
        if (_accelerator.AcceleratorType == AcceleratorType.OpenCL)
        {
            // OpenCL sets arguments on the shared kernel object (clSetKernelArg), then enqueues it: two
            // threads launching one kernel at once mixed their arguments. Launches only enqueue, so
            // holding a lock across them costs microseconds.
            var gate = Expression.Constant(s_openClLaunchLock, typeof(object));
            body = Expression.Block(
                Expression.Call(typeof(Monitor).GetMethod(nameof(Monitor.Enter), [typeof(object)])!, gate),
                Expression.TryFinally(body, Expression.Call(typeof(Monitor).GetMethod(nameof(Monitor.Exit), [typeof(object)])!, gate)));
        }
        return Expression.Lambda<TDelegate>(body, args).Compile();
    }

    private static string DTypeName(Type t) =>
        t == typeof(float) ? "float32" : t == typeof(double) ? "float64" : t == typeof(int) ? "int32" : t.Name;

    private void Bind()
    {
        // CUDA contexts are per thread; ops may arrive from any thread (test runners, Parallel.For).
        if (Accelerator.Current != _accelerator) _accelerator.Bind();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private static ArrayView<T> View<T>(StridedView v) where T : unmanaged => ((IlgpuBuffer)v.Buffer).View<T>();

    /// <summary>True when the collapsed geometry is one run with unit stride in every operand (a dense kernel's case).</summary>
    /// <remarks>
    /// Not on OpenCL: under PoCL 3.1 the dense binary kernel for <c>Maximum</c> returned 0 for
    /// <c>Maximum(NaN, 0)</c> in about one full suite run in three, while the strided kernel, with the
    /// same scalar body, passed every run. The cause is not understood (PoCL specialises a kernel per
    /// launch size); the dense kernels only save index arithmetic, which matters on CUDA, not PoCL.
    /// </remarks>
    private bool Dense(in Dims8 d, Strides8[] s)
    {
        if (d.Rank != 1 || _accelerator.AcceleratorType == AcceleratorType.OpenCL) return false;
        foreach (var st in s)
            if (st.S0 != 1) return false;
        return true;
    }

    /// <summary>The <paramref name="count"/> elements of <paramref name="v"/>'s buffer from the operand's offset.</summary>
    private static ArrayView<T> Run<T>(StridedView v, in Strides8 s, int count) where T : unmanaged => View<T>(v).SubView(s.Offset, count);

    private IlgpuBuffer CheckBuffer(string op, DeviceBuffer? buffer)
    {
        ThrowIfDisposed();
        if (buffer is null) throw new ArgumentNullException(nameof(buffer), $"{op}: buffer is null.");
        buffer.ThrowIfDisposed(op);
        if (buffer is not IlgpuBuffer ib || !ReferenceEquals(buffer.Device, Device) || !ReferenceEquals(ib.Memory.Accelerator, _accelerator))
            throw new ArgumentException($"{op}: the buffer lives on {buffer.Device}, but this op runs on {Device}; move the tensor first.");
        return ib;
    }

    private static void CheckHostType<T>(string op, DeviceBuffer buffer) where T : unmanaged
    {
        if (typeof(T) != buffer.DType.ClrType())
            throw new ArgumentException($"{op}: host elements are {typeof(T).Name} but the buffer holds {buffer.DType.Name()}.");
    }

    /// <summary>Validates a view: live buffer on this device, expected dtype, non-negative shape, every addressed element inside the buffer.</summary>
    private void Check(string op, StridedView v, DType? dtype, string name)
    {
        CheckBuffer(op, v.Buffer);
        if (dtype is { } expected && v.Shape is not null && v.DType != expected)
            throw new ArgumentException($"{op}: {name} {Shape(v)} is {v.DType.Name()}, expected {expected.Name()}.");
        v.Validate(op, name);
    }

    private static void SameShape(string op, StridedView a, StridedView b)
    {
        if (!a.Shape.AsSpan().SequenceEqual(b.Shape))
            throw new ArgumentException($"{op}: shapes {Shape(a)} and {Shape(b)} differ (the caller broadcasts first).");
    }

    private static void RequireRank(string op, StridedView v, int rank, string what)
    {
        if (v.Rank != rank) throw new ArgumentException($"{op}: expected {what} (rank {rank}), got {Shape(v)}.");
    }

    /// <summary>y as an axis of [outer, 1, inner]: rank 2 [outer, inner], or rank 3 with a middle 1 (keepDim).</summary>
    private static Axis3 ReducedAxis(string op, StridedView y, int outer, int inner)
    {
        if (y.Rank == 2 && y.Shape[0] == outer && y.Shape[1] == inner)
            return new Axis3 { Offset = y.Offset, SO = y.Strides[0], SN = 0, SI = y.Strides[1] };
        if (y.Rank == 3 && y.Shape[0] == outer && y.Shape[1] == 1 && y.Shape[2] == inner)
            return new Axis3 { Offset = y.Offset, SO = y.Strides[0], SN = 0, SI = y.Strides[2] };
        throw new ArgumentException($"{op}: y is {Shape(y)}, expected [{outer},{inner}] for x = [{outer}, n, {inner}].");
    }

    private static bool Elements(string op, StridedView y, out int count)
    {
        long n = y.Count;
        CheckLaunchSize(op, n);
        count = (int)n;
        return n > 0;
    }

    private static void CheckLaunchSize(string op, long n)
    {
        if (n > int.MaxValue) throw new NotSupportedException($"{op}: {n:N0} elements exceed one launch (at most {int.MaxValue:N0}).");
    }

    private static int SaturateToInt(double v) =>
        double.IsNaN(v) ? 0 : v >= int.MaxValue ? int.MaxValue : v <= int.MinValue ? int.MinValue : (int)v;

    private static string Shape(StridedView v) => v.Shape is null ? "[?]" : $"[{string.Join(",", v.Shape)}]";
}
