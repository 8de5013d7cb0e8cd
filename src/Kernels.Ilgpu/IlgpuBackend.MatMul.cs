using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels.Ilgpu;

/// <summary>The GEMM implementations the ILGPU backend chooses between.</summary>
internal enum GemmKernel
{
    /// <summary>Let the backend choose by device, dtype, layout and size.</summary>
    Auto,
    /// <summary>Square shared-memory tiles, one output per thread (<see cref="IlgpuKernels.MatMul{T, TTile, TAct}"/>): small or thin products.</summary>
    Tile,
    /// <summary>Register-tiled, 4×4 outputs per thread (64×64 blocks on GPUs).</summary>
    Reg4,
    /// <summary>Register-tiled, 8×8 outputs per thread (128×128 blocks on GPUs).</summary>
    Reg8,
    /// <summary>cuBLAS sgemm / dgemm (strided-batched where the batch strides allow), CUDA float/double only.</summary>
    CuBlas,
}

internal sealed partial class IlgpuBackend
{
    // CUDA caps grid y and z at 65535 blocks; matmul launches are cut into pieces that fit.
    private const int MaxGridYZ = 65535;

    private CuBlasGemm? _cuBlas;
    private bool _cuBlasTried;
    private string? _cuBlasStatus;

    /// <summary>Forces one GEMM implementation (tests, benchmarks); <see cref="GemmKernel.Auto"/> lets the backend choose. cuBLAS falls back when it cannot run.</summary>
    internal GemmKernel ForceGemm { get; set; } = GemmKernel.Auto;

    /// <summary>The implementation the last MatMul / MatMulEpilogue ran with (diagnostics and tests).</summary>
    internal GemmKernel LastGemm { get; private set; }

    /// <summary>Why cuBLAS is or is not in use on this backend ("not a CUDA device", the load error, or its version).</summary>
    internal string CuBlasStatus
    {
        get
        {
            var blas = CuBlas();
            return (_cuBlasStatus ?? "not tried") + (blas?.Failure is { } f ? $", switched off after an error: {f}" : "");
        }
    }

    /// <inheritdoc />
    public void MatMul(StridedView a, StridedView b, StridedView c) => RunMatMul("MatMul", a, b, c, null, Activation.None);

    /// <inheritdoc />
    public void MatMulEpilogue(StridedView a, StridedView b, StridedView c, StridedView? bias, Activation activation) =>
        RunMatMul("MatMulEpilogue", a, b, c, bias, activation);

    private void RunMatMul(string name, StridedView a, StridedView b, StridedView c, StridedView? bias, Activation activation)
    {
        Check(name, a, null, "a");
        Check(name, b, a.DType, "b");
        Check(name, c, a.DType, "c");
        RequireRank(name, a, 3, "a = [batch, m, k]");
        RequireRank(name, b, 3, "b = [batch, k, n]");
        RequireRank(name, c, 3, "c = [batch, m, n]");
        int batch = c.Shape[0], m = c.Shape[1], n = c.Shape[2], k = a.Shape[2];
        if (a.Shape[0] != batch || b.Shape[0] != batch || a.Shape[1] != m || b.Shape[1] != k || b.Shape[2] != n)
            throw new ArgumentException($"{name}: a {Shape(a)} · b {Shape(b)} → c {Shape(c)}: expected a = [batch, m, k], b = [batch, k, n], c = [batch, m, n].");
        if (bias is { } bv)
        {
            Check(name, bv, a.DType, "bias");
            RequireRank(name, bv, 3, "bias broadcast to c = [batch, m, n]");
            SameShape(name, bv, c);
        }
        int act = ActCode(name, activation);
        if (a.DType == DType.Int32 && act is not (Act.None or Act.Relu))
            throw new NotSupportedException($"{name}: activation {activation} needs a floating dtype, got int32 for c {Shape(c)}.");
        switch (a.DType)
        {
            case DType.Float32: RunMatMul<float>(a, b, c, bias, act, batch, m, n, k); break;
            case DType.Float64: RunMatMul<double>(a, b, c, bias, act, batch, m, n, k); break;
            default: RunMatMul<int>(a, b, c, bias, act, batch, m, n, k); break;
        }
    }

