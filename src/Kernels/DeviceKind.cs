namespace GpuNet;

/// <summary>What executes a device's kernels.</summary>
public enum DeviceKind
{
    /// <summary>The managed SIMD backend: the real CPU engine.</summary>
    Cpu,
    /// <summary>ILGPU's CPU accelerator running the GPU kernels: the test oracle, slow.</summary>
    IlgpuCpu,
    /// <summary>An NVIDIA GPU through ILGPU's CUDA backend.</summary>
    Cuda,
    /// <summary>An OpenCL device through ILGPU's OpenCL backend.</summary>
    OpenCL,
}
