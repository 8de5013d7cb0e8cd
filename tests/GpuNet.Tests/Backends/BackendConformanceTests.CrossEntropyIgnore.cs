using GpuNet.Kernels;
using Xunit;

namespace GpuNet.Tests.Backends;

// SoftmaxCrossEntropy with an ignored label on every device and on the reference device (the composed default
// body): ignored rows give loss 0 and a zero gradient row, the others what the definition says.
public sealed partial class BackendConformanceTests
{
    public static TheoryData<string, bool, DType> XentIgnoreCases()
    {
        var data = new TheoryData<string, bool, DType>();
        foreach (var dev in BackendDevices.Names.Append("reference"))
            foreach (var grad in new[] { false, true })
                foreach (var dt in Floating) data.Add(dev, grad, dt);
        return data;
    }

    [Theory]
    [MemberData(nameof(XentIgnoreCases))]
    public void SoftmaxCrossEntropy_IgnoredRows_AreZero(string device, bool withGradient, DType dtype)
    {
        using var h = new Harness(device, nameof(SoftmaxCrossEntropy_IgnoredRows_AreZero), withGradient, dtype);
        // (rows, classes, ignored label): PyTorch's −100, and an in-range label (so those rows are ignored, not computed).
        (int Rows, int Classes, int Ignore)[] cases = [(1, 3, -100), (6, 10, -100), (5, 4, 2), (3, 300, -1)];
        foreach (var (rows, classes, ignore) in cases)
        {
            var logits = h.Input("logits", dtype, [rows, classes], LayoutSpec.Any(h.Rng, input: false), Values.Uniform(-3, 3));
            // Roughly half the rows ignored.
            var labels = h.Input("labels", DType.Int32, [rows], LayoutSpec.Any(h.Rng, input: false), r => r.Next(2) == 0 ? ignore : r.Next(classes));
            var losses = h.Output("losses", dtype, [rows], LayoutSpec.Any(h.Rng, input: false));
            var gradient = withGradient ? h.Output("gradient", dtype, [rows, classes], LayoutSpec.Any(h.Rng, input: false)) : null;
            double c = (dtype == DType.Float32 ? 4e-6 : 1e-13) * Math.Sqrt(classes + 1);
            string what = $"SoftmaxCrossEntropy ignoring {ignore} {dtype.Name()} rows {rows} classes {classes}: {logits}; {labels}; {losses}; {gradient?.ToString() ?? "no gradient"}";
            h.Case(what,
                () => h.Backend.SoftmaxCrossEntropy(logits.View, labels.View, losses.View, gradient?.View, ignore),
                () =>
                {
                    XentReference(logits.Host, labels.Host.Map(v => v == ignore ? 0 : v), losses.Host, gradient?.Host);
                    for (int r = 0; r < rows; r++)
                    {
                        if ((int)labels.Host[[r]] != ignore) continue;
                        losses.Host[[r]] = 0;
                        if (gradient is not null)
                            for (int j = 0; j < classes; j++) gradient.Host[r, j] = 0;
                    }
                },
                losses, (_, r) => c * (1 + Math.Abs(r)));
            if (gradient is null) continue;
            h.Compare(what + " (gradient)", gradient, h.Download(gradient.Buffer, gradient.Host.Data.Length), (_, r) => c * (Math.Abs(r) + 1e-2) + c * 0.1, null);
        }
        h.AssertAllPassed();
    }
}
