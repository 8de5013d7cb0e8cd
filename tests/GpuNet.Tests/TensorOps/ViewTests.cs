namespace GpuNet.Tests.TensorOps;

/// <summary>Views share storage with their base: writes through either are visible in the other.</summary>
public sealed class ViewTests
{
    /// <param name="Writable">False for views with repeated elements (Expand), which are only read.</param>
    public sealed record Case(string Name, int[] Base, Func<Tensor, Tensor> View, Func<Ref, Ref> Reference, bool Writable = true);

    public static readonly Case[] Cases =
    [
        new("Reshape [2,3,4]->[6,4]", [2, 3, 4], x => x.Reshape(6, 4), r => r.Reshape(6, 4)),
        new("Reshape(-1,2)", [2, 3, 4], x => x.Reshape(-1, 2), r => r.Reshape(12, 2)),
        new("View(4,-1)", [2, 3, 4], x => x.View(4, -1), r => r.Reshape(4, 6)),
        new("T", [3, 5], x => x.T, r => r.Transpose(0, 1)),
        new("Transpose(0,2)", [2, 3, 4], x => x.Transpose(0, 2), r => r.Transpose(0, 2)),
        new("Transpose(-1,-2)", [2, 3, 4], x => x.Transpose(-1, -2), r => r.Transpose(1, 2)),
        new("Permute(2,0,1)", [2, 3, 4], x => x.Permute(2, 0, 1), r => r.Permute(2, 0, 1)),
        new("Narrow(1,1,2)", [2, 4, 3], x => x.Narrow(1, 1, 2), r => r.Narrow(1, 1, 2)),
        new("Narrow(-1,2,1)", [2, 4, 3], x => x.Narrow(-1, 2, 1), r => r.Narrow(2, 2, 1)),
        new("Narrow to empty", [2, 4], x => x.Narrow(1, 4, 0), r => r.Narrow(1, 4, 0)),
        new("Expand [3,1]->[2,3,4]", [3, 1], x => x.Expand(2, 3, 4), r => r.BroadcastTo([2, 3, 4]), Writable: false),
        new("Expand(-1,5)", [3, 1], x => x.Expand(-1, 5), r => r.BroadcastTo([3, 5]), Writable: false),
        new("Squeeze()", [2, 1, 3, 1], x => x.Squeeze(), r => r.Reshape(2, 3)),
        new("Squeeze(1)", [2, 1, 3, 1], x => x.Squeeze(1), r => r.Reshape(2, 3, 1)),
        new("Squeeze(0) of a non-1 dim keeps it", [2, 3], x => x.Squeeze(0), r => r),
        new("Unsqueeze(0)", [2, 3], x => x.Unsqueeze(0), r => r.Reshape(1, 2, 3)),
        new("Unsqueeze(-1)", [2, 3], x => x.Unsqueeze(-1), r => r.Reshape(2, 3, 1)),
        new("Unsqueeze(1)", [2, 3], x => x.Unsqueeze(1), r => r.Reshape(2, 1, 3)),
        new("Flatten()", [2, 3, 4], x => x.Flatten(), r => r.Reshape(24)),
        new("Flatten(1)", [2, 3, 4], x => x.Flatten(1), r => r.Reshape(2, 12)),
        new("Flatten(0,1)", [2, 3, 4], x => x.Flatten(0, 1), r => r.Reshape(6, 4)),
        new("Select(1,2)", [2, 4, 3], x => x.Select(1, 2), r => r.Select(1, 2)),
        new("Select(-1,-1)", [2, 4, 3], x => x.Select(-1, -1), r => r.Select(2, 2)),
        new("indexer x[1]", [3, 4], x => x[1], r => r.Select(0, 1)),
        new("Permute.Narrow.Select chain", [2, 3, 4], x => x.Permute(2, 0, 1).Narrow(0, 1, 2).Select(2, 0), r => r.Permute(2, 0, 1).Narrow(0, 1, 2).Select(2, 0)),
        new("View splits a transposed dim", [4, 6], x => x.T.View(3, 2, 4), r => r.Transpose(0, 1).Reshape(3, 2, 4)),
        new("Transpose.Unsqueeze.Squeeze", [3, 4], x => x.T.Unsqueeze(1).Squeeze(), r => r.Transpose(0, 1)),
    ];

    public static TheoryData<string, string> ViewCases => Devices.Cross(Cases.Select(c => c.Name));

