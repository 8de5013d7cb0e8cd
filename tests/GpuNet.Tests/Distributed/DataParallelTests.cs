using GpuNet.Distributed;
using GpuNet.Distributed.Mpi;
using GpuNet.Distributed.Nccl;
using GpuNet.Nn;

namespace GpuNet.Tests.Distributed;

/// <summary>The data-parallel pieces that need no second process: sharding, bucketing, the communicator choice, the MPI loader's checks.</summary>
public sealed class DataParallelTests
{
    [Fact]
    public void Sampler_shards_are_disjoint_contiguous_nearly_equal_and_cover_the_batch()
    {
        for (int replicas = 1; replicas <= 5; replicas++)
            for (int length = 0; length <= 21; length++)
            {
                int next = 100;
                for (int r = 0; r < replicas; r++)
                {
                    var (start, n) = new DistributedSampler(r, replicas).Shard(100, length);
                    Assert.Equal(next, start);
                    Assert.InRange(n, length / replicas, (length + replicas - 1) / replicas);
                    next = start + n;
                }
                Assert.Equal(100 + length, next);
            }
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(0, 0));
    }

    [Fact]
    public void The_replicas_batches_together_are_the_single_process_batches()
    {
        using var scope = Tensor.NewScope();
        var features = Tensor.FromArray(Enumerable.Range(0, 50).Select(i => (float)i).ToArray(), [50, 1]);
        var labels = Tensor.FromArray(Enumerable.Range(0, 50).ToArray(), [50]);
        var data = new TensorDataset(features, labels);
        var whole = new DataLoader(data, 16, shuffle: true, seed: 7);
        const int replicas = 3;
        var shards = Enumerable.Range(0, replicas).Select(r => new DataLoader(data, 16, shuffle: true, seed: 7) { Sampler = new DistributedSampler(r, replicas) }).ToArray();
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var expected = whole.Batches(epoch).Select(b => b.X.ToArray()).ToList();
            var parts = shards.Select(s => s.Batches(epoch).Select(b => b.X.ToArray()).ToList()).ToArray();
            Assert.Equal(whole.BatchCount, expected.Count);
            for (int b = 0; b < expected.Count; b++)
            {
                Assert.Equal(expected[b], parts.SelectMany(p => p[b]).ToArray());
                Assert.Equal(expected[b].Length, whole.GlobalBatchLength(b));
            }
        }
    }

    [Fact]
    public void Buckets_follow_backward_order_respect_the_bound_and_never_mix_dtypes()
    {
        using var scope = Tensor.NewScope();
        Parameter P(int n, DType dtype = DType.Float32) => new(Tensor.Zeros([n], dtype));
        var ps = new[] { P(10), P(300), P(20), P(30, DType.Float64), P(5), P(6), P(40) };
        try
        {
            var buckets = DataParallel.Plan(ps, bucketBytes: 200);
            // Last parameter first: 40 and 6 floats (184 bytes; the 5 would make 204), then 5, then the float64 alone,
            // then 20 (300 floats would overflow it), 300 (over the bound by itself: a bucket of its own), then 10.
            var shape = buckets.Select(b => b.Select(p => (int)p.NumElements).ToArray()).ToArray();
            Assert.Equal([[40, 6], [5], [30], [20], [300], [10]], shape);
            Assert.All(buckets, b => Assert.Single(b.Select(p => p.DType).Distinct()));
            ps[2].RequiresGrad = false;
            Assert.DoesNotContain(DataParallel.Plan(ps, 1 << 20).SelectMany(b => b), p => ReferenceEquals(p, ps[2]));
        }
        finally
        {
            foreach (var p in ps) p.Dispose();
        }
    }

    /// <summary>A one-rank group: the all-reduce leaves values as they are, so what comes back is the weighted gradient itself.</summary>
    private sealed class Solo : ICommunicator
    {
        public int AllReduces;
        public Action? OnAllReduce;
        public int Rank => 0;
        public int Size => 1;
        public string Name => "solo";
        public void Broadcast(Tensor tensor, int root = 0) { }
        public void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum)
        {
            AllReduces++;
            OnAllReduce?.Invoke();
        }
        public void Broadcast<T>(Span<T> values, int root = 0) where T : unmanaged { }
        public void AllReduce<T>(Span<T> values, ReduceOp op = ReduceOp.Sum) where T : unmanaged { }
        public void Barrier() { }
        public void Abort(int exitCode) => throw new InvalidOperationException("abort");
        public void Dispose() { }
    }

    [Fact]
    public void Gradients_go_through_the_flat_buckets_and_back_weighted_and_missing_ones_become_zero()
    {
        using var scope = Tensor.NewScope();
        var a = new Parameter(Tensor.Zeros([2, 3]));
        var b = new Parameter(Tensor.Zeros([4]));
        try
        {
            a.Data.Grad = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]).DetachFromScope();
            var solo = new Solo();
            var dp = new DataParallel(solo, bucketBytes: 1 << 20);
            dp.SynchronizeGradients([a, b], weight: 0.5);
            Assert.Equal([0.5f, 1, 1.5f, 2, 2.5f, 3], a.Grad!.ToArray());
            Assert.Equal(new float[4], b.Grad!.ToArray()); // no gradient on this rank: zeros, summed with the others'
            Assert.Equal([10L], dp.LastBuckets);
            Assert.Equal(1, solo.AllReduces); // one all-reduce for the bucket
        }
        finally
        {
            a.Dispose();
            b.Dispose();
        }
    }

    [Fact]
    public void With_BeginBackward_each_bucket_is_reduced_during_backward_as_soon_as_its_gradients_are_in()
    {
        using var scope = Tensor.NewScope();
        using var model = new Mlp([3, 5, 4, 2], seed: 1);
        var x = Tensor.Randn([6, 3], seed: 2);
        var labels = Tensor.FromArray(new[] { 0, 1, 1, 0, 1, 0 });
        var ps = model.Parameters().ToList();
        var loss = new CrossEntropyLoss();

        // The reference: plain gradients, times the weight.
        loss.Forward(model.Forward(x), labels).Backward();
        var expected = ps.Select(p => p.Grad!.ToArray().Select(v => v * 0.25f).ToArray()).ToList();
        foreach (var p in ps) p.Data.ZeroGrad();

        var solo = new Solo();
        var firstWeight = ps[0];
        var seenBeforeFirstLayer = new List<bool>();
        solo.OnAllReduce = () => seenBeforeFirstLayer.Add(firstWeight.Grad is null);
        var dp = new DataParallel(solo, bucketBytes: 1); // one parameter per bucket
        for (int step = 0; step < 2; step++)
        {
            foreach (var p in ps) p.Data.ZeroGrad();
            seenBeforeFirstLayer.Clear();
            dp.BeginBackward(ps, 0.25);
            loss.Forward(model.Forward(x), labels).Backward();
            // Every bucket has started; the last layers' before backward had reached the first layer.
            Assert.Equal(ps.Count, seenBeforeFirstLayer.Count);
            Assert.True(seenBeforeFirstLayer[0]);
            dp.SynchronizeGradients(ps, 0.25);
            Assert.Equal(ps.Count, dp.LastStartedDuringBackward);
            for (int i = 0; i < ps.Count; i++) Assert.Equal(expected[i], ps[i].Grad!.ToArray());
        }
        Assert.Equal(2 * ps.Count, solo.AllReduces);
    }

    [Fact]
    public void BeginBackward_misuse_is_a_clear_error()
    {
        using var scope = Tensor.NewScope();
        using var model = new Mlp([2, 3, 2], seed: 1);
        var ps = model.Parameters().ToList();
        var dp = new DataParallel(new Solo(), bucketBytes: 1);
        dp.BeginBackward(ps, 1);
        var e = Assert.Throws<InvalidOperationException>(() => dp.BeginBackward(ps, 1));
        Assert.Contains("SynchronizeGradients", e.Message);
        // Two backward passes after one BeginBackward: the second would be summed after its bucket left.
        var x = Tensor.Randn([4, 2], seed: 3);
        model.Forward(x).Sum().Backward();
        var twice = Assert.Throws<InvalidOperationException>(() => model.Forward(x).Sum().Backward());
        Assert.Contains("second gradient", twice.Message);
        dp.SynchronizeGradients(ps, 1);
        Assert.Throws<InvalidOperationException>(() => { dp.BeginBackward(ps, 1); dp.SynchronizeGradients(ps, 0.5); });
    }

    [Fact]
    public void A_one_replica_group_trains_exactly_like_no_group()
    {
        Mlp Train(IDataParallel? parallel)
        {
            var data = SyntheticData.Spirals(100, 30, seed: 3, device: Device.Cpu);
            using (data)
            {
                var config = new TrainConfig { Epochs = 2, BatchSize = 32, Hidden = [16] };
                return ClassifierTraining.Run(data, config, Device.Cpu, parallel: parallel).Model;
            }
        }
        using var plain = Train(null);
        using var grouped = Train(new DataParallel(new Solo()));
        foreach (var (k, t) in plain.StateDict()) Assert.Equal(t.ToArray(), grouped.StateDict()[k].ToArray());
    }

    [Fact]
    public void Nccl_is_chosen_only_for_a_cuda_device_with_nccl_present()
    {
        Assert.Equal(CommunicatorKind.Nccl, Communicators.Choose(DeviceKind.Cuda, ncclPresent: true));
        Assert.Equal(CommunicatorKind.Mpi, Communicators.Choose(DeviceKind.Cuda, ncclPresent: false));
        foreach (var kind in new[] { DeviceKind.Cpu, DeviceKind.IlgpuCpu, DeviceKind.OpenCL })
        {
            Assert.Equal(CommunicatorKind.Mpi, Communicators.Choose(kind, ncclPresent: true));
            Assert.Equal(CommunicatorKind.Mpi, Communicators.Choose(kind, ncclPresent: false));
        }
        // On this machine: a CPU device gets MPI whatever is installed; a CUDA device gets NCCL exactly when libnccl loads.
        var (cpuKind, cpuWhy) = Communicators.Select(Device.Cpu);
        Assert.Equal(CommunicatorKind.Mpi, cpuKind);
        Assert.Contains("not a CUDA device", cpuWhy);
        bool nccl = NcclNative.TryLoad(out var error) is not null;
        if (!nccl) Assert.Contains("libnccl.so.2", error);
        foreach (var cuda in Device.All.Where(d => d.Kind == DeviceKind.Cuda))
            Assert.Equal(nccl ? CommunicatorKind.Nccl : CommunicatorKind.Mpi, Communicators.Select(cuda).Kind);
    }

    [Fact]
    public void The_mpi_loader_refuses_a_library_that_is_not_open_mpi_and_names_a_missing_one()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "the Open MPI binding is for Linux");
        var e = Assert.Throws<EntryPointNotFoundException>(() => MpiNative.LoadFrom(["libc.so.6"]));
        Assert.Contains("not Open MPI", e.Message);
        var missing = Assert.Throws<DllNotFoundException>(() => MpiNative.LoadFrom(["/nonexistent/libmpi.so.40"]));
        Assert.Contains("apt-get install openmpi-bin", missing.Message);
    }
}
