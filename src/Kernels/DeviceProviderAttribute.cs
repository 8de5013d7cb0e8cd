namespace GpuNet.Kernels;

/// <summary>Names the <c>IDeviceProvider</c> of a backend assembly, which <see cref="Device"/> discovery creates.</summary>
/// <param name="providerType">A class with a parameterless constructor that implements the provider interface.</param>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = false)]
public sealed class DeviceProviderAttribute(Type providerType) : Attribute
{
    /// <summary>The provider's type.</summary>
    public Type ProviderType { get; } = providerType;
}
