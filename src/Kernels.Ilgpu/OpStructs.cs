using System.Numerics;
using ILGPU.Algorithms;

namespace GpuNet.Kernels.Ilgpu;

// Op structs: field-less value types whose methods ILGPU inlines into the kernel a generic
// parameter names (kernels cannot take delegates). Each op implements the interface once per
// dtype it supports, so "Int32 only for Neg/Abs/…" is enforced by the type system: the kernel
// registry instantiates exactly the pairs that satisfy the constraints, and the backend refuses
// the rest before launching. Transcendentals go through XMath (ILGPU.Algorithms) because the
// PTX backend has no intrinsic for Math.Exp/Log/… without EnableAlgorithms.

/// <summary>y = f(a, b) for one dtype.</summary>
internal interface IBinaryOp<T> where T : unmanaged
{
    T Apply(T a, T b);
}

/// <summary>Dtype conversion used by Copy and the fill kernels.</summary>
internal interface IConvert<TIn, TOut> where TIn : unmanaged where TOut : unmanaged
{
    TOut Convert(TIn x);
}

/// <summary>exp and log for the floating dtypes (softmax).</summary>
internal interface IExpLog<T> where T : unmanaged
{
    T Exp(T x);
    T Log(T x);

    /// <summary>The smallest positive normal T: softmax probabilities below it are stored as zero.</summary>
    T MinNormal { get; }
}

internal struct AddOp : IBinaryOp<float>, IBinaryOp<double>, IBinaryOp<int>
{
    public float Apply(float a, float b) => a + b;
    public double Apply(double a, double b) => a + b;
    public int Apply(int a, int b) => a + b;
}

internal struct SubOp : IBinaryOp<float>, IBinaryOp<double>, IBinaryOp<int>
{
    public float Apply(float a, float b) => a - b;
    public double Apply(double a, double b) => a - b;
    public int Apply(int a, int b) => a - b;
}

internal struct MulOp : IBinaryOp<float>, IBinaryOp<double>, IBinaryOp<int>
{
    public float Apply(float a, float b) => a * b;
    public double Apply(double a, double b) => a * b;
    public int Apply(int a, int b) => a * b;
}

internal struct DivOp : IBinaryOp<float>, IBinaryOp<double>
{
    public float Apply(float a, float b) => a / b;
    public double Apply(double a, double b) => a / b;
}

internal struct PowOp : IBinaryOp<float>, IBinaryOp<double>
{
    public float Apply(float a, float b) => XMath.Pow(a, b);
    public double Apply(double a, double b) => XMath.Pow(a, b);
}

internal struct MaximumOp : IBinaryOp<float>, IBinaryOp<double>, IBinaryOp<int>
{
    // NaN in either operand gives NaN (PyTorch's maximum), which a plain max() would not.
    public float Apply(float a, float b) => a > b || Nan.Is(a) ? a : b;
    public double Apply(double a, double b) => a > b || Nan.Is(a) ? a : b;
    public int Apply(int a, int b) => a > b ? a : b;
}

internal struct MinimumOp : IBinaryOp<float>, IBinaryOp<double>, IBinaryOp<int>
{
    public float Apply(float a, float b) => a < b || Nan.Is(a) ? a : b;
    public double Apply(double a, double b) => a < b || Nan.Is(a) ? a : b;
    public int Apply(int a, int b) => a < b ? a : b;
}

// Comparisons are generic over the dtype: they need only ordering, and write 1/0 in it. The float and
// double forms spell their constants as 1f / 1.0: written `? 1 : 0`, C# compiles a comparison result
// converted to float (cgt; conv.r4), which ILGPU 1.5.3's PTX and OpenCL back ends lower to a select of
// the *bit pattern* of the integer 1 (1.4e-45f, 4.9e-324) — correct on the CPU accelerator, wrong on
// every GPU. IlgpuCodegenTests.ComparisonsWriteOneAndZero guards the generated code.
internal struct GtOp : IBinaryOp<float>, IBinaryOp<double>, IBinaryOp<int>
{
    public float Apply(float a, float b) => a > b ? 1f : 0f;
    public double Apply(double a, double b) => a > b ? 1.0 : 0.0;
    public int Apply(int a, int b) => a > b ? 1 : 0;
}

