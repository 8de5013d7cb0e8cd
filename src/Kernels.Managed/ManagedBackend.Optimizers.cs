using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace GpuNet.Kernels.Managed;

internal sealed unsafe partial class ManagedBackend
{
    /// <inheritdoc />
    /// <remarks>Dense same-layout operands take one fused multiply-add pass; anything else the scaled-copy-then-add path.</remarks>
    public void AddScaled(StridedView y, StridedView x, double alpha)
    {
        const string op = "AddScaled";
        CheckView(y, op);
        CheckView(x, op);
        CheckSameDType(op, x, y);
        if (y.Count == 0) return;
        bool dense = y.IsContiguous && x.IsContiguous && x.Count == y.Count;
        if (dense && y.DType == DType.Float32)
        {
            var ys = Ptr<float>(y);
            var span = new Span<float>(ys, checked((int)y.Count));
            TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(Ptr<float>(x), span.Length), (float)alpha, span, span);
            return;
        }
        if (dense && y.DType == DType.Float64)
        {
            var span = new Span<double>(Ptr<double>(y), checked((int)y.Count));
            TensorPrimitives.MultiplyAdd(new ReadOnlySpan<double>(Ptr<double>(x), span.Length), alpha, span, span);
            return;
        }
        ComposedOps.AddScaled(this, y, x, alpha);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Dense operands go through in L1-sized blocks, all three updates per block, so memory is read
    /// once; other layouts take the composed passes.
    /// </remarks>
    public void SgdMomentumStep(StridedView param, StridedView grad, StridedView buffer, SgdParameters hp)
    {
        const string op = "SgdMomentumStep";
        CheckView(param, op);
        CheckView(grad, op);
        CheckView(buffer, op);
        CheckSameDType(op, param, grad);
        CheckSameDType(op, param, buffer);
        bool dense = param.IsContiguous && grad.IsContiguous && buffer.IsContiguous && grad.Count == param.Count && buffer.Count == param.Count;
        if (!dense || !param.DType.IsFloating())
        {
            ComposedOps.SgdMomentumStep(this, param, grad, buffer, hp);
            return;
        }
        int n = checked((int)param.Count);
        if (param.DType == DType.Float32) Sgd(Ptr<float>(param), Ptr<float>(grad), Ptr<float>(buffer), n, new SgdBlock<float>(hp));
        else Sgd(Ptr<double>(param), Ptr<double>(grad), Ptr<double>(buffer), n, new SgdBlock<double>(hp));
    }

    private static void Sgd<T>(T* p, T* g, T* b, int n, SgdBlock<T> k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (n < SgdParallelThreshold || WorkerPool.Threads == 1)
        {
            k.Run(p, g, b, n);
            return;
        }
        nint pp = (nint)p, gp = (nint)g, bp = (nint)b;
        WorkerPool.ForRanges(n, WorkerPool.Threads * 2, (lo, hi) => k.Run((T*)pp + lo, (T*)gp + lo, (T*)bp + lo, hi - lo));
    }

    /// <summary>The SGD update over L1-sized blocks: every pass of a block runs while it is in cache.</summary>
    private readonly struct SgdBlock<T>(SgdParameters hp) where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly T _negLr = T.CreateTruncating(-hp.LearningRate), _momentum = T.CreateTruncating(hp.Momentum),
            _gradScale = T.CreateTruncating(1 - hp.Dampening), _weightDecay = T.CreateTruncating(hp.WeightDecay);
        private readonly bool _first = hp.FirstStep, _decay = hp.WeightDecay != 0, _nesterov = hp.Nesterov;

