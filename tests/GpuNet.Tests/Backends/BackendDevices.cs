using Xunit;

namespace GpuNet.Tests.Backends;

/// <summary>
/// The devices the conformance suite runs on, by name so that xunit can serialize each case:
/// the managed CPU and ILGPU's CPU accelerator always, plus the device <c>GPUNET_DEVICE</c> names
/// when it names a GPU (cuda / opencl, optionally with :index); <c>GPUNET_TEST_DEVICES</c> replaces the list. Names are resolved with
/// <see cref="Device.Get"/> only when a test runs, so discovery never touches a backend.
/// </summary>
public static class BackendDevices
{
    public const string Cpu = "cpu";
    public const string IlgpuCpu = "ilgpu-cpu";

    /// <summary>Device names, in the order the suite reports them.</summary>
    public static IReadOnlyList<string> Names { get; } = Discover();

    /// <summary>One row per device: <c>[MemberData(nameof(BackendDevices.All), MemberType = typeof(BackendDevices))]</c>.</summary>
    public static TheoryData<string> All
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var name in Names) data.Add(name);
            return data;
        }
    }

    /// <summary>Resolves a name from a test case to its device (<c>reference[:Mutation]</c> is the suite's own host oracle device).</summary>
    public static Device Resolve(string name) =>
        name.StartsWith("reference", StringComparison.OrdinalIgnoreCase) ? ReferenceBackend.DeviceFor(name) : Device.Get(name);

    /// <summary>True when the name in GPUNET_DEVICE denotes a GPU kind.</summary>
    public static bool NamesGpu(string? spec)
    {
        if (string.IsNullOrWhiteSpace(spec)) return false;
        var kind = spec.Trim().ToLowerInvariant().Split(':')[0];
        return kind is "cuda" or "gpu" or "opencl" or "cl";
    }

    /// <summary>Environment variable with a comma-separated device list that replaces the default rows (e.g. <c>cuda</c> on a GPU machine).</summary>
    public const string OnlyVariable = "GPUNET_TEST_DEVICES";

    /// <summary>The devices <c>GPUNET_TEST_DEVICES</c> names, or null when it is unset.</summary>
    public static List<string>? Only() =>
        Environment.GetEnvironmentVariable(OnlyVariable) is { Length: > 0 } list
            ? list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(n => n.ToLowerInvariant()).ToList()
            : null;

    private static List<string> Discover()
    {
        if (Only() is { } only) return only;
        var names = new List<string> { Cpu, IlgpuCpu };
        var spec = Environment.GetEnvironmentVariable(Device.EnvironmentVariable);
        if (NamesGpu(spec)) names.Add(spec!.Trim().ToLowerInvariant());
        return names;
    }
}
