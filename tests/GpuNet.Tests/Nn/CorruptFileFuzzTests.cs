using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using GpuNet.Nn;
using static GpuNet.Tests.Nn.NnTestUtil;

namespace GpuNet.Tests.Nn;

/// <summary>
/// Hundreds of generated corrupt IDX and safetensors files. Each must fail with the documented exception, a message
/// naming the file (and for a bad safetensors entry, the key), within a time and an allocation bound whatever its
/// header claims, and without changing anything: no module parameter written, no device memory kept. Runs alone (the
/// device-memory and allocation counters are process-wide).
/// </summary>
[Collection("Nn serial")]
public sealed partial class CorruptFileFuzzTests(ITestOutputHelper output)
{
    private const double SecondsPerFile = 2;       // a load takes milliseconds; the bound catches hangs and quadratic work
    private const long BytesPerFile = 16L << 20;    // allocation bound per load: claims of gigabytes must never be believed

    // ---------------------------------------------------------------- IDX

    /// <summary>Generated corrupt IDX files: name → bytes. Every one must be rejected.</summary>
    private static List<(string Name, byte[] Bytes)> IdxVariants()
    {
        var rng = new Random(20261204);
        var labels = IdxBytes(0x08, [6], [0, 1, 2, 3, 4, 5]);
        var ints = IdxBytes(0x0C, [2, 2], new byte[16]);
        var doubles = IdxBytes(0x0E, [3], new byte[24]);
        var images = IdxBytes(0x08, [2, 28, 28], new byte[2 * 784]);
        var bases = new[] { ("labels", labels), ("ints", ints), ("doubles", doubles), ("images", images) };
        var v = new List<(string, byte[])>();

        // Truncations of the raw and the gzipped files, at the start, inside the header and inside the data.
        foreach (var (name, raw) in bases)
        {
            foreach (int cut in new[] { 0, 1, 2, 3, 5, 7, 9, raw.Length / 2, raw.Length - 1 }.Where(c => c < raw.Length).Distinct())
                v.Add(($"{name}-cut{cut}", raw[..cut]));
            var gz = Gzip(raw);
            // Not inside the 8-byte trailer: .NET's GZipStream does not report a missing one, and the data is then complete.
            foreach (int cut in new[] { 1, 2, 9, 10, 15, gz.Length / 2, gz.Length - 12 }.Where(c => c > 0 && c < gz.Length).Distinct())
                v.Add(($"{name}-gzcut{cut}", gz[..cut]));
        }
        // Bad magic: the two zero bytes.
        foreach (var (a, b) in new (byte, byte)[] { (1, 0), (0, 1), (0xff, 0xff), (0x1f, 0x00), (0x50, 0x4b), (0, 0x80) })
            v.Add(($"magic-{a:x2}{b:x2}", [a, b, .. labels[2..]]));
        // Every element type code that is not one of the six.
        foreach (byte t in Enumerable.Range(0, 256).Select(i => (byte)i).Where(t => t is not (0x08 or 0x09 or 0x0B or 0x0C or 0x0D or 0x0E)).Where(t => t < 0x20 || t % 17 == 0))
            v.Add(($"type-{t:x2}", [0, 0, t, .. labels[3..]]));
        // Dim counts: none, too many, and more than the file holds.
        foreach (byte nd in new byte[] { 0, 17, 64, 255 })
            v.Add(($"ndims-{nd}", [0, 0, 8, nd, .. labels[4..]]));
        // Huge dims: products beyond what can be held, in raw and in small gzipped files that lie.
        int[][] huge = [[int.MaxValue], [int.MaxValue, 2], [65536, 65536], [46341, 46341], [1 << 30, 1 << 30, 1 << 30], [-1], [unchecked((int)0x80000000)], [2, -5], [0x10000, 0x10000, 0x10000, 0x10000]];
        foreach (var dims in huge)
            foreach (byte type in new byte[] { 0x08, 0x0E })
            {
                var bytes = IdxBytes(type, dims, [1, 2, 3, 4]);
                v.Add(($"huge-{type:x2}-{string.Join("x", dims)}", bytes));
                v.Add(($"huge-{type:x2}-{string.Join("x", dims)}.gz", Gzip(bytes)));
            }
        // Claims that do not match the data: a few bytes short or long, raw and gzipped.
        foreach (var (name, raw) in bases)
            foreach (int delta in new[] { -3, -1, 1, 2, 100 })
            {
                var changed = delta < 0 ? raw[..^(-delta)] : [.. raw, .. new byte[delta]];
                v.Add(($"{name}-len{delta:+0;-0}", changed));
                v.Add(($"{name}-len{delta:+0;-0}.gz", Gzip(changed)));
            }
        // First dim off by one or a lot, with the data unchanged.
        foreach (var (name, raw) in bases)
            foreach (int d0 in new[] { 0, 1, 7, 1_000_000 })
            {
                var changed = (byte[])raw.Clone();
                int current = BinaryPrimitives.ReadInt32BigEndian(changed.AsSpan(4));
                if (d0 == current || (d0 == 0 && raw.Length == 4 + 4 * raw[3])) continue;
                BinaryPrimitives.WriteInt32BigEndian(changed.AsSpan(4), d0);
                v.Add(($"{name}-dim0-{d0}", changed));
            }
        // Gzip members that are not valid: a bad compression method, flags or deflate data, and a wrong checksum or length.
        foreach (var (name, raw) in bases)
        {
            var gz = Gzip(raw);
            var method = (byte[])gz.Clone();
            method[2] = 9;
            v.Add(($"{name}-gzmethod", method));
            var crc = (byte[])gz.Clone();
            crc[^8] ^= 0x5a;
            v.Add(($"{name}-gzcrc", crc));
            var size = (byte[])gz.Clone();
            size[^4] ^= 0x01;
            v.Add(($"{name}-gzsize", size));
            var block = (byte[])gz.Clone();
            block[10] = 0xff; // deflate block type 3 does not exist
            v.Add(($"{name}-gzblock", block));
        }
        // Random garbage of assorted lengths (never starting with the IDX zeros).
        for (int i = 0; i < 12; i++)
        {
            var junk = new byte[rng.Next(1, 3000)];
            rng.NextBytes(junk);
            junk[0] |= 1;
            v.Add(($"junk-{i}", junk));
        }
        return v;
    }