        public void Run(T* p, T* g, T* b, int n)
        {
            const int Block = 2048;
            Span<T> scratch = stackalloc T[Block];
            for (int start = 0; start < n; start += Block)
            {
                int len = Math.Min(Block, n - start);
                var ps = new Span<T>(p + start, len);
                var bs = new Span<T>(b + start, len);
                scoped ReadOnlySpan<T> d = new ReadOnlySpan<T>(g + start, len);
                if (_decay)
                {
                    // d = wd·p + g, in the composed body's order.
                    TensorPrimitives.MultiplyAdd(ps, _weightDecay, d, scratch[..len]);
                    d = scratch[..len];
                }
                if (_first) d.CopyTo(bs);
                else
                {
                    TensorPrimitives.Multiply(bs, _momentum, bs);
                    TensorPrimitives.MultiplyAdd(d, _gradScale, bs, bs);
                }
                FlushSubnormals(bs);
                if (_nesterov)
                {
                    // p −= lr·(d + μ·b); d may be the scratch itself, which is then overwritten in place.
                    TensorPrimitives.MultiplyAdd(bs, _momentum, d, scratch[..len]);
                    TensorPrimitives.MultiplyAdd(scratch[..len], _negLr, ps, ps);
                }
                else TensorPrimitives.MultiplyAdd(bs, _negLr, ps, ps);
            }
        }
    }

    /// <summary>x ← 0 where |x| is subnormal (NaN and ±∞ kept); the block is in L1, so this pass is nearly free.</summary>
    private static void FlushSubnormals<T>(Span<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T tiny = Subnormals.MinNormal<T>();
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var t = Vector256.Create(tiny);
            fixed (T* p = x)
                for (; i <= x.Length - Vector256<T>.Count; i += Vector256<T>.Count)
                    Flush(Vector256.Load(p + i), t).Store(p + i);
        }
        for (; i < x.Length; i++) x[i] = Flush(x[i], tiny);
    }

    /// <summary>Zero in every lane where |x| is below <paramref name="tiny"/> (the smallest normal); NaN and ±∞ pass.</summary>
    private static Vector256<T> Flush<T>(Vector256<T> x, Vector256<T> tiny) where T : unmanaged, IFloatingPointIeee754<T> =>
        Vector256.ConditionalSelect(Vector256.LessThan(Vector256.Abs(x), tiny), Vector256<T>.Zero, x);

    /// <summary>Zero where |x| is below <paramref name="tiny"/> (the smallest normal); NaN and ±∞ pass.</summary>
    private static T Flush<T>(T x, T tiny) where T : unmanaged, IFloatingPointIeee754<T> => T.Abs(x) < tiny ? T.Zero : x;

    /// <inheritdoc />
    /// <remarks>One pass over the four tensors: each element is read once and written once (param, m, v); subnormal moments are stored as zero.</remarks>
    public void AdamStep(StridedView param, StridedView grad, StridedView m, StridedView v, AdamParameters hp)
    {
        const string op = "AdamStep";
        CheckView(param, op);
        CheckView(grad, op);
        CheckView(m, op);
        CheckView(v, op);
        CheckSameDType(op, param, grad, m, v);
        var l = StridedLoop.Create([param, grad, m, v]);
        switch (param.DType)
        {
            case DType.Float32: { var k = new AdamRow<float>(hp); StridedLoop.Run(ref l, ref k, AdaptiveStepParallelThreshold); break; }
            case DType.Float64: { var k = new AdamRow<double>(hp); StridedLoop.Run(ref l, ref k, AdaptiveStepParallelThreshold); break; }
            default: throw IntNotSupported(op);
        }
    }

    /// <summary>
    /// Parameters from which an optimizer step is split across threads. Adam's and RMSProp's square
    /// root and division per element make them compute-bound, so threads pay much earlier than for a
    /// copy-like elementwise op; SGD's three multiply-adds pay a little later.
    /// </summary>
    private const long AdaptiveStepParallelThreshold = 1 << 15, SgdParallelThreshold = 1 << 16;

    /// <summary>PyTorch's Adam/AdamW update for one row of (param, grad, m, v).</summary>
    private readonly struct AdamRow<T> : IRowKernel where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly T _beta1, _oneMinusBeta1, _beta2, _oneMinusBeta2, _l2, _decay, _invSqrtBc2, _eps, _negStep, _tiny;

        public AdamRow(AdamParameters hp)
        {
            _beta1 = T.CreateTruncating(hp.Beta1);
            _oneMinusBeta1 = T.CreateTruncating(1 - hp.Beta1);
            _beta2 = T.CreateTruncating(hp.Beta2);
            _oneMinusBeta2 = T.CreateTruncating(1 - hp.Beta2);
            _l2 = T.CreateTruncating(hp.WeightDecay != 0 && !hp.Decoupled ? hp.WeightDecay : 0);
            _decay = T.CreateTruncating(hp.WeightDecay != 0 && hp.Decoupled ? 1 - hp.LearningRate * hp.WeightDecay : 1);
            double bc1 = 1 - Math.Pow(hp.Beta1, hp.Step), bc2 = 1 - Math.Pow(hp.Beta2, hp.Step);
            _invSqrtBc2 = T.CreateTruncating(1 / Math.Sqrt(bc2));
            _eps = T.CreateTruncating(hp.Epsilon);
            _negStep = T.CreateTruncating(-hp.LearningRate / bc1);
            _tiny = Subnormals.MinNormal<T>();
        }

        public void Row(long index, int n, ref readonly RowOperands o)
        {
            T* p = (T*)o.P0, g = (T*)o.P1, m = (T*)o.P2, v = (T*)o.P3;
            int i = 0;
            if (o.S0 == 1 && o.S1 == 1 && o.S2 == 1 && o.S3 == 1 && Vector256.IsHardwareAccelerated)
            {
                var beta1 = Vector256.Create(_beta1); var omb1 = Vector256.Create(_oneMinusBeta1);
                var beta2 = Vector256.Create(_beta2); var omb2 = Vector256.Create(_oneMinusBeta2);
                var l2 = Vector256.Create(_l2); var decay = Vector256.Create(_decay);
                var isb = Vector256.Create(_invSqrtBc2); var eps = Vector256.Create(_eps); var step = Vector256.Create(_negStep);
                var tiny = Vector256.Create(_tiny);
                for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                {
                    var pv = Vector256.Load(p + i);
                    var gv = Vector256.Load(g + i) + l2 * pv;
                    pv *= decay;
                    var mv = beta1 * Vector256.Load(m + i) + omb1 * gv;
                    var vv = beta2 * Vector256.Load(v + i) + omb2 * (gv * gv);
                    mv = Flush(mv, tiny);
                    vv = Flush(vv, tiny);
                    mv.Store(m + i);
                    vv.Store(v + i);
                    (pv + step * (mv / (Vector256.Sqrt(vv) * isb + eps))).Store(p + i);
                }
            }
            for (; i < n; i++)
            {
                ref T pi = ref p[i * o.S0];
                T gi = g[i * o.S1] + _l2 * pi;
                pi *= _decay;
                ref T mi = ref m[i * o.S2];
                ref T vi = ref v[i * o.S3];
                mi = _beta1 * mi + _oneMinusBeta1 * gi;
                vi = _beta2 * vi + _oneMinusBeta2 * (gi * gi);
                mi = Flush(mi, _tiny);
                vi = Flush(vi, _tiny);
                pi += _negStep * (mi / (T.Sqrt(vi) * _invSqrtBc2 + _eps));
            }
        }
    }
}

