using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels.Ilgpu;

// The fused ops of IBackend as single ILGPU launches (MatMulEpilogue lives with MatMul). Each gives
// what the interface's composed default body gives, in one pass over memory instead of many.
internal sealed partial class IlgpuBackend
{
    /// <inheritdoc />
    public void SoftmaxCrossEntropy(StridedView logits, StridedView labels, StridedView losses, StridedView? gradient)
    {
        const string name = "SoftmaxCrossEntropy";
        Check(name, logits, null, "logits");
        Check(name, labels, DType.Int32, "labels");
        Check(name, losses, logits.DType, "losses");
        RequireRank(name, logits, 2, "logits = [rows, classes]");
        RequireRank(name, labels, 1, "labels = [rows]");
        RequireRank(name, losses, 1, "losses = [rows]");
        if (!logits.DType.IsFloating()) throw new NotSupportedException($"{name}: needs floating logits, got int32 {Shape(logits)}.");
        int rows = logits.Shape[0], classes = logits.Shape[1];
        if (labels.Shape[0] != rows || losses.Shape[0] != rows)
            throw new ArgumentException($"{name}: logits {Shape(logits)}, labels {Shape(labels)} and losses {Shape(losses)} must agree on the rows ({rows}).");
        if (gradient is { } gv)
        {
            Check(name, gv, logits.DType, "gradient");
            SameShape(name, gv, logits);
        }
        if (rows == 0) return;
        if (classes == 0) throw new ArgumentException($"{name}: logits {Shape(logits)} have no classes.");
        CheckLaunchSize(name, rows);
        if (logits.DType == DType.Float32) RunXent<float>(logits, labels, losses, gradient, rows, classes);
        else RunXent<double>(logits, labels, losses, gradient, rows, classes);
    }

    private void RunXent<T>(StridedView logits, StridedView labels, StridedView losses, StridedView? gradient, int rows, int classes) where T : unmanaged
    {
        var r = new Rows { Outer = rows, N = classes, Inner = 1, M = 1 };
        var ax = new Axis3 { Offset = logits.Offset, SO = logits.Strides[0], SN = logits.Strides[1] };
        var al = new Axis3 { Offset = labels.Offset, SO = labels.Strides[0] };
        var aloss = new Axis3 { Offset = losses.Offset, SO = losses.Strides[0] };
        // Without a gradient the kernel never writes through it: pass the losses as a stand-in.
        var ag = gradient is { } g ? new Axis3 { Offset = g.Offset, SO = g.Strides[0], SN = g.Strides[1] } : default;
        var gradView = gradient is { } g2 ? View<T>(g2) : View<T>(losses);
        int writeGrad = gradient is null ? 0 : 1;
        if (UseRowGroups(classes, 1, 0, rows))
        {
            Kernel<Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<int>, ArrayView<T>, ArrayView<T>, Rows, Axis3, Axis3, Axis3, Axis3, int>>(
                "SoftmaxCrossEntropy", KernelDefinitions.SoftmaxXentRows, typeof(T), typeof(ExpLog))
                (_stream, new KernelConfig(rows, _rowGroup), View<T>(logits), View<int>(labels), View<T>(losses), gradView, r, ax, al, aloss, ag, writeGrad);
            return;
        }
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<int>, ArrayView<T>, ArrayView<T>, Rows, Axis3, Axis3, Axis3, Axis3, int>>(
            "SoftmaxCrossEntropy", KernelDefinitions.SoftmaxXent, typeof(T), typeof(ExpLog))
            (_stream, rows, View<T>(logits), View<int>(labels), View<T>(losses), gradView, r, ax, al, aloss, ag, writeGrad);
    }

