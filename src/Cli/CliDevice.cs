namespace GpuNet.Cli;

/// <summary>Picks the device a command runs on and says where a bad choice came from.</summary>
internal static class CliDevice
{
    /// <summary>
    /// The device <paramref name="spec"/> (the --device value) names, else <see cref="Device.Default"/>. A bad value is an
    /// <see cref="ArgumentException"/> naming its source: the option, or the GPUNET_DEVICE variable (and, when the command
    /// has one, that --device overrides it).
    /// </summary>
    public static Device Resolve(string? spec, bool hasDeviceOption = true)
    {
        if (spec is not null)
        {
            try
            {
                return Device.Get(spec);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"--device: {e.Message}", e);
            }
        }
        try
        {
            return Device.Default;
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{FromEnvironment()}: {e.Message} Unset it{(hasDeviceOption ? ", or choose with --device" : "")}.", e);
        }
    }

    /// <summary>"GPUNET_DEVICE=value", for messages about the variable.</summary>
    public static string FromEnvironment() => $"{Device.EnvironmentVariable}={Environment.GetEnvironmentVariable(Device.EnvironmentVariable)}";

    /// <summary>The device <see cref="Device.Default"/> would pick without GPUNET_DEVICE: CUDA, else OpenCL, else the managed CPU.</summary>
    public static Device Fallback() =>
        Device.All.FirstOrDefault(d => d.Kind == DeviceKind.Cuda) ?? Device.All.FirstOrDefault(d => d.Kind == DeviceKind.OpenCL) ?? Device.Cpu;

    /// <summary>Warns that <paramref name="device"/> is ILGPU's CPU simulator, when it is: fine for testing kernels, far too slow for <paramref name="work"/>.</summary>
    public static void WarnIfSimulator(Device device, string work)
    {
        if (device.Kind == DeviceKind.IlgpuCpu)
            CommandLineHost.Warn($"{device} is ILGPU's CPU accelerator, a simulator for testing the GPU kernels: {work} runs there hundreds of times slower than on --device cpu (a Fashion-MNIST epoch takes hours).");
    }
}