internal struct GeOp : IBinaryOp<float>, IBinaryOp<double>, IBinaryOp<int>
{
    public float Apply(float a, float b) => a >= b ? 1f : 0f;
    public double Apply(double a, double b) => a >= b ? 1.0 : 0.0;
    public int Apply(int a, int b) => a >= b ? 1 : 0;
}

internal struct LtOp : IBinaryOp<float>, IBinaryOp<double>, IBinaryOp<int>
{
    public float Apply(float a, float b) => a < b ? 1f : 0f;
    public double Apply(double a, double b) => a < b ? 1.0 : 0.0;
    public int Apply(int a, int b) => a < b ? 1 : 0;
}

internal struct LeOp : IBinaryOp<float>, IBinaryOp<double>, IBinaryOp<int>
{
    public float Apply(float a, float b) => a <= b ? 1f : 0f;
    public double Apply(double a, double b) => a <= b ? 1.0 : 0.0;
    public int Apply(int a, int b) => a <= b ? 1 : 0;
}

internal struct EqOp : IBinaryOp<float>, IBinaryOp<double>, IBinaryOp<int>
{
    public float Apply(float a, float b) => a == b ? 1f : 0f;
    public double Apply(double a, double b) => a == b ? 1.0 : 0.0;
    public int Apply(int a, int b) => a == b ? 1 : 0;
}

internal struct NeOp : IBinaryOp<float>, IBinaryOp<double>, IBinaryOp<int>
{
    public float Apply(float a, float b) => a != b ? 1f : 0f;
    public double Apply(double a, double b) => a != b ? 1.0 : 0.0;
    public int Apply(int a, int b) => a != b ? 1 : 0;
}

/// <summary>Every dtype conversion; float→int truncates toward zero (C# cast, PTX cvt.rzi).</summary>
internal struct Conv :
    IConvert<float, float>, IConvert<float, double>, IConvert<float, int>,
    IConvert<double, float>, IConvert<double, double>, IConvert<double, int>,
    IConvert<int, float>, IConvert<int, double>, IConvert<int, int>
{
    readonly float IConvert<float, float>.Convert(float x) => x;
    readonly double IConvert<float, double>.Convert(float x) => x;
    readonly int IConvert<float, int>.Convert(float x) => (int)x;
    readonly float IConvert<double, float>.Convert(double x) => (float)x;
    readonly double IConvert<double, double>.Convert(double x) => x;
    readonly int IConvert<double, int>.Convert(double x) => (int)x;
    readonly float IConvert<int, float>.Convert(int x) => x;
    readonly double IConvert<int, double>.Convert(int x) => x;
    readonly int IConvert<int, int>.Convert(int x) => x;
}

/// <summary>exp/log for softmax.</summary>
internal struct ExpLog : IExpLog<float>, IExpLog<double>
{
    public float Exp(float x) => XMath.Exp(x);
    public float Log(float x) => XMath.Log(x);
    public double Exp(double x) => XMath.Exp(x);
    public double Log(double x) => XMath.Log(x);
    readonly float IExpLog<float>.MinNormal => Subnormals.MinNormalSingle;
    readonly double IExpLog<double>.MinNormal => Subnormals.MinNormalDouble;
}

// ---- reductions -----------------------------------------------------------------------------

/// <summary>A fold along a row; the first element seeds it (no identity needed, so int Max works).</summary>
internal interface IReduceOp<T> where T : unmanaged, INumber<T>
{
    T Combine(T acc, T x);
}

internal struct SumRed<T> : IReduceOp<T> where T : unmanaged, INumber<T>
{
    public T Combine(T acc, T x) => acc + x;
}

