using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace GpuNet.Kernels.Managed;

/// <summary>
/// A managed-CPU allocation: a byte array on the pinned object heap, so its address never moves
/// and the kernels can work through raw pointers without fixing it on every op.
/// </summary>
internal sealed unsafe class ManagedBuffer : DeviceBuffer
{
    /// <summary>
    /// Where element 0 lies: a cache-line boundary. An array's data starts wherever the heap put it, so without
    /// this a buffer's 64-byte vector loads and stores straddled two cache lines or not depending on the process,
    /// and the same step ran at two speeds from one run to the next. The backend allocates this much extra.
    /// </summary>
    internal const int Alignment = 64;

    private readonly byte* _pointer;
    private readonly int _start;

    internal ManagedBuffer(MemoryPool pool, byte[] raw, long capacityBytes, DType dtype, long length)
        : base(pool, raw, capacityBytes, dtype, length)
    {
        // Pinned-heap arrays never move, so taking the address once is safe for the array's lifetime.
        var data = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(raw));
        _pointer = (byte*)(((nint)data + Alignment - 1) & ~(nint)(Alignment - 1));
        _start = (int)(_pointer - data);
    }

    /// <summary>Address of element 0. Valid while the buffer is not disposed.</summary>
    internal byte* Pointer => _pointer;

    /// <summary>Typed address of element 0.</summary>
    internal T* Data<T>() where T : unmanaged => (T*)_pointer;

    /// <summary>The buffer's <see cref="DeviceBuffer.Length"/> elements viewed as <typeparamref name="T"/>.</summary>
    public Span<T> AsSpan<T>() where T : unmanaged
    {
        if (sizeof(T) != DType.SizeOf())
            throw new ArgumentException($"ManagedBuffer.AsSpan: element type {typeof(T).Name} does not match the buffer's dtype {DType.Name()}.");
        return MemoryMarshal.Cast<byte, T>(((byte[])Raw).AsSpan(_start))[..checked((int)Length)];
    }
}
