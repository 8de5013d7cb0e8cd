using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuNet.Kernels.Managed;

/// <summary>
/// Packed, cache-blocked GEMM in the BLIS style: C (m×n) = A (m×k) · B (k×n) for any element
/// strides. Per (NC-wide, KC-deep) block, B is packed into NR-wide panels that stay in L2; each
/// MC-high block of A is packed into MR-high panels; the register-blocked micro-kernel then
/// sweeps the B panels with one A panel held in L1. Packing is where transposed, strided and
/// broadcast operands are absorbed, so the micro-kernel only ever reads dense panels.
/// </summary>
// Scratch stack buffers are always written before they are read: skip zeroing them (zeroing is a
// visible share of a small strided op).
[SkipLocalsInit]
internal static unsafe partial class Gemm
{
    // The hot methods are marked AggressiveOptimization: tier-0 code for the packing loops is ~10x
    // slower, and a training step calls each shape only a few times before tiering would kick in.
    /// <summary>Widest SIMD the kernels use: 3 = Vector512, 2 = Vector256, 1 = Vector128, 0 = scalar.</summary>
    internal static readonly int Level =
        Vector512.IsHardwareAccelerated ? 3 : Vector256.IsHardwareAccelerated ? 2 : Vector128.IsHardwareAccelerated ? 1 : 0;

    /// <summary>Below this many multiply-adds (m·n·k) packing costs more than it saves.</summary>
    private const long SmallWork = 16 * 16 * 16;

    /// <summary>Work (m·n·k) above which one product is split across threads (about 10 µs of one core's time).</summary>
    internal const long ParallelWork = 1L << 19;

    /// <summary>A strided matrix operand: element (i, j) at P + i·Rs + j·Cs.</summary>
    internal readonly struct Mat<T>(T* p, long rs, long cs) where T : unmanaged
    {
        public readonly T* P = p;
        public readonly long Rs = rs, Cs = cs;

        /// <summary>The sub-matrix starting at (i, j).</summary>
        public Mat<T> At(long i, long j) => new(P + i * Rs + j * Cs, Rs, Cs);

        /// <summary>The transpose (same memory).</summary>
        public Mat<T> T_ => new(P, Cs, Rs);
    }

    /// <summary>The tile shape and block sizes of the micro-kernel chosen for T on this CPU.</summary>
    private readonly struct Shape(int mr, int nr, int kc, int mc, int nc)
    {
        public readonly int MR = mr, NR = nr, KC = kc, MC = mc, NC = nc;
    }

    private static Shape ShapeFor<T>()
    {
        bool f = typeof(T) == typeof(float);
        return Level switch
        {
            3 => f ? new Shape(MR_F512, NR_F512, 256, 192, 1024) : new Shape(MR_D512, NR_D512, 128, 192, 1024),
            2 => f ? new Shape(MR_F256, NR_F256, 256, 96, 512) : new Shape(MR_D256, NR_D256, 128, 96, 512),
            1 => f ? new Shape(MR_F128, NR_F128, 256, 64, 512) : new Shape(MR_D128, NR_D128, 128, 64, 512),
            _ => new Shape(4, 4, 128, 64, 256),
        };
    }

