using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels.Ilgpu;

/// <summary>
/// A device buffer on an ILGPU accelerator: an untyped byte allocation from the pool, seen as
/// float, double or int through <see cref="ArrayView{T}.Cast{TOther}"/>. Raw bytes let one pool
/// size class serve every dtype.
/// </summary>
internal sealed class IlgpuBuffer : DeviceBuffer
{
    internal IlgpuBuffer(MemoryPool pool, MemoryBuffer1D<byte, Stride1D.Dense> memory, long capacityBytes, DType dtype, long length)
        : base(pool, memory, capacityBytes, dtype, length)
    {
    }

    /// <summary>The pooled ILGPU allocation (its capacity may exceed <see cref="DeviceBuffer.Length"/>).</summary>
    internal MemoryBuffer1D<byte, Stride1D.Dense> Memory => (MemoryBuffer1D<byte, Stride1D.Dense>)Raw;

    /// <summary>The whole allocation as elements of <typeparamref name="T"/>.</summary>
    internal ArrayView<T> View<T>() where T : unmanaged => Memory.View.AsContiguous().Cast<T>();
}
