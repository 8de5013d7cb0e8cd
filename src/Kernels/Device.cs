using GpuNet.Kernels;

namespace GpuNet;

/// <summary>
/// A place where tensors live and kernels run: the managed CPU engine, ILGPU's CPU accelerator,
/// or a CUDA / OpenCL GPU found by ILGPU. Devices are discovered once per process; each creates
/// its backend on first use.
/// </summary>
public sealed class Device
{
    /// <summary>Environment variable that overrides <see cref="Default"/>: cpu, ilgpu-cpu, cuda, opencl, with an optional :index.</summary>
    public const string EnvironmentVariable = "GPUNET_DEVICE";

    private static readonly Lazy<IReadOnlyList<Device>> s_all = new(Discover);
    private static readonly Lazy<Device> s_default = new(() => PickDefault(Environment.GetEnvironmentVariable(EnvironmentVariable)));
    private readonly Func<Device, IBackend> _createBackend;
    private readonly Lock _lock = new();
    private IBackend? _backend;

    internal Device(string name, DeviceKind kind, int index, long memoryBytes, int warpSize, Func<Device, IBackend> createBackend)
    {
        Name = name;
        Kind = kind;
        Index = index;
        MemoryBytes = memoryBytes;
        WarpSize = warpSize;
        _createBackend = createBackend;
    }

    /// <summary>Human-readable device name (the GPU's, or the CPU's).</summary>
    public string Name { get; }

    /// <summary>What runs the kernels.</summary>
    public DeviceKind Kind { get; }

    /// <summary>Index among the devices of the same kind.</summary>
    public int Index { get; }

    /// <summary>Memory the device reports, in bytes.</summary>
    public long MemoryBytes { get; }

    /// <summary>Threads per warp (1 for the managed CPU).</summary>
    public int WarpSize { get; }

    /// <summary>
    /// Lets float32 matrix products on this device run on tensor cores in TF32 (10-bit mantissa
    /// inputs, float32 accumulation), as PyTorch's <c>torch.backends.cuda.matmul.allow_tf32</c>:
    /// several times faster on NVIDIA GPUs from Ampere on, with relative errors near 1e-3 instead of
    /// 1e-6. Off by default. It affects cuBLAS products on CUDA devices only; every other device and
    /// GpuNet's own kernels compute in full float32 regardless.
    /// </summary>
    public bool AllowTf32 { get; set; }

    /// <summary>Kernel launches, host synchronisations and host↔device bytes on this device so far.</summary>
    public DeviceCounters Counters { get; } = new();

    /// <summary>True for CUDA and OpenCL devices.</summary>
    public bool IsGpu => Kind is DeviceKind.Cuda or DeviceKind.OpenCL;

    /// <summary>The backend running this device's ops, created on first use.</summary>
    public IBackend Backend
    {
        get
        {
            if (_backend is { } b) return b;
            lock (_lock) return _backend ??= _createBackend(this);
        }
    }

    /// <summary>The device's allocator and its counters.</summary>
    public MemoryPool Pool => Backend.Pool;

    /// <summary>Every device found, the managed CPU first, then the ILGPU CPU accelerator, then GPUs.</summary>
    public static IReadOnlyList<Device> All => s_all.Value;

    /// <summary>The managed SIMD CPU device.</summary>
    public static Device Cpu => All[0];

    /// <summary>ILGPU's CPU accelerator (runs the GPU kernels on CPU threads; for tests).</summary>
    public static Device IlgpuCpu => All.First(d => d.Kind == DeviceKind.IlgpuCpu);

    /// <summary>
    /// The device used when none is named: <c>GPUNET_DEVICE</c> if set, else the first CUDA
    /// device, else the first OpenCL device, else the managed CPU.
    /// </summary>
    public static Device Default => s_default.Value;

    /// <summary>
    /// Finds a device by name: <c>cpu</c>, <c>ilgpu-cpu</c>, <c>cuda</c>, <c>opencl</c>, optionally
    /// followed by <c>:index</c>. An unknown or absent device is an error listing what exists.
    /// </summary>
    public static Device Get(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var text = spec.Trim().ToLowerInvariant();
        int index = 0;
        int colon = text.IndexOf(':');
        if (colon >= 0)
        {
            if (!int.TryParse(text[(colon + 1)..], out index) || index < 0)
                throw new ArgumentException($"Device '{spec}': the index after ':' must be a non-negative integer. Available: {Available()}.");
            text = text[..colon];
        }
        DeviceKind kind = text switch
        {
            "cpu" => DeviceKind.Cpu,
            "ilgpu-cpu" => DeviceKind.IlgpuCpu,
            "cuda" or "gpu" => DeviceKind.Cuda,
            "opencl" or "cl" => DeviceKind.OpenCL,
            _ => throw new ArgumentException($"Device '{spec}': unknown kind '{text}'; expected cpu, ilgpu-cpu, cuda or opencl (optionally with :index). Available: {Available()}."),
        };
        var matches = All.Where(d => d.Kind == kind).ToList();
        if (index >= matches.Count)
            throw new ArgumentException(matches.Count == 0
                ? $"Device '{spec}': no {KindName(kind)} device on this machine{Problem(kind)}. Available: {Available()}."
                : $"Device '{spec}': index {index} is out of range; there are {matches.Count} {KindName(kind)} device(s). Available: {Available()}.");
        return matches[index];
    }

    /// <summary>The short spelling of a kind used in device names (cpu, ilgpu-cpu, cuda, opencl).</summary>
    public static string KindName(DeviceKind kind) => kind switch
    {
        DeviceKind.Cpu => "cpu",
        DeviceKind.IlgpuCpu => "ilgpu-cpu",
        DeviceKind.Cuda => "cuda",
        _ => "opencl",
    };

    /// <summary>The device's spec, e.g. <c>cpu</c>, <c>cuda:0</c>; <see cref="Get"/> accepts it back.</summary>
    public override string ToString() => Kind is DeviceKind.Cpu or DeviceKind.IlgpuCpu ? KindName(Kind) : $"{KindName(Kind)}:{Index}";

    private static string Problem(DeviceKind kind) => Backends.Problem(kind) is { } why ? $" ({why})" : "";

    private static string Available() => string.Join(", ", All.Select(d => d.ToString()));

    internal static Device PickDefault(string? spec)
    {
        if (!string.IsNullOrWhiteSpace(spec)) return Get(spec);
        return All.FirstOrDefault(d => d.Kind == DeviceKind.Cuda)
            ?? All.FirstOrDefault(d => d.Kind == DeviceKind.OpenCL)
            ?? Cpu;
    }

    private static IReadOnlyList<Device> Discover()
    {
        var list = Backends.Discover();
        if (list.Count == 0 || list[0].Kind != DeviceKind.Cpu)
            throw new InvalidOperationException("Device: the managed CPU backend (GpuNet.Kernels.Managed) is not deployed; every application needs it.");
        return list;
    }
}
