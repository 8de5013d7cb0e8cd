using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace GpuNet.Kernels.Managed;

/// <summary>
/// The managed SIMD CPU engine: elementwise ops through <c>TensorPrimitives</c> on contiguous rows
/// and a coalescing odometer on strided ones, a packed register-blocked GEMM, and
/// <see cref="Parallel"/> only where the work is large enough to pay for the threads.
/// All work is synchronous, so <see cref="Synchronize"/> has nothing to wait for.
/// </summary>
// Scratch stack buffers are always written before they are read: skip zeroing them (zeroing is a
// visible share of a small strided op).
[SkipLocalsInit]
internal sealed unsafe partial class ManagedBackend : IBackend
{
    /// <summary>Creates the backend of <paramref name="device"/>, with its own memory pool of pinned arrays.</summary>
    public ManagedBackend(Device device)
    {
        Device = device;
        Pool = new MemoryPool(device,
            // Room to start the data at a 64-byte boundary (see ManagedBuffer).
            bytes => GC.AllocateUninitializedArray<byte>(checked((int)bytes + ManagedBuffer.Alignment), pinned: true),
            _ => { /* the GC reclaims dropped arrays */ });
    }

    /// <summary>The managed CPU device: the CPU's model name, all of the GC's available memory.</summary>
    internal static Device CreateDevice() =>
        new(CpuName() + " (managed SIMD)", DeviceKind.Cpu, 0, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, warpSize: 1,
            d => new ManagedBackend(d));

    private static string CpuName()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is var c and >= 0)
                        return line[(c + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        var id = Environment.GetEnvironmentVariable("PROCESSOR_IDENTIFIER");
        return string.IsNullOrWhiteSpace(id) ? $"{RuntimeInformation.ProcessArchitecture} CPU, {Environment.ProcessorCount} threads" : id.Trim();
    }

    /// <inheritdoc />
    public Device Device { get; }

    /// <inheritdoc />
    public MemoryPool Pool { get; }

    /// <inheritdoc />
    public DeviceBuffer Allocate(DType dtype, long length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), $"Allocate: length {length} is negative.");
        long bytes = checked(length * dtype.SizeOf());
        if (MemoryPool.SizeClass(Math.Max(bytes, 1)) > Array.MaxLength)
            throw new NotSupportedException($"Allocate: {length:N0} {dtype.Name()} elements ({bytes:N0} bytes) exceed the managed backend's limit of {Array.MaxLength:N0} bytes per buffer.");
        var (raw, capacity) = Pool.Rent(bytes);
        return new ManagedBuffer(Pool, (byte[])raw, capacity, dtype, length);
    }

    /// <inheritdoc />
    public void Upload<T>(ReadOnlySpan<T> src, DeviceBuffer dst, long dstOffset = 0) where T : unmanaged
    {
        var b = Check(dst, "Upload");
        CheckElementType<T>(b, "Upload");
        if (dstOffset < 0 || dstOffset + src.Length > b.Length)
            throw new ArgumentOutOfRangeException(nameof(dstOffset), $"Upload: {src.Length} elements at offset {dstOffset} do not fit a buffer of {b.Length}.");
        src.CopyTo(new Span<T>(b.Data<T>() + dstOffset, src.Length));
    }

    /// <inheritdoc />
    public void Download<T>(DeviceBuffer src, Span<T> dst, long srcOffset = 0) where T : unmanaged
    {
        var b = Check(src, "Download");
        CheckElementType<T>(b, "Download");
        if (srcOffset < 0 || srcOffset + dst.Length > b.Length)
            throw new ArgumentOutOfRangeException(nameof(srcOffset), $"Download: {dst.Length} elements from offset {srcOffset} exceed a buffer of {b.Length}.");
        new ReadOnlySpan<T>(b.Data<T>() + srcOffset, dst.Length).CopyTo(dst);
    }

    /// <inheritdoc />
    public void Synchronize() { }

    /// <summary>Frees the pool's cached arrays.</summary>
    public void Dispose() => Pool.Trim();

    private static ManagedBuffer Check(DeviceBuffer buffer, string op)
    {
        if (buffer is not ManagedBuffer mb)
            throw new ArgumentException($"{op}: the buffer belongs to {buffer.Device} ({buffer.GetType().Name}), not to the managed CPU backend.");
        mb.ThrowIfDisposed(op);
        return mb;
    }

    private static void CheckElementType<T>(ManagedBuffer b, string op) where T : unmanaged
    {
        if (DTypeInfo.Of<T>() != b.DType)
            throw new ArgumentException($"{op}: host element type {typeof(T).Name} does not match the buffer's dtype {b.DType.Name()}.");
    }

    /// <summary>Checks a view's buffer and that every element it addresses lies inside the buffer, so kernels can use raw pointers safely.</summary>
    private static ManagedBuffer CheckView(in StridedView v, string op)
    {
        var b = Check(v.Buffer, op);
        v.Validate(op, "operand");
        return b;
    }

    private static T* Ptr<T>(in StridedView v) where T : unmanaged => ((ManagedBuffer)v.Buffer).Data<T>() + v.Offset;

    private static NotSupportedException IntNotSupported(string op) =>
        new($"{op} is floating only: it is not defined for int32 tensors (convert to float32 or float64 first).");
}
