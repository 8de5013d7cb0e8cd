namespace GpuNet;

/// <summary>
/// What a device's backend has asked of the device since the process started: kernel launches
/// (cuBLAS calls included), waits of the host for the device, and bytes copied each way between
/// host and device memory. These are the costs that dominate a GPU training step and that a CPU
/// profile cannot show, so they are counted rather than timed; take a <see cref="Snapshot"/> before
/// and after a region and subtract. The managed CPU device runs no kernels and counts nothing.
/// </summary>
public sealed class DeviceCounters
{
    private long _launches, _synchronizations, _hostToDevice, _deviceToHost;

    /// <summary>Kernels and library calls (cuBLAS) queued on the device.</summary>
    public long KernelLaunches => Volatile.Read(ref _launches);

    /// <summary>Times the host waited for the device's queue to drain (explicit synchronisations and downloads).</summary>
    public long HostSynchronizations => Volatile.Read(ref _synchronizations);

    /// <summary>Bytes uploaded from host memory.</summary>
    public long HostToDeviceBytes => Volatile.Read(ref _hostToDevice);

    /// <summary>Bytes downloaded to host memory.</summary>
    public long DeviceToHostBytes => Volatile.Read(ref _deviceToHost);

    /// <summary>The four counters now.</summary>
    public DeviceCounterSnapshot Snapshot() => new(KernelLaunches, HostSynchronizations, HostToDeviceBytes, DeviceToHostBytes);

    internal void AddLaunches(long n) => Interlocked.Add(ref _launches, n);

    internal void AddSynchronization() => Interlocked.Increment(ref _synchronizations);

    internal void AddUpload(long bytes) => Interlocked.Add(ref _hostToDevice, bytes);

    internal void AddDownload(long bytes) => Interlocked.Add(ref _deviceToHost, bytes);
}

/// <summary>The values of <see cref="DeviceCounters"/> at one moment; subtract two for a region's counts.</summary>
/// <param name="KernelLaunches">Kernels and library calls queued.</param>
/// <param name="HostSynchronizations">Host waits for the device.</param>
/// <param name="HostToDeviceBytes">Bytes uploaded.</param>
/// <param name="DeviceToHostBytes">Bytes downloaded.</param>
public readonly record struct DeviceCounterSnapshot(long KernelLaunches, long HostSynchronizations, long HostToDeviceBytes, long DeviceToHostBytes)
{
    /// <summary>The counts between two snapshots.</summary>
    public static DeviceCounterSnapshot operator -(DeviceCounterSnapshot after, DeviceCounterSnapshot before) =>
        new(after.KernelLaunches - before.KernelLaunches, after.HostSynchronizations - before.HostSynchronizations,
            after.HostToDeviceBytes - before.HostToDeviceBytes, after.DeviceToHostBytes - before.DeviceToHostBytes);

    /// <summary>Divides every count by <paramref name="n"/> (per-step figures), rounding down.</summary>
    public DeviceCounterSnapshot Per(long n) => n <= 0 ? this : new(KernelLaunches / n, HostSynchronizations / n, HostToDeviceBytes / n, DeviceToHostBytes / n);

    /// <inheritdoc />
    public override string ToString() =>
        $"{KernelLaunches} launches, {HostSynchronizations} host syncs, {HostToDeviceBytes} B up, {DeviceToHostBytes} B down";
}
