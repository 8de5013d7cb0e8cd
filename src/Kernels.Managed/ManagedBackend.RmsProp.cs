using System.Numerics;
using System.Runtime.Intrinsics;

namespace GpuNet.Kernels.Managed;

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
