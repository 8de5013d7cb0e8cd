using GpuNet.Tests.Backends;

namespace GpuNet.Tests.TensorOps;

/// <summary>
/// The devices the conformance suite runs on: the managed CPU and ILGPU's CPU accelerator always,
/// plus the GPU named by <c>GPUNET_DEVICE</c> when it names one. Theories take the device's name
/// (so test cases read "cpu", "ilgpu-cpu", "cuda") and resolve it with <see cref="Device.Get"/>.
/// <c>GPUNET_TEST_DEVICES</c> replaces the list (the GPU check runs the suites on the GPU alone).
/// </summary>
public static class Devices
{
    public static IReadOnlyList<string> Names
    {
        get
        {
            if (BackendDevices.Only() is { } only) return only;
            var names = new List<string> { "cpu", "ilgpu-cpu" };
            var env = Environment.GetEnvironmentVariable(Device.EnvironmentVariable)?.Trim().ToLowerInvariant();
            if (!string.IsNullOrEmpty(env) && (env.StartsWith("cuda") || env.StartsWith("opencl") || env.StartsWith("gpu") || env.StartsWith("cl")))
                names.Add(env);
            return names;
        }
    }

    /// <summary>One row per device.</summary>
    public static TheoryData<string> All
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var n in Names) data.Add(n);
            return data;
        }
    }

    /// <summary>One row per (device, case) pair.</summary>
    public static TheoryData<string, string> Cross(IEnumerable<string> cases)
    {
        var data = new TheoryData<string, string>();
        var list = cases.ToList();
        foreach (var n in Names)
            foreach (var c in list) data.Add(n, c);
        return data;
    }

    public static Device Get(string name) => Device.Get(name);
}
