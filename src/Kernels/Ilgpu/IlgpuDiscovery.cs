namespace GpuNet.Kernels.Ilgpu;

/// <summary>Finds ILGPU devices. (Stub: being written.)</summary>
internal static class IlgpuDiscovery
{
    internal static IEnumerable<Device> Discover() => [];
}
