namespace GpuNet.Nn;

/// <summary>
/// Mini-batches of a <see cref="TensorDataset"/> (PyTorch's <c>DataLoader</c>). Rows are gathered
/// with <see cref="Tensor.IndexSelect"/> from a permutation that is a pure function of
/// (<see cref="Seed"/>, epoch), so a run — and a resumed run — sees the same batches. A batch size
/// equal to the dataset size is batch gradient descent; 1 is stochastic gradient descent.
/// </summary>
/// <remarks>
/// The loader owns the batches it yields: each batch is disposed when the enumeration moves to the
/// next one (or ends), so a loop needs no Dispose calls and no scope around the <c>foreach</c>.
/// Clone a batch to keep it longer.
/// </remarks>
public sealed class DataLoader : IEnumerable<(Tensor X, Tensor Y)>
{
    /// <summary>Creates the loader.</summary>
    /// <param name="dataset">The samples.</param>
    /// <param name="batchSize">Samples per batch (positive).</param>
    /// <param name="shuffle">Draw a new permutation each epoch; otherwise batches follow the dataset order.</param>
    /// <param name="seed">Seed of the permutations.</param>
    /// <param name="dropLast">Skip a final batch smaller than <paramref name="batchSize"/>.</param>
    public DataLoader(TensorDataset dataset, int batchSize, bool shuffle = false, long seed = 0, bool dropLast = false)
    {
        Dataset = dataset ?? throw new ArgumentNullException(nameof(dataset));
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), $"DataLoader: batchSize must be positive; got {batchSize}.");
        BatchSize = batchSize;
        Shuffle = shuffle;
        Seed = seed;
        DropLast = dropLast;
    }

    /// <summary>The samples.</summary>
    public TensorDataset Dataset { get; }

    /// <summary>Samples per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch uses a fresh permutation.</summary>
    public bool Shuffle { get; }

    /// <summary>Seed of the permutations.</summary>
    public long Seed { get; }

    /// <summary>Whether a final short batch is skipped.</summary>
    public bool DropLast { get; }

    /// <summary>The epoch the next plain enumeration (<c>foreach</c>) uses; it advances by one per enumeration.</summary>
    public int Epoch { get; set; }

    /// <summary>
    /// Data-parallel training: each batch is only this replica's shard of the global batch of <see cref="BatchSize"/>
    /// (see <see cref="DistributedSampler"/>); null (the default) yields whole batches.
    /// </summary>
    public DistributedSampler? Sampler { get; init; }

    /// <summary>Samples in global batch <paramref name="batch"/> of an epoch, over all replicas (the last one may be short).</summary>
    public int GlobalBatchLength(int batch) => Math.Min(BatchSize, Dataset.Count - batch * BatchSize);

    /// <summary>Batches per epoch.</summary>
    public int BatchCount => DropLast ? Dataset.Count / BatchSize : (Dataset.Count + BatchSize - 1) / BatchSize;

    /// <summary>The order in which epoch <paramref name="epoch"/> visits the samples (identity without shuffling).</summary>
    public int[] Permutation(int epoch)
    {
        int n = Dataset.Count;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        if (!Shuffle) return order;
        var rng = new Random(unchecked((int)Seeds.Derive(Seed, epoch)));
        for (int i = n - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    /// <summary>The batches of epoch <paramref name="epoch"/>; each is disposed when the next is requested.</summary>
    public IEnumerable<(Tensor X, Tensor Y)> Batches(int epoch)
    {
        int n = Dataset.Count;
        int count = BatchCount;
        if (count == 0) yield break;
        Tensor? order = null;
        if (Shuffle)
            using (TensorScope.Suspend())
                order = Tensor.FromArray(Permutation(epoch), null, Dataset.Device);
        Tensor? x = null, y = null;
        try
        {
            for (int b = 0; b < count; b++)
            {
                x?.Dispose();
                y?.Dispose();
                int start = b * BatchSize;
                int length = Math.Min(BatchSize, n - start);
                if (Sampler is { } shard) (start, length) = shard.Shard(start, length);
                using (TensorScope.Suspend())
                using (Autograd.NoGrad())
                {
                    if (order is null)
                    {
                        // In order: a contiguous slice needs no gather.
                        x = Dataset.Features.Narrow(0, start, length);
                        y = Dataset.Labels.Narrow(0, start, length);
                    }
                    else
                    {
                        // The permutation of 0…n−1 is ours: no range check, which would read the device twice per batch.
                        using var index = order.Narrow(0, start, length);
                        x = Dataset.Features.IndexSelectInRange(0, index);
                        y = Dataset.Labels.IndexSelectInRange(0, index);
                    }
                }
                yield return (x, y);
            }
        }
        finally
        {
            x?.Dispose();
            y?.Dispose();
            order?.Dispose();
        }
    }

    /// <summary>Enumerates epoch <see cref="Epoch"/> and advances it.</summary>
    public IEnumerator<(Tensor X, Tensor Y)> GetEnumerator() => Batches(Epoch++).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