internal sealed unsafe partial class ManagedBackend
{
    /// <inheritdoc />
    /// <remarks>
    /// Dense operands take one pass that reads and writes each element once (the composed body makes
    /// a dozen passes), threaded from 32k elements like Adam's; other layouts take the composed body.
    /// </remarks>
    public void RmsPropStep(StridedView param, StridedView grad, StridedView square, StridedView? gradAvg, StridedView? buffer, RmsPropParameters hp)
    {
        const string op = "RmsPropStep";
        var views = new List<StridedView> { param, grad, square };
        if (hp.Centered) views.Add(gradAvg ?? throw new ArgumentException($"{op}: a centered step needs the gradient average."));
        if (hp.Momentum > 0) views.Add(buffer ?? throw new ArgumentException($"{op}: a step with momentum {hp.Momentum} needs the momentum buffer."));
        foreach (var v in views)
        {
            CheckView(v, op);
            CheckSameDType(op, param, v);
            if (v.Count != param.Count) throw new ArgumentException($"{op}: {v} and param {param} differ in size.");
        }
        if (!param.DType.IsFloating()) throw IntNotSupported(op);
        if (param.Count == 0) return;
        if (!views.TrueForAll(v => v.IsContiguous))
        {
            ComposedOps.RmsPropStep(this, param, grad, square, gradAvg, buffer, hp);
            return;
        }
        int n = checked((int)param.Count);
        if (param.DType == DType.Float32) RunRmsProp<float>(param, grad, square, gradAvg, buffer, hp, n);
        else RunRmsProp<double>(param, grad, square, gradAvg, buffer, hp, n);
    }

