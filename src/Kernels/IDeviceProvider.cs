namespace GpuNet.Kernels;

/// <summary>
/// What a backend assembly tells <see cref="Device"/> discovery: the devices it can run on, and why a
/// kind of device it serves is missing. A backend names its provider with <see cref="DeviceProviderAttribute"/>;
/// <see cref="Backends"/> is the one list of backend assemblies.
/// </summary>
internal interface IDeviceProvider
{
    /// <summary>The devices found, in the order <see cref="Device.All"/> lists them; never throws.</summary>
    IEnumerable<Device> Discover();

    /// <summary>Why no device of <paramref name="kind"/> was found (a driver's error), or null when this provider does not know.</summary>
    string? Problem(DeviceKind kind);
}