    /// <inheritdoc />
    public void AdamStep(StridedView param, StridedView grad, StridedView m, StridedView v, AdamParameters hp)
    {
        const string name = "AdamStep";
        Check(name, param, null, "param");
        Check(name, grad, param.DType, "grad");
        Check(name, m, param.DType, "m");
        Check(name, v, param.DType, "v");
        SameShape(name, grad, param);
        SameShape(name, m, param);
        SameShape(name, v, param);
        if (!param.DType.IsFloating()) throw new NotSupportedException($"{name}: needs floating parameters, got int32 {Shape(param)}.");
        if (hp.Step < 1) throw new ArgumentOutOfRangeException(nameof(hp), $"{name}: step {hp.Step} must be ≥ 1 (it is 1-based, for bias correction).");
        if (!Elements(name, param, out int count)) return;
        // The coefficients as the composed body computes them in double before rounding each to the dtype.
        double bc1 = 1 - Math.Pow(hp.Beta1, hp.Step), bc2 = 1 - Math.Pow(hp.Beta2, hp.Step);
        var h = new AdamScalars
        {
            Mode = hp.WeightDecay == 0 ? 0 : hp.Decoupled ? 2 : 1,
            WeightDecay = hp.WeightDecay,
            Decay = 1 - hp.LearningRate * hp.WeightDecay,
            Beta1 = hp.Beta1,
            OneMinusBeta1 = 1 - hp.Beta1,
            Beta2 = hp.Beta2,
            OneMinusBeta2 = 1 - hp.Beta2,
            InvSqrtBc2 = 1 / Math.Sqrt(bc2),
            Epsilon = hp.Epsilon,
            Step = -hp.LearningRate / bc1,
            Tiny = Subnormals.MinNormal(param.DType),
        };
        var (d, s) = Geo.Build(param.Shape, param, grad, m, v);
        if (param.DType == DType.Float32) RunAdam<float>(param, grad, m, v, count, d, s, h);
        else RunAdam<double>(param, grad, m, v, count, d, s, h);
    }

    private void RunAdam<T>(StridedView param, StridedView grad, StridedView m, StridedView v, int count, Dims8 d, Strides8[] s, AdamScalars h) where T : unmanaged =>
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, Dims8, Strides8, Strides8, Strides8, Strides8, AdamScalars>>(
            "AdamStep", KernelDefinitions.AdamStep, typeof(T), typeof(FloatMath))
            (_stream, count, View<T>(param), View<T>(grad), View<T>(m), View<T>(v), d, s[0], s[1], s[2], s[3], h);

    /// <inheritdoc />
    public void SgdMomentumStep(StridedView param, StridedView grad, StridedView buffer, SgdParameters hp)
    {
        const string name = "SgdMomentumStep";
        Check(name, param, null, "param");
        Check(name, grad, param.DType, "grad");
        Check(name, buffer, param.DType, "buffer");
        SameShape(name, grad, param);
        SameShape(name, buffer, param);
        if (!param.DType.IsFloating()) throw new NotSupportedException($"{name}: needs floating parameters, got int32 {Shape(param)}.");
        if (!Elements(name, param, out int count)) return;
        var h = new SgdScalars
        {
            LearningRate = hp.LearningRate,
            Momentum = hp.Momentum,
            GradScale = 1 - hp.Dampening,
            WeightDecay = hp.WeightDecay,
            Tiny = Subnormals.MinNormal(param.DType),
            FirstStep = hp.FirstStep ? 1 : 0,
            Nesterov = hp.Nesterov ? 1 : 0,
        };
        var (d, s) = Geo.Build(param.Shape, param, grad, buffer);
        if (param.DType == DType.Float32) RunSgd<float>(param, grad, buffer, count, d, s, h);
        else RunSgd<double>(param, grad, buffer, count, d, s, h);
    }

    private void RunSgd<T>(StridedView param, StridedView grad, StridedView buffer, int count, Dims8 d, Strides8[] s, SgdScalars h) where T : unmanaged =>
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, Dims8, Strides8, Strides8, Strides8, SgdScalars>>(
            "SgdMomentumStep", KernelDefinitions.SgdMomentumStep, typeof(T), typeof(FloatMath))
            (_stream, count, View<T>(param), View<T>(grad), View<T>(buffer), d, s[0], s[1], s[2], h);

