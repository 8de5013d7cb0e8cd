using System.Runtime.CompilerServices;

namespace GpuNet.Kernels.Managed;

/// <summary>Up to <see cref="StridedView.MaxRank"/> extents or strides, stored inline so a layout needs no heap.</summary>
[InlineArray(StridedView.MaxRank)]
internal struct Dims
{
    private long _element0;
}

/// <summary>Base addresses of up to four operands.</summary>
[InlineArray(StridedLoop.MaxOperands)]
internal struct Addresses
{
    private nint _element0;
}

/// <summary>Strides of up to four operands (operand-major, <see cref="StridedView.MaxRank"/> each).</summary>
[InlineArray(StridedLoop.MaxOperands * StridedView.MaxRank)]
internal struct OperandStrides
{
    private long _element0;
}

/// <summary>
/// A row kernel: processes <c>n</c> consecutive elements (in row-major order of the iteration
/// space) whose operands start at the given byte addresses and step by the given element strides.
/// <c>index</c> is the row-major position of the row's first element (Arange, random fills); map
/// kernels (<see cref="IMapRowKernel"/>) must not use it: the walk visits their elements in whatever
/// order reads memory best, and passes -1 where it reorders.
/// </summary>
internal interface IRowKernel
{
    void Row(long index, int n, ref readonly RowOperands ops);
}

/// <summary>
/// A row kernel whose last operand is its only output, each element written from the same element
/// of the other operands, which it only reads (unary, binary, copy, where). Its elements may be
/// visited in any order and its inputs read from copies, so the walk may reorder the axes and send
/// transposed inputs through dense blocks; kernels that update several operands in place (the
/// optimizer steps) do not qualify.
/// </summary>
internal interface IMapRowKernel : IRowKernel;

/// <summary>Start addresses and element strides of every operand for one row.</summary>
internal struct RowOperands
{
    public nint P0, P1, P2, P3;
    public nint S0, S1, S2, S3;
}

/// <summary>
/// The shared iteration engine of the elementwise ops: operands with one shape and their own
/// strides are coalesced (size-1 dimensions dropped, dimensions that are contiguous in every
/// operand merged), then the space is walked row by row with an odometer over the outer
/// dimensions, so there is no per-element division. Large spaces are split into chunks of
/// rows for <see cref="WorkerPool"/>. Map kernels (<see cref="IMapRowKernel"/>) are walked in the output's memory order,
/// and an input whose unit-stride axis is another goes through dense transposed blocks
/// (StridedLoop.Transposed.cs); other transposing 2-D walks go tile by tile.
/// </summary>
// Scratch stack buffers are always written before they are read: skip zeroing them (zeroing is a
// visible share of a small strided op).
[SkipLocalsInit]
internal static partial class StridedLoop
{
    public const int MaxOperands = 4;

    /// <summary>Below this many elements an op runs on the calling thread: thread hand-off costs more than it saves.</summary>
    public const long ParallelThreshold = 1 << 18;

    /// <summary>The coalesced iteration space.</summary>
    internal struct Layout
    {
        public int Rank;
        public int Operands;
        public long Count;
        public Dims Shape;
        public OperandStrides Strides;
        public Addresses Base;
        public Addresses ElementSize;
    }

    /// <summary>
    /// Coalesces the views (all of <c>views[^1]</c>'s shape) into a layout. Only the dimensions
    /// that are adjacent and contiguous in every operand merge, which keeps row-major order intact.
    /// </summary>
    public static unsafe Layout Create(ReadOnlySpan<StridedView> views)
    {
        var shape = views[^1].Shape;
        Layout l = default;
        l.Operands = views.Length;
        long count = 1;
        foreach (var d in shape) count *= d;
        l.Count = count;
        for (int k = 0; k < views.Length; k++)
        {
            var v = views[k];
            if (v.Rank != shape.Length) throw new ArgumentException($"Elementwise: operand {k} has shape {v} but the output has rank {shape.Length}.");
            for (int d = 0; d < shape.Length; d++)
                if (v.Shape[d] != shape[d]) throw new ArgumentException($"Elementwise: operand {k} has shape [{string.Join(",", v.Shape)}] but the output has [{string.Join(",", shape)}].");
            var buf = (ManagedBuffer)v.Buffer;
            buf.ThrowIfDisposed("Elementwise");
            int es = v.DType.SizeOf();
            l.ElementSize[k] = es;
            l.Base[k] = (nint)(buf.Pointer + v.Offset * es);
        }
        if (count == 0) { l.Rank = 1; return l; }

        Span<int> strides = stackalloc int[MaxOperands * StridedView.MaxRank];
        for (int k = 0; k < views.Length; k++) views[k].Strides.CopyTo(strides[(k * shape.Length)..]);
        l.Rank = StridedView.Coalesce(shape, views.Length, strides[..(views.Length * shape.Length)], l.Shape, l.Strides);
        return l;
    }

