using System.Globalization;
using System.Text;

namespace GpuNet;

public sealed partial class Tensor
{
    private const int SummaryThreshold = 1000;
    private const int EdgeItems = 3;

    /// <summary>
    /// PyTorch-style text: nested brackets with aligned columns, long dims summarised with "...", and
    /// the dtype, device and grad state when they are not the defaults.
    /// </summary>
    public override string ToString()
    {
        if (IsDisposed) return $"tensor(<disposed>, shape={ShapeUtil.Format(ShapeArray)})";
        var values = ValuesAsDouble();
        bool summarize = values.Length > SummaryThreshold;
        bool integer = !DType.IsFloating() || values.All(v => double.IsNaN(v) || double.IsInfinity(v) || v == Math.Round(v));
        // PyTorch's rule: scientific when the nonzero magnitudes span more than 1000×, or reach past
        // 1e8 or below 1e-4 (whole numbers only past 1e8), so that no value prints as 0.0000.
        var magnitudes = values.Where(v => double.IsFinite(v) && v != 0).Select(Math.Abs).ToArray();
        bool scientific = DType.IsFloating() && magnitudes.Length > 0 && (integer
            ? magnitudes.Max() > 1e8
            : magnitudes.Max() / magnitudes.Min() > 1000 || magnitudes.Max() > 1e8 || magnitudes.Min() < 1e-4);
        string Fmt(double v)
        {
            if (double.IsNaN(v)) return "nan";
            if (double.IsPositiveInfinity(v)) return "inf";
            if (double.IsNegativeInfinity(v)) return "-inf";
            if (!DType.IsFloating()) return ((long)v).ToString(CultureInfo.InvariantCulture);
            if (scientific) return v.ToString("0.0000e+00", CultureInfo.InvariantCulture);
            return integer ? v.ToString("0", CultureInfo.InvariantCulture) + "." : v.ToString("0.0000", CultureInfo.InvariantCulture);
        }
        int width = values.Length == 0 ? 0 : values.Max(v => Fmt(v).Length);
        var sb = new StringBuilder("tensor(");
        if (Rank == 0) sb.Append(Fmt(values[0]));
        else if (values.Length == 0) sb.Append("[]");
        else Append(sb, 0, 0, "tensor(".Length);
        // Suffixes in PyTorch's order: device, size (empty tensors), dtype, grad.
        if (Device.Kind != DeviceKind.Cpu) sb.Append($", device='{Device}'");
        if (Rank > 0 && values.Length == 0) sb.Append($", size={ShapeUtil.Format(ShapeArray)}");
        if (DType != DType.Float32) sb.Append($", dtype={DType.Name()}");
        if (GradFn is { } fn) sb.Append($", gradFn={fn.Name}");
        else if (RequiresGrad) sb.Append(", requiresGrad=True");
        sb.Append(')');
        return sb.ToString();

        void Append(StringBuilder b, int dim, long offset, int indent)
        {
            long stride = 1;
            for (int d = dim + 1; d < Rank; d++) stride *= ShapeArray[d];
            b.Append('[');
            int n = ShapeArray[dim];
            for (int i = 0; i < n; i++)
            {
                if (summarize && n > 2 * EdgeItems && i == EdgeItems)
                {
                    b.Append(dim == Rank - 1 ? "..., " : "...,\n" + new string(' ', indent + 1));
                    i = n - EdgeItems - 1;
                    continue;
                }
                if (dim == Rank - 1) b.Append(Fmt(values[offset + i]).PadLeft(width));
                else Append(b, dim + 1, offset + i * stride, indent + 1);
                if (i < n - 1)
                    b.Append(dim == Rank - 1 ? ", " : "," + new string('\n', Rank - dim - 1) + new string(' ', indent + 1));
            }
            b.Append(']');
        }
    }

    private double[] ValuesAsDouble() => DType switch
    {
        DType.Float32 => ToArray<float>().Select(v => (double)v).ToArray(),
        DType.Float64 => ToArray<double>(),
        _ => ToArray<int>().Select(v => (double)v).ToArray(),
    };
}
