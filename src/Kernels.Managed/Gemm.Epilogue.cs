using System.Numerics;
using System.Numerics.Tensors;

namespace GpuNet.Kernels.Managed;

/// <summary>
/// What a GEMM does to each finished tile of C before leaving it: add a bias (any strides, usually
/// a row vector broadcast over the rows) and apply an activation. Running it per register tile,
/// right after the last k-block wrote it, saves the two extra passes over C (and their memory
/// traffic) that a separate bias add and activation would cost.
/// </summary>
internal readonly unsafe struct Epilogue<T> where T : unmanaged, INumber<T>
{
    private readonly T* _bias;
    private readonly long _biasRs, _biasCs, _biasBatch;
    private readonly Activation _activation;

    /// <summary>Bias element (i, j) of batch b at bias + b·batchStride + i·rs + j·cs (null for none).</summary>
    public Epilogue(T* bias, long batchStride, long rs, long cs, Activation activation)
    {
        _bias = bias;
        _biasBatch = batchStride;
        _biasRs = rs;
        _biasCs = cs;
        _activation = activation;
    }

    /// <summary>True when the epilogue changes nothing (the default value).</summary>
    public bool IsIdentity => _bias == null && _activation == Activation.None;

    /// <summary>The epilogue of batch entry <paramref name="i"/>.</summary>
    public Epilogue<T> ForBatch(int i) => _bias == null ? this : new(_bias + i * _biasBatch, _biasBatch, _biasRs, _biasCs, _activation);

    /// <summary>The epilogue of the transposed product (Cᵀ = Bᵀ·Aᵀ).</summary>
    public Epilogue<T> Transposed() => new(_bias, _biasBatch, _biasCs, _biasRs, _activation);

    /// <summary>Applies the epilogue to the mr×nr tile at <paramref name="c"/>, which sits at (row0, col0) of the full C.</summary>
    public void Apply(T* c, long rsc, long csc, int row0, int col0, int mr, int nr)
    {
        if (IsIdentity) return;
        for (int i = 0; i < mr; i++)
        {
            T* ci = c + i * rsc;
            T* bi = _bias == null ? null : _bias + (row0 + i) * _biasRs + col0 * _biasCs;
            if (csc == 1)
            {
                var row = new Span<T>(ci, nr);
                if (bi != null)
                {
                    if (_biasCs == 1) TensorPrimitives.Add(row, new ReadOnlySpan<T>(bi, nr), row);
                    else if (_biasCs == 0) TensorPrimitives.Add(row, *bi, row);
                    else for (int j = 0; j < nr; j++) row[j] += bi[j * _biasCs];
                }
                Activate(row);
                continue;
            }
            for (int j = 0; j < nr; j++)
            {
                ref T v = ref ci[j * csc];
                if (bi != null) v += bi[j * _biasCs];
                Activate(new Span<T>(ref v));
            }
        }
    }

    private void Activate(Span<T> x)
    {
        if (_activation == Activation.None) return;
        if (typeof(T) == typeof(float)) Activate(System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(x), _activation);
        else if (typeof(T) == typeof(double)) Activate(System.Runtime.InteropServices.MemoryMarshal.Cast<T, double>(x), _activation);
        else throw new NotSupportedException($"MatMulEpilogue: activation {_activation} is floating only.");
    }

    private static void Activate<TF>(Span<TF> x, Activation activation) where TF : unmanaged, IFloatingPointIeee754<TF>
    {
        switch (activation)
        {
            case Activation.Relu: TensorPrimitives.Max(x, TF.Zero, x); break;
            case Activation.Sigmoid: TensorPrimitives.Sigmoid(x, x); break;
            case Activation.Tanh: TensorPrimitives.Tanh(x, x); break;
            default:
                if (activation.ToUnaryOp() is { } op)
                {
                    var (alpha, beta) = activation.Parameters();
                    ManagedBackend.FloatingUnary(op, x, x, TF.CreateTruncating(alpha), TF.CreateTruncating(beta));
                }
                break;
        }
    }
}
