using GpuNet.Kernels;

namespace GpuNet.Tests.TensorOps;

/// <summary>
/// Deferred binary results and the affine step fused onto them (a*b+1 in one pass): results are
/// bit for bit those of the ops launched apart, gradients are unchanged, writes to an input after the
/// op do not reach its deferred result, inputs may be disposed first, and memory comes back.
/// </summary>
[Collection("Memory")]
public sealed class FusionTests
{
    private static Device Cpu => Device.Get("cpu");

    // 300 × 200 = 60,000 elements: past Tensor.DeferThreshold (32,768), so the managed CPU defers.
    private static readonly int[] Shape = [300, 200];

    private static Tensor Make(DType dtype, int[] shape, int seed, Device device)
    {
        using var r = Tensor.Rand(shape, seed: seed, low: -4, high: 4, device: device);
        // Integers from -4 to 4 for int32; for floats a few exact halves, so Maximum/Minimum and
        // the comparisons inside see ties.
        if (dtype == DType.Int32) return r.To(DType.Int32);
        using var rounded = r * 2;
        return rounded.To(dtype);
    }

    // The managed CPU alone defers (the backends' BinaryAffine is held to its definition on every
    // device by the conformance suite), and ILGPU's CPU simulator would take minutes over these sizes.
    public static TheoryData<string, DType, BinaryOp> Cases()
    {
        var data = new TheoryData<string, DType, BinaryOp>();
        foreach (var dev in new[] { "cpu" })
            foreach (var dt in new[] { DType.Float32, DType.Float64, DType.Int32 })
                foreach (var op in new[] { BinaryOp.Add, BinaryOp.Sub, BinaryOp.Mul, BinaryOp.Div, BinaryOp.Maximum, BinaryOp.Minimum })
                    if (dt != DType.Int32 || op != BinaryOp.Div) data.Add(dev, dt, op);
        return data;
    }

