using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using GpuNet.Nn;

namespace GpuNet.Tests.Cli;

/// <summary>
/// Bad inputs of every kind, given to the real gpunet: one <c>error:</c> line on stderr, a non-zero exit, no
/// stack trace (unless asked for), and checks of outputs before any training.
/// </summary>
public sealed partial class CliErrorTests
{
    private static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "gpunet-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Exit <paramref name="exit"/>, exactly one error line, mentioning each of <paramref name="mentions"/>, and no trace.</summary>
    private static CliResult OneError(CliResult r, int exit, params string[] mentions)
    {
        Assert.False(r.HasStackTrace, $"stack trace printed: {r}");
        Assert.True(r.ExitCode == exit, $"expected exit {exit}: {r}");
        var errors = r.ErrorLines.Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 1, $"expected one error line: {r}");
        foreach (var m in mentions) Assert.True(errors[0].Contains(m, StringComparison.Ordinal), $"the error does not mention '{m}': {r}");
        Assert.DoesNotContain("System.", r.Stderr); // no CLR type names such as System.Nullable`1[System.Int64]
        return r;
    }

    private static readonly string[] Tiny = ["train", "--data", "spirals", "--limit", "30", "--epochs", "1", "--hidden", "4"];

    public static TheoryData<string[], string[]> BadCommandLines() => new()
    {
        { ["bogus"], ["'bogus'"] },
        { [], ["no command"] },
        { ["train", "--seed", "abc"], ["--seed", "'abc'", "whole number"] },
        { ["train", "--epochs", "0"], ["--epochs", "positive"] },
        { ["train", "--epochs", "ten"], ["--epochs", "'ten'"] },
        { ["train", "--batch-size", "-4"], ["--batch-size"] },
        { ["train", "--limit", "0"], ["--limit"] },
        { ["train", "--lr", "0"], ["--lr", "positive"] },
        { ["train", "--lr", "fast"], ["--lr", "'fast'"] },
        { ["train", "--dropout", "1"], ["--dropout", "[0, 1)"] },
        { ["train", "--momentum", "1.5"], ["--momentum"] },
        { ["train", "--weight-decay", "-0.1"], ["--weight-decay"] },
        { ["train", "--hidden", "64,x"], ["--hidden", "'x'"] },
        { ["train", "--activation", "swish"], ["--activation", "'swish'", "relu", "gelu", "softplus"] },
        { ["train", "--optimizer", "lbfgs"], ["--optimizer", "'lbfgs'", "adamw", "rmsprop"] },
        { ["train", "--schedule", "linear"], ["--schedule", "'linear'", "cosine"] },
        { ["train", "--device", "tpu"], ["--device", "tpu"] },
        { ["train", "--resume"], ["--out"] },
        { ["train", "--data", "/nonexistent-gpunet-data"], ["--data", "/nonexistent-gpunet-data"] },
        { ["demo", "bogus"], ["'bogus'", "perceptron", "gradcheck"] },
        { ["demo", "xor", "--seed", "1.5"], ["--seed", "'1.5'"] },
        { ["bench", "--only", "everything"], ["everything"] },
    };

    [Theory, MemberData(nameof(BadCommandLines))]
    public void ABadCommandLine_IsOneErrorLine_AndExit2(string[] args, string[] mentions) => OneError(Gpunet.Run(args), 2, mentions);

    [Fact]
    public void Help_ListsTheAllowedValues()
    {
        var train = Gpunet.Run("train", "--help");
        Assert.Equal(0, train.ExitCode);
        Assert.Contains("<relu|sigmoid|tanh|gelu|gelu-tanh|silu|leaky-relu|elu|softplus|identity>", train.Stdout);
        Assert.Contains("<sgd|adam|adamw|rmsprop>", train.Stdout);
        Assert.Contains("<none|cosine|step>", train.Stdout);
        Assert.Contains("--verbose", train.Stdout);
        var demo = Gpunet.Run("demo", "--help");
        Assert.Contains("mp-neuron|perceptron|xor|universal-approximation|gradient-descent|losses|backprop|gradcheck", demo.Stdout);
    }

    [Fact]
    public void ACorruptDataFile_IsOneLineNamingIt_NotAStackTrace()
    {
        // The real files linked, the test labels empty: once a 38-line stack trace.
        Assert.SkipUnless(FashionMnist.Exists(FashionMnist.DefaultDirectory), $"Fashion-MNIST is not installed in {FashionMnist.DefaultDirectory}");
        var dir = TempDir();
        foreach (var f in Directory.GetFiles(FashionMnist.DefaultDirectory).Where(f => Path.GetFileName(f).StartsWith("train-", StringComparison.Ordinal) || Path.GetFileName(f).StartsWith("t10k-images", StringComparison.Ordinal)))
            File.CreateSymbolicLink(Path.Combine(dir, Path.GetFileName(f)), f);
        var labels = Path.Combine(dir, "t10k-labels-idx1-ubyte");
        File.WriteAllBytes(labels, []);
        OneError(Gpunet.Run("train", "--data", dir), 1, labels, "not a valid IDX file");
        Directory.Delete(dir, true);
    }

    private static byte[] Idx(int[] dims, int bytes)
    {
        var b = new byte[4 + 4 * dims.Length + bytes];
        b[2] = 8;
        b[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4 + 4 * i), dims[i]);
        return b;
    }

    [Fact]
    public void AnEmptyDataSet_IsAnError_NotATrainingToNaN()
    {
        var dir = TempDir();
        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte"), Idx([0, 28, 28], 0));
        File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte"), Idx([0], 0));
        File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte"), Idx([0, 28, 28], 0));
        File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte"), Idx([0], 0));
        var ckpt = Path.Combine(dir, "m.safetensors");
        var r = OneError(Gpunet.Run("train", "--data", dir, "--out", ckpt), 1, "no samples");
        Assert.DoesNotContain("NaN", r.Stdout);
        Assert.False(File.Exists(ckpt));
        Directory.Delete(dir, true);
    }

    [LibraryImport("libc", EntryPoint = "mkfifo", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkFifo(string path, int mode);

    [Fact]
    public void ANamedPipeAsADataFile_IsRejected_NotWaitedOnForever()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "named pipes as tested here are Linux's");
        var dir = TempDir();
        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte"), Idx([1, 28, 28], 784));
        File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte"), Idx([1], 1));
        File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte"), Idx([1, 28, 28], 784));
        var fifo = Path.Combine(dir, "t10k-labels-idx1-ubyte");
        Assert.Equal(0, MkFifo(fifo, Convert.ToInt32("600", 8)));
        OneError(Gpunet.Run(["train", "--data", dir], timeoutSeconds: 30), 1, fifo, "not a regular file");
        Directory.Delete(dir, true);
    }

    [Fact]
    public void AWrongGpunetData_IsReported_NotSilentlyReplaced()
    {
        var dir = TempDir();
        var r = Gpunet.Run(["train", "--limit", "30", "--epochs", "1", "--hidden", "4"], new Dictionary<string, string?> { ["GPUNET_DATA"] = dir });
        Assert.True(r.ExitCode == 0, r.ToString());
        var warning = Assert.Single(r.ErrorLines, l => l.StartsWith("warning:", StringComparison.Ordinal));
        Assert.Contains($"$GPUNET_DATA={dir}", warning);
        Assert.Contains("train-images-idx3-ubyte", warning);
        Assert.Contains("instead", warning);
        var missing = Gpunet.Run(["train", "--limit", "30", "--epochs", "1", "--hidden", "4"], new Dictionary<string, string?> { ["GPUNET_DATA"] = Path.Combine(dir, "nope") });
        Assert.Contains("is not a directory", Assert.Single(missing.ErrorLines, l => l.StartsWith("warning:", StringComparison.Ordinal)));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void BadOutputs_AreCaughtBeforeTheFirstBatch_NamingThePathGiven()
    {
        var dir = TempDir();
        string[] Train(params string[] extra) => ["train", "--data", "spirals", "--limit", "300", "--epochs", "3", "--hidden", "8", .. extra];
        foreach (var (args, option, path) in new[]
        {
            (Train("--plot", "/proc/gpunet-curves.png"), "--plot", "/proc/gpunet-curves.png"),
            (Train("--plot", "/proc"), "--plot", "/proc"),
            (Train("--out", "/proc/m.safetensors"), "--out", "/proc/m.safetensors"),
            (Train("--out", dir), "--out", dir),
            (Train("--out", ""), "--out", "empty"),
            (Train("--plot", " "), "--plot", "empty"),
            (Train("--out", Path.Combine(dir, "none.safetensors"), "--resume"), "--resume", Path.Combine(dir, "none.safetensors")),
        })
        {
            var r = OneError(Gpunet.Run(args), 2, option, path);
            Assert.DoesNotContain("epoch", r.Stdout); // not one epoch was spent
            Assert.DoesNotContain(".tmp", r.Stderr);
        }
        Assert.Empty(Directory.GetFiles(dir));
        Directory.Delete(dir, true);
    }

    private static void AssertPng(string path, int width, int height)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
        Assert.Equal(width, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
        Assert.Equal(height, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    [Fact]
    public void Plot_TakesAFileForOnePicture_AndAFolderForSeveral_InEveryCommand()
    {
        var dir = TempDir();
        var one = Path.Combine(dir, "one-epoch.png");
        var train = Gpunet.Run([.. Tiny, "--plot", one]);
        Assert.True(train.ExitCode == 0, train.ToString());
        AssertPng(one, 900, 540);
        var folder = Path.Combine(dir, "curves");
        Assert.Equal(0, Gpunet.Run([.. Tiny, "--plot", folder]).ExitCode);
        AssertPng(Path.Combine(folder, "training-curves.png"), 900, 540);

        var xor = Gpunet.Run("demo", "xor", "--plot", Path.Combine(dir, "xor.png")); // once a stack trace: demo wanted a folder
        Assert.True(xor.ExitCode == 0 && !xor.HasStackTrace, xor.ToString());
        AssertPng(Path.Combine(dir, "xor.png"), 760, 640);
        var xorFolder = Gpunet.Run("demo", "xor", "--plot", Path.Combine(dir, "lessons"));
        Assert.True(xorFolder.ExitCode == 0, xorFolder.ToString());
        AssertPng(Path.Combine(dir, "lessons", "xor.png"), 760, 640);
        var gd = Gpunet.Run("demo", "gradient-descent", "--plot", Path.Combine(dir, "gd.png"));
        Assert.True(gd.ExitCode == 0, gd.ToString());
        AssertPng(Path.Combine(dir, "gd.png"), 1400, 560);
        AssertPng(Path.Combine(dir, "gd-lr.png"), 800, 600);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp", SearchOption.AllDirectories));
        Directory.Delete(dir, true);
    }

    [Theory]
    [InlineData("mp-neuron"), InlineData("losses"), InlineData("backprop")]
    public void LessonsThatDrawNothing_SaySo(string lesson)
    {
        var dir = TempDir();
        var target = Path.Combine(dir, "pictures");
        var r = Gpunet.Run("demo", lesson, "--plot", target);
        Assert.True(r.ExitCode == 0 && !r.HasStackTrace, r.ToString());
        Assert.Contains($"the {lesson} lesson draws no pictures; --plot {target} is ignored", r.Stderr);
        Assert.False(Directory.Exists(target) || File.Exists(target));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void ABadGpunetDevice_IsNamed_AndDevicesStillLists()
    {
        var env = new Dictionary<string, string?> { ["GPUNET_DEVICE"] = "quantum" };
        var devices = Gpunet.Run([ "devices" ], env);
        Assert.True(devices.ExitCode == 0 && !devices.HasStackTrace, devices.ToString());
        Assert.Contains("GPUNET_DEVICE=quantum", Assert.Single(devices.ErrorLines, l => l.StartsWith("warning:", StringComparison.Ordinal)));
        Assert.Matches(@"(?m)^cpu\s+cpu\s", devices.Stdout);
        Assert.Matches(@"(?m)^ilgpu-cpu\s", devices.Stdout);
        Assert.Contains("<- default", devices.Stdout);

        OneError(Gpunet.Run(Tiny, env), 2, "GPUNET_DEVICE=quantum", "--device");
        OneError(Gpunet.Run(["demo", "xor"], env), 2, "GPUNET_DEVICE=quantum");
        var explicitDevice = Gpunet.Run([.. Tiny, "--device", "cpu"], env);
        Assert.True(explicitDevice.ExitCode == 0, explicitDevice.ToString()); // --device wins over the variable
    }

    [Fact]
    public void TrainingOnTheSimulator_Warns()
    {
        var r = OneError(Gpunet.Run("train", "--device", "ilgpu-cpu", "--data", "/nonexistent-gpunet-data"), 2, "--data");
        var warning = Assert.Single(r.ErrorLines, l => l.StartsWith("warning:", StringComparison.Ordinal));
        Assert.Contains("ilgpu-cpu", warning);
        Assert.Contains("simulator", warning);
        Assert.DoesNotContain("warning", Gpunet.Run("train", "--device", "cpu", "--data", "/nonexistent-gpunet-data").Stderr);
    }

    [Fact]
    public void ErrorsWhileRunning_AreOneLine_TheTraceOnlyWhenAsked()
    {
        var dir = TempDir();
        var ckpt = Path.Combine(dir, "m.safetensors");
        File.WriteAllBytes(ClassifierTraining.StatePath(ckpt), [1, 2, 3]);
        string[] args = [.. Tiny, "--out", ckpt, "--resume"];
        OneError(Gpunet.Run(args), 1, ClassifierTraining.StatePath(ckpt), "not a valid safetensors file");
        var verbose = Gpunet.Run([.. args, "--verbose"]);
        Assert.Equal(1, verbose.ExitCode);
        Assert.True(verbose.HasStackTrace, verbose.ToString());
        var byVariable = Gpunet.Run(args, new Dictionary<string, string?> { ["GPUNET_VERBOSE"] = "1" });
        Assert.True(byVariable.HasStackTrace, byVariable.ToString());
        Directory.Delete(dir, true);
    }
}
