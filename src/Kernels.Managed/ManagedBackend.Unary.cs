using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace GpuNet.Kernels.Managed;

internal sealed unsafe partial class ManagedBackend
{
    /// <inheritdoc />
    public void Unary(UnaryOp op, StridedView x, StridedView y, double alpha = 0, double beta = 0)
    {
        string name = OpNames.Of(op);
        CheckView(x, name);
        CheckView(y, name);
        CheckSameDType(name, x, y);
        var l = StridedLoop.Create([x, y]);
        switch (y.DType)
        {
            case DType.Float32: { var k = new UnaryRow<float>(op, alpha, beta); StridedLoop.Run(ref l, ref k); break; }
            case DType.Float64: { var k = new UnaryRow<double>(op, alpha, beta); StridedLoop.Run(ref l, ref k); break; }
            default:
                if (!UnaryOps.Get(op).Integer) throw IntNotSupported($"Unary {op}");
                { var k = new UnaryRow<int>(op, alpha, beta); StridedLoop.Run(ref l, ref k); break; }
        }
    }

    private readonly struct UnaryRow<T>(UnaryOp op, double alpha, double beta) : IMapRowKernel where T : unmanaged, INumber<T>
    {
        public void Row(long index, int n, ref readonly RowOperands o)
        {
            T* x = (T*)o.P0, y = (T*)o.P1;
            if (o.S0 == 1 && o.S1 == 1) { Apply(new ReadOnlySpan<T>(x, n), new Span<T>(y, n)); return; }
            // Strided row: gather into a stack chunk so the contiguous SIMD code does the math.
            Span<T> bx = stackalloc T[Chunk];
            Span<T> by = stackalloc T[Chunk];
            for (int s = 0; s < n; s += Chunk)
            {
                int len = Math.Min(Chunk, n - s);
                T* xs = x + s * o.S0;
                for (int i = 0; i < len; i++) bx[i] = xs[i * o.S0];
                if (o.S1 == 1) { Apply(bx[..len], new Span<T>(y + s, len)); continue; }
                Apply(bx[..len], by[..len]);
                T* ys = y + s * o.S1;
                for (int i = 0; i < len; i++) ys[i * o.S1] = by[i];
            }
        }

        private void Apply(ReadOnlySpan<T> x, Span<T> y)
        {
            if (typeof(T) == typeof(float)) FloatingUnary(op, MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y), (float)alpha, (float)beta);
            else if (typeof(T) == typeof(double)) FloatingUnary(op, MemoryMarshal.Cast<T, double>(x), MemoryMarshal.Cast<T, double>(y), alpha, beta);
            else IntUnary(op, MemoryMarshal.Cast<T, int>(x), MemoryMarshal.Cast<T, int>(y), alpha, beta);
        }
    }

    internal static void FloatingUnary<T>(UnaryOp op, ReadOnlySpan<T> x, Span<T> y, T alpha, T beta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case UnaryOp.Neg: TensorPrimitives.Negate(x, y); break;
            case UnaryOp.Abs: TensorPrimitives.Abs(x, y); break;
            case UnaryOp.Sign:
                for (int i = 0; i < x.Length; i++)
                {
                    T v = x[i];
                    y[i] = v > T.Zero ? T.One : v < T.Zero ? -T.One : T.IsNaN(v) ? v : T.Zero;
                }
                break;
            case UnaryOp.Exp: TensorPrimitives.Exp(x, y); break;
            case UnaryOp.Log: TensorPrimitives.Log(x, y); break;
            case UnaryOp.Sqrt: TensorPrimitives.Sqrt(x, y); break;
            case UnaryOp.Sin: TensorPrimitives.Sin(x, y); break;
            case UnaryOp.Cos: TensorPrimitives.Cos(x, y); break;
            case UnaryOp.Sigmoid: TensorPrimitives.Sigmoid(x, y); break;
            case UnaryOp.Tanh: TensorPrimitives.Tanh(x, y); break;
            case UnaryOp.Relu: TensorPrimitives.Max(x, T.Zero, y); break;
            case UnaryOp.Reciprocal: TensorPrimitives.Reciprocal(x, y); break;
            case UnaryOp.PowScalar:
                if (alpha == T.One) x.CopyTo(y);
                else if (alpha == T.CreateTruncating(2)) TensorPrimitives.Multiply(x, x, y);
                else if (alpha == T.CreateTruncating(0.5)) TensorPrimitives.Sqrt(x, y);
                else TensorPrimitives.Pow(x, alpha, y);
                break;
            case UnaryOp.Affine:
                if (alpha == T.One) TensorPrimitives.Add(x, beta, y);
                else if (beta == T.Zero) TensorPrimitives.Multiply(x, alpha, y);
                else { TensorPrimitives.Multiply(x, alpha, y); TensorPrimitives.Add(y, beta, y); }
                break;
            case UnaryOp.Clamp:
                // max then min (not TensorPrimitives.Clamp, which throws when the bounds cross) keeps
                // the documented min(max(x, alpha), beta) and lets NaN through.
                TensorPrimitives.Max(x, alpha, y);
                TensorPrimitives.Min(y, beta, y);
                break;
            // The ops .NET has no accurate vectorised form of: elementwise through their double definitions
            // (float rounds the double result, so it is correctly rounded but for double rounding).
            // float takes the float-accuracy forms of the erf-based ops (fewer terms, same algorithm, in double).
            case UnaryOp.Erf: Scalar(x, y, typeof(T) == typeof(float) ? SpecialFunctions.ErfSingle : SpecialFunctions.Erf); break;
            case UnaryOp.Log1p: Scalar(x, y, SpecialFunctions.Log1p); break;
            case UnaryOp.Expm1: Scalar(x, y, SpecialFunctions.Expm1); break;
            case UnaryOp.Gelu: Gelu(x, y, slope: false); break;
            case UnaryOp.GeluTanh: Scalar(x, y, SpecialFunctions.GeluTanh); break;
            case UnaryOp.Silu: Scalar(x, y, SpecialFunctions.Silu); break;
            case UnaryOp.LeakyRelu:
                {
                    double slope = double.CreateTruncating(alpha);
                    Scalar(x, y, v => SpecialFunctions.LeakyRelu(v, slope));
                    break;
                }
            case UnaryOp.Elu:
                {
                    double a = double.CreateTruncating(alpha);
                    Scalar(x, y, v => SpecialFunctions.Elu(v, a));
                    break;
                }
            case UnaryOp.Softplus:
                {
                    double beta1 = double.CreateTruncating(alpha), threshold = double.CreateTruncating(beta);
                    Scalar(x, y, v => SpecialFunctions.Softplus(v, beta1, threshold));
                    break;
                }
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "Unary: unknown op.");
        }
    }

    private static void Scalar<T>(ReadOnlySpan<T> x, Span<T> y, Func<double, double> f) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = T.CreateTruncating(f(double.CreateTruncating(x[i])));
    }

    private static void IntUnary(UnaryOp op, ReadOnlySpan<int> x, Span<int> y, double alpha, double beta)
    {
        // Integer arithmetic wraps (as in PyTorch) rather than throwing on int.MinValue.
        switch (op)
        {
            case UnaryOp.Neg: for (int i = 0; i < x.Length; i++) y[i] = unchecked(-x[i]); break;
            case UnaryOp.Abs: for (int i = 0; i < x.Length; i++) { int v = x[i]; y[i] = v < 0 ? unchecked(-v) : v; } break;
            case UnaryOp.Sign: for (int i = 0; i < x.Length; i++) y[i] = Math.Sign(x[i]); break;
            case UnaryOp.Relu: TensorPrimitives.Max(x, 0, y); break;
            case UnaryOp.Affine:
                if (double.IsInteger(alpha) && double.IsInteger(beta) && Math.Abs(alpha) <= int.MaxValue && Math.Abs(beta) <= int.MaxValue)
                {
                    int a = (int)alpha, b = (int)beta;
                    for (int i = 0; i < x.Length; i++) y[i] = unchecked(x[i] * a + b);
                }
                else
                {
                    for (int i = 0; i < x.Length; i++) y[i] = int.CreateSaturating(x[i] * alpha + beta);
                }
                break;
            case UnaryOp.Clamp:
                {
                    // Integer bounds that keep the result inside [alpha, beta] when the bounds are fractional.
                    int lo = double.IsNaN(alpha) ? int.MinValue : int.CreateSaturating(Math.Ceiling(alpha));
                    int hi = double.IsNaN(beta) ? int.MaxValue : int.CreateSaturating(Math.Floor(beta));
                    TensorPrimitives.Max(x, lo, y);
                    TensorPrimitives.Min(y, hi, y);
                    break;
                }
            default: throw IntNotSupported($"Unary {op}");
        }
    }
}
