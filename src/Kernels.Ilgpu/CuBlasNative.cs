using System.Runtime.InteropServices;

namespace GpuNet.Kernels.Ilgpu;

/// <summary>
/// The handful of cuBLAS entry points GpuNet calls, bound at run time from the newest cuBLAS
/// library found (13, 12, then 11). Function pointers rather than <c>DllImport</c>: the library's
/// file name carries its major version, and a missing library must leave the device working on its
/// own kernels. The <c>_v2</c> signatures have not changed since cuBLAS 4.
/// </summary>
internal sealed unsafe class CuBlasNative
{
    /// <summary>CUBLAS_DEFAULT_MATH: float32 GEMMs in FP32.</summary>
    internal const int DefaultMath = 0;

    /// <summary>CUBLAS_TF32_TENSOR_OP_MATH: float32 GEMMs on the tensor cores with TF32 inputs (cuBLAS 11+).</summary>
    internal const int Tf32TensorOpMath = 3;

    private static readonly Lazy<(CuBlasNative? Library, string? Error)> s_loaded = new(Load);

    private readonly delegate* unmanaged<IntPtr*, int> _create;
    private readonly delegate* unmanaged<IntPtr, int> _destroy;
    private readonly delegate* unmanaged<IntPtr, IntPtr, int> _setStream;
    private readonly delegate* unmanaged<IntPtr, int*, int> _getVersion;
    private readonly delegate* unmanaged<IntPtr, int, int> _setMathMode;
    private readonly delegate* unmanaged<IntPtr, int, int, int, int, int, float*, float*, int, float*, int, float*, float*, int, int> _sgemm;
    private readonly delegate* unmanaged<IntPtr, int, int, int, int, int, double*, double*, int, double*, int, double*, double*, int, int> _dgemm;
    private readonly delegate* unmanaged<IntPtr, int, int, int, int, int, float*, float*, int, long, float*, int, long, float*, float*, int, long, int, int> _sgemmStridedBatched;
    private readonly delegate* unmanaged<IntPtr, int, int, int, int, int, double*, double*, int, long, double*, int, long, double*, double*, int, long, int, int> _dgemmStridedBatched;

    private CuBlasNative(IntPtr library, string name)
    {
        LibraryName = name;
        _create = (delegate* unmanaged<IntPtr*, int>)Export(library, "cublasCreate_v2");
        _destroy = (delegate* unmanaged<IntPtr, int>)Export(library, "cublasDestroy_v2");
        _setStream = (delegate* unmanaged<IntPtr, IntPtr, int>)Export(library, "cublasSetStream_v2");
        _getVersion = (delegate* unmanaged<IntPtr, int*, int>)Export(library, "cublasGetVersion_v2");
        _setMathMode = (delegate* unmanaged<IntPtr, int, int>)Export(library, "cublasSetMathMode");
        _sgemm = (delegate* unmanaged<IntPtr, int, int, int, int, int, float*, float*, int, float*, int, float*, float*, int, int>)Export(library, "cublasSgemm_v2");
        _dgemm = (delegate* unmanaged<IntPtr, int, int, int, int, int, double*, double*, int, double*, int, double*, double*, int, int>)Export(library, "cublasDgemm_v2");
        _sgemmStridedBatched = (delegate* unmanaged<IntPtr, int, int, int, int, int, float*, float*, int, long, float*, int, long, float*, float*, int, long, int, int>)Export(library, "cublasSgemmStridedBatched");
        _dgemmStridedBatched = (delegate* unmanaged<IntPtr, int, int, int, int, int, double*, double*, int, long, double*, int, long, double*, double*, int, long, int, int>)Export(library, "cublasDgemmStridedBatched");
    }

    /// <summary>The file the entry points came from, e.g. <c>libcublas.so.13</c>.</summary>
    internal string LibraryName { get; }

    /// <summary>The loaded library (once per process), or null with the reason in <paramref name="error"/>.</summary>
    internal static CuBlasNative? TryLoad(out string? error)
    {
        var (library, e) = s_loaded.Value;
        error = e;
        return library;
    }

    /// <summary>The library names tried, newest first, for this operating system.</summary>
    internal static IReadOnlyList<string> Candidates { get; } =
        OperatingSystem.IsWindows() ? ["cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll"]
        : OperatingSystem.IsMacOS() ? []
        : ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"];

    private static (CuBlasNative?, string?) Load()
    {
        foreach (var name in Candidates)
        {
            if (!NativeLibrary.TryLoad(name, typeof(CuBlasNative).Assembly, null, out var handle)) continue;
            try { return (new CuBlasNative(handle, name), null); }
            catch (EntryPointNotFoundException e)
            {
                NativeLibrary.Free(handle);
                return (null, $"{name}: {e.Message}");
            }
        }
        return (null, $"none of {string.Join(", ", Candidates)} could be loaded (set LD_LIBRARY_PATH to the CUDA toolkit's lib64)");
    }

    private static IntPtr Export(IntPtr library, string name) =>
        NativeLibrary.TryGetExport(library, name, out var f) ? f : throw new EntryPointNotFoundException($"cuBLAS has no {name}");

    internal int Create(IntPtr* handle) => _create(handle);

    internal int Destroy(IntPtr handle) => _destroy(handle);

    internal int SetStream(IntPtr handle, IntPtr stream) => _setStream(handle, stream);

    internal int GetVersion(IntPtr handle, int* version) => _getVersion(handle, version);

    internal int SetMathMode(IntPtr handle, int mode) => _setMathMode(handle, mode);

    internal int Sgemm(IntPtr h, int ta, int tb, int m, int n, int k, float* alpha, float* a, int lda, float* b, int ldb, float* beta, float* c, int ldc) =>
        _sgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    internal int Dgemm(IntPtr h, int ta, int tb, int m, int n, int k, double* alpha, double* a, int lda, double* b, int ldb, double* beta, double* c, int ldc) =>
        _dgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    internal int SgemmStridedBatched(IntPtr h, int ta, int tb, int m, int n, int k, float* alpha, float* a, int lda, long sa, float* b, int ldb, long sb, float* beta, float* c, int ldc, long sc, int batch) =>
        _sgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);

    internal int DgemmStridedBatched(IntPtr h, int ta, int tb, int m, int n, int k, double* alpha, double* a, int lda, long sa, double* b, int ldb, long sb, double* beta, double* c, int ldc, long sc, int batch) =>
        _dgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);

    /// <summary>cublasStatus_t as its name, for error messages.</summary>
    internal static string StatusName(int status) => status switch
    {
        0 => "CUBLAS_STATUS_SUCCESS",
        1 => "CUBLAS_STATUS_NOT_INITIALIZED",
        3 => "CUBLAS_STATUS_ALLOC_FAILED",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        16 => "CUBLAS_STATUS_LICENSE_ERROR",
        _ => $"cuBLAS status {status}",
    };
}

/// <summary>A cuBLAS call returned an error status.</summary>
internal sealed class CuBlasCallException(string call, int status)
    : Exception($"{call} returned {CuBlasNative.StatusName(status)}")
{
    /// <summary>The cublasStatus_t value.</summary>
    public int Status { get; } = status;
}
