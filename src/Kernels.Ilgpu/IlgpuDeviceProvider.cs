using GpuNet.Kernels;
using GpuNet.Kernels.Ilgpu;

[assembly: DeviceProvider(typeof(IlgpuDeviceProvider))]

namespace GpuNet.Kernels.Ilgpu;

/// <summary>The ILGPU backend's devices: the CPU accelerator, then every CUDA and OpenCL device (see <see cref="IlgpuDiscovery"/>).</summary>
internal sealed class IlgpuDeviceProvider : IDeviceProvider
{
    /// <inheritdoc />
    public IEnumerable<Device> Discover() => IlgpuDiscovery.Discover();

    /// <inheritdoc />
    public string? Problem(DeviceKind kind) => kind switch
    {
        DeviceKind.Cuda => IlgpuDiscovery.CudaProblem,
        DeviceKind.OpenCL => IlgpuDiscovery.OpenClProblem,
        _ => null,
    };
}
