using GpuNet.Kernels;
using GpuNet.Kernels.Managed;

[assembly: DeviceProvider(typeof(ManagedDeviceProvider))]

namespace GpuNet.Kernels.Managed;

/// <summary>The managed backend's one device: the CPU, always present.</summary>
internal sealed class ManagedDeviceProvider : IDeviceProvider
{
    /// <inheritdoc />
    public IEnumerable<Device> Discover() => [ManagedBackend.CreateDevice()];

    /// <inheritdoc />
    public string? Problem(DeviceKind kind) => null;
}
