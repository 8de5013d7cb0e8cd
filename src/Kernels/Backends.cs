using System.Reflection;

namespace GpuNet.Kernels;

/// <summary>
/// The composition root of the devices: the backend assemblies, in the order their devices are listed
/// (the managed CPU first). The contract references no backend; each backend assembly references the
/// contract and names its provider with <see cref="DeviceProviderAttribute"/>. A backend that is not
/// deployed contributes no devices, as a missing driver does.
/// </summary>
internal static class Backends
{
    private static readonly string[] s_assemblies = ["GpuNet.Kernels.Managed", "GpuNet.Kernels.Ilgpu"];

    private static readonly Lazy<IReadOnlyList<(string Assembly, IDeviceProvider? Provider, string? Problem)>> s_providers = new(Load);

    /// <summary>Every device of every deployed backend.</summary>
    public static IReadOnlyList<Device> Discover()
    {
        var list = new List<Device>();
        foreach (var (_, provider, _) in s_providers.Value)
            if (provider is not null) list.AddRange(provider.Discover());
        return list;
    }

    /// <summary>Why there is no device of <paramref name="kind"/>: the first provider's reason, or a backend that failed to load.</summary>
    public static string? Problem(DeviceKind kind)
    {
        foreach (var (assembly, provider, problem) in s_providers.Value)
        {
            if (provider?.Problem(kind) is { } why) return why;
            if (provider is null && problem is not null) return $"{assembly}: {problem}";
        }
        return null;
    }

    private static IReadOnlyList<(string, IDeviceProvider?, string?)> Load()
    {
        var result = new List<(string, IDeviceProvider?, string?)>();
        foreach (var name in s_assemblies)
        {
            try
            {
                var assembly = Assembly.Load(new AssemblyName(name));
                var type = assembly.GetCustomAttribute<DeviceProviderAttribute>()?.ProviderType
                    ?? throw new InvalidOperationException($"{name} names no device provider.");
                result.Add((name, (IDeviceProvider)Activator.CreateInstance(type, nonPublic: true)!, null));
            }
            catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
            {
                result.Add((name, null, "not deployed with this application"));
            }
        }
        return result;
    }
}
