using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;

namespace GpuNet.Tests.Cli;

/// <summary>What one run of the gpunet command printed and returned.</summary>
internal sealed partial record CliResult(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>True when either stream holds a .NET stack trace (an "   at Type.Method(" frame or "Unhandled exception").</summary>
    public bool HasStackTrace => StackFrame().IsMatch(Stdout) || StackFrame().IsMatch(Stderr)
        || Stderr.Contains("Unhandled exception", StringComparison.Ordinal);

    /// <summary>The lines of stderr that are not empty.</summary>
    public string[] ErrorLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";

    [GeneratedRegex(@"^\s+at \S+\(", RegexOptions.Multiline)]
    private static partial Regex StackFrame();
}

/// <summary>
/// Runs the built gpunet CLI (src/Cli, built before the tests by the project reference) as a child process, with
/// GPUNET_* variables cleared unless a test sets them, so each run sees only what the test gives it.
/// </summary>
internal static class Gpunet
{
    private static readonly Lazy<string> s_dll = new(FindDll);

    public static string Dll => s_dll.Value;

    private static string FindDll()
    {
        var built = typeof(Gpunet).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "GpuNetCli")?.Value;
        if (built is not null && File.Exists(built)) return built;
        // Moved away from the build tree: look for src/Cli/bin/<configuration> above the test assembly.
        var config = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "src", "Cli", "bin", config, "net10.0", "gpunet.dll");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"The gpunet CLI is not built (looked for {built ?? "src/Cli/bin/<config>/net10.0/gpunet.dll"}): build src/Cli before running the CLI tests.");
    }

    /// <summary>
    /// The start info for <c>dotnet gpunet.dll args</c>, with redirected streams and a clean GPUNET_* environment.
    /// <paramref name="prefix"/> runs it through another program first (env), which must exec it; without
    /// <paramref name="runGpunet"/> the prefix is the whole command (script, with gpunet inside its own command line).
    /// </summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null, string? workingDirectory = null,
        IReadOnlyList<string>? prefix = null, bool runGpunet = true)
    {
        var psi = new ProcessStartInfo(prefix is { Count: > 0 } ? prefix[0] : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        if (prefix is { Count: > 0 })
        {
            foreach (var p in prefix.Skip(1)) psi.ArgumentList.Add(p);
            if (runGpunet) psi.ArgumentList.Add("dotnet");
        }
        if (runGpunet) psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("GPUNET_", StringComparison.Ordinal)).ToList()) psi.Environment.Remove(key);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        if (env is not null)
            foreach (var (k, v) in env)
            {
                if (v is null) psi.Environment.Remove(k);
                else psi.Environment[k] = v;
            }
        return psi;
    }

    /// <summary>Starts gpunet; its output is collected as it comes.</summary>
    public static CliProcess Start(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null, string? workingDirectory = null,
        IReadOnlyList<string>? prefix = null, bool runGpunet = true) =>
        new(StartInfo(args, env, workingDirectory, prefix, runGpunet));

    /// <summary>Runs gpunet to completion (failing the test after <paramref name="timeoutSeconds"/>).</summary>
    public static CliResult Run(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null, string? workingDirectory = null, int timeoutSeconds = 120)
    {
        using var p = Start(args, env, workingDirectory);
        if (!p.Process.WaitForExit(timeoutSeconds * 1000))
        {
            p.Kill();
            Assert.Fail($"gpunet {string.Join(" ", args)} did not finish in {timeoutSeconds} s.\n{p.Result()}");
        }
        return p.Result();
    }

    public static CliResult Run(params string[] args) => Run((IEnumerable<string>)args);
}

/// <summary>A running gpunet whose stdout and stderr are read into buffers by the process's own events.</summary>
internal sealed class CliProcess : IDisposable
{
    private readonly System.Text.StringBuilder _out = new(), _err = new();

    public CliProcess(ProcessStartInfo psi)
    {
        Process = new Process { StartInfo = psi };
        Process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
        Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_err) _err.AppendLine(e.Data); };
        Process.Start();
        Process.StandardInput.Close();
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public string Stdout
    {
        get { lock (_out) return _out.ToString(); }
    }

    /// <summary>SIGKILL (the whole tree), then waits for it.</summary>
    public void Kill()
    {
        if (!Process.HasExited) Process.Kill(entireProcessTree: true);
        Process.WaitForExit();
    }

    /// <summary>Waits for the exit and the end of both streams.</summary>
    public CliResult Result()
    {
        Process.WaitForExit(); // without a timeout this also waits for the redirected streams to close
        lock (_out) lock (_err) return new CliResult(Process.ExitCode, _out.ToString(), _err.ToString());
    }

    public void Dispose()
    {
        if (!Process.HasExited) Kill();
        Process.Dispose();
    }
}