    private void RunMatMul<T>(StridedView a, StridedView b, StridedView c, StridedView? bias, int act, int batch, int m, int n, int k)
        where T : unmanaged, INumber<T>
    {
        if (batch == 0 || m == 0 || n == 0) return;
        var geom = new MatGeom { M = m, N = n, K = k, A = Axis3.Of(a), B = Axis3.Of(b), C = Axis3.Of(c) };
        var choice = ChooseGemm(typeof(T), batch, m, n, k);
        if (choice == GemmKernel.CuBlas)
        {
            if (CuBlas() is { } blas && blas.TryGemm(View<T>(a), View<T>(b), View<T>(c), geom, batch, Device.AllowTf32, Device.Counters))
            {
                LastGemm = GemmKernel.CuBlas;
                if (bias is not null || act != Act.None) RunBiasAct<T>(c, bias, act);
                return;
            }
            choice = ChooseGemm(typeof(T), batch, m, n, k, allowCuBlas: false);
        }
        LastGemm = choice;
        var (kernelDef, config, edge, group) = choice switch
        {
            GemmKernel.Reg8 => (KernelDefinitions.MatMulReg8, _gemm8.Config, _gemm8.Edge, _gemm8.Threads),
            GemmKernel.Reg4 => (KernelDefinitions.MatMulReg4, _gemm4.Config, _gemm4.Edge, _gemm4.Threads),
            _ => (KernelDefinitions.MatMul, _tileType, _tile, _tile),
        };
        var kernel = Kernel<Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<T>, ArrayView<T>, MatGeom, ArrayView<T>, Axis3, int, int>>(
            "MatMul", kernelDef, typeof(T), config, typeof(Act));
        long gridX = (n + edge - 1) / edge;
        if (gridX > int.MaxValue) throw new NotSupportedException($"MatMul: n = {n} is too large for one launch.");
        var biasView = bias is { } bv2 ? View<T>(bv2) : View<T>(c);
        var biasAxis = bias is { } bv3 ? Axis3.Of(bv3) : default;
        int hasBias = bias is null ? 0 : 1;
        int rowsPerLaunch = MaxGridYZ * edge;
        // Cut batch and rows into pieces that respect the grid limits by moving the operands' offsets.
        for (int b0 = 0; b0 < batch; b0 += MaxGridYZ)
        {
            int nb = Math.Min(MaxGridYZ, batch - b0);
            for (long r0 = 0; r0 < m; r0 += rowsPerLaunch)
            {
                int nr = (int)Math.Min(rowsPerLaunch, m - r0);
                var g = geom with
                {
                    M = nr,
                    A = geom.A with { Offset = geom.A.Offset + (long)b0 * geom.A.SO + r0 * geom.A.SN },
                    B = geom.B with { Offset = geom.B.Offset + (long)b0 * geom.B.SO },
                    C = geom.C with { Offset = geom.C.Offset + (long)b0 * geom.C.SO + r0 * geom.C.SN },
                };
                var ab = biasAxis with { Offset = biasAxis.Offset + (long)b0 * biasAxis.SO + r0 * biasAxis.SN };
                var launch = new KernelConfig(new Index3D((int)gridX, (nr + edge - 1) / edge, nb), new Index3D(group, group, 1));
                kernel(_stream, launch, View<T>(a), View<T>(b), View<T>(c), g, biasView, ab, hasBias, act);
            }
        }
    }

