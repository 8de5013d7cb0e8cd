using System.Diagnostics;
using GpuNet.Kernels;
using GpuNet.Kernels.Ilgpu;
using Xunit;

namespace GpuNet.Tests.Ilgpu;

/// <summary>
/// Bad calls end in a clear .NET exception naming the op, thrown on the host before any launch;
/// never a kernel crash or out-of-bounds access. After each, the backend still works.
/// </summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class IlgpuErrorTests(IlgpuCpuFixture fx)
{
    private readonly IlgpuBackend _be = fx.Backend;

    private StridedView Vec(DType dt, int n, out DeviceBuffer buffer)
    {
        buffer = _be.Allocate(dt, n);
        _be.Fill(StridedView.Contiguous(buffer, [n]), 1);
        return StridedView.Contiguous(buffer, [n]);
    }

    public static TheoryData<string> Cases() =>
    [
        "dtype mismatch", "shape mismatch", "view past the end", "negative offset", "disposed buffer",
        "int exp", "int div", "int softmax", "int random", "matmul inner dims", "matmul rank",
        "reduce empty max", "reduce bad output", "gather index dtype", "upload too long", "download wrong type",
        "foreign buffer",
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void BadCall_ThrowsClearException_AndBackendSurvives(string name)
    {
        var f = Vec(DType.Float32, 6, out var fb);
        var f2 = Vec(DType.Float32, 6, out var fb2);
        var d = Vec(DType.Float64, 6, out var db);
        var i = Vec(DType.Int32, 6, out var ib);
        try
        {
            Action call = name switch
            {
                "dtype mismatch" => () => _be.Binary(BinaryOp.Add, f, d, f2),
                "shape mismatch" => () => _be.Binary(BinaryOp.Add, f, new StridedView(fb2, [5], [1], 0), f2),
                "view past the end" => () => _be.Unary(UnaryOp.Neg, new StridedView(fb, [4], [2], 0), new StridedView(fb2, [4], [1], 0)),
                "negative offset" => () => _be.Fill(new StridedView(fb, [3], [-1], 1), 0),
                "disposed buffer" => () => { fb2.Dispose(); _be.Fill(f2, 0); },
                "int exp" => () => _be.Unary(UnaryOp.Exp, i, i),
                "int div" => () => _be.Binary(BinaryOp.Div, i, i, i),
                "int softmax" => () => _be.Softmax(new StridedView(ib, [1, 6, 1], [6, 1, 1], 0), new StridedView(ib, [1, 6, 1], [6, 1, 1], 0), false),
                "int random" => () => _be.FillRandom(i, RandomDistribution.Normal, 1, 0, 0, 1),
                "matmul inner dims" => () => _be.MatMul(new StridedView(fb, [1, 2, 3], [6, 3, 1], 0), new StridedView(fb2, [1, 2, 3], [6, 3, 1], 0), new StridedView(db, [1, 2, 3], [6, 3, 1], 0)),
                "matmul rank" => () => _be.MatMul(new StridedView(fb, [2, 3], [3, 1], 0), new StridedView(fb2, [3, 2], [2, 1], 0), new StridedView(fb, [2, 2], [2, 1], 0)),
                "reduce empty max" => () => _be.Reduce(ReduceOp.Max, new StridedView(fb, [2, 0, 3], [0, 3, 1], 0), new StridedView(fb2, [2, 3], [3, 1], 0)),
                "reduce bad output" => () => _be.Reduce(ReduceOp.ArgMax, new StridedView(fb, [2, 3, 1], [3, 1, 1], 0), new StridedView(fb2, [2, 1], [1, 1], 0)),
                "gather index dtype" => () => _be.Gather(new StridedView(fb, [1, 6, 1], [6, 1, 1], 0), new StridedView(fb2, [1, 6, 1], [6, 1, 1], 0), new StridedView(fb, [1, 6, 1], [6, 1, 1], 0)),
                "upload too long" => () => _be.Upload<float>(new float[7], fb),
                "download wrong type" => () => _be.Download<double>(fb, new double[6]),
                "foreign buffer" => () => ForeignBuffer(f),
                _ => throw new ArgumentOutOfRangeException(nameof(name)),
            };
            var e = Record.Exception(call);
            Assert.NotNull(e);
            Assert.True(e is ArgumentException or NotSupportedException or ObjectDisposedException, $"{name}: unexpected {e.GetType().Name}: {e.Message}");
            Assert.DoesNotContain("ILGPU", e.GetType().FullName);
            Assert.False(string.IsNullOrWhiteSpace(e.Message));
        }
        finally
        {
            fb.Dispose(); fb2.Dispose(); db.Dispose(); ib.Dispose();
        }

        // Still healthy.
        using var ok = _be.Allocate(DType.Float32, 3);
        _be.FillAffine(StridedView.Contiguous(ok, [3]), 1, 1);
        var r = new float[3];
        _be.Download<float>(ok, r);
        Assert.Equal([1f, 2, 3], r);
    }

    [Fact]
    public void MessagesNameTheOpAndShapes()
    {
        var f = Vec(DType.Float32, 6, out var fb);
        using var _ = fb;
        var e = Assert.Throws<ArgumentException>(() => _be.MatMul(new StridedView(fb, [1, 2, 3], [6, 3, 1], 0), new StridedView(fb, [1, 2, 3], [6, 3, 1], 0), new StridedView(fb, [1, 2, 3], [6, 3, 1], 0)));
        Assert.Contains("MatMul", e.Message);
        Assert.Contains("[1,2,3]", e.Message);
        var iv = Vec(DType.Int32, 2, out var ib);
        using var __ = ib;
        var n = Assert.Throws<NotSupportedException>(() => _be.Unary(UnaryOp.Log, iv, iv));
        Assert.Contains("Log", n.Message);
        Assert.Contains("int32", n.Message);
    }

    private void ForeignBuffer(StridedView f)
    {
        // A second ILGPU CPU device: same kind, different accelerator and pool.
        var other = IlgpuDiscovery.Discover().First(d => d.Kind == DeviceKind.IlgpuCpu);
        using var backend = other.Backend;
        using var buf = backend.Allocate(DType.Float32, 6);
        _be.Copy(StridedView.Contiguous(buf, [6]), f);
    }

    [Fact]
    public void Discovery_IsCheap_NeverThrows_AndListsOnlyRealAccelerators()
    {
        var sw = Stopwatch.StartNew();
        var devices = IlgpuDiscovery.Discover().ToList();
        sw.Stop();
        Assert.Equal(DeviceKind.IlgpuCpu, devices[0].Kind);
        Assert.Single(devices, d => d.Kind == DeviceKind.IlgpuCpu);
        Assert.All(devices.Skip(1), d => Assert.True(d.Kind is DeviceKind.Cuda or DeviceKind.OpenCL));
        Assert.Equal(2, devices[0].WarpSize);
        // No context or accelerator is created here (the backend factory does that later).
        Assert.True(sw.ElapsedMilliseconds < 2000, $"discovery took {sw.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void CpuAccelerator_HasTheSmallShapeTheKernelsNeed()
    {
        if (fx.Device.Kind != DeviceKind.IlgpuCpu) return; // running against a GPU
        Assert.Equal(4, _be.Accelerator.MaxNumThreadsPerGroup);
        Assert.Equal(2, _be.MatMulTile);
    }

    [Fact]
    public void Results_AreDeterministic()
    {
        // Same inputs, same launches, bit-identical outputs (the split reduction and ScatterAdd have a fixed order).
        float[] Run()
        {
            using var x = _be.Allocate(DType.Float32, 5000);
            using var y = _be.Allocate(DType.Float32, 1);
            _be.FillRandom(StridedView.Contiguous(x, [5000]), RandomDistribution.Normal, 3, 0, 0, 1);
            _be.Reduce(ReduceOp.Sum, new StridedView(x, [1, 5000, 1], [5000, 1, 1], 0), StridedView.Contiguous(y, [1, 1]));
            var r = new float[1];
            _be.Download<float>(y, r);
            return r;
        }
        Assert.Equal(Run(), Run());
    }
}
