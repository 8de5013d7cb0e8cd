using System.Numerics;
using ILGPU;

namespace GpuNet.Kernels.Ilgpu;

/// <summary>Marks a method of <see cref="IlgpuKernels"/> as a kernel, so the registry (and the PTX / OpenCL codegen tests) find it.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class KernelAttribute : Attribute
{
    /// <summary>True for explicitly grouped kernels (launched with a <c>KernelConfig</c>, using shared memory and barriers).</summary>
    public bool Grouped { get; init; }
}

/// <summary>
/// Every ILGPU kernel of GpuNet. One source for CUDA, OpenCL and the CPU accelerator, so the rules
/// are the strictest backend's: no arrays or references in parameters (geometry travels in
/// fixed-field structs), no exceptions, no atomics / warp shuffles / group reductions (PoCL cannot
/// build them), only shared memory and barriers. Implicitly grouped kernels run one thread per
/// output element; the backend guarantees every index they compute is inside the buffer.
/// </summary>
internal static class IlgpuKernels
{
    // ---- fills and copies --------------------------------------------------------------------

    [Kernel]
    public static void Fill<T>(Index1D i, ArrayView<T> y, Dims8 d, Strides8 sy, T value)
        where T : unmanaged, INumber<T>
    {
        y[Geo.At(Geo.Decompose(i, d), sy)] = value;
    }

    /// <summary>y[k] = start + k·step in row-major order, computed in double then converted (exact integers for Arange).</summary>
    [Kernel]
    public static void FillAffine<T, TConv>(Index1D i, ArrayView<T> y, Dims8 d, Strides8 sy, double start, double step)
        where T : unmanaged, INumber<T> where TConv : struct, IConvert<double, T>
    {
        y[Geo.At(Geo.Decompose(i, d), sy)] = default(TConv).Convert(start + step * (int)i);
    }

    /// <summary>Element k (row-major) draws from Philox counter <c>counterOffset + k</c> under key (k0, k1).</summary>
    [Kernel]
    public static void FillRandom<T, TDist>(Index1D i, ArrayView<T> y, Dims8 d, Strides8 sy, uint k0, uint k1, ulong counterOffset, T alpha, T beta)
        where T : unmanaged, INumber<T> where TDist : struct, IRandomDist<T>
    {
        ulong c = counterOffset + (ulong)(int)i;
        var block = Philox.Generate((uint)c, (uint)(c >> 32), 0u, 0u, k0, k1);
        y[Geo.At(Geo.Decompose(i, d), sy)] = default(TDist).Sample(block, alpha, beta);
    }

    [Kernel]
    public static void Copy<TIn, TOut, TConv>(Index1D i, ArrayView<TIn> x, ArrayView<TOut> y, Dims8 d, Strides8 sx, Strides8 sy)
        where TIn : unmanaged, INumber<TIn> where TOut : unmanaged, INumber<TOut> where TConv : struct, IConvert<TIn, TOut>
    {
        var c = Geo.Decompose(i, d);
        y[Geo.At(c, sy)] = default(TConv).Convert(x[Geo.At(c, sx)]);
    }

    // ---- elementwise -------------------------------------------------------------------------

    [Kernel]
    public static void Unary<T, TOp>(Index1D i, ArrayView<T> x, ArrayView<T> y, Dims8 d, Strides8 sx, Strides8 sy, T alpha, T beta)
        where T : unmanaged, INumber<T> where TOp : struct, IUnaryOp<T>
    {
        var c = Geo.Decompose(i, d);
        y[Geo.At(c, sy)] = default(TOp).Apply(x[Geo.At(c, sx)], alpha, beta);
    }

    [Kernel]
    public static void Binary<T, TOp>(Index1D i, ArrayView<T> a, ArrayView<T> b, ArrayView<T> y, Dims8 d, Strides8 sa, Strides8 sb, Strides8 sy)
        where T : unmanaged, INumber<T> where TOp : struct, IBinaryOp<T>
    {
        var c = Geo.Decompose(i, d);
        y[Geo.At(c, sy)] = default(TOp).Apply(a[Geo.At(c, sa)], b[Geo.At(c, sb)]);
    }

    [Kernel]
    public static void Where<TC, T>(Index1D i, ArrayView<TC> cond, ArrayView<T> a, ArrayView<T> b, ArrayView<T> y, Dims8 d, Strides8 sc, Strides8 sa, Strides8 sb, Strides8 sy)
        where TC : unmanaged, INumber<TC> where T : unmanaged, INumber<T>
    {
        var c = Geo.Decompose(i, d);
        // Read only the chosen operand: half the loads, and a masked-out element is never touched.
        long o = Geo.At(c, sy);
        if (cond[Geo.At(c, sc)] != TC.Zero) y[o] = a[Geo.At(c, sa)];
        else y[o] = b[Geo.At(c, sb)];
    }

