namespace GpuNet.Nn;

/// <summary>A train/test split of a classification data set: features [N, D] float32, labels [N] Int32.</summary>
/// <param name="Name">Human-readable name of the data set.</param>
/// <param name="Train">Training samples.</param>
/// <param name="Test">Held-out samples.</param>
/// <param name="Classes">Number of classes.</param>
public sealed record ClassificationData(string Name, TensorDataset Train, TensorDataset Test, int Classes) : IDisposable
{
    /// <summary>Features per sample.</summary>
    public int Features => Train.Features.Shape[1];

    /// <summary>Frees the four tensors.</summary>
    public void Dispose()
    {
        Train.Features.Dispose();
        Train.Labels.Dispose();
        Test.Features.Dispose();
        Test.Labels.Dispose();
    }
}

/// <summary>Fashion-MNIST (Zalando's 28×28 grey-scale clothing images, 10 classes, 60 000 train + 10 000 test) from its four IDX files.</summary>
public static class FashionMnist
{
    /// <summary>The system-wide location used when no directory is given (Debian package <c>dataset-fashion-mnist</c>).</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Environment variable naming a directory with the files.</summary>
    public const string EnvironmentVariable = "GPUNET_DATA";

    /// <summary>The class names, by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private static readonly string[] s_files = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    /// <summary>True when <paramref name="directory"/> holds the four files (each raw or .gz).</summary>
    public static bool Exists(string? directory) =>
        !string.IsNullOrEmpty(directory) && Directory.Exists(directory) && s_files.All(f => Find(directory, f) is not null);

    /// <summary>The first of <paramref name="explicitDirectory"/>, $GPUNET_DATA and <see cref="DefaultDirectory"/> that holds the files, or null.</summary>
    public static string? Locate(string? explicitDirectory = null)
    {
        if (!string.IsNullOrEmpty(explicitDirectory)) return Exists(explicitDirectory) ? explicitDirectory : null;
        var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (Exists(env)) return env;
        if (Exists(Path.Combine(env ?? "", "fashion-mnist"))) return Path.Combine(env!, "fashion-mnist");
        return Exists(DefaultDirectory) ? DefaultDirectory : null;
    }

    private static string? Find(string directory, string name)
    {
        foreach (var candidate in new[] { name, name + ".gz" })
        {
            var path = Path.Combine(directory, candidate);
            if (File.Exists(path)) return path;
        }
        return null;
    }

    /// <summary>
    /// Loads the data: images scaled to [0, 1] float32 and flattened to 784, labels Int32.
    /// <paramref name="limit"/> keeps the first N training samples (and at most N test samples).
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="InvalidDataException">
    /// A file is corrupt, is not a regular file, does not hold what Fashion-MNIST holds, or holds no samples; the
    /// message names the file. Nothing is allocated on the device unless all four files are good.
    /// </exception>
    public static ClassificationData Load(string directory, Device? device = null, int? limit = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var missing = s_files.Where(f => Find(directory, f) is null).ToList();
        if (missing.Count > 0)
            throw new FileNotFoundException($"Fashion-MNIST: {directory} lacks {string.Join(", ", missing.Select(m => m + "[.gz]"))}.");
        device ??= Device.Default;
        var parts = new IdxData[4];
        try
        {
            Parallel.For(0, 4, i => parts[i] = Idx.Read(Find(directory, s_files[i])!));
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            // The reader's own exception, as documented (the first file's, when several are bad), not the wrapper.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
        }
        var (trainX, trainY) = Decode(parts[0], parts[1], limit);
        var (testX, testY) = Decode(parts[2], parts[3], limit);
        using (TensorScope.Suspend())
            return new ClassificationData("Fashion-MNIST",
                new TensorDataset(Tensor.FromArray(trainX, [trainY.Length, 784], device), Tensor.FromArray(trainY, [trainY.Length], device)),
                new TensorDataset(Tensor.FromArray(testX, [testY.Length, 784], device), Tensor.FromArray(testY, [testY.Length], device)), 10);
    }