internal struct MaxRed<T> : IReduceOp<T> where T : unmanaged, INumber<T>
{
    // Once NaN, stays NaN; a NaN x replaces a number.
    public T Combine(T acc, T x) => Nan.Is(acc) ? acc : (Nan.Is(x) || x > acc ? x : acc);
}

internal struct MinRed<T> : IReduceOp<T> where T : unmanaged, INumber<T>
{
    public T Combine(T acc, T x) => Nan.Is(acc) ? acc : (Nan.Is(x) || x < acc ? x : acc);
}

/// <summary>"Is candidate strictly better than best" for ArgMax/ArgMin: strict, so the first index wins ties; NaN counts as the extreme (first NaN wins), as in PyTorch.</summary>
internal interface IArgOp<T> where T : unmanaged, INumber<T>
{
    bool Better(T candidate, T best);
}

internal struct ArgMaxCmp<T> : IArgOp<T> where T : unmanaged, INumber<T>
{
    public bool Better(T c, T best) => !Nan.Is(best) && (Nan.Is(c) || c > best);
}

internal struct ArgMinCmp<T> : IArgOp<T> where T : unmanaged, INumber<T>
{
    public bool Better(T c, T best) => !Nan.Is(best) && (Nan.Is(c) || c < best);
}

// ---- random ---------------------------------------------------------------------------------

/// <summary>Turns the four Philox words of one counter into a sample.</summary>
internal interface IRandomDist<T> where T : unmanaged
{
    T Sample(in Philox4x32 block, T alpha, T beta);
}

/// <summary>Uniform on [alpha, beta), by the shared <see cref="Philox"/> scheme.</summary>
internal struct UniformDist : IRandomDist<float>, IRandomDist<double>
{
    public float Sample(in Philox4x32 block, float alpha, float beta) => Philox.UniformFloat(block, alpha, beta);

    public double Sample(in Philox4x32 block, double alpha, double beta) => Philox.UniformDouble(block, alpha, beta);
}

/// <summary>Normal(alpha, beta²) by Box–Muller, by the shared <see cref="Philox"/> scheme.</summary>
internal struct NormalDist : IRandomDist<float>, IRandomDist<double>
{
    public float Sample(in Philox4x32 block, float alpha, float beta) => Philox.NormalFloat(block, alpha, beta);

    public double Sample(in Philox4x32 block, double alpha, double beta) => Philox.NormalDouble(block, alpha, beta);
}

// ---- matmul tiles ---------------------------------------------------------------------------

/// <summary>A compile-time tile edge: ILGPU needs shared-memory sizes to be constants, and a property of a field-less struct type argument folds to one.</summary>
internal interface ITile
{
    int Size { get; }
}

internal struct Tile2 : ITile { public readonly int Size => 2; }
internal struct Tile4 : ITile { public readonly int Size => 4; }
internal struct Tile8 : ITile { public readonly int Size => 8; }
internal struct Tile16 : ITile { public readonly int Size => 16; }

// ---- register-tiled matmul configurations ----------------------------------------------------
// A config fixes the group edge T (T×T threads) and the depth BK of the shared slices. The kernels
// load 4 elements of each operand slice per thread, so R·BK = 4·T for a kernel with R×R register tiles.

/// <summary>Configuration of <see cref="IlgpuKernels.MatMulReg4{T, TCfg, TAct}"/> (4×4 outputs per thread).</summary>
internal interface IGemmConfig4
{
    /// <summary>Threads along each edge of the group.</summary>
    int Threads { get; }
    /// <summary>Depth of the k slice staged in shared memory.</summary>
    int Depth { get; }
}

/// <summary>Configuration of <see cref="IlgpuKernels.MatMulReg8{T, TCfg, TAct}"/> (8×8 outputs per thread).</summary>
internal interface IGemmConfig8
{
    /// <summary>Threads along each edge of the group.</summary>
    int Threads { get; }
    /// <summary>Depth of the k slice staged in shared memory.</summary>
    int Depth { get; }
}