    [Fact]
    public void CorruptIdxFiles_AreRejected_WithTheFileNamed_InBoundedTimeAndMemory_ChangingNothing()
    {
        var dir = TempDir();
        var variants = IdxVariants();
        Assert.True(variants.Count >= 200, $"only {variants.Count} IDX variants");
        Assert.Equal(variants.Count, variants.Select(x => x.Name).Distinct().Count());
        var (goodImages, goodLabels) = (IdxBytes(0x08, [3, 28, 28], new byte[3 * 784]), IdxBytes(0x08, [3], [1, 2, 3]));
        long liveBefore = Device.Cpu.Pool.LiveBytes;
        double slowest = 0;
        long mostAllocated = 0;
        foreach (var (name, bytes) in variants)
        {
            // As the test labels file of an otherwise good Fashion-MNIST directory, through the parallel loader too.
            var data = Path.Combine(dir, name);
            Directory.CreateDirectory(data);
            File.WriteAllBytes(Path.Combine(data, "train-images-idx3-ubyte"), goodImages);
            File.WriteAllBytes(Path.Combine(data, "train-labels-idx1-ubyte"), goodLabels);
            File.WriteAllBytes(Path.Combine(data, "t10k-images-idx3-ubyte"), goodImages);
            var path = Path.Combine(data, "t10k-labels-idx1-ubyte");
            File.WriteAllBytes(path, bytes);

            var (e, seconds, allocated) = Measure(() => Idx.Read(path), threadOnly: true);
            Assert.True(e is InvalidDataException, $"{name}: {Describe(e)}");
            Assert.Contains(path, e!.Message);
            var (viaLoad, loadSeconds, loadAllocated) = Measure(() => FashionMnist.Load(data, Device.Cpu).Dispose(), threadOnly: false);
            Assert.True(viaLoad is InvalidDataException, $"{name} through FashionMnist.Load: {Describe(viaLoad)}");
            Assert.Contains(path, viaLoad!.Message);
            Assert.Equal(bytes, File.ReadAllBytes(path));
            slowest = Math.Max(slowest, Math.Max(seconds, loadSeconds));
            mostAllocated = Math.Max(mostAllocated, Math.Max(allocated, loadAllocated - 3 * goodImages.Length));
            Assert.True(seconds < SecondsPerFile && loadSeconds < SecondsPerFile, $"{name}: {seconds:0.000} s / {loadSeconds:0.000} s");
            Assert.True(allocated < BytesPerFile && loadAllocated < BytesPerFile + 8 * goodImages.Length, $"{name}: allocated {allocated:N0} / {loadAllocated:N0} bytes");
        }
        Assert.True(Device.Cpu.Pool.LiveBytes <= liveBefore, $"device memory grew from {liveBefore:N0} to {Device.Cpu.Pool.LiveBytes:N0} bytes");
        output.WriteLine($"{variants.Count} IDX variants: slowest {slowest * 1000:0.0} ms, most allocated {mostAllocated:N0} bytes");
        Directory.Delete(dir, true);
    }

