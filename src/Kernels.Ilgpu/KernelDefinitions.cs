using System.Reflection;

namespace GpuNet.Kernels.Ilgpu;

/// <summary>
/// The ILGPU kernels as the backend launches them: each the open generic definition of a method of
/// <see cref="IlgpuKernels"/>, taken from a method group (one valid instantiation) rather than looked
/// up by name, so renaming or removing a kernel is a compile error. The backend closes a definition
/// over the dtype and op structs of a launch (<see cref="KernelRegistry.Close"/>).
/// </summary>
internal static class KernelDefinitions
{
    public static readonly MethodInfo Fill = Open(IlgpuKernels.Fill<float>);
    public static readonly MethodInfo FillAffine = Open(IlgpuKernels.FillAffine<float, Conv>);
    public static readonly MethodInfo FillRandom = Open(IlgpuKernels.FillRandom<float, UniformDist>);
    public static readonly MethodInfo Copy = Open(IlgpuKernels.Copy<float, float, Conv>);
    public static readonly MethodInfo CopyDense = Open(IlgpuKernels.CopyDense<float, float, Conv>);
    public static readonly MethodInfo Unary = Open(IlgpuKernels.Unary<float, NegOp>);
    public static readonly MethodInfo UnaryDense = Open(IlgpuKernels.UnaryDense<float, NegOp>);
    public static readonly MethodInfo Binary = Open(IlgpuKernels.Binary<float, AddOp>);
    public static readonly MethodInfo BinaryDense = Open(IlgpuKernels.BinaryDense<float, AddOp>);
    public static readonly MethodInfo Where = Open(IlgpuKernels.Where<float, float>);
    public static readonly MethodInfo Reduce = Open(IlgpuKernels.Reduce<float, SumRed<float>>);
    public static readonly MethodInfo ReduceRows = Open(IlgpuKernels.ReduceRows<float, SumRed<float>>);
    public static readonly MethodInfo ArgReduce = Open(IlgpuKernels.ArgReduce<float, ArgMaxCmp<float>>);
    public static readonly MethodInfo ArgReduceRows = Open(IlgpuKernels.ArgReduceRows<float, ArgMaxCmp<float>>);
    public static readonly MethodInfo ArgFinish = Open(IlgpuKernels.ArgFinish<float, ArgMaxCmp<float>>);
    public static readonly MethodInfo Softmax = Open(IlgpuKernels.Softmax<float, ExpLog>);
    public static readonly MethodInfo SoftmaxRows = Open(IlgpuKernels.SoftmaxRows<float, ExpLog>);
    public static readonly MethodInfo SoftmaxXent = Open(IlgpuKernels.SoftmaxXent<float, ExpLog>);
    public static readonly MethodInfo SoftmaxXentRows = Open(IlgpuKernels.SoftmaxXentRows<float, ExpLog>);
    public static readonly MethodInfo Gather = Open(IlgpuKernels.Gather<float>);
    public static readonly MethodInfo ScatterAdd = Open(IlgpuKernels.ScatterAdd<float>);
    public static readonly MethodInfo MatMul = Open(IlgpuKernels.MatMul<float, Tile2, Act>);
    public static readonly MethodInfo MatMulReg4 = Open(IlgpuKernels.MatMulReg4<float, Gemm4x2, Act>);
    public static readonly MethodInfo MatMulReg8 = Open(IlgpuKernels.MatMulReg8<float, Gemm8x2, Act>);
    public static readonly MethodInfo BiasAct = Open(IlgpuKernels.BiasAct<float, Act>);
    public static readonly MethodInfo AdamStep = Open(IlgpuKernels.AdamStep<float, FloatMath>);
    public static readonly MethodInfo SgdMomentumStep = Open(IlgpuKernels.SgdMomentumStep<float, FloatMath>);
    public static readonly MethodInfo RmsPropStep = Open(IlgpuKernels.RmsPropStep<float, FloatMath>);
    public static readonly MethodInfo ActivationGrad = Open(IlgpuKernels.ActivationGrad<float, Act>);
    public static readonly MethodInfo NormalizeRows = Open(IlgpuKernels.NormalizeRows<float, NormMath>);
    public static readonly MethodInfo NormalizeBackwardRows = Open(IlgpuKernels.NormalizeBackwardRows<float, NormMath>);

    private static MethodInfo Open(Delegate kernel) => kernel.Method.IsGenericMethod ? kernel.Method.GetGenericMethodDefinition() : kernel.Method;
}
