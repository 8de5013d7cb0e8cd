using System.Reflection;
using GpuNet.Kernels;

namespace GpuNet.Tests.Backends;

/// <summary>
/// The add-an-op path (CONTRIBUTING.md) leaves nothing to a hand-kept list: every <see cref="UnaryOp"/> is
/// registered in <see cref="UnaryOps"/> and computed by a tensor method marked with it, so the conformance
/// suite (which reads the registration) and the gradient checks (which find the method) cover it.
/// </summary>
public sealed class UnaryRegistrationTests
{
    [Fact]
    public void EveryUnaryOp_IsRegistered_InEnumOrder()
    {
        var ops = Enum.GetValues<UnaryOp>();
        Assert.Equal(ops, UnaryOps.All.Select(i => i.Op));
        foreach (var op in ops) Assert.Same(UnaryOps.All[(int)op], UnaryOps.Get(op));
    }

    [Fact]
    public void EveryUnaryOp_HasOneTensorMethod()
    {
        var methods = typeof(Tensor).GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)
            .SelectMany(m => m.GetCustomAttributes<UnaryKernelAttribute>().Select(a => (a.Op, m.Name)))
            .ToList();
        foreach (var op in Enum.GetValues<UnaryOp>())
            Assert.True(methods.Count(m => m.Op == op) == 1, $"UnaryOp.{op} needs exactly one Tensor method marked [UnaryKernel(UnaryOp.{op})]; found {methods.Count(m => m.Op == op)}.");
    }

    [Fact]
    public void Registration_AgreesWithTheBackends_OnWhichOpsInt32Supports()
    {
        // Both backends refuse exactly the ops the registration calls floating only.
        foreach (var dev in new[] { Device.Cpu, Device.IlgpuCpu })
            foreach (var info in UnaryOps.All)
            {
                using var x = dev.Backend.Allocate(DType.Int32, 4);
                using var y = dev.Backend.Allocate(DType.Int32, 4);
                dev.Backend.Fill(StridedView.Contiguous(x, [4]), 2);
                var call = () => dev.Backend.Unary(info.Op, StridedView.Contiguous(x, [4]), StridedView.Contiguous(y, [4]), 1, 3);
                if (info.Integer) call();
                else Assert.Throws<NotSupportedException>(call);
            }
    }
}