    // ---- reductions --------------------------------------------------------------------------

    /// <summary>
    /// One thread per (o, p, i): folds x[o, j, i] for j = p, p + M, p + 2M, … &lt; N into y[o, p, i]
    /// (M = r.M partial lanes). With M = 1 this is the whole reduction; with several it is the first
    /// pass of the split used when there are few, long rows (sum of everything). Interleaving the
    /// lanes rather than giving each a contiguous chunk makes neighbouring threads read neighbouring
    /// elements (coalesced on a GPU). The order of additions is fixed, so results are deterministic.
    /// </summary>
    [Kernel]
    public static void Reduce<T, TRed>(Index1D t, ArrayView<T> x, ArrayView<T> y, Rows r, Axis3 ax, Axis3 ay)
        where T : unmanaged, INumber<T> where TRed : struct, IReduceOp<T>
    {
        int i = t % r.Inner;
        int rest = t / r.Inner;
        int p = rest % r.M;
        int o = rest / r.M;
        T acc = T.Zero;
        if (p < r.N)
        {
            acc = x[ax.At(o, p, i)];
            for (int j = p + r.M; j < r.N; j += r.M) acc = default(TRed).Combine(acc, x[ax.At(o, j, i)]);
        }
        y[ay.At(o, p, i)] = acc;
    }

    /// <summary>
    /// ArgMax/ArgMin over interleaved lanes, like <see cref="Reduce{T, TRed}"/>: writes the lane's
    /// winning index to idx[o, p, i] and, when <paramref name="writeValues"/> ≠ 0, its value to
    /// vals[o, p, i] for the second pass. Requires p &lt; N (the host never makes more lanes than N).
    /// </summary>
    [Kernel]
    public static void ArgReduce<T, TCmp>(Index1D t, ArrayView<T> x, ArrayView<T> vals, ArrayView<int> idx, Rows r, Axis3 ax, Axis3 av, Axis3 aidx, int writeValues)
        where T : unmanaged, INumber<T> where TCmp : struct, IArgOp<T>
    {
        int i = t % r.Inner;
        int rest = t / r.Inner;
        int p = rest % r.M;
        int o = rest / r.M;
        T best = x[ax.At(o, p, i)];
        int bestJ = p;
        for (int j = p + r.M; j < r.N; j += r.M)
        {
            T v = x[ax.At(o, j, i)];
            if (default(TCmp).Better(v, best)) { best = v; bestJ = j; }
        }
        idx[aidx.At(o, p, i)] = bestJ;
        if (writeValues != 0) vals[av.At(o, p, i)] = best;
    }

    /// <summary>
    /// Second pass of a split ArgMax/ArgMin: vals/idx are dense [Outer, M, Inner]. Lanes interleave,
    /// so on a tie (equal values, or both NaN) the smaller index wins: the first extreme overall.
    /// </summary>
    [Kernel]
    public static void ArgFinish<T, TCmp>(Index1D t, ArrayView<T> vals, ArrayView<int> idx, ArrayView<int> y, Rows r, Axis3 ay)
        where T : unmanaged, INumber<T> where TCmp : struct, IArgOp<T>
    {
        int i = t % r.Inner;
        int o = t / r.Inner;
        long baseOffset = (long)o * r.M * r.Inner + i;
        T best = vals[baseOffset];
        int bestJ = idx[baseOffset];
        for (int p = 1; p < r.M; p++)
        {
            long k = baseOffset + (long)p * r.Inner;
            T v = vals[k];
            int j = idx[k];
            if (default(TCmp).Better(v, best) || (!default(TCmp).Better(best, v) && j < bestJ)) { best = v; bestJ = j; }
        }
        y[ay.At(o, 0, i)] = bestJ;
    }