    // ---------------------------------------------------------------- safetensors

    private const string Meta = "\"__metadata__\":{\"format\":\"pt\",\"epoch\":\"3\"}";
    // The names match a Linear(3, 2) (weight [2,3], bias [2]) plus two more tensors of the other dtypes.
    private static readonly (string Name, string DType, int[] Shape, int Bytes)[] Entries =
        [("weight", "F32", [2, 3], 24), ("bias", "F32", [2], 8), ("steps", "F64", [2], 16), ("ids", "I32", [2, 2], 16)];

    private static string Entry(string dtype, string shape, string offsets) =>
        $"{{\"dtype\":{dtype},\"shape\":{shape},\"data_offsets\":{offsets}}}";

    private static string Offsets(int i)
    {
        int begin = Entries.Take(i).Sum(e => e.Bytes);
        return $"[{begin},{begin + Entries[i].Bytes}]";
    }

    /// <summary>A header whose entry <paramref name="replaced"/> (if any) is given as raw JSON text.</summary>
    private static string Header(int replaced = -1, string? entryJson = null, string? meta = Meta)
    {
        var parts = new List<string>();
        if (meta is not null) parts.Add(meta);
        for (int i = 0; i < Entries.Length; i++)
            parts.Add($"\"{Entries[i].Name}\":" + (i == replaced ? entryJson : Entry($"\"{Entries[i].DType}\"", $"[{string.Join(",", Entries[i].Shape)}]", Offsets(i))));
        return "{" + string.Join(",", parts) + "}";
    }

    private static int DataBytes => Entries.Sum(e => e.Bytes);

    private static byte[] FileBytes(byte[] header, int? dataBytesOrAll = null, ulong? declared = null)
    {
        int dataBytes = dataBytesOrAll ?? DataBytes;
        int padded = (header.Length + 7) / 8 * 8;
        var bytes = new byte[8 + padded + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declared ?? (ulong)padded);
        header.CopyTo(bytes, 8);
        for (int i = 8 + header.Length; i < 8 + padded; i++) bytes[i] = (byte)' ';
        for (int i = 8 + padded; i < bytes.Length; i++) bytes[i] = (byte)(i * 7);
        return bytes;
    }

    private static byte[] FileBytes(string header, int? dataBytes = null, ulong? declared = null) =>
        FileBytes(Encoding.UTF8.GetBytes(header), dataBytes, declared);

