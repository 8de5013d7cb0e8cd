using System.Reflection;
using GpuNet.Kernels.Ilgpu;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime.CPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using Xunit;

namespace GpuNet.Tests.Ilgpu;

/// <summary>One ILGPU context and the two offline compilers, shared by the codegen tests.</summary>
public sealed class CodegenFixture : IDisposable
{
    public CodegenFixture()
    {
        Context = Context.Create(b => b.CPU(IlgpuDiscovery.CreateCpuDevice()).EnableAlgorithms());
        Ptx = new PTXBackend(Context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, null!);
        // An OpenCL 2.0 GPU with fp64 and generic address space, no sub-groups or 64-bit atomics.
        Cl = new CLBackend(Context, new CLCapabilityContext(float16: false, float64: true, genericAddressSpace: true, int64_Atomics: false, subGroups: false), CLDeviceVendor.Nvidia, CLCVersion.CL20);
    }

    public Context Context { get; }
    public PTXBackend Ptx { get; }
    public CLBackend Cl { get; }

    public void Dispose()
    {
        Ptx.Dispose();
        Cl.Dispose();
        Context.Dispose();
    }
}

/// <summary>Every kernel instantiation in <see cref="KernelRegistry"/> compiles to PTX and to OpenCL C, with no atomics or warp/sub-group intrinsics.</summary>
public sealed class IlgpuCodegenTests(CodegenFixture fx) : IClassFixture<CodegenFixture>
{
    public static TheoryData<string> Kernels()
    {
        var data = new TheoryData<string>();
        foreach (var e in KernelRegistry.All) data.Add(e.Name);
        return data;
    }

    private static KernelEntry Entry(string name) => KernelRegistry.All.Single(e => e.Name == name);

    private static EntryPointDescription Describe(KernelEntry e) =>
        e.Grouped ? EntryPointDescription.FromExplicitlyGroupedKernel(e.Method) : EntryPointDescription.FromImplicitlyGroupedKernel(e.Method);

    [Theory]
    [MemberData(nameof(Kernels))]
    public void CompilesToPtx(string kernel)
    {
        var compiled = (PTXCompiledKernel)fx.Ptx.Compile(Describe(Entry(kernel)), new KernelSpecialization());
        Assert.Contains(".entry", compiled.PTXAssembly);
        // Shared memory + barriers only: atomics and shuffles would not build on PoCL.
        Assert.DoesNotContain("atom.", compiled.PTXAssembly);
        Assert.DoesNotContain("shfl.", compiled.PTXAssembly);
        // The smallest subnormals as immediates are integer 1s reinterpreted as floats: ILGPU 1.5.3 emits them for
        // a comparison converted to float (`a > b ? 1 : 0`), so comparisons wrote 1.4e-45 instead of 1 on GPUs.
        Assert.False(compiled.PTXAssembly.Contains("0f00000001", StringComparison.Ordinal) || compiled.PTXAssembly.Contains("0d0000000000000001", StringComparison.Ordinal),
            $"{kernel}: PTX holds the bit pattern of an integer 1 as a float immediate (a bool converted to float).");
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void CompilesToOpenCl(string kernel)
    {
        var compiled = (CLCompiledKernel)fx.Cl.Compile(Describe(Entry(kernel)), new KernelSpecialization());
        Assert.Contains("kernel", compiled.Source);
        Assert.DoesNotContain("atomic_", compiled.Source);
        Assert.DoesNotContain("work_group_reduce", compiled.Source);
        Assert.DoesNotContain("sub_group", compiled.Source);
        Assert.False(compiled.Source.Contains("1.40129846E-45", StringComparison.OrdinalIgnoreCase) || compiled.Source.Contains("4.9406564584124654E-324", StringComparison.OrdinalIgnoreCase),
            $"{kernel}: OpenCL C holds the bit pattern of an integer 1 as a float literal (a bool converted to float).");
    }

    [Fact]
    public void EveryKernel_HasATypedDefinition_TheBackendLaunchesBy()
    {
        var kernels = typeof(IlgpuKernels).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Where(m => m.GetCustomAttribute<KernelAttribute>() is not null).ToHashSet();
        var defined = typeof(KernelDefinitions).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (MethodInfo)f.GetValue(null)!).ToList();
        Assert.Equal(kernels.Count, defined.Count);
        Assert.All(defined, d => Assert.Contains(d, kernels));
    }

    [Fact]
    public void RegistryCoversEveryKernelMethodAndOp()
    {
        var all = KernelRegistry.All;
        var kernelMethods = typeof(IlgpuKernels).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Where(m => m.GetCustomAttribute<KernelAttribute>() is not null).Select(m => m.Name).ToHashSet();
        Assert.Equal(kernelMethods, all.Select(e => e.Method.Name).ToHashSet());
        // Float ops exist for both float dtypes, int ops only where the contract allows Int32.
        Assert.Contains(all, e => e.Name == "Unary<Single,ExpOp>");
        Assert.Contains(all, e => e.Name == "Unary<Double,ExpOp>");
        Assert.DoesNotContain(all, e => e.Name == "Unary<Int32,ExpOp>");
        Assert.Contains(all, e => e.Name == "Unary<Int32,ClampOp>");
        Assert.DoesNotContain(all, e => e.Name == "Binary<Int32,DivOp>");
        Assert.Contains(all, e => e.Name == "Binary<Int32,GtOp>");
        Assert.Equal(9, all.Count(e => e.Method.Name == "Copy"));
        Assert.Equal(9, all.Count(e => e.Method.Name == "Where"));
        Assert.Equal(2 * 4 + 4, all.Count(e => e.Method.Name == "MatMul")); // float, double, int × 4 tiles
        Assert.Equal(24 * 2 + 6, all.Count(e => e.Method.Name == "Unary")); // 24 floating ops × 2 dtypes, 6 with Int32
        Assert.Equal(13 * 3 - 2, all.Count(e => e.Method.Name == "Binary"));
        // Register-tiled GEMMs: float and double × (GPU, CPU-accelerator) configs; Int32 takes the square tiles.
        Assert.Equal(2 * 2, all.Count(e => e.Method.Name == "MatMulReg4"));
        Assert.Equal(2 * 2, all.Count(e => e.Method.Name == "MatMulReg8"));
        Assert.Contains(all, e => e.Name == "MatMulReg8<Single,Gemm8x16,Act>");
        Assert.DoesNotContain(all, e => e.Name.StartsWith("MatMulReg8<Int32", StringComparison.Ordinal));
        // Row-group kernels exist wherever their one-thread-per-row twins do.
        Assert.Equal(all.Count(e => e.Method.Name == "Reduce"), all.Count(e => e.Method.Name == "ReduceRows"));
        Assert.Equal(all.Count(e => e.Method.Name == "ArgReduce"), all.Count(e => e.Method.Name == "ArgReduceRows"));
        Assert.Equal(2, all.Count(e => e.Method.Name == "SoftmaxRows"));
        Assert.Equal(2, all.Count(e => e.Method.Name == "SoftmaxXent"));
        Assert.Equal(2, all.Count(e => e.Method.Name == "SoftmaxXentRows"));
        Assert.Equal(2, all.Count(e => e.Method.Name == "AdamStep"));
        Assert.Equal(2, all.Count(e => e.Method.Name == "SgdMomentumStep"));
        Assert.Equal(2, all.Count(e => e.Method.Name == "ActivationGrad"));
        Assert.Equal(2, all.Count(e => e.Method.Name == "RmsPropStep"));
        Assert.Equal(3, all.Count(e => e.Method.Name == "BiasAct"));
    }
}