    /// <summary>
    /// Runs <paramref name="kernel"/> over the whole layout, in parallel chunks when it has at least
    /// <paramref name="parallelThreshold"/> elements (lower for kernels that compute more per element).
    /// </summary>
    public static void Run<TKernel>(ref Layout layout, ref TKernel kernel, long parallelThreshold = ParallelThreshold) where TKernel : struct, IRowKernel
    {
        if (layout.Count == 0) return;
        bool parallel = layout.Count >= parallelThreshold && WorkerPool.Threads > 1;
        if (kernel is IMapRowKernel && PrepareTransposed(ref layout, out int transposed))
        {
            if (parallel) RunTransposedParallel(layout, kernel, transposed);
            else RunTransposed(ref layout, transposed, 0, TransposedBlocks(ref layout), ref kernel);
            return;
        }
        if (NeedsTiles(ref layout))
        {
            int rows = (int)layout.Shape[0];
            if (parallel) RunTiledParallel(layout, kernel, rows);
            else RunTiled(ref layout, 0, rows, ref kernel);
            return;
        }
        if (parallel) RunParallel(layout, kernel);
        else RunRange(ref layout, 0, layout.Count, ref kernel);
    }

    /// <summary>Rows and columns of one tile of a transposing walk: 64 × 64 elements of 4–8 bytes stay in L1.</summary>
    internal const int Tile = 64;

    /// <summary>
    /// True for a 2-D space where some operand walks its inner dimension with a large stride but its
    /// outer one densely (a transpose): row-by-row order would touch a new cache line per element, so
    /// the space is walked in square tiles instead, which reuses every line it loads.
    /// </summary>
    private static bool NeedsTiles(ref Layout l)
    {
        if (l.Rank != 2 || l.Shape[0] < 2 * Tile || l.Shape[1] < 2 * Tile) return false;
        for (int k = 0; k < l.Operands; k++)
        {
            long inner = Math.Abs(l.Strides[k * StridedView.MaxRank + 1]), outer = Math.Abs(l.Strides[k * StridedView.MaxRank]);
            if (inner > 16 && outer < inner) return true;
        }
        return false;
    }

    // Kept apart from Run so the closure is only allocated when the parallel path is taken.
    private static void RunParallel<TKernel>(Layout layout, TKernel kernel) where TKernel : struct, IRowKernel
    {
        long count = layout.Count;
        int chunks = (int)Math.Min(WorkerPool.Threads * 4L, Math.Max(WorkerPool.Threads, (count + (1 << 16) - 1) >> 16));
        long per = (count + chunks - 1) / chunks;
        WorkerPool.For(chunks, c =>
        {
            var l = layout;
            var kk = kernel;
            long start = c * per;
            long end = Math.Min(count, start + per);
            if (start < end) RunRange(ref l, start, end, ref kk);
        });
    }

    private static void RunTiledParallel<TKernel>(Layout layout, TKernel kernel, int rows) where TKernel : struct, IRowKernel
    {
        int blocks = (rows + Tile - 1) / Tile;
        int chunks = Math.Min(blocks, WorkerPool.Threads * 4);
        int per = (blocks + chunks - 1) / chunks * Tile;
        WorkerPool.For(chunks, c =>
        {
            var l = layout;
            var kk = kernel;
            int start = c * per, end = Math.Min(rows, start + per);
            if (start < end) RunTiled(ref l, start, end, ref kk);
        });
    }

