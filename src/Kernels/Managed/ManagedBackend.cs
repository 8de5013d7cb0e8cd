namespace GpuNet.Kernels.Managed;

/// <summary>The managed SIMD CPU engine. (Stub: being written.)</summary>
public sealed partial class ManagedBackend
{
    internal static Device CreateDevice() => throw new NotImplementedException();
}
