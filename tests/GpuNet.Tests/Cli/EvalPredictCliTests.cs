using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using GpuNet.Nn;

namespace GpuNet.Tests.Cli;

/// <summary>
/// gpunet eval and gpunet predict on a tiny model trained by gpunet train on a small generated data set in
/// Fashion-MNIST's file format; their numbers are checked against the same model run in-process.
/// </summary>
public sealed partial class EvalPredictCliTests : IDisposable
{
    private const int Train = 300, Test = 100;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "gpunet-cli-tests", Guid.NewGuid().ToString("N"));
    private readonly byte[] _testImages;
    private readonly byte[] _testLabels;

    public EvalPredictCliTests()
    {
        Directory.CreateDirectory(_dir);
        // Class k: a bright 6×6 square at one of ten places, on faint noise; learnable in a few epochs.
        var rng = new Random(5);
        (byte[] Images, byte[] Labels) Make(int n)
        {
            var images = new byte[n * 784];
            var labels = new byte[n];
            for (int i = 0; i < n; i++)
            {
                int k = i % 10;
                labels[i] = (byte)k;
                for (int p = 0; p < 784; p++) images[i * 784 + p] = (byte)rng.Next(0, 40);
                int top = 2 + (k / 5) * 12, left = 1 + (k % 5) * 5;
                for (int y = top; y < top + 6; y++)
                    for (int x = left; x < left + 6 && x < 28; x++) images[i * 784 + y * 28 + x] = (byte)rng.Next(200, 256);
            }
            return (images, labels);
        }
        var (trainX, trainY) = Make(Train);
        (_testImages, _testLabels) = Make(Test);
        File.WriteAllBytes(Path.Combine(_dir, "train-images-idx3-ubyte"), Idx([Train, 28, 28], trainX));
        File.WriteAllBytes(Path.Combine(_dir, "train-labels-idx1-ubyte"), Idx([Train], trainY));
        File.WriteAllBytes(Path.Combine(_dir, "t10k-images-idx3-ubyte"), Idx([Test, 28, 28], _testImages));
        File.WriteAllBytes(Path.Combine(_dir, "t10k-labels-idx1-ubyte"), Idx([Test], _testLabels));
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private static byte[] Idx(int[] dims, byte[] data)
    {
        var b = new byte[4 + 4 * dims.Length + data.Length];
        b[2] = 8;
        b[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(b, 4 + 4 * dims.Length);
        return b;
    }

    private string TrainModel()
    {
        var model = Path.Combine(_dir, "model.safetensors");
        var r = Gpunet.Run("train", "--data", _dir, "--epochs", "3", "--hidden", "16", "--warmup", "1", "--schedule", "exponential", "--optimizer", "nadam", "--out", model, "--device", "cpu");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("1-epoch warm-up then exponential schedule", r.Stdout);
        return model;
    }

    private byte[] TestImage(int i) => _testImages.AsSpan(i * 784, 784).ToArray();

    [Fact]
    public void Eval_prints_the_accuracy_per_class_table_confusion_matrix_and_heatmap()
    {
        var model = TrainModel();
        var png = Path.Combine(_dir, "cm.png");
        var r = Gpunet.Run("eval", "--model", model, "--data", _dir, "--plot", png, "--device", "cpu");
        Assert.True(r.ExitCode == 0, r.ToString());

        // The same model in-process: its predictions give the confusion matrix the command must print.
        using var net = ClassifierTraining.LoadModel(model, Device.Cpu);
        int[] predicted;
        using (Tensor.NewScope())
        {
            var x = Tensor.FromArray(_testImages.Select(b => b / 255f).ToArray(), [Test, 784], Device.Cpu);
            predicted = net.Forward(x).ArgMax(1).ToArray<int>();
        }
        var confusion = new int[10, 10];
        for (int i = 0; i < Test; i++) confusion[_testLabels[i], predicted[i]]++;
        int correct = Enumerable.Range(0, 10).Sum(k => confusion[k, k]);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"accuracy: {correct / (double)Test:0.0000} ({correct} of {Test})"), r.Stdout);
        Assert.True(correct >= 50, $"the tiny model should learn the squares: {r}");
        // One table row per class, in order, with its count of samples, correct predictions and accuracy, then each confusion row.
        for (int k = 0; k < 10; k++)
        {
            Assert.Matches(new Regex($@"│ {k} +│ {Regex.Escape(FashionMnist.ClassNames[k])} +│ +10 │ +{confusion[k, k]} │ +{confusion[k, k] / 10.0:0.0000} │".Replace(",", ".")), r.Stdout);
            var cells = string.Join(@" +│ +", Enumerable.Range(0, 10).Select(j => confusion[k, j].ToString(CultureInfo.InvariantCulture)));
            Assert.Matches(new Regex($@"│ {k} +│ +{cells} │"), r.Stdout);
        }
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(png)[..4]);
        Assert.Contains($"wrote {png}", r.Stdout);
    }

    [Fact]
    public void Predict_reads_IDX_PGM_and_PNG_and_prints_the_top_k()
    {
        var model = TrainModel();
        var pgm5 = Path.Combine(_dir, "a.pgm");
        File.WriteAllBytes(pgm5, [.. Encoding.ASCII.GetBytes("P5\n# a comment\n28 28\n255\n"), .. TestImage(0)]);
        var pgm2 = Path.Combine(_dir, "b.pgm");
        File.WriteAllText(pgm2, "P2\n28 28\n255\n" + string.Join(" ", TestImage(1)) + "\n");
        var png = Path.Combine(_dir, "c.png");
        File.WriteAllBytes(png, GreyPng(TestImage(2)));
        var idx = Path.Combine(_dir, "two.idx");
        File.WriteAllBytes(idx, Idx([2, 28, 28], [.. TestImage(3), .. TestImage(4)]));
        var gz = Path.Combine(_dir, "one.idx.gz");
        using (var f = File.Create(gz))
        using (var z = new GZipStream(f, CompressionLevel.Fastest))
            z.Write(Idx([28, 28], TestImage(5)));

        var r = Gpunet.Run("predict", "--model", model, "--top-k", "2", "--device", "cpu", pgm5, pgm2, png, idx, gz);
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string[] labels = [pgm5, pgm2, png, idx + "[0]", idx + "[1]", gz];
        Assert.Equal(labels.Length, lines.Length);

        using var net = ClassifierTraining.LoadModel(model, Device.Cpu);
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(_testImages.AsSpan(0, 6 * 784).ToArray().Select(b => b / 255f).ToArray(), [6, 784], Device.Cpu);
        var p = net.Forward(x).Softmax(1).ToArray<float>();
        for (int i = 0; i < 6; i++)
        {
            var top = Enumerable.Range(0, 10).OrderByDescending(c => p[i * 10 + c]).Take(2).ToArray();
            string want = string.Join("  ", top.Select(c => $"{FashionMnist.ClassNames[c]} {p[i * 10 + c].ToString("0.000", CultureInfo.InvariantCulture)}"));
            Assert.StartsWith(labels[i], lines[i]);
            Assert.EndsWith(want, lines[i]);
        }
    }

    [Fact]
    public void Bad_models_and_images_are_one_error_line()
    {
        var model = TrainModel();
        var wide = Path.Combine(_dir, "wide.pgm");
        File.WriteAllText(wide, "P2 30 28 255 " + string.Join(" ", new int[30 * 28]));
        var text = Path.Combine(_dir, "notes.txt");
        File.WriteAllText(text, "hello");
        var truncated = Path.Combine(_dir, "short.pgm");
        File.WriteAllBytes(truncated, [.. Encoding.ASCII.GetBytes("P5 28 28 255\n"), .. new byte[100]]);
        foreach (var (args, exit, mention) in new (string[], int, string)[]
        {
            (["predict", "--model", model, wide], 1, "30×28"),
            (["predict", "--model", model, text], 1, "not an IDX, PGM (P5/P2) or PNG"),
            (["predict", "--model", model, truncated], 1, "truncated"),
            (["predict", "--model", model, Path.Combine(_dir, "missing.png")], 1, "missing.png"),
            (["predict", wide], 2, "--model"),
            (["predict", "--model", text, wide], 1, text),
            (["eval", "--model", Path.Combine(_dir, "none.safetensors"), "--data", _dir], 2, "none.safetensors"),
            (["eval", "--model", model, "--data", Path.Combine(_dir, "nowhere")], 2, "nowhere"),
            (["train", "--data", "spirals", "--schedule", "onecycle", "--warmup", "2"], 2, "warms up itself"),
            (["train", "--data", "spirals", "--epochs", "3", "--warmup", "3"], 2, "warm-up"),
            (["train", "--schedule", "bogus"], 2, "multistep"),
        })
        {
            var r = Gpunet.Run(args);
            Assert.False(r.HasStackTrace, r.ToString());
            Assert.True(r.ExitCode == exit, $"gpunet {string.Join(" ", args)}: expected exit {exit}: {r}");
            var errors = r.ErrorLines.Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
            Assert.True(errors.Count == 1 && errors[0].Contains(mention, StringComparison.Ordinal), $"gpunet {string.Join(" ", args)}: expected one error naming '{mention}': {r}");
        }
    }

    /// <summary>A minimal 8-bit grey-scale PNG (IHDR, one zlib IDAT with filter 0 rows, IEND), written here byte by byte.</summary>
    private static byte[] GreyPng(byte[] pixels)
    {
        var ms = new MemoryStream();
        ms.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        void Chunk(string type, byte[] data)
        {
            Span<byte> len = stackalloc byte[4];
            BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
            ms.Write(len);
            var body = (byte[])[.. Encoding.ASCII.GetBytes(type), .. data];
            ms.Write(body);
            BinaryPrimitives.WriteUInt32BigEndian(len, Crc32(body));
            ms.Write(len);
        }
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, 28);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), 28);
        header[8] = 8; // bit depth; colour type 0 (grey), compression, filter and interlace 0
        Chunk("IHDR", header);
        var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
            for (int y = 0; y < 28; y++)
            {
                z.WriteByte(0);
                z.Write(pixels, y * 28, 28);
            }
        Chunk("IDAT", raw.ToArray());
        Chunk("IEND", []);
        return ms.ToArray();
    }

    private static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }
}
