using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using GpuNet.Nn;
using Xunit;
using static GpuNet.Tests.Nn.NnTestUtil;

namespace GpuNet.Tests.Nn;

public class SafetensorsTests
{
    [Fact]
    public void Save_then_Load_round_trips_every_dtype_and_metadata()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "t.safetensors");
        using var scope = Tensor.NewScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["w"] = F32([1.5f, -2, 3, 4, 5, 6], 2, 3),
            ["d"] = F64([Math.PI, -1e300], 2),
            ["i"] = I32(1, -2, int.MaxValue),
            ["scalar"] = Tensor.Scalar(7, DType.Float32, Cpu),
            ["empty"] = Tensor.Zeros([0, 4], device: Cpu),
        };
        Safetensors.Save(path, tensors, new Dictionary<string, string> { ["epoch"] = "3", ["note"] = "ünïcode" });
        var loaded = Safetensors.Load(path, Cpu);
        Assert.Equal(tensors.Keys.Order(), loaded.Keys.Order());
        foreach (var (k, t) in tensors)
        {
            Assert.Equal(t.Shape, loaded[k].Shape);
            Assert.Equal(t.DType, loaded[k].DType);
        }
        Assert.Equal(tensors["w"].ToArray(), loaded["w"].ToArray());
        Assert.Equal(tensors["d"].ToArray<double>(), loaded["d"].ToArray<double>());
        Assert.Equal(tensors["i"].ToArray<int>(), loaded["i"].ToArray<int>());
        Assert.Equal(7f, loaded["scalar"].Item());
        var meta = Safetensors.ReadMetadata(path);
        Assert.Equal("3", meta["epoch"]);
        Assert.Equal("ünïcode", meta["note"]);
        Assert.Equal([path], Directory.GetFiles(dir)); // no temporary file left behind
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Written_files_follow_the_spec_byte_for_byte()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "t.safetensors");
        using var scope = Tensor.NewScope();
        Safetensors.Save(path, new Dictionary<string, Tensor> { ["b"] = I32(258), ["a"] = F32([1f, 2f], 2) });
        var bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, (8 + n) % 8);
        var header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        using var doc = JsonDocument.Parse(header);
        var a = doc.RootElement.GetProperty("a");
        Assert.Equal("F32", a.GetProperty("dtype").GetString());
        Assert.Equal([2], a.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        var offA = a.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        var offB = doc.RootElement.GetProperty("b").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        Assert.Equal([0L, 8L], offA);
        Assert.Equal([8L, 12L], offB);
        int data = 8 + (int)n;
        Assert.Equal(12, bytes.Length - data);
        Assert.Equal(1f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(data)));
        Assert.Equal(258, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(data + 8)));
        Directory.Delete(dir, true);
    }

    /// <summary>A file with the given header text (padded to 8) and data bytes.</summary>
    private static byte[] File_(string header, int dataBytes, ulong? declared = null)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declared ?? (ulong)h.Length);
        h.CopyTo(bytes, 8);
        return bytes;
    }

    [Fact]
    public void Hand_written_file_with_padding_and_metadata_loads()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "hand.safetensors");
        var header = """{"__metadata__":{"k":"v"},"x":{"dtype":"F64","shape":[1,2],"data_offsets":[0,16]}}""";
        header += new string(' ', (8 - (8 + header.Length) % 8) % 8);
        var bytes = File_(header, 16);
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(bytes.Length - 16), 0.25);
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(bytes.Length - 8), -4);
        File.WriteAllBytes(path, bytes);
        using var scope = Tensor.NewScope();
        var t = Safetensors.Load(path, Cpu)["x"];
        Assert.Equal([1, 2], t.Shape);
        Assert.Equal([0.25, -4], t.ToArray<double>());
        Assert.Equal("v", Safetensors.ReadMetadata(path)["k"]);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Corrupt_files_are_clear_errors()
    {
        var dir = TempDir();
        const string one = """{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""";
        var cases = new Dictionary<string, (byte[] Bytes, string Expect)>
        {
            ["tiny"] = ([1, 2, 3], "shorter than the 8-byte header length"),
            ["beyond"] = (File_(one, 8, declared: 5000), "runs past the end"),
            ["huge-header"] = (File_(one, 8, declared: 200_000_000), "exceeds the 100,000,000-byte limit"),
            ["truncated"] = (File_(one, 8)[..^3], "out of range for the 5-byte data buffer"),
            ["not-json"] = (File_("{\"x\": [", 0), "not valid JSON"),
            ["not-object"] = (File_("[1,2]", 0), "must be a JSON object"),
            ["unknown-dtype"] = (File_("""{"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}""", 4), "dtype 'F16'"),
            ["size-mismatch"] = (File_("""{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8), "needs 12 bytes but its data_offsets span 8"),
            ["out-of-range"] = (File_("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 8), "out of range"),
            ["reversed"] = (File_("""{"x":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}""", 8), "out of range"),
            ["overlap"] = (File_("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12), "overlap"),
            ["gap"] = (File_("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8), "gap"),
            ["duplicate"] = (File_("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8), "duplicate key 'x'"),
            ["huge-shape"] = (File_("""{"x":{"dtype":"F64","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,8]}}""", 8), "more than the whole buffer"),
            ["bad-dim"] = (File_("""{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4), "invalid dim"),
            ["no-offsets"] = (File_("""{"x":{"dtype":"F32","shape":[1]}}""", 4), "data_offsets"),
            ["bad-metadata"] = (File_("""{"__metadata__":{"a":1}}""", 0), "expected a string"),
        };
        foreach (var (name, (bytes, expect)) in cases)
        {
            var path = Path.Combine(dir, name + ".safetensors");
            File.WriteAllBytes(path, bytes);
            var e = Assert.ThrowsAny<Exception>(() => Safetensors.Load(path, Cpu));
            Assert.True(e is InvalidDataException, $"{name}: {e.GetType().Name}: {e.Message}");
            Assert.Contains(path, e.Message);
            Assert.Contains(expect, e.Message);
        }
        Directory.Delete(dir, true);
    }

    [Fact]
    public void A_failed_save_leaves_the_old_file_intact()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "m.safetensors");
        using var scope = Tensor.NewScope();
        Safetensors.Save(path, new Dictionary<string, Tensor> { ["a"] = F32([1f], 1) });
        var before = File.ReadAllBytes(path);
        var disposed = F32([2f], 1);
        disposed.Dispose();
        Assert.Throws<ArgumentException>(() => Safetensors.Save(path, new Dictionary<string, Tensor> { ["a"] = disposed }));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir));
        Directory.Delete(dir, true);
    }
}