    /// <summary>Batched product; each operand's batch stride may be 0 (broadcast). <paramref name="epilogue"/> applies per matrix.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Batched<T>(int batch, int m, int n, int k, T* a, long abs, long ars, long acs, T* b, long bbs, long brs, long bcs, T* c, long cbs, long crs, long ccs,
        Epilogue<T> epilogue = default)
        where T : unmanaged, INumber<T>
    {
        if (batch == 0 || m == 0 || n == 0) return;
        long work = (long)m * n * k;
        bool threads = WorkerPool.Threads > 1;
        if (batch > 1 && threads && work < ParallelWork && work * batch >= ParallelWork)
        {
            // Many small products: one per task, each single-threaded.
            nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
            WorkerPool.For(batch, i => Multiply(m, n, k,
                new Mat<T>((T*)pa + i * abs, ars, acs), new Mat<T>((T*)pb + i * bbs, brs, bcs), new Mat<T>((T*)pc + i * cbs, crs, ccs), parallel: false, epilogue.ForBatch(i)));
            return;
        }
        for (int i = 0; i < batch; i++)
            Multiply(m, n, k, new Mat<T>(a + i * abs, ars, acs), new Mat<T>(b + i * bbs, brs, bcs), new Mat<T>(c + i * cbs, crs, ccs),
                parallel: threads && work >= ParallelWork, epilogue.ForBatch(i));
    }

    /// <summary>C = epilogue(A · B) for one matrix triple (C overwritten, not accumulated).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply<T>(int m, int n, int k, Mat<T> a, Mat<T> b, Mat<T> c, bool parallel, Epilogue<T> epilogue = default) where T : unmanaged, INumber<T>
    {
        if (m == 0 || n == 0) return;
        if (c.Cs != 1 && c.Rs == 1 && n > 1)
        {
            // A column-major C is the transpose of a row-major one: Cᵀ = Bᵀ·Aᵀ keeps the vector stores dense.
            MultiplyOriented(n, m, k, b.T_, a.T_, c.T_, parallel, epilogue.Transposed());
            return;
        }
        var s = ShapeFor<T>();
        if (c.Cs == 1 && n < s.NR && (long)RoundUp(n, s.MR) * RoundUp(m, s.NR) * 4 < (long)RoundUp(m, s.MR) * RoundUp(n, s.NR) * 3)
        {
            // A C narrower than a register tile (the logits of x·Wᵀ with 10 classes) wastes most of each
            // tile's columns; Cᵀ = Bᵀ·Aᵀ fills the tiles and pays only for a strided store of the few results.
            MultiplyOriented(n, m, k, b.T_, a.T_, c.T_, parallel, epilogue.Transposed());
            return;
        }
        MultiplyOriented(m, n, k, a, b, c, parallel, epilogue);
    }

    /// <summary><see cref="Multiply"/> with the orientation settled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiplyOriented<T>(int m, int n, int k, Mat<T> a, Mat<T> b, Mat<T> c, bool parallel, Epilogue<T> epilogue) where T : unmanaged, INumber<T>
    {
        if (k == 0)
        {
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) c.P[i * c.Rs + j * c.Cs] = T.Zero;
            epilogue.Apply(c.P, c.Rs, c.Cs, 0, 0, m, n);
            return;
        }
        long work = (long)m * n * k;
        if (work <= SmallWork || (typeof(T) != typeof(float) && typeof(T) != typeof(double)))
        {
            Naive(m, n, k, a, b, c);
            epilogue.Apply(c.P, c.Rs, c.Cs, 0, 0, m, n);
            return;
        }
        var s = ShapeFor<T>();
        int threads = parallel && work >= ParallelWork ? WorkerPool.Threads : 1;
        if (threads == 1)
        {
            Blocked(m, n, k, a, b, c, epilogue, 0, 0);
            return;
        }
        // One slab of C per thread, split along the longer side in whole register tiles. Each slab
        // packs its own operands, so the only synchronisation is the final join. Two slabs per thread
        // (so a thread could take over a descheduled one's share) measured 9–11% slower at 1024³ and
        // 2048³ on two cores: every extra slab packs the other operand once more.
        bool byColumns = n >= m;
        int extent = byColumns ? n : m, unit = byColumns ? s.NR : s.MR;
        int per = RoundUp((extent + threads - 1) / threads, unit);
        int slabs = (extent + per - 1) / per;
        // Every slab reads all of the other operand (A when slabs split the columns). When that operand
        // is small, as in an MLP, where one side is the batch, the threads pack it once together
        // instead of once per slab.
        T* shared = null;
        int sharedLines = byColumns ? m : n, sharedWidth = byColumns ? s.MR : s.NR;
        int sharedPad = RoundUp(sharedLines, sharedWidth);
        if (slabs > 1 && (long)sharedPad * k <= SharedPackLimit)
        {
            shared = Scratch<T>.Shared(sharedPad * k);
            PackShared(byColumns ? a : b.T_, sharedLines, k, sharedWidth, threads, shared);
        }
        WorkerPool.For(slabs, t =>
        {
            int lo = t * per, len = Math.Min(per, extent - lo);
            if (byColumns) Blocked(m, len, k, a, b.At(0, lo), c.At(0, lo), epilogue, 0, lo, packedA: shared, packedB: null, sharedPad);
            else Blocked(len, n, k, a.At(lo, 0), b, c.At(lo, 0), epilogue, lo, 0, packedA: null, packedB: shared, sharedPad);
        });
    }

    /// <summary>Largest operand (elements, padded) packed once for all slabs: 1 MB of floats, which stays in L2.</summary>
    private const long SharedPackLimit = 1L << 18;

    /// <summary>
    /// Packs all of <paramref name="x"/> (lines × k, a line being a row of A or a column of B) in the
    /// layout <see cref="Blocked"/> reads: k-block by k-block, each block holding all lines' panels, so
    /// the panel of line l in the block starting at pc sits at pc·pad + l·kc. Threads split the lines.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackShared<T>(Mat<T> x, int lines, int k, int width, int threads, T* dst) where T : unmanaged, INumber<T>
    {
        var s = ShapeFor<T>();
        int kcMax = Balanced(k, s.KC, 1);
        int pad = RoundUp(lines, width);
        int kBlocks = (k + kcMax - 1) / kcMax;
        int chunk = RoundUp((lines + threads - 1) / threads, width);
        int chunks = (lines + chunk - 1) / chunk;
        nint px = (nint)x.P, pd = (nint)dst;
        long rs = x.Rs, cs = x.Cs;
        WorkerPool.For(kBlocks * chunks, t =>
        {
            int pc = t / chunks * kcMax, l0 = t % chunks * chunk;
            int kc = Math.Min(kcMax, k - pc), count = Math.Min(chunk, lines - l0);
            PackPanels(count, kc, width, (T*)px + l0 * rs + pc * cs, rs, cs, (T*)pd + (long)pc * pad + (long)l0 * kc);
        });
    }

    /// <summary>Dot products in registers; for products too small to amortise packing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Naive<T>(int m, int n, int k, Mat<T> a, Mat<T> b, Mat<T> c) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                T s = T.Zero;
                T* ap = a.P + i * a.Rs;
                T* bp = b.P + j * b.Cs;
                for (int p = 0; p < k; p++) s += ap[p * a.Cs] * bp[p * b.Rs];
                c.P[i * c.Rs + j * c.Cs] = s;
            }
    }

    /// <summary>Per-thread packing buffers, allocated once on the pinned heap and 64-byte aligned.</summary>
    private static class Scratch<T> where T : unmanaged
    {
        [ThreadStatic] private static T[]? t_a, t_b, t_shared;

        public static T* A(int length) => Get(ref t_a, length);
        public static T* B(int length) => Get(ref t_b, length);

        /// <summary>An operand packed by the calling thread's job for all of its workers.</summary>
        public static T* Shared(int length) => Get(ref t_shared, length);

        private static T* Get(ref T[]? array, int length)
        {
            int need = length + 64 / sizeof(T);
            if (array is null || array.Length < need) array = GC.AllocateUninitializedArray<T>(need, pinned: true);
            return Align64((T*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(array)));
        }
    }

    /// <summary>
    /// Single-threaded blocked product of one slab. (<paramref name="row0"/>, <paramref name="col0"/>)
    /// is the slab's position in the full C, for the epilogue's bias. A non-null <paramref name="packedA"/>
    /// or <paramref name="packedB"/> holds that operand already packed by <see cref="PackShared"/>, with
    /// <paramref name="sharedPad"/> its padded line count.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Blocked<T>(int m, int n, int k, Mat<T> a, Mat<T> b, Mat<T> c, Epilogue<T> epilogue, int row0, int col0,
        T* packedA = null, T* packedB = null, int sharedPad = 0) where T : unmanaged, INumber<T>
    {
        var s = ShapeFor<T>();
        // Blocks of equal size rather than full blocks and a thin remainder: k = 784 runs as 4 × 196
        // instead of 3 × 256 + 16, whose last pass would reload and store C for 16 multiply-adds.
        int kcMax = Balanced(k, s.KC, 1);
        int nc = Balanced(n, s.NC, s.NR);
        int mc = Balanced(m, s.MC, s.MR);
        T* pb = Scratch<T>.B(kcMax * nc);
        T* pa = Scratch<T>.A(mc * kcMax);
        for (int jc = 0; jc < n; jc += nc)
        {
            int ncur = Math.Min(nc, n - jc);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                bool last = pc + kc >= k;
                T* bBlock = pb;
                if (packedB != null) bBlock = packedB + (long)pc * sharedPad + (long)jc * kc;
                else PackPanels(ncur, kc, s.NR, b.P + pc * b.Rs + jc * b.Cs, b.Cs, b.Rs, pb);
                for (int ic = 0; ic < m; ic += mc)
                {
                    int mcur = Math.Min(mc, m - ic);
                    T* aBlock = pa;
                    if (packedA != null) aBlock = packedA + (long)pc * sharedPad + (long)ic * kc;
                    else PackPanels(mcur, kc, s.MR, a.P + ic * a.Rs + pc * a.Cs, a.Rs, a.Cs, pa);
                    for (int ir = 0; ir < mcur; ir += s.MR)
                    {
                        int mr = Math.Min(s.MR, mcur - ir);
                        T* ap = aBlock + ir * kc;
                        for (int jr = 0; jr < ncur; jr += s.NR)
                        {
                            int nr = Math.Min(s.NR, ncur - jr);
                            T* cp = c.P + (ic + ir) * c.Rs + (jc + jr) * c.Cs;
                            MicroKernel(kc, ap, bBlock + jr * kc, cp, c.Rs, c.Cs, mr, nr, accumulate: pc > 0, s);
                            // The epilogue runs on the tile just written, while it is still in L1.
                            if (last && !epilogue.IsIdentity) epilogue.Apply(cp, c.Rs, c.Cs, row0 + ic + ir, col0 + jc + jr, mr, nr);
                        }
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MicroKernel<T>(int kc, T* a, T* b, T* c, long rsc, long csc, int mr, int nr, bool accumulate, Shape s) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(float))
        {
            switch (Level)
            {
                case 3: KernelF512(kc, (float*)a, (float*)b, (float*)c, rsc, csc, mr, nr, accumulate); return;
                case 2: KernelF256(kc, (float*)a, (float*)b, (float*)c, rsc, csc, mr, nr, accumulate); return;
                case 1: KernelF128(kc, (float*)a, (float*)b, (float*)c, rsc, csc, mr, nr, accumulate); return;
            }
        }
        else if (typeof(T) == typeof(double))
        {
            switch (Level)
            {
                case 3: KernelD512(kc, (double*)a, (double*)b, (double*)c, rsc, csc, mr, nr, accumulate); return;
                case 2: KernelD256(kc, (double*)a, (double*)b, (double*)c, rsc, csc, mr, nr, accumulate); return;
                case 1: KernelD128(kc, (double*)a, (double*)b, (double*)c, rsc, csc, mr, nr, accumulate); return;
            }
        }
        KernelScalar(kc, a, b, c, rsc, csc, mr, nr, accumulate, s.MR, s.NR);
    }

    /// <summary>Portable fallback tile for CPUs without SIMD: same packed layout, plain arithmetic.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KernelScalar<T>(int kc, T* a, T* b, T* c, long rsc, long csc, int mr, int nr, bool accumulate, int MR, int NR) where T : unmanaged, INumber<T>
    {
        T* tile = stackalloc T[MR * NR];
        for (int q = 0; q < MR * NR; q++) tile[q] = T.Zero;
        for (int p = 0; p < kc; p++)
            for (int i = 0; i < MR; i++)
            {
                T ai = a[p * MR + i];
                for (int j = 0; j < NR; j++) tile[i * NR + j] += ai * b[p * NR + j];
            }
        WriteTile(tile, NR, c, rsc, csc, mr, nr, accumulate);
    }

    /// <summary>Writes the valid mr×nr corner of a register tile spilled to <paramref name="tile"/> (edges, strided C).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void WriteTile<T>(T* tile, int ldt, T* c, long rsc, long csc, int mr, int nr, bool accumulate) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < mr; i++)
        {
            T* ci = c + i * rsc;
            T* ti = tile + i * ldt;
            if (accumulate) for (int j = 0; j < nr; j++) ci[j * csc] += ti[j];
            else for (int j = 0; j < nr; j++) ci[j * csc] = ti[j];
        }
    }

    /// <summary>
    /// Packs <paramref name="count"/> lines of length <paramref name="kc"/> (the rows of an A block,
    /// or the columns of a B block) into panels of <paramref name="width"/> lines, each laid out
    /// k-major ([kc][width]) so the micro-kernel reads <paramref name="width"/> consecutive values per
    /// step; lines past <paramref name="count"/> are zero so edge tiles run the full-width kernel.
    /// <paramref name="lineStride"/> steps from one line to the next, <paramref name="kStride"/> along k.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackPanels<T>(int count, int kc, int width, T* src0, long lineStride, long kStride, T* dst) where T : unmanaged, INumber<T>
    {
        for (int l0 = 0; l0 < count; l0 += width)
        {
            int lines = Math.Min(width, count - l0);
            T* d = dst + l0 * kc;
            T* src = src0 + l0 * lineStride;
            if (lineStride == 1)
            {
                // The lines sit side by side (A transposed, B row-major): each k step is one dense copy
                // of 48 to 128 bytes, in vector moves (a memmove call per step cost as much as the copy).
                int bytes = lines * sizeof(T);
                for (int p = 0; p < kc; p++)
                {
                    CopyRun((byte*)(src + p * kStride), (byte*)(d + p * width), bytes);
                    for (int l = lines; l < width; l++) d[p * width + l] = T.Zero;
                }
                continue;
            }
            if (kStride == 1)
            {
                // Each line is a contiguous run along k (A row-major, B transposed as in x·Wᵀ).
                PackTransposed(lines, kc, width, src, lineStride, d);
                continue;
            }
            for (int l = 0; l < lines; l++)
            {
                T* line = src + l * lineStride;
                T* dl = d + l;
                for (int p = 0; p < kc; p++) dl[p * width] = line[p * kStride];
            }
            for (int l = lines; l < width; l++)
                for (int p = 0; p < kc; p++) d[p * width + l] = T.Zero;
        }
    }

    /// <summary>Copies a short run of <paramref name="bytes"/> (a multiple of 4) with the widest vector moves that fit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRun(byte* s, byte* d, int bytes)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 64 <= bytes; i += 64) Vector512.Store(Vector512.Load(s + i), d + i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + 32 <= bytes; i += 32) Vector256.Store(Vector256.Load(s + i), d + i);
        for (; i + 16 <= bytes; i += 16) Vector128.Store(Vector128.Load(s + i), d + i);
        for (; i < bytes; i += 4) *(int*)(d + i) = *(int*)(s + i);
    }

    private static int RoundUp(int x, int m) => (x + m - 1) / m * m;

    /// <summary>The block size at most <paramref name="max"/> (a multiple of <paramref name="unit"/>) that splits <paramref name="extent"/> into equal blocks.</summary>
    private static int Balanced(int extent, int max, int unit)
    {
        int blocks = (extent + max - 1) / max;
        return Math.Min(max, RoundUp((extent + blocks - 1) / blocks, unit));
    }

    private static T* Align64<T>(T* p) where T : unmanaged => (T*)(((nint)p + 63) & ~(nint)63);
}