    /// <inheritdoc />
    /// <remarks>One elementwise launch for dz, then the row sum through <see cref="Reduce"/> (the composed body takes three or four launches).</remarks>
    public void ActivationBackward(StridedView grad, StridedView output, Activation activation, StridedView dz, StridedView? biasGrad)
    {
        const string name = "ActivationBackward";
        Check(name, grad, null, "grad");
        Check(name, output, grad.DType, "output");
        Check(name, dz, grad.DType, "dz");
        RequireRank(name, grad, 2, "grad = [rows, features]");
        SameShape(name, output, grad);
        SameShape(name, dz, grad);
        if (!grad.DType.IsFloating()) throw new NotSupportedException($"{name}: needs floating gradients, got int32 {Shape(grad)}.");
        int rows = grad.Shape[0], features = grad.Shape[1];
        if (biasGrad is { } db)
        {
            Check(name, db, grad.DType, "biasGrad");
            if (db.Rank != 1 || db.Shape[0] != features) throw new ArgumentException($"{name}: biasGrad {Shape(db)} must be [{features}].");
        }
        if (Elements(name, grad, out int count))
        {
            var (d, s) = Geo.Build(grad.Shape, grad, output, dz);
            if (grad.DType == DType.Float32) RunActivationGrad<float>(grad, output, dz, count, d, s, (int)activation);
            else RunActivationGrad<double>(grad, output, dz, count, d, s, (int)activation);
        }
        if (biasGrad is { } b)
            Reduce(ReduceOp.Sum, new StridedView(dz.Buffer, [1, rows, features], [0, dz.Strides[0], dz.Strides[1]], dz.Offset),
                new StridedView(b.Buffer, [1, features], [0, b.Strides[0]], b.Offset));
    }

    private void RunActivationGrad<T>(StridedView grad, StridedView output, StridedView dz, int count, Dims8 d, Strides8[] s, int activation) where T : unmanaged =>
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, Dims8, Strides8, Strides8, Strides8, int>>(
            "ActivationBackward", KernelDefinitions.ActivationGrad, typeof(T), typeof(FloatMath))
            (_stream, count, View<T>(grad), View<T>(output), View<T>(dz), d, s[0], s[1], s[2], activation);

    /// <inheritdoc />
    public void RmsPropStep(StridedView param, StridedView grad, StridedView square, StridedView? gradAvg, StridedView? buffer, RmsPropParameters hp)
    {
        const string name = "RmsPropStep";
        Check(name, param, null, "param");
        Check(name, grad, param.DType, "grad");
        Check(name, square, param.DType, "square");
        SameShape(name, grad, param);
        SameShape(name, square, param);
        var a = hp.Centered ? gradAvg ?? throw new ArgumentException($"{name}: a centered step needs the gradient average.") : square;
        var b = hp.Momentum > 0 ? buffer ?? throw new ArgumentException($"{name}: a step with momentum {hp.Momentum} needs the momentum buffer.") : square;
        Check(name, a, param.DType, "gradAvg");
        Check(name, b, param.DType, "buffer");
        SameShape(name, a, param);
        SameShape(name, b, param);
        if (!param.DType.IsFloating()) throw new NotSupportedException($"{name}: needs floating parameters, got int32 {Shape(param)}.");
        if (!Elements(name, param, out int count)) return;
        var h = new RmsScalars
        {
            LearningRate = hp.LearningRate,
            Alpha = hp.Alpha,
            OneMinusAlpha = 1 - hp.Alpha,
            Epsilon = hp.Epsilon,
            WeightDecay = hp.WeightDecay,
            Momentum = hp.Momentum,
            Tiny = Subnormals.MinNormal(param.DType),
            Centered = hp.Centered ? 1 : 0,
            HasMomentum = hp.Momentum > 0 ? 1 : 0,
        };
        var (d, s) = Geo.Build(param.Shape, param, grad, square, a, b);
        if (param.DType == DType.Float32) RunRmsProp<float>(param, grad, square, a, b, count, d, s, h);
        else RunRmsProp<double>(param, grad, square, a, b, count, d, s, h);
    }

    private void RunRmsProp<T>(StridedView param, StridedView grad, StridedView square, StridedView a, StridedView b, int count, Dims8 d, Strides8[] s, RmsScalars h) where T : unmanaged =>
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, Dims8, Strides8, Strides8, Strides8, Strides8, Strides8, RmsScalars>>(
            "RmsPropStep", KernelDefinitions.RmsPropStep, typeof(T), typeof(FloatMath))
            (_stream, count, View<T>(param), View<T>(grad), View<T>(square), View<T>(a), View<T>(b), d, s[0], s[1], s[2], s[3], s[4], h);
}
