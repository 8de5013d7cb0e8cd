using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels.Ilgpu;

internal sealed partial class IlgpuBackend
{
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