    /// <summary>Numerically stable (log-)softmax along N, one thread per (o, i) row: max, Σexp(x − max), then write.</summary>
    [Kernel]
    public static void Softmax<T, TM>(Index1D t, ArrayView<T> x, ArrayView<T> y, Rows r, Axis3 ax, Axis3 ay, int log)
        where T : unmanaged, INumber<T> where TM : struct, IExpLog<T>
    {
        int i = t % r.Inner;
        int o = t / r.Inner;
        T m = x[ax.At(o, 0, i)];
        for (int j = 1; j < r.N; j++)
        {
            T v = x[ax.At(o, j, i)];
            if (v > m) m = v;
        }
        T s = T.Zero;
        for (int j = 0; j < r.N; j++) s += default(TM).Exp(x[ax.At(o, j, i)] - m);
        if (log != 0)
        {
            // (x − m) − log s, not x − (m + log s): with large logits m + log s rounds at m's
            // magnitude, while x − m is exact near the maximum.
            T ls = default(TM).Log(s);
            for (int j = 0; j < r.N; j++) y[ay.At(o, j, i)] = (x[ax.At(o, j, i)] - m) - ls;
        }
        else
        {
            T inv = T.One / s;
            for (int j = 0; j < r.N; j++) y[ay.At(o, j, i)] = default(TM).Exp(x[ax.At(o, j, i)] - m) * inv;
        }
    }

    // ---- matmul ------------------------------------------------------------------------------

    /// <summary>
    /// c[b] = a[b]·b[b], classic shared-memory tiling: a TILE×TILE group computes a TILE×TILE block
    /// of c, staging one TILE×TILE slice of a and of b per step. Grid = (⌈N/T⌉, ⌈M/T⌉, batch).
    /// Strided loads serve transposed and broadcast operands directly. Out-of-range lanes load zeros
    /// and still reach every barrier (the loop bound is uniform across the group).
    /// </summary>
    [Kernel(Grouped = true)]
    public static void MatMul<T, TTile>(ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, MatGeom g)
        where T : unmanaged, INumber<T> where TTile : struct, ITile
    {
        var sa = SharedMemory.Allocate<T>(default(TTile).Size * default(TTile).Size);
        var sb = SharedMemory.Allocate<T>(default(TTile).Size * default(TTile).Size);
        int ts = default(TTile).Size;
        int tx = Group.IdxX, ty = Group.IdxY;
        int col = Grid.IdxX * ts + tx;
        int row = Grid.IdxY * ts + ty;
        int batch = Grid.IdxZ;
        T acc = T.Zero;
        for (int k0 = 0; k0 < g.K; k0 += ts)
        {
            T va = T.Zero, vb = T.Zero;
            if (row < g.M && k0 + tx < g.K) va = a[g.A.At(batch, row, k0 + tx)];
            if (k0 + ty < g.K && col < g.N) vb = b[g.B.At(batch, k0 + ty, col)];
            sa[ty * ts + tx] = va;
            sb[ty * ts + tx] = vb;
            Group.Barrier();
            for (int q = 0; q < ts; q++) acc += sa[ty * ts + q] * sb[q * ts + tx];
            Group.Barrier();
        }
        if (row < g.M && col < g.N) c[g.C.At(batch, row, col)] = acc;
    }

    // ---- indexing ----------------------------------------------------------------------------

    /// <summary>y[o, j, i] = x[o, index[o, j, i], i]; an index outside [0, N) yields 0 instead of a wild read.</summary>
    [Kernel]
    public static void Gather<T>(Index1D t, ArrayView<T> x, ArrayView<int> index, ArrayView<T> y, Rows r, Axis3 ax, Axis3 aidx, Axis3 ay)
        where T : unmanaged, INumber<T>
    {
        int i = t % r.Inner;
        int rest = t / r.Inner;
        int j = rest % r.M;
        int o = rest / r.M;
        int k = index[aidx.At(o, j, i)];
        T v = T.Zero;
        if (k >= 0 && k < r.N) v = x[ax.At(o, k, i)];
        y[ay.At(o, j, i)] = v;
    }

    /// <summary>
    /// y[o, k, i] += Σ_j [index[o, j, i] = k] · src[o, j, i], one thread per output element looping
    /// over j in order: deterministic and free of atomics (so it builds on PoCL), at O(N·M) work.
    /// </summary>
    [Kernel]
    public static void ScatterAdd<T>(Index1D t, ArrayView<T> src, ArrayView<int> index, ArrayView<T> y, Rows r, Axis3 asrc, Axis3 aidx, Axis3 ay)
        where T : unmanaged, INumber<T>
    {
        int i = t % r.Inner;
        int rest = t / r.Inner;
        int k = rest % r.N;
        int o = rest / r.N;
        T s = T.Zero;
        bool any = false;
        for (int j = 0; j < r.M; j++)
        {
            if (index[aidx.At(o, j, i)] == k) { s += src[asrc.At(o, j, i)]; any = true; }
        }
        // Untouched outputs are not rewritten, so -0 and NaN already in y survive as they would with no scatter.
        if (any) y[ay.At(o, k, i)] += s;
    }

}