    /// <summary>Walks rows [r0, r1) of a 2-D layout in <see cref="Tile"/>-square tiles, one kernel row per tile row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunTiled<TKernel>(ref Layout l, int r0, int r1, ref TKernel kernel) where TKernel : struct, IRowKernel
    {
        int ops = l.Operands;
        long cols = l.Shape[1];
        RowOperands ro = default;
        ro.S0 = (nint)l.Strides[0 * StridedView.MaxRank + 1];
        ro.S1 = ops > 1 ? (nint)l.Strides[1 * StridedView.MaxRank + 1] : 0;
        ro.S2 = ops > 2 ? (nint)l.Strides[2 * StridedView.MaxRank + 1] : 0;
        ro.S3 = ops > 3 ? (nint)l.Strides[3 * StridedView.MaxRank + 1] : 0;
        for (int i0 = r0; i0 < r1; i0 += Tile)
        {
            int i1 = Math.Min(r1, i0 + Tile);
            for (long j0 = 0; j0 < cols; j0 += Tile)
            {
                int len = (int)Math.Min(Tile, cols - j0);
                for (int i = i0; i < i1; i++)
                {
                    ro.P0 = l.Base[0] + (nint)((i * l.Strides[0] + j0 * l.Strides[1]) * l.ElementSize[0]);
                    if (ops > 1) ro.P1 = l.Base[1] + (nint)((i * l.Strides[StridedView.MaxRank] + j0 * l.Strides[StridedView.MaxRank + 1]) * l.ElementSize[1]);
                    if (ops > 2) ro.P2 = l.Base[2] + (nint)((i * l.Strides[2 * StridedView.MaxRank] + j0 * l.Strides[2 * StridedView.MaxRank + 1]) * l.ElementSize[2]);
                    if (ops > 3) ro.P3 = l.Base[3] + (nint)((i * l.Strides[3 * StridedView.MaxRank] + j0 * l.Strides[3 * StridedView.MaxRank + 1]) * l.ElementSize[3]);
                    kernel.Row(i * cols + j0, len, in ro);
                }
            }
        }
    }

    /// <summary>Walks elements [start, end) of the row-major space: one div/mod per dimension to find the start, then an odometer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunRange<TKernel>(ref Layout l, long start, long end, ref TKernel kernel) where TKernel : struct, IRowKernel
    {
        int rank = l.Rank;
        int ops = l.Operands;
        Dims idx = default;
        Span<long> off = stackalloc long[MaxOperands];
        off.Clear();
        long rem = start;
        for (int d = rank - 1; d >= 0; d--)
        {
            long e = l.Shape[d];
            long i = rem % e;
            rem /= e;
            idx[d] = i;
            for (int k = 0; k < ops; k++) off[k] += i * l.Strides[k * StridedView.MaxRank + d];
        }
        int inner = rank - 1;
        long n = l.Shape[inner];
        RowOperands ro = default;
        ro.S0 = (nint)l.Strides[0 * StridedView.MaxRank + inner];
        ro.S1 = ops > 1 ? (nint)l.Strides[1 * StridedView.MaxRank + inner] : 0;
        ro.S2 = ops > 2 ? (nint)l.Strides[2 * StridedView.MaxRank + inner] : 0;
        ro.S3 = ops > 3 ? (nint)l.Strides[3 * StridedView.MaxRank + inner] : 0;
        long pos = start;
        while (pos < end)
        {
            long i0 = idx[inner];
            int len = (int)Math.Min(n - i0, Math.Min(end - pos, int.MaxValue));
            ro.P0 = l.Base[0] + (nint)(off[0] * l.ElementSize[0]);
            if (ops > 1) ro.P1 = l.Base[1] + (nint)(off[1] * l.ElementSize[1]);
            if (ops > 2) ro.P2 = l.Base[2] + (nint)(off[2] * l.ElementSize[2]);
            if (ops > 3) ro.P3 = l.Base[3] + (nint)(off[3] * l.ElementSize[3]);
            kernel.Row(pos, len, in ro);
            pos += len;
            if (pos >= end) break;
            // Advance the odometer by len along the inner dimension, carrying outwards.
            long ni = i0 + len;
            if (ni < n)
            {
                idx[inner] = ni;
                for (int k = 0; k < ops; k++) off[k] += len * l.Strides[k * StridedView.MaxRank + inner];
                continue;
            }
            for (int k = 0; k < ops; k++) off[k] -= i0 * l.Strides[k * StridedView.MaxRank + inner];
            idx[inner] = 0;
            for (int d = inner - 1; d >= 0; d--)
            {
                long v = idx[d] + 1;
                if (v < l.Shape[d])
                {
                    idx[d] = v;
                    for (int k = 0; k < ops; k++) off[k] += l.Strides[k * StridedView.MaxRank + d];
                    break;
                }
                idx[d] = 0;
                for (int k = 0; k < ops; k++) off[k] -= (l.Shape[d] - 1) * l.Strides[k * StridedView.MaxRank + d];
            }
        }
    }
}
