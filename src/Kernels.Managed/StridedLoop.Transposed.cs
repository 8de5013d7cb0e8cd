using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static GpuNet.Kernels.Managed.RegisterTranspose;

namespace GpuNet.Kernels.Managed;

/// <summary>
/// The transposing walk: when an input's unit-stride axis is not the output's, row-by-row order
/// touches a new cache line (and, at large strides, a new page and the same cache set) per element.
/// Instead the input is copied block by block, 64 rows × 512 bytes of columns, into a dense scratch
/// block with SIMD register transposes that read each of its cache lines once and whole; the row
/// kernel then sees dense rows on every side, so it runs its contiguous SIMD path. (64 × 64 to
/// 64 × 128 four-byte blocks measured 1.5–3× faster than 16 × 256 or 32 × 32 ones on this
/// project's CPU: each block touches fewer pages per element, and its rows are long enough that
/// the kernel's per-row call costs little.)
/// </summary>
internal static unsafe partial class StridedLoop
{
    /// <summary>Rows of a transposed block: the run read from each of the input's memory rows (four cache lines of floats).</summary>
    internal const int BlockRows = 64;

    /// <summary>Bytes of a transposed block's row, for the widest operand: 128 floats or 64 doubles, so a block's scratch is 32 KiB.</summary>
    internal const int BlockRowBytes = 512;

    /// <summary>Below this many elements the block copies cost more than the strided walk they save.</summary>
    internal const long TransposeMinCount = 1024;

    /// <summary>
    /// From this many output bytes on, a transposing walk writes each block's rows into scratch and streams
    /// them to the output with non-temporal stores. An output this large leaves the caches before it is
    /// read again, and a plain store first reads every line it writes: a third of the memory traffic.
    /// (TensorPrimitives makes the same choice for dense spans above 256 KiB; a block's rows are too
    /// short for it to make it on them.)
    /// </summary>
    internal const long StreamOutputBytes = 4 << 20;

    /// <summary>
    /// For map kernels (whose elements may be visited in any order), orders the layout's axes as
    /// the output lies in memory; then, if some input's unit-stride axis is not the innermost one, moves
    /// that axis next to the innermost and returns the inputs to transpose as a bit mask.
    /// </summary>
    private static bool PrepareTransposed(ref Layout l, out int transposed)
    {
        transposed = 0;
        // Only map kernels get here; one-operand ones (fills, Arange, random numbers) compute from the
        // row-major index, so their walk order stays fixed.
        if (l.Operands < 2 || l.Rank < 2 || l.Count < TransposeMinCount) return false;
        int output = l.Operands - 1;
        SortByOutput(ref l, output);
        int inner = l.Rank - 1;
        if (inner < 1) return false;
        int axis = -1;
        for (int k = 0; k < output; k++)
        {
            long si = l.Strides[k * StridedView.MaxRank + inner];
            if (si is 0 or 1) continue;
            for (int d = 0; d < inner; d++)
            {
                if (l.Strides[k * StridedView.MaxRank + d] != 1) continue;
                if (axis < 0) axis = d;
                if (axis == d) transposed |= 1 << k;
                break;
            }
        }
        if (transposed == 0) return false;
        MoveAxis(ref l, axis, inner - 1);
        return true;
    }

    /// <summary>Orders the axes by the output's stride, largest first (stably), and merges the ones that became adjacent and contiguous.</summary>
    private static void SortByOutput(ref Layout l, int output)
    {
        int rank = l.Rank, ops = l.Operands;
        for (int i = 1; i < rank; i++)
            for (int j = i; j > 0 && Math.Abs(l.Strides[output * StridedView.MaxRank + j - 1]) < Math.Abs(l.Strides[output * StridedView.MaxRank + j]); j--)
                SwapAxes(ref l, j - 1, j);
        int r = 1;
        for (int d = 1; d < rank; d++)
        {
            bool merge = true;
            for (int k = 0; k < ops && merge; k++)
                merge = l.Strides[k * StridedView.MaxRank + r - 1] == l.Strides[k * StridedView.MaxRank + d] * l.Shape[d];
            if (merge)
            {
                l.Shape[r - 1] *= l.Shape[d];
                for (int k = 0; k < ops; k++) l.Strides[k * StridedView.MaxRank + r - 1] = l.Strides[k * StridedView.MaxRank + d];
            }
            else
            {
                l.Shape[r] = l.Shape[d];
                for (int k = 0; k < ops; k++) l.Strides[k * StridedView.MaxRank + r] = l.Strides[k * StridedView.MaxRank + d];
                r++;
            }
        }
        l.Rank = r;
    }

