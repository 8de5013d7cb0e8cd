using System.Buffers.Binary;
using System.IO.Compression;
using GpuNet.Nn;
using Xunit;
using static GpuNet.Tests.Nn.NnTestUtil;

namespace GpuNet.Tests.Nn;

public class DataTests
{
    private static TensorDataset Numbered(int n)
    {
        var x = Enumerable.Range(0, n * 2).Select(i => (float)i).ToArray();
        var y = Enumerable.Range(0, n).ToArray();
        return new TensorDataset(F32(x, n, 2), Tensor.FromArray(y, null, Cpu));
    }

    [Fact]
    public void DataLoader_visits_every_sample_once_per_epoch_in_a_seeded_order()
    {
        using var scope = Tensor.NewScope();
        var ds = Numbered(10);
        var loader = new DataLoader(ds, batchSize: 3, shuffle: true, seed: 5);
        Assert.Equal(4, loader.BatchCount);
        List<int> Epoch(DataLoader l, int e)
        {
            var seen = new List<int>();
            foreach (var (x, y) in l.Batches(e))
            {
                var ys = y.ToArray<int>();
                var xs = x.ToArray();
                for (int i = 0; i < ys.Length; i++) Assert.Equal(2 * ys[i], xs[2 * i]); // rows stay paired
                seen.AddRange(ys);
            }
            return seen;
        }
        var e0 = Epoch(loader, 0);
        Assert.Equal(Enumerable.Range(0, 10), e0.Order());
        Assert.Equal(e0, Epoch(new DataLoader(ds, 3, shuffle: true, seed: 5), 0)); // same seed and epoch: same order
        Assert.NotEqual(e0, Epoch(loader, 1));                                    // next epoch: new order
        Assert.NotEqual(e0, Epoch(new DataLoader(ds, 3, shuffle: true, seed: 6), 0));
        Assert.Equal(Enumerable.Range(0, 10), Epoch(new DataLoader(ds, 3), 0));   // no shuffle: in order
    }

    [Fact]
    public void DataLoader_batch_sizes_dropLast_and_foreach_epochs()
    {
        using var scope = Tensor.NewScope();
        var ds = Numbered(10);
        Assert.Equal([4, 4, 2], new DataLoader(ds, 4).Batches(0).Select(b => b.X.Shape[0]).ToArray());
        Assert.Equal([4, 4], new DataLoader(ds, 4, dropLast: true).Batches(0).Select(b => b.X.Shape[0]).ToArray());
        Assert.Equal([10], new DataLoader(ds, 10).Batches(0).Select(b => b.X.Shape[0]).ToArray()); // batch gradient descent
        Assert.Equal(10, new DataLoader(ds, 1).Batches(0).Count());                                 // stochastic gradient descent
        var loader = new DataLoader(ds, 10, shuffle: true, seed: 1);
        var first = loader.Select(b => b.Y.ToArray<int>()).Single();
        var second = loader.Select(b => b.Y.ToArray<int>()).Single();
        Assert.Equal(2, loader.Epoch);
        Assert.Equal(loader.Permutation(0), first);
        Assert.Equal(loader.Permutation(1), second);
        Assert.Throws<ArgumentException>(() => new TensorDataset(Tensor.Zeros([3, 2], device: Cpu), Tensor.Zeros([4], device: Cpu)));
    }

    [Fact]
    public void DataLoader_frees_each_batch_when_the_next_is_taken()
    {
        using var scope = Tensor.NewScope();
        var ds = Numbered(6);
        var batches = new List<Tensor>();
        foreach (var (x, _) in new DataLoader(ds, 2, shuffle: true, seed: 1).Batches(0)) batches.Add(x);
        Assert.All(batches, b => Assert.True(b.IsDisposed));
    }

    // ---- IDX ----

