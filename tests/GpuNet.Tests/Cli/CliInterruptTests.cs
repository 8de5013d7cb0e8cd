using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using GpuNet.Nn;

namespace GpuNet.Tests.Cli;

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM during gpunet train: a clean stop after the current batch, the terminal's cursor shown
/// again, one line saying where the checkpoint stands, exit 130, and --resume continuing from the last finished epoch.
/// </summary>
public sealed partial class CliInterruptTests
{
    private const int SigInt = 2, SigTerm = 15;

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);

    // The test runner may itself have been started with SIGINT ignored (a background job), which children inherit;
    // env --default-signal gives gpunet the default disposition a terminal would.
    private static readonly string[] DefaultSigint = ["env", "--default-signal=INT"];

    private static string[] Train(string checkpoint) =>
        ["train", "--data", "spirals", "--limit", "3000", "--hidden", "64", "--epochs", "100000", "--out", checkpoint];

    private static int WaitForEpoch(CliProcess p, int atLeast)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < 60)
        {
            var last = Regex.Matches(p.Stdout, @"(?m)^epoch\s+(\d+)/").LastOrDefault();
            if (last is not null && int.Parse(last.Groups[1].Value, CultureInfo.InvariantCulture) >= atLeast)
                return int.Parse(last.Groups[1].Value, CultureInfo.InvariantCulture);
            if (p.Process.HasExited) Assert.Fail($"gpunet ended early: {p.Result()}");
            Thread.Sleep(20);
        }
        Assert.Fail($"no epoch {atLeast} within a minute: {p.Stdout}");
        return 0;
    }

    private static CliResult Stop(CliProcess p, int signal)
    {
        Assert.Equal(0, Kill(p.Process.Id, signal));
        if (!p.Process.WaitForExit(30_000))
        {
            p.Kill();
            Assert.Fail($"gpunet did not stop within 30 s of signal {signal}: {p.Result()}");
        }
        return p.Result();
    }

    [Fact]
    public void CtrlC_StopsCleanly_AndResumeContinuesFromTheLastEpoch()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "signals are sent with Linux's kill(2) and env --default-signal");
        var dir = Path.Combine(Path.GetTempPath(), "gpunet-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var ckpt = Path.Combine(dir, "m.safetensors");

        using (var run = Gpunet.Start(Train(ckpt), prefix: DefaultSigint))
        {
            WaitForEpoch(run, 3);
            var r = Stop(run, SigInt);
            Assert.Equal(130, r.ExitCode);
            Assert.False(r.HasStackTrace, r.ToString());
            Assert.Matches(@"^interrupted during epoch \d+; .*m\.safetensors holds epoch \d+: add --resume to continue from it\.$", Assert.Single(r.ErrorLines));
        }
        int saved = int.Parse(Safetensors.ReadMetadata(ClassifierTraining.StatePath(ckpt))["epoch"], CultureInfo.InvariantCulture);
        Assert.True(saved >= 3);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));

        using (var resumed = Gpunet.Start([.. Train(ckpt), "--resume"], prefix: DefaultSigint))
        {
            int first = WaitForEpoch(resumed, saved + 1);
            Assert.Contains($"resuming from {ckpt}", resumed.Stdout);
            Assert.Matches($@"(?m)^epoch\s+{saved + 1}/", resumed.Stdout); // continues where the checkpoint ended
            Assert.DoesNotMatch($@"(?m)^epoch\s+{saved}/", resumed.Stdout);
            var r = Stop(resumed, SigTerm);                                 // SIGTERM stops the same way
            Assert.Equal(130, r.ExitCode);
            Assert.StartsWith("interrupted during epoch", Assert.Single(r.ErrorLines));
            Assert.True(first > saved);
        }
        Directory.Delete(dir, true);
    }

    [Fact]
    public void CtrlC_OnATerminal_ShowsTheCursorAgain()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "the pseudo-terminal comes from util-linux's script");
        Assert.SkipUnless(File.Exists("/usr/bin/script"), "util-linux's script is not installed, so no pseudo-terminal can be made for the progress bar");
        var dir = Path.Combine(Path.GetTempPath(), "gpunet-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var ckpt = Path.Combine(dir, "m.safetensors");
        // script runs the command on a pseudo-terminal, so gpunet draws its progress bar (and hides the cursor).
        var command = "exec env --default-signal=INT dotnet " + string.Join(" ", new[] { Gpunet.Dll }.Concat(Train(ckpt)).Select(a => "'" + a + "'"));
        using var run = Gpunet.Start([], new Dictionary<string, string?> { ["TERM"] = "xterm-256color" }, prefix: ["/usr/bin/script", "-qefc", command, "/dev/null"], runGpunet: false);
        var sw = Stopwatch.StartNew();
        int child = 0;
        while (sw.Elapsed.TotalSeconds < 60 && (child == 0 || !run.Stdout.Contains("epoch", StringComparison.Ordinal)))
        {
            if (run.Process.HasExited) Assert.Fail($"script ended early: {run.Result()}");
            var children = $"/proc/{run.Process.Id}/task/{run.Process.Id}/children";
            if (child == 0 && File.Exists(children) && File.ReadAllText(children).Split(' ', StringSplitOptions.RemoveEmptyEntries) is [var c, ..]) child = int.Parse(c, CultureInfo.InvariantCulture);
            Thread.Sleep(20);
        }
        Assert.True(child != 0, "gpunet did not start under script");
        Thread.Sleep(300);
        Assert.Equal(0, Kill(child, SigInt));
        Assert.True(run.Process.WaitForExit(30_000), "gpunet did not stop within 30 s of Ctrl-C");
        var terminal = run.Result().Stdout;
        const string hide = "\u001b[?25l", show = "\u001b[?25h";
        Assert.True(terminal.Contains(hide, StringComparison.Ordinal), "the progress bar never hid the cursor, so this test shows nothing");
        Assert.True(terminal.LastIndexOf(show, StringComparison.Ordinal) > terminal.LastIndexOf(hide, StringComparison.Ordinal), "the cursor was left hidden");
        Assert.Contains("interrupted during epoch", terminal);
        Assert.DoesNotMatch(@"(?m)^\s+at \S+\(", terminal);
        Directory.Delete(dir, true);
    }
}