    /// <summary>
    /// Names of the four files (each may also be gzipped, with .gz) missing from <paramref name="directory"/>; every one
    /// of them when the directory does not exist.
    /// </summary>
    public static IReadOnlyList<string> MissingFiles(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        return Directory.Exists(directory) ? s_files.Where(f => Find(directory, f) is null).ToList() : s_files;
    }

    private static (float[] Images, int[] Labels) Decode(IdxData images, IdxData labels, int? limit)
    {
        if (images.Shape.Length != 3 || images.Shape[1] != 28 || images.Shape[2] != 28 || images.Type != IdxType.UInt8)
            throw new InvalidDataException($"{images.Path}: expected {IdxType.UInt8} images [N,28,28]; got {images.Type} [{string.Join(",", images.Shape)}].");
        if (labels.Shape.Length != 1 || labels.Type != IdxType.UInt8)
            throw new InvalidDataException($"{labels.Path}: expected {IdxType.UInt8} labels [N]; got {labels.Type} [{string.Join(",", labels.Shape)}].");
        if (labels.Shape[0] != images.Shape[0])
            throw new InvalidDataException($"{labels.Path}: {labels.Shape[0]} labels for the {images.Shape[0]} images of {images.Path}.");
        if (images.Shape[0] == 0)
            throw new InvalidDataException($"{images.Path}: holds no samples (dims [0,28,28]); a data set needs at least one.");
        int n = Math.Min(images.Shape[0], limit ?? int.MaxValue);
        var x = images.ToFloatArray(1.0 / 255);
        var y = labels.ToInt32Array();
        if (y.Any(v => v is < 0 or > 9)) throw new InvalidDataException($"{labels.Path}: labels must be 0–9.");
        if (n < images.Shape[0]) { x = x[..(n * 784)]; y = y[..n]; }
        return (x, y);
    }
}

/// <summary>Generated data sets for demos and for training with no files at hand.</summary>
public static class SyntheticData
{
    /// <summary>
    /// Interleaved spirals (the classic CS231n toy problem): <paramref name="classes"/> arms in the plane, each a
    /// noisy spiral of points, not linearly separable. Features [N, 2] float32, labels [N] Int32; train and
    /// test are drawn independently from the same distribution.
    /// </summary>
    public static ClassificationData Spirals(int trainPerClass = 1000, int testPerClass = 300, int classes = 3, double noise = 0.2, long seed = 0, Device? device = null)
    {
        if (trainPerClass <= 0 || testPerClass <= 0 || classes < 2)
            throw new ArgumentException($"Spirals: need positive sample counts and at least 2 classes; got {trainPerClass}, {testPerClass}, {classes}.");
        device ??= Device.Default;
        using (TensorScope.Suspend())
            return new ClassificationData($"spirals ({classes} classes)",
                Make(trainPerClass, Seeds.Derive(seed, 0)), Make(testPerClass, Seeds.Derive(seed, 1)), classes);

        TensorDataset Make(int perClass, long s)
        {
            var rng = new Random(unchecked((int)s));
            int n = perClass * classes;
            var x = new float[n * 2];
            var y = new int[n];
            var order = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).ToArray();
            for (int c = 0; c < classes; c++)
                for (int i = 0; i < perClass; i++)
                {
                    double r = (double)i / perClass;
                    double t = c * 2 * Math.PI / classes + r * 4 + Gaussian(rng) * noise;
                    int k = order[c * perClass + i];
                    x[2 * k] = (float)(r * Math.Sin(t));
                    x[2 * k + 1] = (float)(r * Math.Cos(t));
                    y[k] = c;
                }
            return new TensorDataset(Tensor.FromArray(x, [n, 2], device), Tensor.FromArray(y, [n], device));
        }
    }

    private static double Gaussian(Random rng)
    {
        double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
