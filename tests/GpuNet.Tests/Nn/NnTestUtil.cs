using System.Buffers.Binary;
using System.IO.Compression;
using GpuNet.Nn;
using Xunit;

namespace GpuNet.Tests.Nn;

/// <summary>Helpers shared by the Nn tests.</summary>
internal static class NnTestUtil
{
    public static Device Cpu => Device.Cpu;

    public static Tensor F64(double[] values, params int[] shape) => Tensor.FromArray(values, shape.Length == 0 ? null : shape, Cpu);

    public static Tensor F32(float[] values, params int[] shape) => Tensor.FromArray(values, shape.Length == 0 ? null : shape, Cpu);

    public static Tensor I32(params int[] values) => Tensor.FromArray(values, null, Cpu);

    public static void Near(double expected, double actual, double tol = 1e-6) =>
        Assert.True(Math.Abs(expected - actual) <= tol * Math.Max(1, Math.Abs(expected)), $"expected {expected:R}, got {actual:R}");

    public static void Near(double[] expected, double[] actual, double tol = 1e-6)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * Math.Max(1, Math.Abs(expected[i])), $"element {i}: expected {expected[i]:R}, got {actual[i]:R}");
    }

    public static double[] D(Tensor t) => t.To(DType.Float64).ToArray<double>();

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "gpunet-nn-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>
    /// Steps an optimizer over a parameter starting at <paramref name="start"/> with fixed gradients (the loss is Σ gₜ·p,
    /// so ∂L/∂p = gₜ whatever p is), cycling through <paramref name="grads"/>; returns the parameter after each step.
    /// </summary>
    public static List<double[]> RunFixedGradients(double[] start, double[][] grads, Func<Parameter, Optimizer> make, int steps)
    {
        using var p = P(start, start.Length);
        using var opt = make(p);
        var after = new List<double[]>();
        for (int t = 0; t < steps; t++)
        {
            using var scope = Tensor.NewScope();
            var loss = (p.Data * F64(grads[t % grads.Length], start.Length)).Sum();
            opt.ZeroGrad();
            loss.Backward();
            opt.Step();
            after.Add(D(p.Data));
        }
        return after;
    }

    /// <summary>A float64 parameter with the given values.</summary>
    public static Parameter P(double[] values, params int[] shape) => new(F64(values, shape));

    /// <summary>An IDX file: magic (0, 0, type, rank), big-endian dims, then the data.</summary>
    public static byte[] IdxBytes(byte type, int[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        bytes[2] = type;
        bytes[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    /// <summary>The gzip of <paramref name="raw"/>, as the Fashion-MNIST files ship.</summary>
    public static byte[] Gzip(byte[] raw)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(raw);
        return ms.ToArray();
    }
}

/// <summary>Tests that measure the CPU pool or global state run alone, after the parallel ones.</summary>
[CollectionDefinition("Nn serial", DisableParallelization = true)]
public sealed class NnSerialCollection;

/// <summary>A fact that is skipped, with the reason, when Fashion-MNIST is not installed.</summary>
public sealed class FashionMnistFactAttribute : FactAttribute
{
    public FashionMnistFactAttribute([System.Runtime.CompilerServices.CallerFilePath] string? sourceFilePath = null, [System.Runtime.CompilerServices.CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (FashionMnist.Locate() is null)
            Skip = $"Fashion-MNIST not found in ${FashionMnist.EnvironmentVariable} or {FashionMnist.DefaultDirectory} (apt-get install dataset-fashion-mnist).";
    }
}