    private static Tensor Apply(BinaryOp op, Tensor a, Tensor b) => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        BinaryOp.Div => a / b,
        BinaryOp.Maximum => Tensor.Maximum(a, b),
        _ => Tensor.Minimum(a, b),
    };

    private static long[] Bits(Tensor t) => t.DType switch
    {
        DType.Float32 => t.ToArray<float>().Select(v => (long)BitConverter.SingleToInt32Bits(v)).ToArray(),
        DType.Float64 => t.ToArray<double>().Select(BitConverter.DoubleToInt64Bits).ToArray(),
        _ => t.ToArray<int>().Select(v => (long)v).ToArray(),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void AffineAfterABinaryOp_EqualsTheOpsLaunchedApart_BitForBit(string device, DType dtype, BinaryOp op)
    {
        var dev = Device.Get(device);
        using var scope = Tensor.NewScope();
        // Dense operands, a broadcast column, and a transposed view.
        var a = Make(dtype, Shape, 1, dev);
        var b = Make(dtype, Shape, 2, dev);
        var column = Make(dtype, [300, 1], 3, dev);
        var bt = Make(dtype, [200, 300], 4, dev).T;
        if (op == BinaryOp.Div)
        {
            // No division by zero: |b| ≥ 0.5 after rounding to halves.
            b = b.Abs() + 0.5;
            column = column.Abs() + 0.5;
            bt = bt.Abs() + 0.5;
        }
        (double Alpha, double Beta)[] affines = dtype == DType.Int32 ? [(1, 1), (3, 0), (-1, 7)] : [(1, 1), (2.5, 0), (-1, 0.75), (0.1, -3)];
        foreach (var (x, y) in new[] { (a, b), (a, column), (column, b), (a, bt) })
            foreach (var (alpha, beta) in affines)
            {
                // Fused: the binary result is still deferred when the affine step comes.
                var t = Apply(op, x, y);
                var fused = t.Affine(alpha, beta);
                // Apart: the binary result is read first, so the affine step runs on its memory.
                var u = Apply(op, x, y);
                var uBits = Bits(u);
                var apart = u.Affine(alpha, beta);
                Assert.Equal(Bits(apart), Bits(fused));
                // The deferred result itself, read after the fused step, is the op's result.
                Assert.Equal(uBits, Bits(t));
            }
    }

    public static TheoryData<DType, BinaryOp, string> UnaryCases()
    {
        var data = new TheoryData<DType, BinaryOp, string>();
        foreach (var dt in new[] { DType.Float32, DType.Float64, DType.Int32 })
            foreach (var op in new[] { BinaryOp.Add, BinaryOp.Mul, BinaryOp.Minimum })
                foreach (var unary in new[] { "relu", "neg", "abs", "sign", "clamp", "sqrt", "reciprocal" })
                    if (dt != DType.Int32 || unary is "relu" or "neg" or "abs" or "sign" or "clamp") data.Add(dt, op, unary);
        return data;
    }

    private static Tensor ApplyUnary(string unary, Tensor t) => unary switch
    {
        "relu" => t.Relu(),
        "neg" => t.Neg(),
        "abs" => t.Abs(),
        "sign" => t.Sign(),
        "clamp" => t.Clamp(-1, 2.5),
        "sqrt" => t.Sqrt(),
        _ => t.Reciprocal(),
    };

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void ExactUnaryAfterABinaryOp_FusesAndEqualsTheOpsLaunchedApart_BitForBit(DType dtype, BinaryOp op, string unary)
    {
        using var scope = Tensor.NewScope();
        var a = Make(dtype, Shape, 11, Cpu);
        var b = Make(dtype, Shape, 12, Cpu);
        var column = Make(dtype, [300, 1], 13, Cpu);
        // Rows of 1,500 elements that are not a multiple of the fused pass's chunks, so its tails are exercised.
        var odd = Make(dtype, [40, 1500], 14, Cpu);
        var odd2 = Make(dtype, [40, 1500], 15, Cpu);
        foreach (var (x, y) in new[] { (a, b), (a, column), (odd, odd2) })
        {
            var t = Apply(op, x, y);
            Assert.NotNull(t.Storage.Pending); // deferred, so the unary step below runs fused
            var fused = ApplyUnary(unary, t);
            Assert.NotNull(t.Storage.Pending); // …and the intermediate was never computed
            var u = Apply(op, x, y);
            var uBits = Bits(u);
            var apart = ApplyUnary(unary, u);
            Assert.Equal(Bits(apart), Bits(fused));
            Assert.Equal(uBits, Bits(t));
        }
    }

    [Fact]
    public void FusedRelu_KeepsTheGradientOfBothInputs()
    {
        // y = sum(relu(a + b)): dy/da = dy/db = [a + b > 0]; the VJP reads the deferred sum, which then runs.
        using var scope = Tensor.NewScope();
        var a = Make(DType.Float32, Shape, 18, Cpu).RequiresGrad_();
        var b = Make(DType.Float32, Shape, 19, Cpu).RequiresGrad_();
        float[] ha = a.ToArray<float>(), hb = b.ToArray<float>();
        var y = (a + b).Relu();
        var hy = y.ToArray<float>();
        y.Sum().Backward();
        float[] ga = a.Grad!.ToArray<float>(), gb = b.Grad!.ToArray<float>();
        for (int i = 0; i < ha.Length; i++)
        {
            float s = ha[i] + hb[i], mask = s > 0 ? 1 : 0;
            Assert.Equal(Math.Max(s, 0f), hy[i]);
            Assert.Equal(mask, ga[i]);
            Assert.Equal(mask, gb[i]);
        }
    }

    [Fact]
    public void InexactUnaryOps_DoNotFuse()
    {
        using var scope = Tensor.NewScope();
        var t = Make(DType.Float32, Shape, 16, Cpu) + Make(DType.Float32, Shape, 17, Cpu);
        var e = t.Exp();
        Assert.Null(t.Storage.Pending); // exp read the sum's memory: the sum ran, apart
        Assert.Equal(Bits(t.Exp()), Bits(e));
    }

    [Fact]
    public void FusedChain_MatchesTheFormulaAndKeepsBothGradients()
    {
        // y = sum(a*b + 1): dy/da = b and dy/db = a exactly (PyTorch's VJPs of Mul and Add).
        using var scope = Tensor.NewScope();
        var a = Make(DType.Float32, Shape, 5, Cpu).RequiresGrad_();
        var b = Make(DType.Float32, Shape, 6, Cpu).RequiresGrad_();
        var ha = a.ToArray<float>();
        var hb = b.ToArray<float>();
        var z = a * b + 1;
        var hz = z.ToArray<float>();
        for (int i = 0; i < hz.Length; i++) Assert.Equal(ha[i] * hb[i] + 1f, hz[i]);
        z.Sum().Backward();
        Assert.Equal(hb, a.Grad!.ToArray<float>());
        Assert.Equal(ha, b.Grad!.ToArray<float>());
    }

    [Fact]
    public void WritesToAnInputAfterTheOp_DoNotReachItsDeferredResult()
    {
        using var scope = Tensor.NewScope();
        var a = Make(DType.Float32, Shape, 7, Cpu);
        var b = Make(DType.Float32, Shape, 8, Cpu);
        var ha = a.ToArray<float>();
        var hb = b.ToArray<float>();
        var sum = a + b;
        var product = a * b;
        a.AddInPlace(b, 3);
        b.FillInPlace(100);
        var hs = sum.ToArray<float>();
        var hp = product.ToArray<float>();
        for (int i = 0; i < hs.Length; i++)
        {
            Assert.Equal(ha[i] + hb[i], hs[i]);
            Assert.Equal(ha[i] * hb[i], hp[i]);
        }
        // The affine step fuses onto a result deferred after the writes, and sees the new values.
        var c = a * b;
        var hc = (c - 2).ToArray<float>();
        var na = a.ToArray<float>();
        for (int i = 0; i < hc.Length; i++) Assert.Equal(na[i] * 100f - 2f, hc[i]);
    }

    [Fact]
    public void DeferredResult_OutlivesItsDisposedInputs_AndMemoryComesBack()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Cpu.Pool.DrainFinalized();
        long baseline = Cpu.Pool.LiveBytes;
        var a = Make(DType.Float64, Shape, 9, Cpu);
        var b = Make(DType.Float64, Shape, 10, Cpu);
        var ha = a.ToArray<double>();
        var hb = b.ToArray<double>();
        var d = a - b;
        a.Dispose();
        b.Dispose();
        var hd = d.ToArray<double>();
        for (int i = 0; i < hd.Length; i++) Assert.Equal(ha[i] - hb[i], hd[i]);
        d.Dispose();
        Assert.Equal(baseline, Cpu.Pool.LiveBytes);
        // A deferred result disposed unread, and the fused step's output, return everything too.
        var x = Make(DType.Float32, Shape, 11, Cpu);
        var y = Make(DType.Float32, Shape, 12, Cpu);
        for (int i = 0; i < 5; i++)
        {
            using var t = x * y;
            using var z = t + 1;
        }
        using (var unread = x * y) x.Dispose();
        y.Dispose();
        Assert.Equal(baseline, Cpu.Pool.LiveBytes);
    }
}
