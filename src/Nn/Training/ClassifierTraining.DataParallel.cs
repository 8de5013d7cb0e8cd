namespace GpuNet.Nn;

public static partial class ClassifierTraining
{
    /// <summary>
    /// Data-parallel set-up of <see cref="Run"/>, before the first batch: on resume, replica 0 reads the checkpoint's state
    /// file and sends its bytes to the others, so every replica restores the same model, optimizer state and history
    /// without the file having to exist on every machine; then every replica takes replica 0's weights (which a seeded
    /// fresh run already shares, but a run drawing from the global random stream does not). Dropout counters are moved
    /// apart by replica (replica 0 keeps the checkpoint's), so replicas draw different masks. Returns the epochs done.
    /// </summary>
    private static int ResumeDataParallel(IDataParallel parallel, TrainConfig config, Mlp model, Optimizer optimizer, List<EpochResult> history)
    {
        int start = 0;
        if (config.Resume)
        {
            byte[]? state = parallel.Rank == 0 ? File.ReadAllBytes(StatePath(config.Checkpoint!)) : null;
            state = parallel.BroadcastBytes(state);
            if (parallel.Rank == 0)
            {
                start = LoadCheckpoint(config.Checkpoint!, model, optimizer, history);
                if (ModelFileEpoch(config.Checkpoint!) != start) model.Save(config.Checkpoint!, ModelMetadata(config, model, start));
            }
            else
            {
                var dir = Directory.CreateTempSubdirectory("gpunet-resume-");
                try
                {
                    var copy = Path.Combine(dir.FullName, "replica.safetensors");
                    File.WriteAllBytes(StatePath(copy), state);
                    start = LoadCheckpoint(copy, model, optimizer, history);
                }
                finally
                {
                    dir.Delete(recursive: true);
                }
            }
            if (start >= config.Epochs)
                throw new ArgumentException($"the checkpoint {config.Checkpoint} has already done {start} epochs; ask for more than {start} with --epochs.");
        }
        parallel.Broadcast(model.Parameters().Select(p => p.Data).ToList());
        foreach (var m in model.Modules())
            if (m is Dropout d) d.Counter += (long)parallel.Rank << 40;
        return start;
    }
}