    private static void SwapAxes(ref Layout l, int a, int b)
    {
        (l.Shape[a], l.Shape[b]) = (l.Shape[b], l.Shape[a]);
        for (int k = 0; k < l.Operands; k++)
            (l.Strides[k * StridedView.MaxRank + a], l.Strides[k * StridedView.MaxRank + b]) = (l.Strides[k * StridedView.MaxRank + b], l.Strides[k * StridedView.MaxRank + a]);
    }

    private static void MoveAxis(ref Layout l, int from, int to)
    {
        for (int d = from; d < to; d++) SwapAxes(ref l, d, d + 1);
    }

    /// <summary>Row blocks of a transposing walk: <see cref="BlockRows"/> rows of the second-innermost axis, for every index of the outer axes.</summary>
    private static long TransposedBlocks(ref Layout l)
    {
        long outer = 1;
        for (int d = 0; d < l.Rank - 2; d++) outer *= l.Shape[d];
        return outer * ((l.Shape[l.Rank - 2] + BlockRows - 1) / BlockRows);
    }

    private static void RunTransposedParallel<TKernel>(Layout layout, TKernel kernel, int transposed) where TKernel : struct, IRowKernel
    {
        long blocks = TransposedBlocks(ref layout);
        int chunks = (int)Math.Min(blocks, WorkerPool.Threads * 4L);
        long per = (blocks + chunks - 1) / chunks;
        WorkerPool.For(chunks, c =>
        {
            var l = layout;
            var kk = kernel;
            long start = c * per, end = Math.Min(blocks, start + per);
            if (start < end) RunTransposed(ref l, transposed, start, end, ref kk);
        });
    }

    /// <summary>Walks row blocks [b0, b1): each block's transposed inputs are copied into dense scratch, then the kernel runs row by row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunTransposed<TKernel>(ref Layout l, int transposed, long b0, long b1, ref TKernel kernel) where TKernel : struct, IRowKernel
    {
        const int bufferBytes = BlockRows * BlockRowBytes;
        int rank = l.Rank, ops = l.Operands, ra = rank - 2, ca = rank - 1;
        long widest = 1;
        for (int k = 0; k < ops; k++) widest = Math.Max(widest, l.ElementSize[k]);
        int blockCols = BlockRowBytes / (int)widest;
        long rows = l.Shape[ra], cols = l.Shape[ca];
        long perOuter = (rows + BlockRows - 1) / BlockRows;
        int output = ops - 1;
        bool stream = l.Count * l.ElementSize[output] >= StreamOutputBytes && l.Strides[output * StridedView.MaxRank + ca] == 1;
        byte* scratch = stackalloc byte[MaxOperands * bufferBytes];
        Span<long> off = stackalloc long[MaxOperands];
        Span<nint> step = stackalloc nint[MaxOperands];
        RowOperands ro = default;
        for (long b = b0; b < b1; b++)
        {
            long o = b / perOuter, r0 = b % perOuter * BlockRows;
            int nr = (int)Math.Min(BlockRows, rows - r0);
            for (int k = 0; k < ops; k++) off[k] = r0 * l.Strides[k * StridedView.MaxRank + ra];
            for (int d = ra - 1; d >= 0; d--)
            {
                long e = l.Shape[d], i = o % e;
                o /= e;
                for (int k = 0; k < ops; k++) off[k] += i * l.Strides[k * StridedView.MaxRank + d];
            }
            for (long c0 = 0; c0 < cols; c0 += blockCols)
            {
                int nc = (int)Math.Min(blockCols, cols - c0);
                for (int k = 0; k < ops - 1; k++)
                    if ((transposed >> k & 1) != 0)
                    {
                        long cs = l.Strides[k * StridedView.MaxRank + ca];
                        TransposeBlock(l.Base[k] + (nint)((off[k] + c0 * cs) * l.ElementSize[k]), (nint)cs, (int)l.ElementSize[k], nr, nc, scratch + k * bufferBytes, blockCols);
                    }
                // Each operand's first row and its step between rows: the scratch block's pitch, or the view's own.
                for (int k = 0; k < ops; k++)
                {
                    nint p, s, es = (nint)l.ElementSize[k];
                    if ((transposed >> k & 1) != 0 || (stream && k == output))
                    {
                        p = (nint)(scratch + k * bufferBytes);
                        s = 1;
                        step[k] = blockCols * es;
                    }
                    else
                    {
                        s = (nint)l.Strides[k * StridedView.MaxRank + ca];
                        p = l.Base[k] + (nint)((off[k] + c0 * s) * es);
                        step[k] = (nint)l.Strides[k * StridedView.MaxRank + ra] * es;
                    }
                    switch (k)
                    {
                        case 0: ro.P0 = p; ro.S0 = s; break;
                        case 1: ro.P1 = p; ro.S1 = s; break;
                        case 2: ro.P2 = p; ro.S2 = s; break;
                        default: ro.P3 = p; ro.S3 = s; break;
                    }
                }
                nint d0 = step[0], d1 = step[1], d2 = ops > 2 ? step[2] : 0, d3 = ops > 3 ? step[3] : 0;
                for (int r = 0; r < nr; r++)
                {
                    // The row-major index means nothing in a reordered walk; map kernels do not read it.
                    kernel.Row(-1, nc, in ro);
                    ro.P0 += d0;
                    ro.P1 += d1;
                    ro.P2 += d2;
                    ro.P3 += d3;
                }
                if (stream)
                {
                    nint es = (nint)l.ElementSize[output], rowStep = (nint)l.Strides[output * StridedView.MaxRank + ra] * es;
                    byte* dst = (byte*)(l.Base[output] + (nint)((off[output] + c0) * es));
                    for (int r = 0; r < nr; r++) StreamRow(scratch + output * bufferBytes + r * blockCols * es, dst + r * rowStep, nc * es);
                }
            }
        }
        // Non-temporal stores are weakly ordered: fence them before the walk reports it is done.
        if (stream && Sse.IsSupported) Sse.StoreFence();
    }

