using System.CommandLine;
using System.Globalization;

namespace GpuNet.Cli.Commands;

/// <summary><c>gpunet devices</c>: every accelerator found, and the one <see cref="Device.Default"/> picks.</summary>
internal static class DevicesCommand
{
    public static Command Create()
    {
        var command = new Command("devices", "List every device found (name, kind, memory, warp size) and which one Default picks.");
        command.SetAction(_ =>
        {
            // A bad GPUNET_DEVICE is what this command helps to fix, so it lists the devices anyway.
            Device chosen;
            string? badEnvironment = null;
            try
            {
                chosen = Device.Default;
            }
            catch (ArgumentException e)
            {
                chosen = CliDevice.Fallback();
                badEnvironment = e.Message;
                CommandLineHost.Warn($"{CliDevice.FromEnvironment()} names no device here ({e.Message}); without it the default is {chosen}.");
            }
            Console.WriteLine($"{"device",-12} {"kind",-10} {"memory",10} {"warp",5}  name");
            foreach (var d in Device.All)
            {
                string marker = d == chosen ? "  <- default" : "";
                Console.WriteLine($"{d,-12} {Device.KindName(d.Kind),-10} {FormatBytes(d.MemoryBytes),10} {d.WarpSize,5}  {d.Name}{marker}");
            }
            var env = Environment.GetEnvironmentVariable(Device.EnvironmentVariable);
            Console.WriteLine(badEnvironment is not null
                ? $"default: {chosen} once {Device.EnvironmentVariable} is unset or names one of the devices above"
                : string.IsNullOrWhiteSpace(env)
                    ? $"default: {chosen} (CUDA > OpenCL > cpu; set {Device.EnvironmentVariable} to override)"
                    : $"default: {chosen} (from {Device.EnvironmentVariable}={env})");
            return 0;
        });
        return command;
    }

    private static string FormatBytes(long bytes) => bytes >= 1L << 30
        ? (bytes / (double)(1L << 30)).ToString("0.0", CultureInfo.InvariantCulture) + " GiB"
        : (bytes / (double)(1L << 20)).ToString("0", CultureInfo.InvariantCulture) + " MiB";
}
