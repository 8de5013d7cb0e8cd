using GpuNet.Nn;

namespace GpuNet.Cli;

/// <summary>What <c>gpunet eval</c> and <c>gpunet predict</c> run a trained model for.</summary>
internal static class Inference
{
    private const int Batch = 2000;

    /// <summary>Class probabilities (softmax of the logits), one row per sample of <paramref name="features"/> [N, D].</summary>
    public static float[][] Probabilities(Module model, Tensor features)
    {
        int n = features.Shape[0];
        var rows = new List<float[]>(n);
        using var noGrad = Autograd.NoGrad();
        for (int start = 0; start < n; start += Batch)
        {
            using var scope = Tensor.NewScope();
            int len = Math.Min(Batch, n - start);
            var x = features.Narrow(0, start, len);
            var p = model.Forward(x).Softmax(1).To(DType.Float32);
            var flat = p.ToArray<float>();
            int classes = p.Shape[1];
            for (int i = 0; i < len; i++) rows.Add(flat.AsSpan(i * classes, classes).ToArray());
        }
        return [.. rows];
    }

    /// <summary>The predicted class (arg-max of the logits) of each sample of <paramref name="features"/> [N, D].</summary>
    public static int[] Predict(Module model, Tensor features)
    {
        int n = features.Shape[0];
        var result = new int[n];
        using var noGrad = Autograd.NoGrad();
        for (int start = 0; start < n; start += Batch)
        {
            using var scope = Tensor.NewScope();
            int len = Math.Min(Batch, n - start);
            var x = features.Narrow(0, start, len);
            model.Forward(x).ArgMax(1).ToArray<int>().CopyTo(result, start);
        }
        return result;
    }

    /// <summary>Class names for a model: Fashion-MNIST's for a 784-input, 10-class model, else the class numbers.</summary>
    public static IReadOnlyList<string> ClassNames(Mlp model) =>
        model.Sizes[0] == 784 && model.Sizes[^1] == FashionMnist.ClassNames.Count
            ? FashionMnist.ClassNames
            : [.. Enumerable.Range(0, model.Sizes[^1]).Select(k => $"class {k}")];

    /// <summary>How a model is described in one line: its widths and activation.</summary>
    public static string Describe(Mlp model) => $"{string.Join("-", model.Sizes)} {TrainChoices.Name(model.Activation)}";
}