    private static void RunRmsProp<T>(StridedView param, StridedView grad, StridedView square, StridedView? gradAvg, StridedView? buffer, RmsPropParameters hp, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var k = new RmsPropKernel<T>(hp, Ptr<T>(param), Ptr<T>(grad), Ptr<T>(square),
            hp.Centered ? Ptr<T>(gradAvg!.Value) : null, hp.Momentum > 0 ? Ptr<T>(buffer!.Value) : null);
        if (n < AdaptiveStepParallelThreshold || WorkerPool.Threads == 1)
        {
            k.Run(0, n);
            return;
        }
        WorkerPool.ForRanges(n, WorkerPool.Threads * 2, k.Run);
    }

    /// <summary>PyTorch's RMSprop for elements [i0, i1), each read and written once.</summary>
    private readonly struct RmsPropKernel<T>(RmsPropParameters hp, T* p, T* g, T* s, T* a, T* b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly T _alpha = T.CreateTruncating(hp.Alpha), _oneMinusAlpha = T.CreateTruncating(1 - hp.Alpha),
            _eps = T.CreateTruncating(hp.Epsilon), _wd = T.CreateTruncating(hp.WeightDecay), _momentum = T.CreateTruncating(hp.Momentum),
            _negLr = T.CreateTruncating(-hp.LearningRate), _tiny = Subnormals.MinNormal<T>();
        private readonly bool _decay = hp.WeightDecay != 0;

        public void Run(int i0, int i1)
        {
            int i = i0;
            if (Vector256.IsHardwareAccelerated)
            {
                var alpha = Vector256.Create(_alpha); var oma = Vector256.Create(_oneMinusAlpha); var eps = Vector256.Create(_eps);
                var wd = Vector256.Create(_wd); var mu = Vector256.Create(_momentum); var negLr = Vector256.Create(_negLr); var tiny = Vector256.Create(_tiny);
                for (; i <= i1 - Vector256<T>.Count; i += Vector256<T>.Count)
                {
                    var pv = Vector256.Load(p + i);
                    var d = Vector256.Load(g + i);
                    if (_decay) d = wd * pv + d;
                    var sv = Flush(alpha * Vector256.Load(s + i) + oma * (d * d), tiny);
                    sv.Store(s + i);
                    Vector256<T> den;
                    if (a != null)
                    {
                        var av = Flush(alpha * Vector256.Load(a + i) + oma * d, tiny);
                        av.Store(a + i);
                        den = Vector256.Sqrt(sv - av * av);
                    }
                    else den = Vector256.Sqrt(sv);
                    var r = d / (den + eps);
                    if (b != null)
                    {
                        var bv = Flush(mu * Vector256.Load(b + i) + r, tiny);
                        bv.Store(b + i);
                        r = bv;
                    }
                    (pv + negLr * r).Store(p + i);
                }
            }
            for (; i < i1; i++)
            {
                T pv = p[i], d = g[i];
                if (_decay) d = _wd * pv + d;
                T sv = Flush(_alpha * s[i] + _oneMinusAlpha * (d * d), _tiny);
                s[i] = sv;
                T den;
                if (a != null)
                {
                    T av = Flush(_alpha * a[i] + _oneMinusAlpha * d, _tiny);
                    a[i] = av;
                    den = T.Sqrt(sv - av * av);
                }
                else den = T.Sqrt(sv);
                T r = d / (den + _eps);
                if (b != null)
                {
                    T bv = Flush(_momentum * b[i] + r, _tiny);
                    b[i] = bv;
                    r = bv;
                }
                p[i] = pv + _negLr * r;
            }
        }
    }
}
