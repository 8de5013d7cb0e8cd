using System.Buffers.Binary;
using GpuNet.Nn;
using static GpuNet.Tests.Nn.NnTestUtil;

namespace GpuNet.Tests.Nn;

/// <summary>Data sets a user can get wrong: a corrupt or empty file fails with the documented exception, never trains to NaN.</summary>
public sealed class DataRobustnessTests
{
    private static byte[] IdxBytes(int[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        bytes[2] = 0x08;
        bytes[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    private static string Write(int trainCount, int testCount)
    {
        var dir = TempDir();
        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte"), IdxBytes([trainCount, 28, 28], new byte[trainCount * 784]));
        File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte"), IdxBytes([trainCount], new byte[trainCount]));
        File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte"), IdxBytes([testCount, 28, 28], new byte[testCount * 784]));
        File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte"), IdxBytes([testCount], new byte[testCount]));
        return dir;
    }

    [Fact]
    public void ACorruptFile_IsTheReadersInvalidDataException_NotAnAggregateException()
    {
        // An empty labels file among three good ones (read in parallel, which wrapped the error in an AggregateException).
        var dir = Write(2, 2);
        var labels = Path.Combine(dir, "t10k-labels-idx1-ubyte");
        File.WriteAllBytes(labels, []);
        var e = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(dir, Cpu));
        Assert.StartsWith(labels, e.Message);
        Directory.Delete(dir, true);
    }

    [Theory]
    [InlineData(0, 2, "train-images-idx3-ubyte")]
    [InlineData(2, 0, "t10k-images-idx3-ubyte")]
    public void AnEmptySplit_IsRejected(int train, int test, string file)
    {
        var dir = Write(train, test);
        var e = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(dir, Cpu));
        Assert.Contains(Path.Combine(dir, file), e.Message);
        Assert.Contains("no samples", e.Message);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void TrainingOnAnEmptySet_IsAnError_AndWritesNoCheckpoint()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "m.safetensors");
        using var full = SyntheticData.Spirals(10, 5, seed: 1, device: Cpu);
        var none = new TensorDataset(Tensor.Zeros([0, 2], device: Cpu).DetachFromScope(), Tensor.Zeros([0], DType.Int32, Cpu).DetachFromScope());
        foreach (var data in new[] { new ClassificationData("empty train", none, full.Test, 3), new ClassificationData("empty test", full.Train, none, 3) })
        {
            var e = Assert.Throws<ArgumentException>(() => ClassifierTraining.Run(data, new TrainConfig { Epochs = 1, Hidden = [4], Checkpoint = path }, Cpu));
            Assert.Contains(data.Name, e.Message);
            Assert.Contains("empty", e.Message);
        }
        Assert.Empty(Directory.GetFiles(dir));
        none.Features.Dispose();
        none.Labels.Dispose();
        Directory.Delete(dir, true);
    }

    [Fact]
    public void MissingFiles_ListsWhatADirectoryLacks()
    {
        var dir = Write(1, 1);
        Assert.Empty(FashionMnist.MissingFiles(dir));
        File.Delete(Path.Combine(dir, "train-labels-idx1-ubyte"));
        Assert.Equal(["train-labels-idx1-ubyte"], FashionMnist.MissingFiles(dir));
        Assert.Equal(4, FashionMnist.MissingFiles(Path.Combine(dir, "nope")).Count);
        Directory.Delete(dir, true);
    }
}
