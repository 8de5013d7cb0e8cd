using System.Numerics;
using System.Runtime.CompilerServices;
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
internal static partial class IlgpuKernels
{
    /// <summary>Largest group the row-parallel kernels (one group per row) run with: their shared scratch is sized for it.</summary>
    internal const int RowGroupMax = 256;

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

    /// <summary><see cref="Copy{TIn, TOut, TConv}"/> of dense operands (views start at their offsets): no index arithmetic.</summary>
    [Kernel]
    public static void CopyDense<TIn, TOut, TConv>(Index1D i, ArrayView<TIn> x, ArrayView<TOut> y)
        where TIn : unmanaged, INumber<TIn> where TOut : unmanaged, INumber<TOut> where TConv : struct, IConvert<TIn, TOut>
    {
        y[i] = default(TConv).Convert(x[i]);
    }

    // ---- elementwise -------------------------------------------------------------------------

    // The *Dense forms (Binary here, Unary in IlgpuBackend.Unary.cs) serve the common case where every
    // operand is one contiguous run (the host passes views already starting at their offsets): on a GPU
    // the strided forms' coordinate arithmetic (up to eight 64-bit multiply-adds per operand) costs
    // two thirds of a+b's bandwidth.

    [Kernel]
    public static void BinaryDense<T, TOp>(Index1D i, ArrayView<T> a, ArrayView<T> b, ArrayView<T> y)
        where T : unmanaged, INumber<T> where TOp : struct, IBinaryOp<T>
    {
        y[i] = default(TOp).Apply(a[i], b[i]);
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

    /// <summary>Numerically stable (log-)softmax along N, one thread per (o, i) row: max (NaN propagates), Σexp(x − max), then write.</summary>
    [Kernel]
    public static void Softmax<T, TM>(Index1D t, ArrayView<T> x, ArrayView<T> y, Rows r, Axis3 ax, Axis3 ay, int log)
        where T : unmanaged, INumber<T> where TM : struct, IExpLog<T>
    {
        int i = t % r.Inner;
        int o = t / r.Inner;
        T m = x[ax.At(o, 0, i)];
        for (int j = 1; j < r.N; j++) m = default(MaxRed<T>).Combine(m, x[ax.At(o, j, i)]);
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

    // ---- one group per row -------------------------------------------------------------------
    // Long rows: a group of G threads (a power of two ≤ RowGroupMax, = Group.DimX) per (o, i) row.
    // Thread t folds elements t, t + G, t + 2G, … (neighbouring threads read neighbouring elements),
    // then a shared-memory tree halves the G partials in log₂G barrier-separated steps. No atomics,
    // warp shuffles or Group.Reduce, so it builds for every OpenCL device (PoCL included); the order
    // of operations is fixed, so results are deterministic. The host launches these only when N ≥ G,
    // so every thread owns at least one element. Grid = rows groups.

    /// <summary>Sum / Max / Min of each row, one group per row.</summary>
    [Kernel(Grouped = true)]
    public static void ReduceRows<T, TRed>(ArrayView<T> x, ArrayView<T> y, Rows r, Axis3 ax, Axis3 ay)
        where T : unmanaged, INumber<T> where TRed : struct, IReduceOp<T>
    {
        var sh = SharedMemory.Allocate<T>(RowGroupMax);
        int tid = Group.IdxX, gs = Group.DimX;
        int row = Grid.IdxX;
        int i = row % r.Inner, o = row / r.Inner;
        T acc = x[ax.At(o, tid, i)];
        for (int j = tid + gs; j < r.N; j += gs) acc = default(TRed).Combine(acc, x[ax.At(o, j, i)]);
        sh[tid] = acc;
        Group.Barrier();
        for (int s = gs / 2; s > 0; s /= 2)
        {
            if (tid < s) sh[tid] = default(TRed).Combine(sh[tid], sh[tid + s]);
            Group.Barrier();
        }
        if (tid == 0) y[ay.At(o, 0, i)] = sh[0];
    }

    /// <summary>ArgMax / ArgMin of each row, one group per row; ties (and NaN against NaN) go to the smaller index.</summary>
    [Kernel(Grouped = true)]
    public static void ArgReduceRows<T, TCmp>(ArrayView<T> x, ArrayView<int> y, Rows r, Axis3 ax, Axis3 ay)
        where T : unmanaged, INumber<T> where TCmp : struct, IArgOp<T>
    {
        var sv = SharedMemory.Allocate<T>(RowGroupMax);
        var si = SharedMemory.Allocate<int>(RowGroupMax);
        int tid = Group.IdxX, gs = Group.DimX;
        int row = Grid.IdxX;
        int i = row % r.Inner, o = row / r.Inner;
        T best = x[ax.At(o, tid, i)];
        int bestJ = tid;
        for (int j = tid + gs; j < r.N; j += gs)
        {
            T v = x[ax.At(o, j, i)];
            if (default(TCmp).Better(v, best)) { best = v; bestJ = j; }
        }
        sv[tid] = best;
        si[tid] = bestJ;
        Group.Barrier();
        for (int s = gs / 2; s > 0; s /= 2)
        {
            if (tid < s)
            {
                T v = sv[tid + s], mine = sv[tid];
                int j = si[tid + s];
                if (default(TCmp).Better(v, mine) || (!default(TCmp).Better(mine, v) && j < si[tid]))
                {
                    sv[tid] = v;
                    si[tid] = j;
                }
            }
            Group.Barrier();
        }
        if (tid == 0) y[ay.At(o, 0, i)] = si[0];
    }

    /// <summary>Max then Σexp(x − max) of row (o, i) by the group, in that order; every thread returns both.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (T Max, T Sum) RowMaxAndSum<T, TM>(ArrayView<T> x, ArrayView<T> sh, in Rows r, in Axis3 ax, int o, int i, int tid, int gs)
        where T : unmanaged, INumber<T> where TM : struct, IExpLog<T>
    {
        T m = x[ax.At(o, tid, i)];
        for (int j = tid + gs; j < r.N; j += gs) m = default(MaxRed<T>).Combine(m, x[ax.At(o, j, i)]);
        sh[tid] = m;
        Group.Barrier();
        for (int s = gs / 2; s > 0; s /= 2)
        {
            if (tid < s) sh[tid] = default(MaxRed<T>).Combine(sh[tid], sh[tid + s]);
            Group.Barrier();
        }
        m = sh[0];
        Group.Barrier(); // everyone has read the maximum before the scratch is reused
        T sum = T.Zero;
        for (int j = tid; j < r.N; j += gs) sum += default(TM).Exp(x[ax.At(o, j, i)] - m);
        sh[tid] = sum;
        Group.Barrier();
        for (int s = gs / 2; s > 0; s /= 2)
        {
            if (tid < s) sh[tid] = sh[tid] + sh[tid + s];
            Group.Barrier();
        }
        return (m, sh[0]);
    }

    /// <summary>(Log-)softmax of each row, one group per row: the group finds the maximum and Σexp(x − max), then every thread writes its elements.</summary>
    [Kernel(Grouped = true)]
    public static void SoftmaxRows<T, TM>(ArrayView<T> x, ArrayView<T> y, Rows r, Axis3 ax, Axis3 ay, int log)
        where T : unmanaged, INumber<T> where TM : struct, IExpLog<T>
    {
        var sh = SharedMemory.Allocate<T>(RowGroupMax);
        int tid = Group.IdxX, gs = Group.DimX;
        int row = Grid.IdxX;
        int i = row % r.Inner, o = row / r.Inner;
        var (m, s) = RowMaxAndSum<T, TM>(x, sh, r, ax, o, i, tid, gs);
        if (log != 0)
        {
            T ls = default(TM).Log(s);
            for (int j = tid; j < r.N; j += gs) y[ay.At(o, j, i)] = (x[ax.At(o, j, i)] - m) - ls;
        }
        else
        {
            T inv = T.One / s;
            for (int j = tid; j < r.N; j += gs) y[ay.At(o, j, i)] = default(TM).Exp(x[ax.At(o, j, i)] - m) * inv;
        }
    }

    // ---- fused softmax cross-entropy -----------------------------------------------------------------
    // Rows r = [Outer = rows, N = classes, Inner = 1]; ax / ag address logits / gradient as (row, class, 0),
    // al / aloss address labels / losses as (row, 0, 0). Formulas and rounding order are those of the
    // composed default body: logp = (x − max) − log Σexp(x − max), loss = −logp[label],
    // gradient = exp(logp) − onehot(label). A label outside [0, classes) gives a NaN loss (and no −1).

    /// <summary>Softmax cross-entropy (and optionally its gradient), one thread per row: the short-row path.</summary>
    [Kernel]
    public static void SoftmaxXent<T, TM>(Index1D t, ArrayView<T> x, ArrayView<int> labels, ArrayView<T> loss, ArrayView<T> grad, Rows r, Axis3 ax, Axis3 al, Axis3 aloss, Axis3 ag, int writeGrad, int useIgnore, int ignoreIndex)
        where T : unmanaged, INumber<T> where TM : struct, IExpLog<T>
    {
        int o = t;
        if (useIgnore != 0 && labels[al.At(o, 0, 0)] == ignoreIndex)
        {
            // An ignored row: loss 0 and a zero gradient row.
            loss[aloss.At(o, 0, 0)] = T.Zero;
            if (writeGrad != 0)
                for (int j = 0; j < r.N; j++) grad[ag.At(o, j, 0)] = T.Zero;
            return;
        }
        T m = x[ax.At(o, 0, 0)];
        for (int j = 1; j < r.N; j++) m = default(MaxRed<T>).Combine(m, x[ax.At(o, j, 0)]);
        T s = T.Zero;
        for (int j = 0; j < r.N; j++) s += default(TM).Exp(x[ax.At(o, j, 0)] - m);
        T ls = default(TM).Log(s);
        int label = labels[al.At(o, 0, 0)];
        T xl = label >= 0 && label < r.N ? x[ax.At(o, label, 0)] : T.Zero / T.Zero;
        loss[aloss.At(o, 0, 0)] = -((xl - m) - ls);
        if (writeGrad == 0) return;
        for (int j = 0; j < r.N; j++)
        {
            T p = default(TM).Exp((x[ax.At(o, j, 0)] - m) - ls);
            p = FlushSubnormal(p, default(TM).MinNormal);
            grad[ag.At(o, j, 0)] = j == label ? p + -T.One : p;
        }
    }

    /// <summary>Softmax cross-entropy (and optionally its gradient), one group per row: the long-row path.</summary>
    [Kernel(Grouped = true)]
    public static void SoftmaxXentRows<T, TM>(ArrayView<T> x, ArrayView<int> labels, ArrayView<T> loss, ArrayView<T> grad, Rows r, Axis3 ax, Axis3 al, Axis3 aloss, Axis3 ag, int writeGrad, int useIgnore, int ignoreIndex)
        where T : unmanaged, INumber<T> where TM : struct, IExpLog<T>
    {
        var sh = SharedMemory.Allocate<T>(RowGroupMax);
        int tid = Group.IdxX, gs = Group.DimX;
        int o = Grid.IdxX;
        // The whole group reduces every row (its barriers need every thread), ignored or not.
        var (m, s) = RowMaxAndSum<T, TM>(x, sh, r, ax, o, 0, tid, gs);
        T ls = default(TM).Log(s);
        int label = labels[al.At(o, 0, 0)];
        if (useIgnore != 0 && label == ignoreIndex)
        {
            if (tid == 0) loss[aloss.At(o, 0, 0)] = T.Zero;
            if (writeGrad != 0)
                for (int j = tid; j < r.N; j += gs) grad[ag.At(o, j, 0)] = T.Zero;
            return;
        }
        if (tid == 0)
        {
            T xl = label >= 0 && label < r.N ? x[ax.At(o, label, 0)] : T.Zero / T.Zero;
            loss[aloss.At(o, 0, 0)] = -((xl - m) - ls);
        }
        if (writeGrad == 0) return;
        for (int j = tid; j < r.N; j += gs)
        {
            T p = default(TM).Exp((x[ax.At(o, j, 0)] - m) - ls);
            p = FlushSubnormal(p, default(TM).MinNormal);
            grad[ag.At(o, j, 0)] = j == label ? p + -T.One : p;
        }
    }

    // ---- fused optimizer step ------------------------------------------------------------------

    /// <summary>
    /// One Adam / AdamW update of one element, in place, in one launch: the composed default body's
    /// thirteen launches, operation for operation (same roundings, so the same bits where no FMA is
    /// contracted): g' = wd·p + g (Adam) or p = (1 − lr·wd)·p (AdamW); m = β₁m + (1−β₁)g';
    /// v = β₂v + (1−β₂)g'²; p = p + (−lr/bc₁)·(m / ((1/√bc₂)·√v + ε)), with subnormal m and v stored as zero.
    /// </summary>
    [Kernel]
    public static void AdamStep<T, TF>(Index1D i, ArrayView<T> p, ArrayView<T> g, ArrayView<T> m, ArrayView<T> v, Dims8 d, Strides8 sp, Strides8 sg, Strides8 sm, Strides8 sv, AdamScalars h)
        where T : unmanaged, INumber<T> where TF : struct, IFloatMath<T>
    {
        var c = Geo.Decompose(i, d);
        long op = Geo.At(c, sp), om = Geo.At(c, sm), ov = Geo.At(c, sv);
        TF f = default;
        T pv = p[op], gv = g[Geo.At(c, sg)];
        if (h.Mode == 1) gv = f.From(h.WeightDecay) * pv + gv;
        else if (h.Mode == 2) pv = f.From(h.Decay) * pv;
        T mv = f.From(h.Beta1) * m[om] + f.From(h.OneMinusBeta1) * gv;
        T vv = f.From(h.Beta2) * v[ov] + f.From(h.OneMinusBeta2) * (gv * gv);
        mv = FlushSubnormal(mv, f.From(h.Tiny));
        vv = FlushSubnormal(vv, f.From(h.Tiny));
        T den = f.From(h.InvSqrtBc2) * f.Sqrt(vv) + f.From(h.Epsilon);
        m[om] = mv;
        v[ov] = vv;
        p[op] = pv + f.From(h.Step) * (mv / den);
    }

    /// <summary>
    /// One SGD-with-momentum update of one element, in place: d = wd·p + g; b = d on the first step,
    /// else b = μ·b + (1−τ)·d, a subnormal b stored as zero; p = p + (−lr)·(d + μ·b) (Nesterov) or p + (−lr)·b.
    /// </summary>
    [Kernel]
    public static void SgdMomentumStep<T, TF>(Index1D i, ArrayView<T> p, ArrayView<T> g, ArrayView<T> b, Dims8 d, Strides8 sp, Strides8 sg, Strides8 sb, SgdScalars h)
        where T : unmanaged, INumber<T> where TF : struct, IFloatMath<T>
    {
        var c = Geo.Decompose(i, d);
        long op = Geo.At(c, sp), ob = Geo.At(c, sb);
        TF f = default;
        T pv = p[op];
        T gv = g[Geo.At(c, sg)];
        if (h.WeightDecay != 0) gv = f.From(h.WeightDecay) * pv + gv;
        T bv = h.FirstStep != 0 ? gv : f.From(h.Momentum) * b[ob] + f.From(h.GradScale) * gv;
        bv = FlushSubnormal(bv, f.From(h.Tiny));
        b[ob] = bv;
        T step = h.Nesterov != 0 ? gv + f.From(h.Momentum) * bv : bv;
        p[op] = pv + f.From(-h.LearningRate) * step;
    }

    /// <summary>
    /// dz = g · activation′ with the derivative written in terms of the activation's output y, or of its
    /// input for GELU and SiLU (<see cref="Activation"/> as an <see cref="Act"/> code; see <see cref="Act.Slope(float, int)"/>).
    /// The bias gradient, a sum over rows, is left to the Reduce kernels.
    /// </summary>
    [Kernel]
    public static void ActivationGrad<T, TAct>(Index1D i, ArrayView<T> g, ArrayView<T> y, ArrayView<T> dz, Dims8 d, Strides8 sg, Strides8 sy, Strides8 sz, int activation)
        where T : unmanaged, INumber<T> where TAct : struct, IActivationSlope<T>
    {
        var c = Geo.Decompose(i, d);
        dz[Geo.At(c, sz)] = g[Geo.At(c, sg)] * default(TAct).Slope(y[Geo.At(c, sy)], activation);
    }

    /// <summary>
    /// One RMSProp update of one element, in place, as the composed body computes it: d = wd·p + g;
    /// s = α·s + (1−α)·d²; a = α·a + (1−α)·d when centered; r = d / (√(s − a²) or √s, + ε);
    /// b = μ·b + r and p = p + (−lr)·b with momentum, else p = p + (−lr)·r. Updated state is flushed.
    /// Views a and b are stand-ins (never touched) when their flag is off.
    /// </summary>
    [Kernel]
    public static void RmsPropStep<T, TF>(Index1D i, ArrayView<T> p, ArrayView<T> g, ArrayView<T> s, ArrayView<T> a, ArrayView<T> b,
        Dims8 d, Strides8 sp, Strides8 sg, Strides8 ss, Strides8 sa, Strides8 sb, RmsScalars h)
        where T : unmanaged, INumber<T> where TF : struct, IFloatMath<T>
    {
        var c = Geo.Decompose(i, d);
        long op = Geo.At(c, sp), os = Geo.At(c, ss);
        TF f = default;
        T tiny = f.From(h.Tiny);
        T pv = p[op], dv = g[Geo.At(c, sg)];
        if (h.WeightDecay != 0) dv = f.From(h.WeightDecay) * pv + dv;
        T sv = FlushSubnormal(f.From(h.Alpha) * s[os] + f.From(h.OneMinusAlpha) * (dv * dv), tiny);
        s[os] = sv;
        T den;
        if (h.Centered != 0)
        {
            long oa = Geo.At(c, sa);
            T av = FlushSubnormal(f.From(h.Alpha) * a[oa] + f.From(h.OneMinusAlpha) * dv, tiny);
            a[oa] = av;
            den = f.Sqrt(sv - av * av);
        }
        else den = f.Sqrt(sv);
        T r = dv / (den + f.From(h.Epsilon));
        if (h.HasMomentum != 0)
        {
            long ob = Geo.At(c, sb);
            T bv = FlushSubnormal(f.From(h.Momentum) * b[ob] + r, tiny);
            b[ob] = bv;
            r = bv;
        }
        p[op] = pv + f.From(-h.LearningRate) * r;
    }

    /// <summary>Zero for |x| below <paramref name="tiny"/> (the smallest normal number); NaN and ±∞ pass.</summary>
    private static T FlushSubnormal<T>(T x, T tiny) where T : unmanaged, INumber<T> => x < tiny && -tiny < x ? T.Zero : x;

    // ---- matmul ------------------------------------------------------------------------------

    /// <summary>
    /// c[b] = act(a[b]·b[b] + bias), classic shared-memory tiling: a TILE×TILE group computes a TILE×TILE block
    /// of c, staging one TILE×TILE slice of a and of b per step. Grid = (⌈N/T⌉, ⌈M/T⌉, batch).
    /// Strided loads serve transposed and broadcast operands directly. Out-of-range lanes load zeros
    /// and still reach every barrier (the loop bound is uniform across the group). The small-matrix
    /// path, and the one that fits any group size (2×2 on the CPU accelerator).
    /// </summary>
    [Kernel(Grouped = true)]
    public static void MatMul<T, TTile, TAct>(ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, MatGeom g, ArrayView<T> bias, Axis3 ab, int hasBias, int act)
        where T : unmanaged, INumber<T> where TTile : struct, ITile where TAct : struct, IActivation<T>
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
        GemmStore<T, TAct>(c, g, bias, ab, hasBias, act, batch, row, col, acc);
    }

    // Helpers of the register-tiled kernels (IlgpuKernels.Gemm.g.cs). Element e of a slice of a
    // (bm rows × bk columns) or of b (bk rows × bn columns) maps to a (row, k) / (k, column) pair
    // so that consecutive threads walk the operand's contiguous axis; slots are k-major with a
    // padded leading dimension ld.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T GemmLoadA<T>(ArrayView<T> a, in MatGeom g, bool alongM, int batch, int row0, int k0, int e, int bm, int bk)
        where T : unmanaged, INumber<T>
    {
        int r = alongM ? e % bm : e / bk;
        int kk = alongM ? e / bm : e % bk;
        int row = row0 + r, k = k0 + kk;
        return row < g.M && k < g.K ? a[g.A.At(batch, row, k)] : T.Zero;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int GemmSlotA(bool alongM, int e, int bm, int bk, int ld) =>
        alongM ? (e / bm) * ld + e % bm : (e % bk) * ld + e / bk;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T GemmLoadB<T>(ArrayView<T> b, in MatGeom g, bool alongK, int batch, int col0, int k0, int e, int bn, int bk)
        where T : unmanaged, INumber<T>
    {
        int kk = alongK ? e % bk : e / bn;
        int q = alongK ? e / bk : e % bn;
        int k = k0 + kk, col = col0 + q;
        return k < g.K && col < g.N ? b[g.B.At(batch, k, col)] : T.Zero;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int GemmSlotB(bool alongK, int e, int bn, int bk, int ld) =>
        alongK ? (e % bk) * ld + e / bk : (e / bn) * ld + e % bn;

    /// <summary>The epilogue: c[batch, row, col] = act(v + bias[batch, row, col]) inside the matrix, nothing outside.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void GemmStore<T, TAct>(ArrayView<T> c, in MatGeom g, ArrayView<T> bias, in Axis3 ab, int hasBias, int act, int batch, int row, int col, T v)
        where T : unmanaged, INumber<T> where TAct : struct, IActivation<T>
    {
        if (row < g.M && col < g.N)
        {
            if (hasBias != 0) v += bias[ab.At(batch, row, col)];
            c[g.C.At(batch, row, col)] = default(TAct).Apply(v, act);
        }
    }

    /// <summary>c = act(c + bias) in place: the epilogue of a GEMM that cannot fuse one (cuBLAS).</summary>
    [Kernel]
    public static void BiasAct<T, TAct>(Index1D i, ArrayView<T> c, ArrayView<T> bias, Dims8 d, Strides8 sc, Strides8 sb, int hasBias, int act)
        where T : unmanaged, INumber<T> where TAct : struct, IActivation<T>
    {
        var co = Geo.Decompose(i, d);
        long o = Geo.At(co, sc);
        T v = c[o];
        if (hasBias != 0) v += bias[Geo.At(co, sb)];
        c[o] = default(TAct).Apply(v, act);
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
