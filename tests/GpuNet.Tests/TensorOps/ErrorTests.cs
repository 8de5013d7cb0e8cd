namespace GpuNet.Tests.TensorOps;

/// <summary>Bad input is a clear exception naming the op, the shapes and what was expected — never a kernel crash.</summary>
public sealed class ErrorTests
{
    private static void AssertMentions(Exception e, params string[] parts)
    {
        foreach (var p in parts)
            Assert.True(e.Message.Contains(p, StringComparison.Ordinal), $"message lacks \"{p}\": {e.Message}");
    }

    // Assert.Throws<T> (exactly T), then AssertMentions on its message.
    private static void ThrowsMentioning<T>(Func<object?> testCode, params string[] parts) where T : Exception =>
        AssertMentions(Assert.Throws<T>(testCode), parts);

    private static void ThrowsMentioning<T>(Action testCode, params string[] parts) where T : Exception =>
        AssertMentions(Assert.Throws<T>(testCode), parts);

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void MatMul_InnerDimMismatch_NamesBothShapesAndDims(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var a = Tensor.Zeros([2, 3], device: dev);
        using var b = Tensor.Zeros([4, 5], device: dev);
        var e = Assert.Throws<ArgumentException>(() => a.MatMul(b));
        Assert.Equal("MatMul: [2,3] x [4,5]: inner dimensions 3 and 4 differ.", e.Message);
        using var v = Tensor.Zeros([4], device: dev);
        ThrowsMentioning<ArgumentException>(() => a.MatMul(v), "MatMul", "[2,3]", "3 and 4");
        using var w = Tensor.Zeros([3], device: dev);
        ThrowsMentioning<ArgumentException>(() => v.MatMul(w), "MatMul", "[4] x [3]", "4 and 3");
        using var batchA = Tensor.Zeros([2, 2, 3], device: dev);
        using var batchB = Tensor.Zeros([3, 3, 1], device: dev);
        ThrowsMentioning<ArgumentException>(() => batchA.MatMul(batchB), "MatMul", "[2,2,3] x [3,3,1]", "batch dims [2] and [3]");
        using var s = Tensor.Scalar(1, device: dev);
        ThrowsMentioning<ArgumentException>(() => s.MatMul(a), "MatMul", "[]", "[2,3]");
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Broadcast_IncompatibleShapes_NamesOpShapesAndDim(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var a = Tensor.Zeros([2, 3], device: dev);
        using var b = Tensor.Zeros([4], device: dev);
        var e = Assert.Throws<ArgumentException>(() => a + b);
        AssertMentions(e, "Add", "[2,3]", "[4]", "cannot be broadcast", "3 and 4");
        ThrowsMentioning<ArgumentException>(() => a * b, "Mul", "[2,3]", "[4]");
        ThrowsMentioning<ArgumentException>(() => Tensor.Where(a, a, b), "Where", "[2,3]", "[4]");
        ThrowsMentioning<ArgumentException>(() => a.Gt(b), "Gt", "[2,3]", "[4]");
        ThrowsMentioning<ArgumentException>(() => a.CopyFrom(b), "CopyFrom", "[4]", "[2,3]");
        ThrowsMentioning<ArgumentException>(() => b.Expand(2, 3), "Expand", "[4]", "[2,3]");
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void FloatingOnlyOps_OnInt32_NameOpDtypeAndShape(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var x = Tensor.FromArray(new[] { 1, 2, 3, 4 }, [2, 2], dev);
        ThrowsMentioning<NotSupportedException>(() => x.Exp(), "Exp", "int32", "[2,2]", "float32");
        ThrowsMentioning<NotSupportedException>(() => x.Mean(), "Mean", "int32");
        ThrowsMentioning<NotSupportedException>(() => x.Softmax(0), "Softmax", "int32");
        ThrowsMentioning<NotSupportedException>(() => x.MatMul(x), "MatMul", "int32");
        ThrowsMentioning<ArgumentException>(() => Tensor.Rand([2], dtype: DType.Int32, device: dev), "Rand", "int32");
    }

    [Fact]
    public void TensorsOnTwoDevices_NameBothDevices()
    {
        using var scope = Tensor.NewScope();
        using var a = Tensor.Zeros([2], device: Device.Get("cpu"));
        using var b = Tensor.Zeros([2], device: Device.Get("ilgpu-cpu"));
        ThrowsMentioning<ArgumentException>(() => a + b, "Add", "two devices", "cpu", "ilgpu-cpu", "To(device)");
        ThrowsMentioning<ArgumentException>(() => a.MatMul(b), "MatMul", "cpu", "ilgpu-cpu");
        ThrowsMentioning<ArgumentException>(() => Tensor.Cat([a, b]), "Cat", "cpu", "ilgpu-cpu");
        ThrowsMentioning<ArgumentException>(() => Tensor.Where(a, a, b), "Where", "cpu", "ilgpu-cpu");
        using var i = Tensor.FromArray(new[] { 0, 1 }, device: Device.Get("ilgpu-cpu"));
        ThrowsMentioning<ArgumentException>(() => a.Gather(0, i), "Gather", "cpu", "ilgpu-cpu");
        ThrowsMentioning<ArgumentException>(() => a.CopyFrom(b), "CopyFrom", "cpu", "ilgpu-cpu");
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void OutOfRangeDims_NameOpDimShapeAndValidRange(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var x = Tensor.Zeros([2, 3], device: dev);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => x.Sum(2));
        AssertMentions(e, "Sum", "dim 2", "[2,3]", "-2..1");
        ThrowsMentioning<ArgumentOutOfRangeException>(() => x.Softmax(-3), "Softmax", "dim -3", "[2,3]");
        ThrowsMentioning<ArgumentOutOfRangeException>(() => x.Max(5), "Max", "dim 5", "[2,3]");
        ThrowsMentioning<ArgumentOutOfRangeException>(() => x.ArgMax(2), "ArgMax", "dim 2");
        ThrowsMentioning<ArgumentOutOfRangeException>(() => x.Transpose(0, 2), "Transpose", "dim 2", "[2,3]");
        ThrowsMentioning<ArgumentOutOfRangeException>(() => x.Unsqueeze(3), "Unsqueeze", "dim 3", "[2,3]");
        ThrowsMentioning<ArgumentOutOfRangeException>(() => x.Narrow(1, 2, 2), "Narrow", "[2, 4)", "size 3");
        ThrowsMentioning<ArgumentOutOfRangeException>(() => x.Select(0, 2), "Select", "index 2", "size 2");
        ThrowsMentioning<ArgumentOutOfRangeException>(() => Tensor.Cat([x, x], 2), "Cat", "dim 2");
        ThrowsMentioning<ArgumentOutOfRangeException>(() => Tensor.Stack([x, x], 3), "Stack", "dim 3");
        ThrowsMentioning<ArgumentException>(() => x.Permute(0, 0), "Permute");
        ThrowsMentioning<ArgumentException>(() => x.Permute(0), "Permute", "[2,3]");
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void OutOfRangeIndices_NameOpIndexAndValidRange(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var x = Tensor.Zeros([2, 3], device: dev);
        using var bad = Tensor.FromArray(new[] { 0, 3, 1, 0 }, [2, 2], dev);
        ThrowsMentioning<ArgumentOutOfRangeException>(() => x.Gather(1, bad), "Gather", "index 3", "size 3", "[0, 3)");
        using var negative = Tensor.FromArray(new[] { 0, -1 }, [2, 1], dev);
        ThrowsMentioning<ArgumentOutOfRangeException>(() => x.Gather(1, negative), "Gather", "index -1");
        using var row = Tensor.FromArray(new[] { 1, 2 }, dev);
        ThrowsMentioning<ArgumentOutOfRangeException>(() => x.IndexSelect(0, row), "IndexSelect", "index 2", "size 2");
        using var src = Tensor.Ones([2, 2], device: dev);
        ThrowsMentioning<ArgumentOutOfRangeException>(() => x.ScatterAdd(1, bad, src), "ScatterAdd", "index 3", "[0, 3)");
        using var labels = Tensor.FromArray(new[] { 0, 4, 1 }, dev);
        ThrowsMentioning<ArgumentOutOfRangeException>(() => Tensor.OneHot(labels, 4), "OneHot", "index 4", "4 classes", "labels of shape [3]", "[0, 4)");
        using var floatIndex = Tensor.Zeros([2, 2], device: dev);
        ThrowsMentioning<ArgumentException>(() => x.Gather(1, floatIndex), "Gather", "int32", "float32");
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void ReshapeToAWrongSize_AndViewOfANonViewableLayout_NameShapes(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var x = Tensor.Zeros([2, 3], device: dev);
        var e = Assert.Throws<ArgumentException>(() => x.Reshape(4, 2));
        AssertMentions(e, "Reshape", "[2,3]", "6 elements", "[4,2]", "8 elements");
        ThrowsMentioning<ArgumentException>(() => x.Reshape(4, -1), "Reshape", "[2,3]", "[4,-1]");
        ThrowsMentioning<ArgumentException>(() => x.View(-1, -1), "View", "-1");
        using var t = x.T;
        var v = Assert.Throws<InvalidOperationException>(() => t.View(6));
        AssertMentions(v, "View", "[3,2]", "strides [1,3]", "[6]", "Reshape");
        ThrowsMentioning<ArgumentException>(() => Tensor.FromArray(new float[5], [2, 3], dev), "FromArray", "[2,3]", "6", "5");
        using var m = Tensor.Zeros([3, 2, 2], device: dev);
        ThrowsMentioning<InvalidOperationException>(() => m.T, "T", "[3,2,2]");
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void UseAfterDispose_IsAnObjectDisposedErrorNamingTheOp(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        var x = Tensor.Ones([2, 3], device: dev);
        x.Dispose();
        x.Dispose(); // idempotent
        Assert.True(x.IsDisposed);
        ThrowsMentioning<ObjectDisposedException>(() => x.Exp(), "Exp", "[2,3]", "disposed");
        ThrowsMentioning<ObjectDisposedException>(() => x.ToArray(), "ToArray", "disposed");
        ThrowsMentioning<ObjectDisposedException>(() => x.Sum(), "Sum", "disposed");
        ThrowsMentioning<ObjectDisposedException>(() => x.Transpose(0, 1), "disposed");
        using var y = Tensor.Ones([2, 3], device: dev);
        ThrowsMentioning<ObjectDisposedException>(() => y + x, "Add", "disposed");
        ThrowsMentioning<ObjectDisposedException>(() => y.MatMul(x), "MatMul", "disposed");
        Assert.Contains("disposed", x.ToString());
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void ToArrayOfTheWrongType_AndItemOfManyElements_SayWhatToDoInstead(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var x = Tensor.Ones([2, 3], device: dev);
        var e = Assert.Throws<InvalidOperationException>(() => x.ToArray<double>());
        AssertMentions(e, "ToArray", "float32", "ToArray<Single>", "To(DType.Float64)");
        ThrowsMentioning<InvalidOperationException>(() => x.Item(), "Item", "[2,3]", "one-element");
        ThrowsMentioning<InvalidOperationException>(() => x.Item<float>(), "Item", "[2,3]");
        using var i = Tensor.Scalar(1, DType.Int32, dev);
        ThrowsMentioning<InvalidOperationException>(() => i.Item<float>(), "int32");
    }

    [Fact]
    public void UnknownDeviceName_ListsTheAvailableDevices()
    {
        var e = Assert.Throws<ArgumentException>(() => Device.Get("tpu"));
        AssertMentions(e, "'tpu'", "cpu", "ilgpu-cpu", "cuda", "Available: cpu, ilgpu-cpu");
        ThrowsMentioning<ArgumentException>(() => Device.Get("cpu:x"), "index", "Available");
        ThrowsMentioning<ArgumentException>(() => Device.Get("cpu:3"), "out of range", "Available");
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void MismatchedOperands_OfShapeOps_NameShapes(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var a = Tensor.Zeros([2, 3], device: dev);
        using var b = Tensor.Zeros([2, 4], device: dev);
        ThrowsMentioning<ArgumentException>(() => Tensor.Cat([a, b], 0), "Cat", "[2,3]", "[2,4]", "dim 1");
        ThrowsMentioning<ArgumentException>(() => Tensor.Stack([a, b]), "Stack", "[2,3]", "[2,4]");
        using var d = Tensor.Zeros([2, 3], DType.Float64, dev);
        ThrowsMentioning<ArgumentException>(() => Tensor.Cat([a, d]), "Cat", "float32", "float64");
        ThrowsMentioning<ArgumentException>(() => Tensor.Cat(Array.Empty<Tensor>()), "Cat");
        ThrowsMentioning<ArgumentException>(() => a.Clamp(2, 1), "Clamp", "2", "1");
        ThrowsMentioning<ArgumentException>(() => Tensor.OneHot(Tensor.FromArray(new[] { 0 }, device: dev), 0), "OneHot", "numClasses");
    }
}