    /// <summary>
    /// Copies <paramref name="bytes"/> bytes from a (cached) scratch row to the output: a plain copy up to the
    /// output's first 64-byte (32 without AVX-512) boundary and for the tail, non-temporal stores between.
    /// The source may have any alignment (it is read with unaligned loads).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StreamRow(byte* src, byte* dst, nint bytes)
    {
        nint i = 0;
        if (Avx512F.IsSupported)
        {
            // Scratch rows are 64-byte aligned when the stack block is; the output is when its buffer and row pitch are.
            nint head = Math.Min(bytes, (nint)((64 - ((nuint)dst & 63)) & 63));
            Buffer.MemoryCopy(src, dst, head, head);
            for (i = head; i + 64 <= bytes; i += 64) Avx512F.StoreAlignedNonTemporal(dst + i, Avx512F.LoadVector512(src + i));
        }
        else if (Avx.IsSupported)
        {
            nint head = Math.Min(bytes, (nint)((32 - ((nuint)dst & 31)) & 31));
            Buffer.MemoryCopy(src, dst, head, head);
            for (i = head; i + 32 <= bytes; i += 32) Avx.StoreAlignedNonTemporal(dst + i, Avx.LoadVector256(src + i));
        }
        Buffer.MemoryCopy(src + i, dst + i, bytes - i, bytes - i);
    }

    /// <summary>
    /// Copies an <paramref name="nr"/> × <paramref name="nc"/> block whose element (r, c) lies at
    /// <c>src + (r + c·ld)·es</c> into <paramref name="dst"/> row-major with a pitch of <paramref name="pitch"/>
    /// elements. Only bits move, so NaN payloads and integers pass unchanged.
    /// </summary>
    internal static void TransposeBlock(nint src, nint ld, int es, int nr, int nc, byte* dst, int pitch)
    {
        int c = 0;
        if (es == 4)
        {
            float* s = (float*)src, t = (float*)dst;
            if (Avx.IsSupported && nr >= 8)
            {
                int full = nr & ~7;
                for (; c + 8 <= nc; c += 8)
                {
                    for (int r = 0; r < full; r += 8) Transpose8x8(s + r + c * ld, ld, t + r * pitch + c, pitch);
                    for (int cc = c; cc < c + 8; cc++)
                        for (int r = full; r < nr; r++) t[r * pitch + cc] = s[r + cc * ld];
                }
            }
            for (; c < nc; c++)
                for (int r = 0; r < nr; r++) t[r * pitch + c] = s[r + c * ld];
        }
        else
        {
            double* s = (double*)src, t = (double*)dst;
            if (Avx.IsSupported && nr >= 4)
            {
                int full = nr & ~3;
                for (; c + 4 <= nc; c += 4)
                {
                    for (int r = 0; r < full; r += 4) Transpose4x4(s + r + c * ld, ld, t + r * pitch + c, pitch);
                    for (int cc = c; cc < c + 4; cc++)
                        for (int r = full; r < nr; r++) t[r * pitch + cc] = s[r + cc * ld];
                }
            }
            for (; c < nc; c++)
                for (int r = 0; r < nr; r++) t[r * pitch + c] = s[r + c * ld];
        }
    }
}
