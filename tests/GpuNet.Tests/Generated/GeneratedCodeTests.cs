using System.Diagnostics;
using System.Reflection;

namespace GpuNet.Tests.Generated;

/// <summary>
/// The register-tiled GEMMs are generated (<c>*.gen.py</c> → <c>*.g.cs</c>): each generator is rerun in a
/// scratch folder and its output must equal the checked-in file byte for byte, so an edit to either
/// side alone fails here instead of shipping code no generator produces.
/// </summary>
public sealed class GeneratedCodeTests
{
    public static TheoryData<string, string> Generators() => new()
    {
        { "Kernels.Ilgpu/IlgpuKernels.Gemm.gen.py", "Kernels.Ilgpu/IlgpuKernels.Gemm.g.cs" },
        { "Kernels.Managed/Gemm.Kernels.gen.py", "Kernels.Managed/Gemm.Kernels.g.cs" },
    };

    [Theory]
    [MemberData(nameof(Generators))]
    public void Generator_ReproducesTheCheckedInFile(string generator, string output)
    {
        string root = typeof(GeneratedCodeTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "GpuNetSourceRoot").Value!;
        Assert.SkipWhen(!Directory.Exists(root), $"no source tree at {root} (a bundle without sources)");
        string scratch = Directory.CreateTempSubdirectory("gpunet-gen-").FullName;
        try
        {
            string script = Path.Combine(scratch, Path.GetFileName(generator));
            File.Copy(Path.Combine(root, generator), script);
            var psi = new ProcessStartInfo("python3", [script]) { RedirectStandardError = true, RedirectStandardOutput = true };
            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"python3 {generator} failed: {err}");
            string regenerated = File.ReadAllText(Path.Combine(scratch, Path.GetFileName(output)));
            string checkedIn = File.ReadAllText(Path.Combine(root, output));
            Assert.True(regenerated == checkedIn, $"{output} differs from what {generator} generates: rerun the generator (python3 src/{generator}) and commit its output.");
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }
}