    [Theory, MemberData(nameof(ViewCases))]
    public void View_SharesStorage_WritesThroughEitherAreVisibleInTheOther(string device, string name)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        var c = Cases.Single(x => x.Name == name);
        int n = Ref.Count(c.Base);
        // The base holds its own flat indices, so the view's values are the map from view element to base element.
        var baseRef = new Ref(c.Base, Enumerable.Range(0, n).Select(i => (double)i).ToArray());
        using var x = Host.Make(baseRef, DType.Float32, dev);
        using var v = c.View(x);
        var expectedView = c.Reference(baseRef);
        Host.AssertClose(expectedView, v, $"{name} on {device}: values");
        var map = expectedView.Data.Select(d => (int)d).ToArray();

        // base → view
        var fresh = baseRef.Map(i => 1000 + 3 * i);
        using (var src = Host.Make(fresh, DType.Float32, dev)) x.CopyFrom(src);
        Host.AssertClose(new Ref(expectedView.Shape, map.Select(i => fresh.Data[i]).ToArray()), v, $"{name} on {device}: a write to the base is visible in the view");

        if (!c.Writable) return;
        // view → base
        var written = Enumerable.Range(0, map.Length).Select(k => -1.0 - k).ToArray();
        using (var src = Host.Make(new Ref(expectedView.Shape, written), DType.Float32, dev)) v.CopyFrom(src);
        var expectedBase = (double[])fresh.Data.Clone();
        for (int k = 0; k < map.Length; k++) expectedBase[map[k]] = written[k];
        Host.AssertClose(new Ref(c.Base, expectedBase), x, $"{name} on {device}: a write through the view lands in the base");
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Reshape_OfANonViewableLayout_CopiesInsteadOfSharing(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var x = Tensor.FromArray(new float[] { 0, 1, 2, 3, 4, 5 }, [2, 3], dev);
        using var t = x.T;
        using var r = t.Reshape(6);
        Assert.Equal(new float[] { 0, 3, 1, 4, 2, 5 }, r.ToArray());
        x.FillInPlace(9);
        Assert.Equal(new float[] { 0, 3, 1, 4, 2, 5 }, r.ToArray());
        Assert.Equal(Enumerable.Repeat(9f, 6), t.ToArray());
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void ContiguousAndClone_MakeDenseIndependentCopies_DetachShares(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var x = Tensor.FromArray(new double[] { 0, 1, 2, 3, 4, 5 }, [2, 3], dev);
        using (var dense = x.Contiguous())
        {
            // Already dense: a fresh alias the caller owns, sharing the memory.
            Assert.NotSame(x, dense);
            Assert.Same(x.Storage, dense.Storage);
        }
        using var t = x.T;
        Assert.False(t.IsContiguous);
        using var c = t.Contiguous();
        Assert.True(c.IsContiguous);
        Assert.Equal(new[] { 3, 2 }, c.Shape);
        Assert.Equal(new double[] { 0, 3, 1, 4, 2, 5 }, c.ToArray<double>());
        using var clone = x.Clone();
        using var detached = x.Detach();
        x.FillInPlace(7);
        Assert.Equal(new double[] { 0, 3, 1, 4, 2, 5 }, c.ToArray<double>());
        Assert.Equal(new double[] { 0, 1, 2, 3, 4, 5 }, clone.ToArray<double>());
        Assert.Equal(Enumerable.Repeat(7.0, 6), detached.ToArray<double>());
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void InPlaceUpdates_OnAStridedView_TouchOnlyItsElements(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var x = Tensor.FromArray(new float[] { 0, 1, 2, 3, 4, 5, 6, 7 }, [2, 4], dev);
        using var col = x.Narrow(1, 1, 2).T; // elements 1,2,5,6 as [2,2]
        using var delta = Tensor.FromArray(new float[] { 10, 20 }, [2], dev);
        col.AddInPlace(delta, alpha: 2);        // broadcast along rows of the [2,2] view
        Assert.Equal(new float[] { 0, 21, 22, 3, 4, 45, 46, 7 }, x.ToArray());
        col.AffineInPlace(-1, 1);
        Assert.Equal(new float[] { 0, -20, -21, 3, 4, -44, -45, 7 }, x.ToArray());
        col.MulInPlace(delta.Unsqueeze(1));
        Assert.Equal(new float[] { 0, -200, -420, 3, 4, -440, -900, 7 }, x.ToArray());
    }
}