    /// <summary>
    /// The implementation for a product: Int32 always takes the square tiles; cuBLAS on CUDA for float/double when it loaded; else the
    /// 8×8 register tiles when both block edges fill and there are at least as many blocks as
    /// multiprocessors; else 4×4 register tiles when m and n cover one block; else (thin or tiny
    /// products, where a big block would mostly compute padding) the one-output-per-thread tiles.
    /// </summary>
    internal GemmKernel ChooseGemm(Type t, int batch, int m, int n, int k, bool allowCuBlas = true)
    {
        bool floating = t == typeof(float) || t == typeof(double);
        bool cuda = _accelerator.AcceleratorType == AcceleratorType.Cuda;
        if (!floating) return GemmKernel.Tile; // the register-tiled kernels and cuBLAS are floating only
        if (ForceGemm != GemmKernel.Auto)
        {
            if (ForceGemm != GemmKernel.CuBlas) return ForceGemm;
            if (allowCuBlas && floating && cuda && k > 0) return GemmKernel.CuBlas;
        }
        else if (allowCuBlas && floating && cuda && k > 0 && CuBlas() is not null) return GemmKernel.CuBlas;
        long blocks8 = (long)((m + _gemm8.Edge - 1) / _gemm8.Edge) * ((n + _gemm8.Edge - 1) / _gemm8.Edge) * batch;
        if (m >= _gemm8.Edge && n >= _gemm8.Edge && blocks8 >= _accelerator.NumMultiprocessors) return GemmKernel.Reg8;
        if (m >= _gemm4.Edge && n >= _gemm4.Edge) return GemmKernel.Reg4;
        return GemmKernel.Tile;
    }

    /// <summary>The cuBLAS wrapper, created on first use on CUDA devices; null (for good) when it cannot load.</summary>
    private CuBlasGemm? CuBlas()
    {
        if (_cuBlasTried) return _cuBlas;
        lock (_kernelLock)
        {
            if (_cuBlasTried) return _cuBlas;
            if (_accelerator.AcceleratorType != AcceleratorType.Cuda) _cuBlasStatus = "not a CUDA device";
            else
            {
                Bind();
                _cuBlas = CuBlasGemm.TryCreate(_accelerator, out _cuBlasStatus);
            }
            _cuBlasTried = true;
            return _cuBlas;
        }
    }

    /// <summary>The <see cref="Act"/> code of an activation.</summary>
    private static int ActCode(string name, Activation activation) => activation switch
    {
        Activation.None => Act.None,
        Activation.Relu => Act.Relu,
        Activation.Sigmoid => Act.Sigmoid,
        Activation.Tanh => Act.Tanh,
        Activation.Gelu => Act.Gelu,
        Activation.GeluTanh => Act.GeluTanh,
        Activation.Silu => Act.Silu,
        Activation.LeakyRelu => Act.LeakyRelu,
        Activation.Elu => Act.Elu,
        Activation.Softplus => Act.Softplus,
        _ => throw new ArgumentOutOfRangeException(nameof(activation), $"{name}: unknown activation {activation}."),
    };

    /// <summary>c = act(c + bias) in one elementwise launch (the epilogue after cuBLAS).</summary>
    private void RunBiasAct<T>(StridedView c, StridedView? bias, int act) where T : unmanaged, INumber<T>
    {
        if (!Elements("MatMulEpilogue", c, out int count)) return;
        var bv = bias ?? c;
        var (d, s) = Geo.Build(c.Shape, c, bv);
        Kernel<Action<AcceleratorStream, Index1D, ArrayView<T>, ArrayView<T>, Dims8, Strides8, Strides8, int, int>>("MatMulEpilogue", KernelDefinitions.BiasAct, typeof(T), typeof(Act))
            (_stream, count, View<T>(c), View<T>(bv), d, s[0], s[1], bias is null ? 0 : 1, act);
    }
}

/// <summary>One register-tiled GEMM configuration on this accelerator: its config struct, threads per group edge and block edge.</summary>
internal readonly record struct GemmShape(Type Config, int Threads, int Edge);