/// <summary>GPUs: 16×16 threads, 64×64 block tile, slices 16 deep.</summary>
internal struct Gemm4x16 : IGemmConfig4 { public readonly int Threads => 16; public readonly int Depth => 16; }
/// <summary>The 4-thread CPU accelerator: 2×2 threads, 8×8 block tile, slices 2 deep (same code, smaller constants).</summary>
internal struct Gemm4x2 : IGemmConfig4 { public readonly int Threads => 2; public readonly int Depth => 2; }
/// <summary>GPUs: 16×16 threads, 128×128 block tile, slices 8 deep.</summary>
internal struct Gemm8x16 : IGemmConfig8 { public readonly int Threads => 16; public readonly int Depth => 8; }
/// <summary>The 4-thread CPU accelerator: 2×2 threads, 16×16 block tile, slices 1 deep.</summary>
internal struct Gemm8x2 : IGemmConfig8 { public readonly int Threads => 2; public readonly int Depth => 1; }

// ---- fused epilogues and optimizer math -----------------------------------------------------------

/// <summary>The activation of a fused matmul epilogue, chosen at run time by a uniform code (see <see cref="Act"/>).</summary>
internal interface IActivation<T> where T : unmanaged
{
    T Apply(T x, int act);
}

/// <summary>
/// Activation codes 0 = none, 1 = relu, 2 = sigmoid, 3 = tanh, then GELU, its tanh form, SiLU, LeakyReLU
/// (slope 0.01), ELU (α = 1) and Softplus (β = 1, threshold 20) with PyTorch's default parameters, computed
/// by the same op structs as the unary kernels, so a fused epilogue gives the bits the separate launches
/// give. Int32 knows only relu (the backend refuses the others for it).
/// </summary>
internal struct Act : IActivation<float>, IActivation<double>, IActivation<int>, IActivationSlope<float>, IActivationSlope<double>
{
    public const int None = 0, Relu = 1, Sigmoid = 2, Tanh = 3, Gelu = 4, GeluTanh = 5, Silu = 6, LeakyRelu = 7, Elu = 8, Softplus = 9;

    public float Apply(float x, int act) =>
        act == Relu ? default(ReluOp).Apply(x, 0, 0)
        : act == Sigmoid ? default(SigmoidOp).Apply(x, 0, 0)
        : act == Tanh ? default(TanhOp).Apply(x, 0, 0)
        : act == Gelu ? default(GeluOp).Apply(x, 0f, 0f)
        : act == GeluTanh ? default(GeluTanhOp).Apply(x, 0f, 0f)
        : act == Silu ? default(SiluOp).Apply(x, 0f, 0f)
        : act == LeakyRelu ? default(LeakyReluOp).Apply(x, 0.01f, 0f)
        : act == Elu ? default(EluOp).Apply(x, 1f, 0f)
        : act == Softplus ? default(SoftplusOp).Apply(x, 1f, 20f)
        : x;

    public double Apply(double x, int act) =>
        act == Relu ? default(ReluOp).Apply(x, 0, 0)
        : act == Sigmoid ? default(SigmoidOp).Apply(x, 0, 0)
        : act == Tanh ? default(TanhOp).Apply(x, 0, 0)
        : act == Gelu ? default(GeluOp).Apply(x, 0.0, 0.0)
        : act == GeluTanh ? default(GeluTanhOp).Apply(x, 0.0, 0.0)
        : act == Silu ? default(SiluOp).Apply(x, 0.0, 0.0)
        : act == LeakyRelu ? default(LeakyReluOp).Apply(x, 0.01, 0.0)
        : act == Elu ? default(EluOp).Apply(x, 1.0, 0.0)
        : act == Softplus ? default(SoftplusOp).Apply(x, 1.0, 20.0)
        : x;

    public int Apply(int x, int act) => act == Relu ? default(ReluOp).Apply(x, 0, 0) : x;

