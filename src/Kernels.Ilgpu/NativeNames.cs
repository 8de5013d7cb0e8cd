using System.Reflection;
using System.Runtime.InteropServices;
using ILGPU;

namespace GpuNet.Kernels.Ilgpu;

/// <summary>
/// Lets ILGPU find the CUDA driver and the OpenCL loader on Linux machines that have only the
/// versioned runtime files. ILGPU imports them as <c>cuda</c> and <c>OpenCL</c>, which .NET probes as
/// <c>libcuda.so</c> and <c>libOpenCL.so</c>; those unversioned names come with development packages
/// (the CUDA toolkit, <c>ocl-icd-opencl-dev</c>), while a driver-only machine has just
/// <c>libcuda.so.1</c> and <c>libOpenCL.so.1</c>, the names the ABI is versioned under.
/// </summary>
internal static class NativeNames
{
    private static int s_registered;

    /// <summary>Installs the resolver for ILGPU's assembly once per process; a resolver someone else installed first is left alone.</summary>
    internal static void Register()
    {
        if (!OperatingSystem.IsLinux() || Interlocked.Exchange(ref s_registered, 1) != 0) return;
        try { NativeLibrary.SetDllImportResolver(typeof(Context).Assembly, Resolve); }
        catch (InvalidOperationException) { /* a resolver is already set for ILGPU: it decides */ }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        string[] candidates = name switch
        {
            "cuda" or "nvcuda" => ["libcuda.so", "libcuda.so.1"],
            "OpenCL" or "opencl" => ["libOpenCL.so", "libOpenCL.so.1"],
            _ => [],
        };
        foreach (var candidate in candidates)
            if (NativeLibrary.TryLoad(candidate, assembly, searchPath, out var handle)) return handle;
        return IntPtr.Zero; // the default probing, and its error, as before
    }
}
