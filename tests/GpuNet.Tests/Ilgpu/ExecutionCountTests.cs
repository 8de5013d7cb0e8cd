using GpuNet.Nn;

namespace GpuNet.Tests.Ilgpu;

/// <summary>
/// What a training step asks of a device, counted rather than timed (<see cref="Device.Counters"/>):
/// a GPU step must not wait for the device or copy between host and device, and its launches are what
/// bounds it at small batch sizes. Counts do not depend on sizes, so small shapes stand in for the
/// 784-512-256-10 model of <c>gpunet bench</c>; on the managed CPU every count is zero.
/// </summary>
[Collection("Memory")]
public sealed class ExecutionCountTests
{
    public static TheoryData<string> Devices => new() { "cpu", "ilgpu-cpu" };

    [Theory, MemberData(nameof(Devices))]
    public void AdamStepOfAThreeLayerMlp_NeitherWaitsNorCopies_AndLaunchesAtMostThirtyKernels(string device)
    {
        var dev = Device.Get(device);
        using var model = new Mlp([20, 16, 8, 3], seed: 1, device: dev);
        using var optimizer = new Adam(model.Parameters(), 1e-3);
        var loss = new CrossEntropyLoss();
        using var x = Tensor.Randn([8, 20], seed: 2, device: dev).DetachFromScope();
        using var y = Tensor.FromArray(new[] { 0, 1, 2, 0, 1, 2, 0, 1 }, null, dev).DetachFromScope();
        void Step()
        {
            using var scope = Tensor.NewScope();
            var l = loss.Forward(model.Forward(x), y);
            optimizer.ZeroGrad();
            l.Backward();
            optimizer.Step();
        }
        Step(); // the first step creates the optimizer state
        dev.Backend.Synchronize();
        var before = dev.Counters.Snapshot();
        const int steps = 5;
        for (int i = 0; i < steps; i++) Step();
        var per = (dev.Counters.Snapshot() - before).Per(steps);
        Assert.Equal(0, per.HostSynchronizations);
        Assert.Equal(0, per.HostToDeviceBytes);
        Assert.Equal(0, per.DeviceToHostBytes);
        if (dev.Kind == DeviceKind.Cpu) Assert.Equal(0, per.KernelLaunches);
        else Assert.InRange(per.KernelLaunches, 10, 30);
    }

    [Theory, MemberData(nameof(Devices))]
    public void TrainingEpoch_ReadsTheDeviceOnlyAtItsEnd_AndUploadsOnlyItsShuffledOrder(string device)
    {
        var dev = Device.Get(device);
        const int n = 80, batch = 8;
        using var features = Tensor.Randn([n, 6], seed: 3, device: dev).DetachFromScope();
        using var labels = Tensor.FromArray(Enumerable.Range(0, n).Select(i => i % 3).ToArray(), null, dev).DetachFromScope();
        var data = new TensorDataset(features, labels);
        using var model = new Mlp([6, 8, 3], seed: 4, device: dev);
        using var optimizer = new Adam(model.Parameters(), 1e-2);
        var trainer = new Trainer(model, new CrossEntropyLoss(), optimizer);
        var loader = new DataLoader(data, batch, shuffle: true, seed: 5);
        trainer.TrainEpoch(loader, 0); // optimizer state and kernels
        dev.Backend.Synchronize();
        var before = dev.Counters.Snapshot();
        var (loss, accuracy, samples) = trainer.TrainEpoch(loader, 1);
        var epoch = dev.Counters.Snapshot() - before;
        Assert.Equal(n, samples);
        Assert.True(double.IsFinite(loss) && accuracy is >= 0 and <= 1);
        if (dev.Kind == DeviceKind.Cpu)
        {
            Assert.Equal(default, epoch);
            return;
        }
        // Ten batches: the loss sum and the hit count are read once, at the end (two waits, 12 bytes).
        Assert.Equal(2, epoch.HostSynchronizations);
        Assert.Equal(sizeof(double) + sizeof(int), epoch.DeviceToHostBytes);
        Assert.Equal(n * sizeof(int), epoch.HostToDeviceBytes); // the epoch's permutation, once
    }
}
