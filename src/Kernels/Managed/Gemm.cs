using System.Buffers;
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
internal static unsafe partial class Gemm
{
    // The hot methods are marked AggressiveOptimization: tier-0 code for the packing loops is ~10x
    // slower, and a training step calls each shape only a few times before tiering would kick in.
    /// <summary>Widest SIMD the kernels use: 3 = Vector512, 2 = Vector256, 1 = Vector128, 0 = scalar.</summary>
    internal static readonly int Level =
        Vector512.IsHardwareAccelerated ? 3 : Vector256.IsHardwareAccelerated ? 2 : Vector128.IsHardwareAccelerated ? 1 : 0;

    /// <summary>Below this many multiply-adds (m·n·k) packing costs more than it saves.</summary>
    private const long SmallWork = 16 * 16 * 16;

    /// <summary>Work (m·n·k) above which one product is split across threads.</summary>
    internal const long ParallelWork = 1L << 19;

    /// <summary>A strided matrix operand: element (i, j) at P + i·Rs + j·Cs.</summary>
    internal readonly struct Mat<T>(T* p, long rs, long cs) where T : unmanaged
    {
        public readonly T* P = p;
        public readonly long Rs = rs, Cs = cs;
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
            3 => f ? new Shape(MR_F512, NR_F512, 256, 192, 512) : new Shape(MR_D512, NR_D512, 256, 192, 256),
            2 => f ? new Shape(MR_F256, NR_F256, 256, 96, 512) : new Shape(MR_D256, NR_D256, 128, 96, 512),
            1 => f ? new Shape(MR_F128, NR_F128, 256, 64, 512) : new Shape(MR_D128, NR_D128, 128, 64, 512),
            _ => new Shape(4, 4, 128, 64, 256),
        };
    }

    /// <summary>Batched product; each operand's batch stride may be 0 (broadcast).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Batched<T>(int batch, int m, int n, int k, T* a, long abs, long ars, long acs, T* b, long bbs, long brs, long bcs, T* c, long cbs, long crs, long ccs)
        where T : unmanaged, INumber<T>
    {
        if (batch == 0 || m == 0 || n == 0) return;
        long work = (long)m * n * k;
        bool threads = Environment.ProcessorCount > 1;
        if (batch > 1 && threads && work < ParallelWork && work * batch >= ParallelWork)
        {
            // Many small products: one per task, each single-threaded.
            nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
            Parallel.For(0, batch, i => Multiply(m, n, k,
                new Mat<T>((T*)pa + i * abs, ars, acs), new Mat<T>((T*)pb + i * bbs, brs, bcs), new Mat<T>((T*)pc + i * cbs, crs, ccs), parallel: false));
            return;
        }
        for (int i = 0; i < batch; i++)
            Multiply(m, n, k, new Mat<T>(a + i * abs, ars, acs), new Mat<T>(b + i * bbs, brs, bcs), new Mat<T>(c + i * cbs, crs, ccs),
                parallel: threads && work >= ParallelWork);
    }

    /// <summary>C = A · B for one matrix triple (C overwritten, not accumulated).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply<T>(int m, int n, int k, Mat<T> a, Mat<T> b, Mat<T> c, bool parallel) where T : unmanaged, INumber<T>
    {
        if (m == 0 || n == 0) return;
        if (c.Cs != 1 && c.Rs == 1 && n > 1)
        {
            // A column-major C is the transpose of a row-major one: Cᵀ = Bᵀ·Aᵀ keeps the vector stores dense.
            Multiply(n, m, k, new Mat<T>(b.P, b.Cs, b.Rs), new Mat<T>(a.P, a.Cs, a.Rs), new Mat<T>(c.P, c.Cs, c.Rs), parallel);
            return;
        }
        if (k == 0)
        {
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) c.P[i * c.Rs + j * c.Cs] = T.Zero;
            return;
        }
        if ((long)m * n * k <= SmallWork || (typeof(T) != typeof(float) && typeof(T) != typeof(double)))
        {
            Naive(m, n, k, a, b, c);
            return;
        }
        Blocked(m, n, k, a, b, c, parallel);
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Blocked<T>(int m, int n, int k, Mat<T> a, Mat<T> b, Mat<T> c, bool parallel) where T : unmanaged, INumber<T>
    {
        var s = ShapeFor<T>();
        int threads = parallel ? Environment.ProcessorCount : 1;
        int nc = Math.Min(s.NC, RoundUp(n, s.NR));
        int kcMax = Math.Min(s.KC, k);

        // Split the rows into blocks: at most MC high, and a multiple of the thread count so every
        // thread gets the same number of blocks.
        int icBlocks = (m + s.MC - 1) / s.MC;
        if (threads > 1) icBlocks = RoundUp(Math.Max(icBlocks, Math.Min(threads, (m + s.MR - 1) / s.MR)), threads);
        int mc = RoundUp((m + icBlocks - 1) / icBlocks, s.MR);
        icBlocks = (m + mc - 1) / mc;

        T[] bArr = ArrayPool<T>.Shared.Rent(kcMax * nc + 64 / Unsafe.SizeOf<T>());
        try
        {
            fixed (T* bRaw = bArr)
            {
                T* pb = Align64(bRaw);
                for (int jc = 0; jc < n; jc += nc)
                {
                    int ncur = Math.Min(nc, n - jc);
                    int panels = (ncur + s.NR - 1) / s.NR;
                    // Too few row blocks to feed the threads: also split the B panels between tasks.
                    int groups = threads > 1 && icBlocks < 2 * threads ? Math.Min(panels, (2 * threads + icBlocks - 1) / icBlocks) : 1;
                    int perGroup = (panels + groups - 1) / groups;
                    groups = (panels + perGroup - 1) / perGroup;
                    for (int pc = 0; pc < k; pc += kcMax)
                    {
                        int kc = Math.Min(kcMax, k - pc);
                        PackB(kc, ncur, s.NR, b.P + pc * b.Rs + jc * b.Cs, b.Rs, b.Cs, pb);
                        var job = new BlockJob<T>(a, c, s, m, mc, kc, pc, jc, ncur, perGroup, groups, pb, accumulate: pc > 0);
                        int tasks = icBlocks * groups;
                        if (tasks == 1) job.Run(0);
                        else if (threads > 1) Parallel.For(0, tasks, job.Run);
                        else for (int t = 0; t < tasks; t++) job.Run(t);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(bArr);
        }
    }

    /// <summary>One pass over a packed B block: task t packs its rows of A and runs the micro-kernels over its group of B panels.</summary>
    private sealed class BlockJob<T>(Mat<T> a, Mat<T> c, Shape s, int m, int mc, int kc, int pc, int jc, int ncur, int perGroup, int groups, T* pb, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t)
        {
            int ic = t / groups * mc, g = t % groups;
            int mcur = Math.Min(mc, m - ic);
            if (mcur <= 0) return;
            int rowPanels = (mcur + s.MR - 1) / s.MR;
            int panels = (ncur + s.NR - 1) / s.NR;
            int j0 = g * perGroup, j1 = Math.Min(panels, j0 + perGroup);
            T[] aArr = ArrayPool<T>.Shared.Rent(rowPanels * s.MR * kc + 64 / Unsafe.SizeOf<T>());
            try
            {
                fixed (T* aRaw = aArr)
                {
                    T* pa = Align64(aRaw);
                    PackA(mcur, kc, s.MR, a.P + ic * a.Rs + pc * a.Cs, a.Rs, a.Cs, pa);
                    for (int ir = 0; ir < rowPanels; ir++)
                    {
                        int i = ir * s.MR;
                        int mr = Math.Min(s.MR, mcur - i);
                        T* ap = pa + i * kc;
                        for (int jr = j0; jr < j1; jr++)
                        {
                            int j = jr * s.NR;
                            int nr = Math.Min(s.NR, ncur - j);
                            T* cp = c.P + (ic + i) * c.Rs + (jc + j) * c.Cs;
                            MicroKernel(kc, ap, pb + j * kc, cp, c.Rs, c.Cs, mr, nr, accumulate, s);
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<T>.Shared.Return(aArr);
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
    /// Packs an mc×kc block of A into MR-high panels, each laid out k-major ([kc][MR]) so the
    /// micro-kernel reads MR consecutive values per step; rows past mc are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA<T>(int mc, int kc, int MR, T* a, long rs, long cs, T* dst) where T : unmanaged, INumber<T>
    {
        for (int i0 = 0; i0 < mc; i0 += MR)
        {
            int rows = Math.Min(MR, mc - i0);
            T* d = dst + i0 * kc;
            T* src = a + i0 * rs;
            if (rows == MR && rs == 1)
            {
                // Column-contiguous A (a transposed operand): each k step is one dense copy.
                for (int p = 0; p < kc; p++)
                    new ReadOnlySpan<T>(src + p * cs, MR).CopyTo(new Span<T>(d + p * MR, MR));
                continue;
            }
            for (int r = 0; r < rows; r++)
            {
                T* row = src + r * rs;
                T* dr = d + r;
                if (cs == 1) for (int p = 0; p < kc; p++) dr[p * MR] = row[p];
                else for (int p = 0; p < kc; p++) dr[p * MR] = row[p * cs];
            }
            for (int r = rows; r < MR; r++)
                for (int p = 0; p < kc; p++) d[p * MR + r] = T.Zero;
        }
    }

    /// <summary>
    /// Packs a kc×nc block of B into NR-wide panels laid out [kc][NR]; columns past nc are zero so
    /// edge tiles run the same full-width kernel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB<T>(int kc, int nc, int NR, T* b, long rs, long cs, T* dst) where T : unmanaged, INumber<T>
    {
        for (int j0 = 0; j0 < nc; j0 += NR)
        {
            int cols = Math.Min(NR, nc - j0);
            T* d = dst + j0 * kc;
            T* src = b + j0 * cs;
            if (cs == 1)
            {
                for (int p = 0; p < kc; p++)
                {
                    new ReadOnlySpan<T>(src + p * rs, cols).CopyTo(new Span<T>(d + p * NR, cols));
                    for (int j = cols; j < NR; j++) d[p * NR + j] = T.Zero;
                }
                continue;
            }
            for (int j = 0; j < cols; j++)
            {
                T* col = src + j * cs;
                T* dc = d + j;
                if (rs == 1) for (int p = 0; p < kc; p++) dc[p * NR] = col[p];
                else for (int p = 0; p < kc; p++) dc[p * NR] = col[p * rs];
            }
            for (int j = cols; j < NR; j++)
                for (int p = 0; p < kc; p++) d[p * NR + j] = T.Zero;
        }
    }

    private static int RoundUp(int x, int m) => (x + m - 1) / m * m;

    private static T* Align64<T>(T* p) where T : unmanaged => (T*)(((nint)p + 63) & ~(nint)63);
}
