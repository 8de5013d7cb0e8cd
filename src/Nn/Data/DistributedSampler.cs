namespace GpuNet.Nn;

/// <summary>
/// Which part of each global batch one data-parallel replica trains on, for <see cref="DataLoader.Sampler"/>.
/// The loader still walks the epoch's shuffled order (<see cref="DataLoader.Permutation"/>, the same on every replica)
/// in global batches of <see cref="DataLoader.BatchSize"/>; replica r takes the r-th of <see cref="Replicas"/>
/// contiguous, nearly equal slices of each, so the replicas' shards are disjoint and together are exactly the batches
/// one process would see. That is what makes N processes with a global batch B train like one process with batch B
/// (unlike PyTorch's DistributedSampler, which deals the epoch out round-robin and pads it).
/// </summary>
public sealed record DistributedSampler
{
    /// <summary>Creates the sampler for replica <paramref name="rank"/> of <paramref name="replicas"/>.</summary>
    public DistributedSampler(int rank, int replicas)
    {
        if (replicas <= 0) throw new ArgumentOutOfRangeException(nameof(replicas), $"DistributedSampler: replicas must be positive; got {replicas}.");
        if (rank < 0 || rank >= replicas) throw new ArgumentOutOfRangeException(nameof(rank), $"DistributedSampler: rank {rank} is not in [0, {replicas}).");
        Rank = rank;
        Replicas = replicas;
    }

    /// <summary>This replica's index.</summary>
    public int Rank { get; }

    /// <summary>The number of replicas.</summary>
    public int Replicas { get; }

    /// <summary>
    /// This replica's slice of the global batch at positions [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>)
    /// of the epoch's order: slice r is [start + ⌊length·r/N⌋, start + ⌊length·(r+1)/N⌋), empty when the batch has fewer samples than replicas.
    /// </summary>
    public (int Start, int Length) Shard(int start, int length)
    {
        int lo = (int)((long)length * Rank / Replicas), hi = (int)((long)length * (Rank + 1) / Replicas);
        return (start + lo, hi - lo);
    }
}