    // Of the output y, or of the input z for GELU, its tanh form and SiLU (see ActivationOps.SlopeFromInput).
    public float Slope(float v, int act) =>
        act == Relu ? (v > 0f ? 1f : 0f)
        : act == Sigmoid ? v * (1f - v)
        : act == Tanh ? 1f - v * v
        : act == Gelu ? KernelMath.GeluSlope(v)
        : act == GeluTanh ? KernelMath.GeluTanhSlope(v)
        : act == Silu ? KernelMath.SiluSlope(v)
        : act == LeakyRelu ? (v > 0f ? 1f : 0.01f)
        : act == Elu ? (v > 0f ? 1f : v + 1f)
        : act == Softplus ? KernelMath.SoftplusSlope(v)
        : 1f;

    public double Slope(double v, int act) =>
        act == Relu ? (v > 0.0 ? 1.0 : 0.0)
        : act == Sigmoid ? v * (1.0 - v)
        : act == Tanh ? 1.0 - v * v
        : act == Gelu ? KernelMath.GeluSlope(v)
        : act == GeluTanh ? KernelMath.GeluTanhSlope(v)
        : act == Silu ? KernelMath.SiluSlope(v)
        : act == LeakyRelu ? (v > 0.0 ? 1.0 : 0.01)
        : act == Elu ? (v > 0.0 ? 1.0 : v + 1.0)
        : act == Softplus ? KernelMath.SoftplusSlope(v)
        : 1.0;
}

/// <summary>An activation's derivative for <see cref="IlgpuKernels.ActivationGrad{T, TAct}"/>, by the codes of <see cref="Act"/>.</summary>
internal interface IActivationSlope<T> where T : unmanaged
{
    T Slope(T v, int act);
}

/// <summary>Square root and conversion from double, for the optimizer kernels.</summary>
internal interface IFloatMath<T> where T : unmanaged
{
    T Sqrt(T x);
    T From(double x);
}

internal struct FloatMath : IFloatMath<float>, IFloatMath<double>
{
    public float Sqrt(float x) => XMath.Sqrt(x);
    readonly float IFloatMath<float>.From(double x) => (float)x;
    public double Sqrt(double x) => XMath.Sqrt(x);
    readonly double IFloatMath<double>.From(double x) => x;
}

/// <summary>
/// Host-computed Adam coefficients, in double; the kernel rounds each to the dtype exactly as the
/// composed default body's Affine launches round their alpha and beta. Mode: 0 no weight decay,
/// 1 L2 (Adam: g += wd·p), 2 decoupled (AdamW: p ·= 1 − lr·wd).
/// </summary>
internal struct AdamScalars
{
    public double WeightDecay, Decay, OneMinusBeta1, Beta1, OneMinusBeta2, Beta2, InvSqrtBc2, Epsilon, Step, Tiny;
    public int Mode;
}

/// <summary>The scalars of one RMSProp step (kernel parameter); Centered and HasMomentum say which state views are real.</summary>
internal struct RmsScalars
{
    public double LearningRate, Alpha, OneMinusAlpha, Epsilon, WeightDecay, Momentum, Tiny;
    public int Centered, HasMomentum;
}

/// <summary>The scalars of one SGD-with-momentum step (kernel parameter).</summary>
internal struct SgdScalars
{
    public double LearningRate, Momentum, GradScale, WeightDecay, Tiny;
    public int FirstStep, Nesterov;
}

/// <summary>
/// The NaN test every kernel uses: the IEEE self-comparison, which every backend compiles to a plain
/// unordered compare (PTX <c>setp.neu</c>, OpenCL C <c>!=</c>) rather than a library call.
/// </summary>
internal static class Nan
{
#pragma warning disable CS1718 // comparing a value with itself is the point: only NaN differs from itself
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static bool Is<T>(T x) where T : INumber<T> => x != x;
#pragma warning restore CS1718
}
