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
public sealed partial class IlgpuBackend : IBackend
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
    private readonly Dictionary<string, Delegate> _kernels = new();
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

    /// <summary>The number of distinct kernels loaded so far (each is compiled once per backend).</summary>
    internal int LoadedKernels { get { lock (_kernelLock) return _kernels.Count; } }

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

    // ---- fills and copies ------------------------------------------------------------------

    /// <inheritdoc />
    public void Fill(StridedView y, double value)
    {
        Check("Fill", y, null, "y");
        switch (y.DType)
        {
            case DType.Float32: RunFill(y, (float)value); break;
            case DType.Float64: RunFill(y, value); break;
            default: RunFill(y, SaturateToInt(value)); break;
        }
    }

    private void RunFill<T>(StridedView y, T value) where T : unmanaged
    {
        if (!Elements("Fill", y, out int n)) return;
        var (d, s) = Geo.Build(y.Shape, y);
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, Dims8, Strides8, T>>("Fill", "Fill", typeof(T))
            (_stream, n, View<T>(y), d, s[0], value);
    }

    /// <inheritdoc />
    public void FillAffine(StridedView y, double start, double step)
    {
        Check("FillAffine", y, null, "y");
        switch (y.DType)
        {
            case DType.Float32: RunFillAffine<float>(y, start, step); break;
            case DType.Float64: RunFillAffine<double>(y, start, step); break;
            default: RunFillAffine<int>(y, start, step); break;
        }
    }

    private void RunFillAffine<T>(StridedView y, double start, double step) where T : unmanaged
    {
        if (!Elements("FillAffine", y, out int n)) return;
        var (d, s) = Geo.Build(y.Shape, y);
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, Dims8, Strides8, double, double>>("FillAffine", "FillAffine", typeof(T), typeof(Conv))
            (_stream, n, View<T>(y), d, s[0], start, step);
    }

    /// <inheritdoc />
    public void FillRandom(StridedView y, RandomDistribution distribution, ulong seed, ulong counterOffset, double alpha, double beta)
    {
        Check("FillRandom", y, null, "y");
        var dist = distribution switch
        {
            RandomDistribution.Uniform => typeof(UniformDist),
            RandomDistribution.Normal => typeof(NormalDist),
            _ => throw new ArgumentOutOfRangeException(nameof(distribution), $"FillRandom: unknown distribution {distribution}."),
        };
        switch (y.DType)
        {
            case DType.Float32: RunFillRandom(y, dist, seed, counterOffset, (float)alpha, (float)beta); break;
            case DType.Float64: RunFillRandom(y, dist, seed, counterOffset, alpha, beta); break;
            default: throw new NotSupportedException($"FillRandom: {distribution} needs a floating dtype, got int32 for {y}.");
        }
    }

    private void RunFillRandom<T>(StridedView y, Type dist, ulong seed, ulong counterOffset, T alpha, T beta) where T : unmanaged
    {
        if (!Elements("FillRandom", y, out int n)) return;
        var (d, s) = Geo.Build(y.Shape, y);
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, Dims8, Strides8, uint, uint, ulong, T, T>>("FillRandom", "FillRandom", typeof(T), dist)
            (_stream, n, View<T>(y), d, s[0], (uint)seed, (uint)(seed >> 32), counterOffset, alpha, beta);
    }

    /// <inheritdoc />
    public void Copy(StridedView x, StridedView y)
    {
        Check("Copy", x, null, "x");
        Check("Copy", y, null, "y");
        SameShape("Copy", x, y);
        switch (x.DType)
        {
            case DType.Float32: CopyFrom<float>(x, y); break;
            case DType.Float64: CopyFrom<double>(x, y); break;
            default: CopyFrom<int>(x, y); break;
        }
    }

    private void CopyFrom<TIn>(StridedView x, StridedView y) where TIn : unmanaged
    {
        switch (y.DType)
        {
            case DType.Float32: RunCopy<TIn, float>(x, y); break;
            case DType.Float64: RunCopy<TIn, double>(x, y); break;
            default: RunCopy<TIn, int>(x, y); break;
        }
    }

    private void RunCopy<TIn, TOut>(StridedView x, StridedView y) where TIn : unmanaged where TOut : unmanaged
    {
        if (!Elements("Copy", y, out int n)) return;
        var (d, s) = Geo.Build(y.Shape, x, y);
        if (Dense(d, s))
        {
            Kernel<Action<AcceleratorStream, Index1D, ArrayView<TIn>, ArrayView<TOut>>>("Copy", "CopyDense", typeof(TIn), typeof(TOut), typeof(Conv))
                (_stream, n, Run<TIn>(x, s[0], n), Run<TOut>(y, s[1], n));
            return;
        }
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<TIn>, ArrayView<TOut>, Dims8, Strides8, Strides8>>("Copy", "Copy", typeof(TIn), typeof(TOut), typeof(Conv))
            (_stream, n, View<TIn>(x), View<TOut>(y), d, s[0], s[1]);
    }

    // ---- elementwise -------------------------------------------------------------------------

    /// <inheritdoc />
    public void Unary(UnaryOp op, StridedView x, StridedView y, double alpha = 0, double beta = 0)
    {
        string name = $"Unary({op})";
        Check(name, x, null, "x");
        Check(name, y, x.DType, "y");
        SameShape(name, x, y);
        var opType = op switch
        {
            UnaryOp.Neg => typeof(NegOp),
            UnaryOp.Abs => typeof(AbsOp),
            UnaryOp.Sign => typeof(SignOp),
            UnaryOp.Exp => typeof(ExpOp),
            UnaryOp.Log => typeof(LogOp),
            UnaryOp.Sqrt => typeof(SqrtOp),
            UnaryOp.Sin => typeof(SinOp),
            UnaryOp.Cos => typeof(CosOp),
            UnaryOp.Sigmoid => typeof(SigmoidOp),
            UnaryOp.Tanh => typeof(TanhOp),
            UnaryOp.Relu => typeof(ReluOp),
            UnaryOp.Reciprocal => typeof(ReciprocalOp),
            UnaryOp.PowScalar => typeof(PowScalarOp),
            UnaryOp.Affine => typeof(AffineOp),
            UnaryOp.Clamp => typeof(ClampOp),
            _ => throw new ArgumentOutOfRangeException(nameof(op), $"Unary: unknown op {op}."),
        };
        switch (x.DType)
        {
            case DType.Float32: RunUnary(name, opType, x, y, (float)alpha, (float)beta); break;
            case DType.Float64: RunUnary(name, opType, x, y, alpha, beta); break;
            default:
                // Integer parameters: clamp bounds saturate (±∞ → int range); Affine's α, β are taken as integers.
                RunUnary(name, opType, x, y, SaturateToInt(alpha), SaturateToInt(beta));
                break;
        }
    }

    private void RunUnary<T>(string name, Type opType, StridedView x, StridedView y, T alpha, T beta) where T : unmanaged
    {
        if (Elements(name, y, out int count) && Geo.Build(y.Shape, x, y) is var (dd, ds) && Dense(dd, ds))
        {
            Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, T, T>>(name, "UnaryDense", typeof(T), opType)
                (_stream, count, Run<T>(x, ds[0], count), Run<T>(y, ds[1], count), alpha, beta);
            return;
        }
        var kernel = Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, Dims8, Strides8, Strides8, T, T>>(name, "Unary", typeof(T), opType);
        if (!Elements(name, y, out int n)) return;
        var (d, s) = Geo.Build(y.Shape, x, y);
        kernel(_stream, n, View<T>(x), View<T>(y), d, s[0], s[1], alpha, beta);
    }

    /// <inheritdoc />
    public void Binary(BinaryOp op, StridedView a, StridedView b, StridedView y)
    {
        string name = $"Binary({op})";
        Check(name, a, null, "a");
        Check(name, b, a.DType, "b");
        Check(name, y, a.DType, "y");
        SameShape(name, a, y);
        SameShape(name, b, y);
        var opType = op switch
        {
            BinaryOp.Add => typeof(AddOp),
            BinaryOp.Sub => typeof(SubOp),
            BinaryOp.Mul => typeof(MulOp),
            BinaryOp.Div => typeof(DivOp),
            BinaryOp.Pow => typeof(PowOp),
            BinaryOp.Maximum => typeof(MaximumOp),
            BinaryOp.Minimum => typeof(MinimumOp),
            BinaryOp.Gt => typeof(GtOp),
            BinaryOp.Ge => typeof(GeOp),
            BinaryOp.Lt => typeof(LtOp),
            BinaryOp.Le => typeof(LeOp),
            BinaryOp.Eq => typeof(EqOp),
            BinaryOp.Ne => typeof(NeOp),
            _ => throw new ArgumentOutOfRangeException(nameof(op), $"Binary: unknown op {op}."),
        };
        switch (a.DType)
        {
            case DType.Float32: RunBinary<float>(name, opType, a, b, y); break;
            case DType.Float64: RunBinary<double>(name, opType, a, b, y); break;
            default: RunBinary<int>(name, opType, a, b, y); break;
        }
    }

    private void RunBinary<T>(string name, Type opType, StridedView a, StridedView b, StridedView y) where T : unmanaged
    {
        if (Elements(name, y, out int count) && Geo.Build(y.Shape, a, b, y) is var (dd, ds) && Dense(dd, ds))
        {
            Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>>>(name, "BinaryDense", typeof(T), opType)
                (_stream, count, Run<T>(a, ds[0], count), Run<T>(b, ds[1], count), Run<T>(y, ds[2], count));
            return;
        }
        var kernel = Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, Dims8, Strides8, Strides8, Strides8>>(name, "Binary", typeof(T), opType);
        if (!Elements(name, y, out int n)) return;
        var (d, s) = Geo.Build(y.Shape, a, b, y);
        kernel(_stream, n, View<T>(a), View<T>(b), View<T>(y), d, s[0], s[1], s[2]);
    }

    /// <inheritdoc />
    public void Where(StridedView condition, StridedView a, StridedView b, StridedView y)
    {
        Check("Where", condition, null, "condition");
        Check("Where", a, null, "a");
        Check("Where", b, a.DType, "b");
        Check("Where", y, a.DType, "y");
        SameShape("Where", condition, y);
        SameShape("Where", a, y);
        SameShape("Where", b, y);
        switch (condition.DType)
        {
            case DType.Float32: WhereCond<float>(condition, a, b, y); break;
            case DType.Float64: WhereCond<double>(condition, a, b, y); break;
            default: WhereCond<int>(condition, a, b, y); break;
        }
    }

    private void WhereCond<TC>(StridedView c, StridedView a, StridedView b, StridedView y) where TC : unmanaged
    {
        switch (a.DType)
        {
            case DType.Float32: RunWhere<TC, float>(c, a, b, y); break;
            case DType.Float64: RunWhere<TC, double>(c, a, b, y); break;
            default: RunWhere<TC, int>(c, a, b, y); break;
        }
    }

    private void RunWhere<TC, T>(StridedView c, StridedView a, StridedView b, StridedView y) where TC : unmanaged where T : unmanaged
    {
        if (!Elements("Where", y, out int n)) return;
        var (d, s) = Geo.Build(y.Shape, c, a, b, y);
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<TC>, ArrayView<T>, ArrayView<T>, ArrayView<T>, Dims8, Strides8, Strides8, Strides8, Strides8>>("Where", "Where", typeof(TC), typeof(T))
            (_stream, n, View<TC>(c), View<T>(a), View<T>(b), View<T>(y), d, s[0], s[1], s[2], s[3]);
    }

    // ---- reductions and softmax ------------------------------------------------------------------

    /// <inheritdoc />
    public void Reduce(ReduceOp op, StridedView x, StridedView y)
    {
        string name = $"Reduce({op})";
        bool arg = op is ReduceOp.ArgMax or ReduceOp.ArgMin;
        Check(name, x, null, "x");
        Check(name, y, arg ? DType.Int32 : x.DType, "y");
        RequireRank(name, x, 3, "x = [outer, n, inner]");
        int outer = x.Shape[0], n = x.Shape[1], inner = x.Shape[2];
        var ay = ReducedAxis(name, y, outer, inner);
        if ((long)outer * inner == 0) return;
        if (n == 0)
        {
            if (op != ReduceOp.Sum) throw new ArgumentException($"{name}: cannot reduce an empty axis (x {Shape(x)}); only Sum of nothing is defined (0).");
            Fill(y, 0);
            return;
        }
        switch (x.DType)
        {
            case DType.Float32: RunReduce<float>(name, op, x, y, ay); break;
            case DType.Float64: RunReduce<double>(name, op, x, y, ay); break;
            default: RunReduce<int>(name, op, x, y, ay); break;
        }
    }

    private void RunReduce<T>(string name, ReduceOp op, StridedView x, StridedView y, Axis3 ay) where T : unmanaged, INumber<T>
    {
        int outer = x.Shape[0], n = x.Shape[1], inner = x.Shape[2];
        long rows = (long)outer * inner;
        // Few long rows: give each row `lanes` interleaved partial reductions, then reduce the partials.
        int lanes = 1;
        if (rows < SplitRows && n >= SplitMinN)
            lanes = (int)Math.Clamp(_splitTargetThreads / rows, 1, n / SplitMinPerLane);
        CheckLaunchSize(name, rows * lanes);
        var ax = Axis3.Of(x);
        var pass1 = new Rows { Outer = outer, N = n, Inner = inner, M = lanes };
        int threads1 = (int)(rows * lanes);
        var dense = new Axis3 { Offset = 0, SO = lanes * inner, SN = inner, SI = 1 };

        bool rowGroups = lanes == 1 && UseRowGroups(n, inner, ax.SI, rows);
        var groupLaunch = new KernelConfig((int)Math.Min(rows, int.MaxValue), _rowGroup);

        if (op is ReduceOp.Sum or ReduceOp.Max or ReduceOp.Min)
        {
            var red = op switch { ReduceOp.Sum => typeof(SumRed<T>), ReduceOp.Max => typeof(MaxRed<T>), _ => typeof(MinRed<T>) };
            if (rowGroups)
            {
                Kernel<Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<T>, Rows, Axis3, Axis3>>(name, "ReduceRows", typeof(T), red)
                    (_stream, groupLaunch, View<T>(x), View<T>(y), pass1, ax, ay);
                return;
            }
            var kernel = Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, Rows, Axis3, Axis3>>(name, "Reduce", typeof(T), red);
            if (lanes == 1)
            {
                kernel(_stream, threads1, View<T>(x), View<T>(y), pass1, ax, ay);
                return;
            }
            // Disposing temporaries right after queuing is safe: all work is on one in-order stream,
            // so whoever rents the memory next is queued after these kernels.
            using var partial = Allocate(x.DType, rows * lanes);
            kernel(_stream, threads1, View<T>(x), ((IlgpuBuffer)partial).View<T>(), pass1, ax, dense);
            var pass2 = new Rows { Outer = outer, N = lanes, Inner = inner, M = 1 };
            // Many lanes per row (a whole-tensor sum has a quarter million): one group per row, not one thread.
            if (UseRowGroups(lanes, inner, 1, rows))
                Kernel<Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<T>, Rows, Axis3, Axis3>>(name, "ReduceRows", typeof(T), red)
                    (_stream, groupLaunch, ((IlgpuBuffer)partial).View<T>(), View<T>(y), pass2, dense, ay);
            else
                kernel(_stream, (int)rows, ((IlgpuBuffer)partial).View<T>(), View<T>(y), pass2, dense, ay);
        }
        else
        {
            var cmp = op == ReduceOp.ArgMax ? typeof(ArgMaxCmp<T>) : typeof(ArgMinCmp<T>);
            if (rowGroups)
            {
                Kernel<Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<int>, Rows, Axis3, Axis3>>(name, "ArgReduceRows", typeof(T), cmp)
                    (_stream, groupLaunch, View<T>(x), View<int>(y), pass1, ax, ay);
                return;
            }
            var kernel = Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<int>, Rows, Axis3, Axis3, Axis3, int>>(name, "ArgReduce", typeof(T), cmp);
            if (lanes == 1)
            {
                kernel(_stream, threads1, View<T>(x), View<T>(x), View<int>(y), pass1, ax, default, ay, 0);
                return;
            }
            using var vals = Allocate(x.DType, rows * lanes);
            using var idx = Allocate(DType.Int32, rows * lanes);
            kernel(_stream, threads1, View<T>(x), ((IlgpuBuffer)vals).View<T>(), ((IlgpuBuffer)idx).View<int>(), pass1, ax, dense, dense, 1);
            var finish = Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<int>, ArrayView<int>, Rows, Axis3>>(name, "ArgFinish", typeof(T), cmp);
            finish(_stream, (int)rows, ((IlgpuBuffer)vals).View<T>(), ((IlgpuBuffer)idx).View<int>(), View<int>(y), new Rows { Outer = outer, N = lanes, Inner = inner, M = lanes }, ay);
        }
    }

    /// <inheritdoc />
    public void Softmax(StridedView x, StridedView y, bool log)
    {
        string name = log ? "LogSoftmax" : "Softmax";
        Check(name, x, null, "x");
        Check(name, y, x.DType, "y");
        RequireRank(name, x, 3, "x = [outer, n, inner]");
        SameShape(name, x, y);
        if (!x.DType.IsFloating()) throw new NotSupportedException($"{name}: needs a floating dtype, got int32 for x {Shape(x)}.");
        int outer = x.Shape[0], n = x.Shape[1], inner = x.Shape[2];
        long rows = (long)outer * inner;
        if (rows == 0 || n == 0) return;
        CheckLaunchSize(name, rows);
        var r = new Rows { Outer = outer, N = n, Inner = inner, M = n };
        if (x.DType == DType.Float32) RunSoftmax<float>(name, x, y, r, log);
        else RunSoftmax<double>(name, x, y, r, log);
    }

    private void RunSoftmax<T>(string name, StridedView x, StridedView y, Rows r, bool log) where T : unmanaged
    {
        long rows = (long)r.Outer * r.Inner;
        if (UseRowGroups(r.N, r.Inner, x.Strides[2], rows))
        {
            Kernel<Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<T>, Rows, Axis3, Axis3, int>>(name, "SoftmaxRows", typeof(T), typeof(ExpLog))
                (_stream, new KernelConfig((int)rows, _rowGroup), View<T>(x), View<T>(y), r, Axis3.Of(x), Axis3.Of(y), log ? 1 : 0);
            return;
        }
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, Rows, Axis3, Axis3, int>>(name, "Softmax", typeof(T), typeof(ExpLog))
            (_stream, r.Outer * r.Inner, View<T>(x), View<T>(y), r, Axis3.Of(x), Axis3.Of(y), log ? 1 : 0);
    }

    /// <summary>
    /// One group per row (rather than one thread) when the rows are long enough to give every thread of
    /// the group an element, unless the rows sit side by side in memory (inner ≥ 32 with unit inner
    /// stride): then one thread per row already reads coalesced, neighbouring threads taking
    /// neighbouring rows, and needs no barriers.
    /// </summary>
    private bool UseRowGroups(int n, int inner, int innerStride, long rows) =>
        n >= Math.Max(RowGroupMinN, _rowGroup) && !(inner >= 32 && Math.Abs(innerStride) == 1) && rows * _rowGroup <= int.MaxValue;

    // ---- gather / scatter --------------------------------------------------------------------

    /// <inheritdoc />
    public void Gather(StridedView x, StridedView index, StridedView y)
    {
        Check("Gather", x, null, "x");
        Check("Gather", index, DType.Int32, "index");
        Check("Gather", y, x.DType, "y");
        RequireRank("Gather", x, 3, "x = [outer, n, inner]");
        RequireRank("Gather", index, 3, "index = [outer, m, inner]");
        SameShape("Gather", index, y);
        if (x.Shape[0] != y.Shape[0] || x.Shape[2] != y.Shape[2])
            throw new ArgumentException($"Gather: x {Shape(x)} and index {Shape(index)} must agree on the outer and inner dimensions.");
        var r = new Rows { Outer = y.Shape[0], N = x.Shape[1], M = y.Shape[1], Inner = y.Shape[2] };
        if (!Elements("Gather", y, out int count)) return;
        RunIndexed("Gather", x, index, y, r, count);
    }

    /// <inheritdoc />
    public void ScatterAdd(StridedView src, StridedView index, StridedView y)
    {
        Check("ScatterAdd", src, null, "src");
        Check("ScatterAdd", index, DType.Int32, "index");
        Check("ScatterAdd", y, src.DType, "y");
        RequireRank("ScatterAdd", src, 3, "src = [outer, m, inner]");
        RequireRank("ScatterAdd", y, 3, "y = [outer, n, inner]");
        SameShape("ScatterAdd", index, src);
        if (src.Shape[0] != y.Shape[0] || src.Shape[2] != y.Shape[2])
            throw new ArgumentException($"ScatterAdd: src {Shape(src)} and y {Shape(y)} must agree on the outer and inner dimensions.");
        var r = new Rows { Outer = y.Shape[0], N = y.Shape[1], M = src.Shape[1], Inner = y.Shape[2] };
        if (!Elements("ScatterAdd", y, out int count)) return;
        RunIndexed("ScatterAdd", src, index, y, r, count);
    }

    // Gather and ScatterAdd launch alike: kernel op<x dtype>(x, index, y) on count threads.
    private void RunIndexed(string op, StridedView x, StridedView index, StridedView y, Rows r, int count)
    {
        switch (x.DType)
        {
            case DType.Float32: RunIndexed<float>(op, x, index, y, r, count); break;
            case DType.Float64: RunIndexed<double>(op, x, index, y, r, count); break;
            default: RunIndexed<int>(op, x, index, y, r, count); break;
        }
    }

    private void RunIndexed<T>(string op, StridedView x, StridedView index, StridedView y, Rows r, int count) where T : unmanaged =>
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<int>, ArrayView<T>, Rows, Axis3, Axis3, Axis3>>(op, op, typeof(T))
            (_stream, count, View<T>(x), View<int>(index), View<T>(y), r, Axis3.Of(x), Axis3.Of(index), Axis3.Of(y));

    // ---- lifetime ----------------------------------------------------------------------------

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

    // ---- helpers -----------------------------------------------------------------------------

    /// <summary>
    /// The launcher for kernel <paramref name="kernel"/>&lt;<paramref name="typeArgs"/>&gt;, compiled on
    /// first use and cached (compiling costs ~10–80 ms; a cached launch well under a millisecond).
    /// An instantiation that violates the kernel's constraints is an op/dtype pair the kernels do
    /// not implement, reported as <see cref="NotSupportedException"/> naming <paramref name="op"/>.
    /// </summary>
    private TDelegate Kernel<TDelegate>(string op, string kernel, params Type[] typeArgs) where TDelegate : Delegate
    {
        ThrowIfDisposed();
        Bind();
        string key = kernel + "<" + string.Join(",", typeArgs.Select(t => t.FullName)) + ">";
        lock (_kernelLock)
        {
            if (_kernels.TryGetValue(key, out var cached)) return (TDelegate)cached;
            MethodInfo method;
            try { method = KernelRegistry.Get(kernel, typeArgs); }
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
        if (v.Shape is null || v.Strides is null) throw new ArgumentException($"{op}: {name} is an uninitialised view.");
        if (dtype is { } expected && v.DType != expected)
            throw new ArgumentException($"{op}: {name} {Shape(v)} is {v.DType.Name()}, expected {expected.Name()}.");
        long lo = v.Offset, hi = v.Offset;
        for (int d = 0; d < v.Rank; d++)
        {
            if (v.Shape[d] < 0) throw new ArgumentException($"{op}: {name} has a negative dimension: {Shape(v)}.");
            if (v.Shape[d] == 0) return; // addresses nothing
            long span = (long)(v.Shape[d] - 1) * v.Strides[d];
            if (span < 0) lo += span; else hi += span;
        }
        if (lo < 0 || hi >= v.Buffer.Length)
            throw new ArgumentException($"{op}: {name} view {v} reaches elements [{lo}, {hi}] outside its buffer of {v.Buffer.Length}.");
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