    [Fact]
    public void Idx_reads_raw_and_gzipped_files()
    {
        var dir = TempDir();
        var raw = IdxBytes(0x08, [2, 3], [0, 1, 2, 253, 254, 255]);
        File.WriteAllBytes(Path.Combine(dir, "a"), raw);
        File.WriteAllBytes(Path.Combine(dir, "a.gz"), Gzip(raw));
        foreach (var name in new[] { "a", "a.gz" })
        {
            var idx = Idx.Read(Path.Combine(dir, name));
            Assert.Equal(IdxType.UInt8, idx.Type);
            Assert.Equal([2, 3], idx.Shape);
            Assert.Equal([0, 1, 2, 253, 254, 255], idx.ToInt32Array());
            Assert.Equal(1f, idx.ToFloatArray(1 / 255.0)[5]);
        }
        var ints = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(ints, -7);
        BinaryPrimitives.WriteInt32BigEndian(ints.AsSpan(4), 70000);
        File.WriteAllBytes(Path.Combine(dir, "i"), IdxBytes(0x0C, [2], ints));
        Assert.Equal([-7, 70000], Idx.Read(Path.Combine(dir, "i")).ToInt32Array());
        var floats = new byte[4];
        BinaryPrimitives.WriteSingleBigEndian(floats, 1.5f);
        File.WriteAllBytes(Path.Combine(dir, "f"), IdxBytes(0x0D, [1], floats));
        Assert.Equal([1.5f], Idx.Read(Path.Combine(dir, "f")).ToFloatArray());
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Idx_corrupt_files_are_clear_errors_naming_the_file()
    {
        var dir = TempDir();
        var good = IdxBytes(0x08, [2, 3], [0, 1, 2, 3, 4, 5]);
        var cases = new Dictionary<string, (byte[] Bytes, string Expect)>
        {
            ["empty"] = ([], "shorter than"),
            ["wrongmagic"] = ([1, 2, 8, 1, 0, 0, 0, 1, 9], "wrong magic"),
            ["badtype"] = (IdxBytes(0x07, [1], [1]), "unknown element type"),
            ["zerodims"] = ([0, 0, 8, 0], "0 dims"),
            ["shortheader"] = ([0, 0, 8, 3, 0, 0, 0, 1], "truncated in the header"),
            ["truncated"] = (good[..^2], "truncated"),
            ["trailing"] = ([.. good, 9, 9], "trailing bytes"),
            ["huge"] = (IdxBytes(0x0E, [int.MaxValue, int.MaxValue, int.MaxValue], [1, 2, 3]), "declare more than"),
            ["hugeflat"] = (IdxBytes(0x0E, [1_000_000_000], [1, 2, 3]), "declare"),
            ["lying.gz"] = (Gzip(IdxBytes(0x08, [1_000_000, 1000], [1, 2, 3])), "truncated"),
            ["truncated.gz"] = (Gzip(good)[..^12], ""), // either "truncated" or "gzip stream is corrupt", depending on where the cut falls
            ["trailing.gz"] = (Gzip([.. good, 1]), "trailing bytes"),
        };
        foreach (var (name, (bytes, expect)) in cases)
        {
            var path = Path.Combine(dir, name);
            File.WriteAllBytes(path, bytes);
            var e = Assert.ThrowsAny<Exception>(() => Idx.Read(path));
            Assert.True(e is InvalidDataException, $"{name}: {e.GetType().Name}: {e.Message}");
            Assert.Contains(path, e.Message);
            Assert.Contains(expect, e.Message);
        }
        Assert.Throws<FileNotFoundException>(() => Idx.Read(Path.Combine(dir, "missing")));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void FashionMnist_loads_small_files_scaled_and_flattened()
    {
        var dir = TempDir();
        var rng = new Random(1);
        byte[] Images(int n) { var b = new byte[n * 784]; rng.NextBytes(b); return b; }
        var trainImages = Images(5);
        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte.gz"), Gzip(IdxBytes(8, [5, 28, 28], trainImages)));
        File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte"), IdxBytes(8, [5], [0, 1, 2, 9, 3]));
        File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte"), IdxBytes(8, [2, 28, 28], Images(2)));
        File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte.gz"), Gzip(IdxBytes(8, [2], [4, 5])));
        Assert.True(FashionMnist.Exists(dir));
        using (var data = FashionMnist.Load(dir, Cpu))
        {
            Assert.Equal([5, 784], data.Train.Features.Shape);
            Assert.Equal(DType.Int32, data.Train.Labels.DType);
            Assert.Equal([0, 1, 2, 9, 3], data.Train.Labels.ToArray<int>());
            Near(trainImages.Select(b => b / 255.0).ToArray(), D(data.Train.Features), 1e-7);
            Assert.Equal(2, data.Test.Count);
        }
        using (var limited = FashionMnist.Load(dir, Cpu, limit: 3)) Assert.Equal(3, limited.Train.Count);
        File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte.gz"), Gzip(IdxBytes(8, [3], [4, 5, 6])));
        Assert.Contains("3 labels for the 2 images", Assert.Throws<InvalidDataException>(() => FashionMnist.Load(dir, Cpu)).Message);
        File.Delete(Path.Combine(dir, "t10k-labels-idx1-ubyte.gz"));
        Assert.False(FashionMnist.Exists(dir));
        Assert.Contains("t10k-labels-idx1-ubyte", Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(dir, Cpu)).Message);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Spirals_are_balanced_and_reproducible()
    {
        using var a = SyntheticData.Spirals(50, 20, classes: 3, seed: 4, device: Cpu);
        using var b = SyntheticData.Spirals(50, 20, classes: 3, seed: 4, device: Cpu);
        Assert.Equal([150, 2], a.Train.Features.Shape);
        Assert.Equal(60, a.Test.Count);
        Assert.Equal(a.Train.Features.ToArray(), b.Train.Features.ToArray());
        var counts = a.Train.Labels.ToArray<int>().GroupBy(v => v).Select(g => g.Count()).ToArray();
        Assert.Equal([50, 50, 50], counts);
    }
}
