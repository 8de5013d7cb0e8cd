namespace GpuNet.Tests.TensorOps;

/// <summary><see cref="Device.AllowTf32"/>: off by default, and a no-op everywhere but cuBLAS on CUDA.</summary>
[Collection("Memory")] // flips a device-wide setting: no other test may run a product meanwhile
public sealed class Tf32Tests
{
    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void AllowTf32_IsOffByDefault_AndTouchesOnlyCudaProducts(string device)
    {
        var dev = Devices.Get(device);
        Assert.False(dev.AllowTf32);
        using var scope = Tensor.NewScope();
        var a = Tensor.Randn([33, 70], seed: 1, device: dev);
        var b = Tensor.Randn([70, 41], seed: 2, device: dev);
        var full = a.MatMul(b).ToArray();
        float[] tf32;
        try
        {
            dev.AllowTf32 = true;
            tf32 = a.MatMul(b).ToArray();
        }
        finally { dev.AllowTf32 = false; }
        if (dev.Kind != DeviceKind.Cuda)
        {
            Assert.Equal(full, tf32);
            return;
        }
        // TF32 keeps 10 mantissa bits of each input: errors near 1e-3 of the result's scale, never more than 1e-2.
        double scale = full.Max(Math.Abs), worst = full.Zip(tf32, (x, y) => Math.Abs(x - y)).Max();
        Assert.True(worst <= 1e-2 * scale, $"TF32 product off by {worst / scale:E2} of its scale");
    }
}
