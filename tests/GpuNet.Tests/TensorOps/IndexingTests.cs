namespace GpuNet.Tests.TensorOps;

/// <summary>Gather, IndexSelect, ScatterAdd, OneHot, Cat and Stack against the reference.</summary>
public sealed class IndexingTests
{
    private static readonly DType[] AllTypes = [DType.Float32, DType.Float64, DType.Int32];

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Gather_PicksAlongDim_WithIndexSmallerThanInputInOtherDims(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        var rng = new Random(11);
        foreach (var dtype in AllTypes)
            for (int trial = 0; trial < 8; trial++)
            {
                var shape = Gen.Shape(rng, maxRank: 3, minRank: 1, emptyProbability: 0);
                int d = rng.Next(shape.Length);
                var indexShape = shape.Select((s, i) => i == d ? rng.Next(0, 5) : rng.Next(0, s + 1)).ToArray();
                var index = Gen.Values(rng, indexShape, r => r.Next(shape[d]));
                var (x, rx) = Host.Arrange(Gen.Values(rng, shape, Gen.Uniform(-5, 5)), dtype, dev, Gen.Layout(rng), rng);
                var (ix, ri) = Host.Arrange(index, DType.Int32, dev, Gen.Layout(rng), rng);
                int dim = rng.Next(2) == 0 ? d : d - shape.Length;
                var expected = Ref.FromFunc(indexShape, i =>
                {
                    var src = (int[])i.Clone();
                    src[d] = (int)ri[i];
                    return rx[src];
                });
                using (x) using (ix)
                using (var y = x.Gather(dim, ix))
                    Host.AssertClose(expected, y, $"Gather({dim}) on {device}: {Host.Describe(x)} with index {Host.Describe(ix)}", dtype);
            }
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void IndexSelect_TakesListedSlicesInOrder_WithRepeats(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        var rng = new Random(12);
        foreach (var dtype in AllTypes)
            for (int trial = 0; trial < 8; trial++)
            {
                var shape = Gen.Shape(rng, maxRank: 3, minRank: 1, emptyProbability: 0);
                int d = rng.Next(shape.Length);
                var index = Gen.Values(rng, [rng.Next(0, 6)], r => r.Next(shape[d]));
                var (x, rx) = Host.Arrange(Gen.Values(rng, shape, Gen.Uniform(-5, 5)), dtype, dev, Gen.Layout(rng), rng);
                using var ix = Host.Make(index, DType.Int32, dev);
                var outShape = (int[])shape.Clone();
                outShape[d] = index.Length;
                var expected = Ref.FromFunc(outShape, i =>
                {
                    var src = (int[])i.Clone();
                    src[d] = (int)index.Data[i[d]];
                    return rx[src];
                });
                using (x)
                using (var y = x.IndexSelect(d, ix))
                    Host.AssertClose(expected, y, $"IndexSelect({d}) on {device}: {Host.Describe(x)} with [{string.Join(",", index.Data)}]", dtype);
            }
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void ScatterAdd_AddsSourceAtIndices_RepeatedIndicesAccumulate_TargetUnchanged(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        var rng = new Random(13);
        foreach (var dtype in AllTypes)
            for (int trial = 0; trial < 8; trial++)
            {
                var shape = Gen.Shape(rng, maxRank: 3, minRank: 1, emptyProbability: 0);
                int d = rng.Next(shape.Length);
                var srcShape = (int[])shape.Clone();
                srcShape[d] = rng.Next(0, 6);
                var values = dtype == DType.Int32 ? Gen.Integers(-9, 9) : Gen.Uniform(-5, 5);
                var (target, rt) = Host.Arrange(Gen.Values(rng, shape, values), dtype, dev, Gen.Layout(rng, allowExpanded: false), rng);
                var (source, rs) = Host.Arrange(Gen.Values(rng, srcShape, values), dtype, dev, Gen.Layout(rng), rng);
                var (index, ri) = Host.Arrange(Gen.Values(rng, srcShape, r => r.Next(shape[d])), DType.Int32, dev, Gen.Layout(rng), rng);
                var expected = rt.Map(v => v);
                foreach (var i in Ref.Indices(srcShape))
                {
                    var dst = (int[])i.Clone();
                    dst[d] = (int)ri[i];
                    expected.Data[expected.FlatIndex(dst)] += rs[i];
                }
                var before = Host.Values(target);
                using (target) using (source) using (index)
                using (var y = target.ScatterAdd(d, index, source))
                {
                    string ctx = $"ScatterAdd({d}) on {device}: target {Host.Describe(target)}, index {Host.Describe(index)}, source {Host.Describe(source)}";
                    Host.AssertClose(expected, y, ctx, dtype);
                    Assert.Equal(before, Host.Values(target));
                }
            }
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void OneHot_PutsOneAtEachLabel_InTheRequestedDtype(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        var rng = new Random(14);
        foreach (var dtype in AllTypes)
            for (int trial = 0; trial < 4; trial++)
            {
                var shape = Gen.Shape(rng, maxRank: 2);
                int classes = rng.Next(1, 6);
                var labels = Gen.Values(rng, shape, r => r.Next(classes));
                var (l, rl) = Host.Arrange(labels, DType.Int32, dev, Gen.Layout(rng), rng);
                var expected = Ref.FromFunc([.. shape, classes], i => rl[i[..^1]] == i[^1] ? 1 : 0);
                using (l)
                using (var y = Tensor.OneHot(l, classes, dtype))
                    Host.AssertClose(expected, y, $"OneHot({classes}) on {device} of {Host.Describe(l)}", dtype);
            }
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Cat_JoinsAlongAnyDim_IncludingEmptyParts(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        var rng = new Random(15);
        foreach (var dtype in AllTypes)
            for (int trial = 0; trial < 8; trial++)
            {
                var shape = Gen.Shape(rng, maxRank: 3, minRank: 1);
                int d = rng.Next(shape.Length);
                int count = rng.Next(1, 4);
                var parts = new List<(Tensor T, Ref R)>();
                for (int p = 0; p < count; p++)
                {
                    var s = (int[])shape.Clone();
                    s[d] = rng.Next(0, 4);
                    parts.Add(Host.Arrange(Gen.Values(rng, s, Gen.Integers(-9, 9)), dtype, dev, Gen.Layout(rng), rng));
                }
                var outShape = (int[])shape.Clone();
                outShape[d] = parts.Sum(p => p.R.Shape[d]);
                var expected = Ref.FromFunc(outShape, i =>
                {
                    var src = (int[])i.Clone();
                    foreach (var (_, r) in parts)
                    {
                        if (src[d] < r.Shape[d]) return r[src];
                        src[d] -= r.Shape[d];
                    }
                    throw new InvalidOperationException();
                });
                int dim = rng.Next(2) == 0 ? d : d - shape.Length;
                using (var y = Tensor.Cat(parts.Select(p => p.T).ToList(), dim))
                    Host.AssertClose(expected, y, $"Cat(dim {dim}) on {device} of {string.Join(", ", parts.Select(p => Host.Describe(p.T)))}", dtype);
                foreach (var p in parts) p.T.Dispose();
            }
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Stack_AddsANewDim_AtAnyPosition(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        var rng = new Random(16);
        foreach (var dtype in AllTypes)
            for (int trial = 0; trial < 8; trial++)
            {
                var shape = Gen.Shape(rng, maxRank: 2);
                int count = rng.Next(1, 4);
                var parts = Enumerable.Range(0, count).Select(_ => Host.Arrange(Gen.Values(rng, shape, Gen.Integers(-9, 9)), dtype, dev, Gen.Layout(rng), rng)).ToList();
                int d = rng.Next(shape.Length + 1);
                int dim = rng.Next(2) == 0 ? d : d - shape.Length - 1;
                int[] outShape = [.. shape.Take(d), count, .. shape.Skip(d)];
                var expected = Ref.FromFunc(outShape, i => parts[i[d]].Expected[i.Where((_, k) => k != d).ToArray()]);
                using (var y = Tensor.Stack(parts.Select(p => p.Tensor).ToList(), dim))
                    Host.AssertClose(expected, y, $"Stack(dim {dim}) on {device} of {count} x {Host.Describe(shape)}", dtype);
                foreach (var p in parts) p.Tensor.Dispose();
            }
    }
}