    /// <summary>Generated corrupt safetensors files: name, bytes, and the key the message must name (null: none in particular).</summary>
    private static List<(string Name, byte[] Bytes, string? Key)> SafetensorsVariants()
    {
        var v = new List<(string, byte[], string?)>();
        var good = FileBytes(Header());

        // Truncations everywhere: inside the length, the header, the padding and the data.
        for (int cut = 0; cut < good.Length; cut += cut < 16 ? 1 : 5)
            v.Add(($"cut{cut}", good[..cut], null));
        // Header lengths that lie: zero, odd, past the end, past the limit, 2⁶³ and 2⁶⁴ − 1.
        foreach (ulong n in new ulong[] { 0, 1, 2, 7, (ulong)good.Length - 8 + 1, (ulong)good.Length, 100_000_001, 1UL << 40, 1UL << 63, ulong.MaxValue })
        {
            var b = (byte[])good.Clone();
            BinaryPrimitives.WriteUInt64LittleEndian(b, n);
            v.Add(($"hlen{n}", b, null));
        }
        // Every entry: bad dtype codes, shapes, offsets and entry types, each named by its key.
        string[] dtypes = ["\"F16\"", "\"BF16\"", "\"U8\"", "\"f32\"", "\"\"", "5", "null", "[]", "{}", "true"];
        string[] shapes = ["[-1]", "[1.5]", "[\"2\"]", "[2147483648]", "[1e10]", "null", "{}", "\"2,3\"", "[3,3]", "[]", "[2147483647,2147483647,2147483647]", "[[2]]"];
        for (int i = 0; i < Entries.Length; i++)
        {
            var (name, dtype, shape, bytes) = Entries[i];
            int begin = Entries.Take(i).Sum(e => e.Bytes), end = begin + bytes;
            string s = $"[{string.Join(",", shape)}]", o = Offsets(i);
            foreach (var d in dtypes) v.Add(($"{name}-dtype{d}", FileBytes(Header(i, Entry(d, s, o))), name));
            foreach (var sh in shapes) v.Add(($"{name}-shape{sh}", FileBytes(Header(i, Entry($"\"{dtype}\"", sh, o))), name));
            string[] offsets = [$"[\"{begin}\",\"{end}\"]", $"[{begin}]", $"[{begin},{end},{end}]", $"[-8,{end - 8}]", $"[{end},{begin}]", $"[{begin},1e20]",
                $"[{begin}.5,{end}]", "null", "{}", $"[{begin},{DataBytes + 8}]", $"[{begin + 4},{end + 4}]", $"[{begin},{end - 4}]", $"[{begin},{end}.0]", "[0,9223372036854775808]"];
            foreach (var off in offsets) v.Add(($"{name}-offsets{off}", FileBytes(Header(i, Entry($"\"{dtype}\"", s, off))), name));
            foreach (var entry in new[] { "\"x\"", "3", "[1,2]", "null", "{}", Entry($"\"{dtype}\"", s, o).Replace("data_offsets", "offsets", StringComparison.Ordinal) })
                v.Add(($"{name}-entry{entry}", FileBytes(Header(i, entry)), name));
        }
        // Two tensors on the same bytes, and a gap.
        v.Add(("overlap", FileBytes(Header(1, Entry("\"F32\"", "[2]", "[0,8]"))), null));
        v.Add(("gap", FileBytes(Header().Replace(Offsets(3), $"[{DataBytes - 16 + 4},{DataBytes + 4}]", StringComparison.Ordinal), DataBytes + 4), null));
        // The data buffer longer or shorter than the tensors.
        foreach (int delta in new[] { -8, -4, -1, 1, 4, 8, 64 })
            v.Add(($"data{delta:+0;-0}", FileBytes(Header(), DataBytes + delta), null));
        // Metadata of the wrong types.
        foreach (var m in new[] { "\"__metadata__\":{\"a\":1}", "\"__metadata__\":[]", "\"__metadata__\":\"x\"", "\"__metadata__\":{\"a\":{\"b\":\"c\"}}", "\"__metadata__\":{\"a\":null}", "\"__metadata__\":{\"a\":\"x\",\"a\":\"y\"}" })
            v.Add(($"meta{m}", FileBytes(Header(meta: m)), null));
        // Not an object at the root, duplicate keys, bad JSON syntax, deep nesting.
        foreach (var root in new[] { "[]", "\"text\"", "42", "null", "true" })
            v.Add(($"root{root}", FileBytes(root, 0), null));
        v.Add(("dup-weight", FileBytes(Header()[..^1] + ",\"weight\":" + Entry("\"F32\"", "[0]", $"[{DataBytes},{DataBytes}]") + "}"), "weight"));
        foreach (var bad in new[] { "{", "{\"weight\":", Header()[..^1], Header() + "}", Header().Replace(",", ",,", StringComparison.Ordinal), Header().Replace(":", "=", StringComparison.Ordinal),
            Header()[..^1] + ",}", "{'weight':1}", "{\"a\":\u0001}", "{\"a\":\"\u0001\"}" })
            v.Add(($"syntax{v.Count}", FileBytes(bad), null));
        v.Add(("deep", FileBytes("{\"a\":" + new string('[', 100) + new string(']', 100) + "}"), null));
        // Invalid UTF-8 in a key, a dtype and a metadata value (System.Text.Json reports it only when a string is read), and lone surrogate escapes.
        byte[][] badUtf8 = [[0xff], [0xc3, 0x28], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xe2, 0x82]];
        foreach (var bad in badUtf8)
        {
            string hex = Convert.ToHexString(bad);
            v.Add(($"utf8-key-{hex}", FileBytes(Splice(Header(), "\"weight\"", bad)), null));
            v.Add(($"utf8-meta-{hex}", FileBytes(Splice(Header(), "\"pt\"", bad)), null));
            v.Add(($"utf8-dtype-{hex}", FileBytes(Splice(Header(), "\"F64\"", bad)), null));
        }
        v.Add(("surrogate-key", FileBytes(Header().Replace("\"ids\"", "\"i\\ud800ds\"", StringComparison.Ordinal)), null));
        v.Add(("surrogate-meta", FileBytes(Header().Replace("\"pt\"", "\"p\\udc00t\"", StringComparison.Ordinal)), null));
        v.Add(("surrogate-dtype", FileBytes(Header().Replace("\"F64\"", "\"F\\ud83d\"", StringComparison.Ordinal)), "steps"));
        return v;
    }

    // The header with a quoted string replaced by the same string with raw bytes inside the quotes.
    private static byte[] Splice(string header, string quoted, byte[] inside)
    {
        int at = header.IndexOf(quoted, StringComparison.Ordinal);
        var before = Encoding.UTF8.GetBytes(header[..(at + 2)]);
        var after = Encoding.UTF8.GetBytes(header[(at + 2)..]);
        return [.. before, .. inside, .. after];
    }

    [Fact]
    public void CorruptSafetensorsFiles_AreRejected_NamingFileAndKey_InBoundedTimeAndMemory_ChangingNothing()
    {
        var dir = TempDir();
        var variants = SafetensorsVariants();
        Assert.True(variants.Count >= 200, $"only {variants.Count} safetensors variants");
        Assert.Equal(variants.Count, variants.Select(x => x.Name).Distinct().Count());

        // The uncorrupted file loads, into tensors and into a module: the variants fail because of their corruption.
        var goodPath = Path.Combine(dir, "good.safetensors");
        File.WriteAllBytes(goodPath, FileBytes(Header()));
        using var model = new Linear(3, 2, device: Device.Cpu);
        using (Tensor.NewScope()) Assert.Equal(4, Safetensors.Load(goodPath, Device.Cpu).Count);
        using (var other = new Linear(3, 2, device: Device.Cpu)) other.Load(goodPath, strict: false);

        var weights = model.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
        long liveBefore = Device.Cpu.Pool.LiveBytes;
        double slowest = 0;
        long mostAllocated = 0;
        int i = 0;
        foreach (var (name, bytes, key) in variants)
        {
            var path = Path.Combine(dir, $"v{i++}.safetensors");
            File.WriteAllBytes(path, bytes);
            var (e, seconds, allocated) = Measure(() => Safetensors.Load(path, Device.Cpu), threadOnly: true);
            Assert.True(e is InvalidDataException, $"{name}: {Describe(e)}");
            Assert.Contains(path, e!.Message);
            if (key is not null) Assert.True(e.Message.Contains($"'{key}'", StringComparison.Ordinal), $"{name}: the message does not name '{key}': {e.Message}");
            Assert.True(seconds < SecondsPerFile, $"{name}: {seconds:0.000} s");
            Assert.True(allocated < BytesPerFile, $"{name}: allocated {allocated:N0} bytes");
            var viaMetadata = Record.Exception(() => Safetensors.ReadMetadata(path));
            Assert.True(viaMetadata is InvalidDataException, $"{name} through ReadMetadata: {Describe(viaMetadata)}");

            var viaModule = Record.Exception(() => model.Load(path, strict: false));
            Assert.True(viaModule is InvalidDataException, $"{name} through Module.Load: {Describe(viaModule)}");
            Assert.Equal(bytes, File.ReadAllBytes(path));
            slowest = Math.Max(slowest, seconds);
            mostAllocated = Math.Max(mostAllocated, allocated);
        }
        foreach (var (k, before) in weights) Assert.Equal(before, model.StateDict()[k].ToArray());
        Assert.True(Device.Cpu.Pool.LiveBytes <= liveBefore, $"device memory grew from {liveBefore:N0} to {Device.Cpu.Pool.LiveBytes:N0} bytes");
        output.WriteLine($"{variants.Count} safetensors variants: slowest {slowest * 1000:0.0} ms, most allocated {mostAllocated:N0} bytes");
        Directory.Delete(dir, true);
    }

    // ---------------------------------------------------------------- files that are not regular files

    [LibraryImport("libc", EntryPoint = "mkfifo", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkFifo(string path, int mode);

    [Fact]
    public void NamedPipesAndDirectories_AreRejectedAtOnce_NotReadForever()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "named pipes are a Unix feature");
        var dir = TempDir();
        var fifo = Path.Combine(dir, "t10k-labels-idx1-ubyte");
        Assert.Equal(0, MkFifo(fifo, Convert.ToInt32("600", 8)));
        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte"), IdxBytes(0x08, [1, 28, 28], new byte[784]));
        File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte"), IdxBytes(0x08, [1], [1]));
        File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte"), IdxBytes(0x08, [1, 28, 28], new byte[784]));
        var sw = Stopwatch.StartNew();
        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(fifo));
        Assert.Contains(fifo, e.Message);
        Assert.Contains("not a regular file", e.Message);
        Assert.Contains("not a regular file", Assert.Throws<InvalidDataException>(() => FashionMnist.Load(dir, Device.Cpu)).Message);
        var st = Path.Combine(dir, "pipe.safetensors");
        Assert.Equal(0, MkFifo(st, Convert.ToInt32("600", 8)));
        Assert.Contains("not a regular file", Assert.Throws<InvalidDataException>(() => Safetensors.Load(st, Device.Cpu)).Message);
        Assert.Contains("not a regular file", Assert.Throws<InvalidDataException>(() => Safetensors.ReadMetadata(st)).Message);
        Assert.True(sw.Elapsed.TotalSeconds < 5, $"took {sw.Elapsed.TotalSeconds:0.0} s");

        var sub = Directory.CreateDirectory(Path.Combine(dir, "a-directory.safetensors")).FullName;
        Assert.Contains("is a directory", Assert.Throws<InvalidDataException>(() => Safetensors.Load(sub, Device.Cpu)).Message);
        Assert.Contains("is a directory", Assert.Throws<InvalidDataException>(() => Idx.Read(sub)).Message);
        Directory.Delete(dir, true);
    }

    // ---------------------------------------------------------------- helpers

    private static (Exception? Error, double Seconds, long Allocated) Measure(Action load, bool threadOnly)
    {
        long before = threadOnly ? GC.GetAllocatedBytesForCurrentThread() : GC.GetTotalAllocatedBytes(precise: true);
        var sw = Stopwatch.StartNew();
        var e = Record.Exception(load);
        double seconds = sw.Elapsed.TotalSeconds;
        long after = threadOnly ? GC.GetAllocatedBytesForCurrentThread() : GC.GetTotalAllocatedBytes(precise: true);
        return (e, seconds, after - before);
    }

    private static string Describe(Exception? e) => e is null ? "no exception (the corrupt file was accepted)" : $"{e.GetType().Name}: {e.Message}";
}
