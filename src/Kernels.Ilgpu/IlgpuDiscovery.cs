using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace GpuNet.Kernels.Ilgpu;

/// <summary>
/// Finds ILGPU devices without creating accelerators: the CPU accelerator always, then every real
/// CUDA and OpenCL device. Only ILGPU's static device queries run here (a few milliseconds, no
/// Context); each device's ILGPU Context and accelerator are created by its backend factory on
/// first use. Discovery never throws: a missing driver just means no such device.
/// </summary>
internal static class IlgpuDiscovery
{
    /// <summary>
    /// The CPU accelerator's shape: 2 threads per warp × 2 warps × 1 multiprocessor = 4 OS threads
    /// and groups of up to 4 threads. Small, because every thread of a group is an OS thread and
    /// every barrier wakes them all; 4 is the least that still gives the matmul kernel a real 2×2 tile
    /// (so barriers and shared memory are exercised) and lets the implicitly grouped kernels run
    /// 4-wide. All kernels fit: implicit kernels adapt their group size, matmul picks Tile2.
    /// </summary>
    internal static CPUDevice CreateCpuDevice() => new(numThreadsPerWarp: 2, numWarpsPerMultiprocessor: 2, numMultiprocessors: 1);

    /// <summary>Set to 1 to also list OpenCL devices ILGPU would skip (e.g. PoCL), forcing them on: built at O2, with <see cref="ForceGenericAddressSpace"/>.</summary>
    internal const string ForceOpenClVariable = "GPUNET_OPENCL_FORCE";

    /// <summary>Why no CUDA device was listed (the driver's or ILGPU's error), or null.</summary>
    internal static string? CudaProblem { get; private set; }

    /// <summary>Why no OpenCL device was listed, or null.</summary>
    internal static string? OpenClProblem { get; private set; }

    internal static IEnumerable<Device> Discover()
    {
        NativeNames.Register();
        var list = new List<Device>
        {
            new("ILGPU CPU accelerator (4 threads)", DeviceKind.IlgpuCpu, 0, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, 2, CreateCpuBackend),
        };
        try
        {
            var cuda = CudaDevice.GetDevices(_ => true);
            int i = 0;
            foreach (var d in cuda)
            {
                if (d is not CudaDevice cd || d.AcceleratorType != AcceleratorType.Cuda) continue;
                int id = cd.DeviceId;
                list.Add(new Device(d.Name, DeviceKind.Cuda, i++, d.MemorySize, d.WarpSize, dev => CreateCudaBackend(dev, id)));
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException or BadImageFormatException or InvalidOperationException or NotSupportedException)
        {
            // No CUDA driver: no CUDA devices; the reason is kept for the "no cuda device" error.
            CudaProblem = Describe(e);
        }
        try
        {
            bool force = Environment.GetEnvironmentVariable(ForceOpenClVariable) == "1";
            var cl = CLDevice.GetDevices(d => force || Supported(d));
            int i = 0;
            foreach (var d in cl)
            {
                if (d is not CLDevice cd || d.AcceleratorType != AcceleratorType.OpenCL) continue;
                var (platform, device) = (cd.PlatformId, cd.DeviceId);
                list.Add(new Device(d.Name, DeviceKind.OpenCL, i++, d.MemorySize, d.WarpSize, dev => CreateOpenClBackend(dev, platform, device, force)));
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException or BadImageFormatException or InvalidOperationException or NotSupportedException)
        {
            // No OpenCL loader or ICD: no OpenCL devices.
            OpenClProblem = Describe(e);
        }
        return list;
    }

    private static string Describe(Exception e)
    {
        while (e is TypeInitializationException { InnerException: { } inner }) e = inner;
        return $"{e.GetType().Name}: {e.Message}";
    }

    // ILGPU's own default OpenCL filter (CLContextExtensions.OpenCL()).
    private static bool Supported(CLDevice d) =>
        d.CLStdVersion >= ILGPU.Backends.OpenCL.CLBackend.MinimumVersion && d.Capabilities.GenericAddressSpace;

    /// <summary>A context with the CPU device; O1 (the default) plus ILGPU.Algorithms for XMath.</summary>
    internal static IlgpuBackend CreateCpuBackend(Device device)
    {
        var context = Context.Create(b => b.CPU(CreateCpuDevice()).EnableAlgorithms());
        try
        {
            var accelerator = context.GetCPUDevice(0).CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel);
            return new IlgpuBackend(device, context, accelerator);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    private static IlgpuBackend CreateCudaBackend(Device device, int deviceId)
    {
        var context = Context.Create(b => b.Cuda(d => d.DeviceId == deviceId).EnableAlgorithms());
        try
        {
            var cuda = context.GetCudaDevices();
            if (cuda.Count == 0) throw new InvalidOperationException($"{device}: CUDA device {deviceId} disappeared after discovery.");
            return new IlgpuBackend(device, context, cuda[0].CreateAccelerator(context));
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    private static IlgpuBackend CreateOpenClBackend(Device device, IntPtr platformId, IntPtr deviceId, bool force)
    {
        var context = Context.Create(b =>
        {
            b.OpenCL(d => d.PlatformId == platformId && d.DeviceId == deviceId).EnableAlgorithms();
            // Forced devices (PoCL) only build the generated code at O2.
            if (force) b.Optimize(OptimizationLevel.O2);
        });
        try
        {
            var cl = context.GetCLDevices();
            if (cl.Count == 0) throw new InvalidOperationException($"{device}: OpenCL device disappeared after discovery.");
            if (force && !cl[0].Capabilities.GenericAddressSpace) ForceGenericAddressSpace(cl[0]);
            return new IlgpuBackend(device, context, cl[0].CreateAccelerator(context));
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The CL accelerator refuses devices without generic address space, though with O2 our kernels
    /// never need it; flip the capability flag (a private auto-property backing field) so it accepts them.
    /// </summary>
    private static void ForceGenericAddressSpace(CLDevice device)
    {
        var caps = device.Capabilities;
        var field = caps.GetType().GetField("<GenericAddressSpace>k__BackingField", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic);
        field?.SetValue(caps, true);
    }
}
