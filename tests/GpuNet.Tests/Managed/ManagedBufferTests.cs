using GpuNet.Kernels;
using GpuNet.Kernels.Managed;

namespace GpuNet.Tests.Managed;

public sealed unsafe class ManagedBufferTests
{
    [Fact]
    public void EveryBuffer_StartsAtACacheLine_AndItsSpanCoversExactlyItsElements()
    {
        var backend = Device.Get("cpu").Backend;
        var held = new List<DeviceBuffer>();
        try
        {
            foreach (var n in new long[] { 0, 1, 3, 15, 16, 17, 100, 1000, 4097, 1 << 16 })
                foreach (var dtype in new[] { DType.Float32, DType.Float64, DType.Int32 })
                {
                    var b = (ManagedBuffer)backend.Allocate(dtype, n);
                    held.Add(b);
                    Assert.Equal(0, (nint)b.Pointer % ManagedBuffer.Alignment);
                    // The span starts at the same (aligned) address the kernels use.
                    if (dtype == DType.Float64)
                    {
                        var span = b.AsSpan<double>();
                        Assert.Equal(n, span.Length);
                        if (n > 0) fixed (double* p = span) Assert.Equal((nint)b.Pointer, (nint)p);
                    }
                    else if (dtype == DType.Float32)
                    {
                        var span = b.AsSpan<float>();
                        Assert.Equal(n, span.Length);
                        if (n > 0) fixed (float* p = span) Assert.Equal((nint)b.Pointer, (nint)p);
                    }
                }
        }
        finally
        {
            foreach (var b in held) b.Dispose();
        }
    }
}
