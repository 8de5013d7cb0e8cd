namespace GpuNet.Cli;

/// <summary>
/// The epoch axis of the training curves: whole epochs only (a tick at 1.05 means nothing), at most a handful of
/// ticks at a round step, and half an epoch of margin each side so that a single epoch is a readable point in the
/// middle rather than a degenerate axis. Pure arithmetic, kept apart from ScottPlot so the tests can check it.
/// </summary>
internal static class EpochAxis
{
    /// <summary>Tick positions for epochs <paramref name="first"/>..<paramref name="last"/>: multiples of 1, 2, 5, 10, 20, 50, … with at most <paramref name="maxTicks"/> of them.</summary>
    public static int[] Ticks(int first, int last, int maxTicks = 10)
    {
        if (last < first) (first, last) = (last, first);
        maxTicks = Math.Max(1, maxTicks);
        for (long unit = 1; ; unit *= 10)
            foreach (long step in new[] { unit, 2 * unit, 5 * unit })
            {
                long start = (long)Math.Ceiling(first / (double)step) * step;
                long count = start > last ? 0 : (last - start) / step + 1;
                if (count > maxTicks) continue;
                if (count == 0) return [first]; // a range narrower than the step: label its first epoch
                var ticks = new int[count];
                for (int i = 0; i < count; i++) ticks[i] = (int)(start + i * step);
                return ticks;
            }
    }

    /// <summary>The axis range: half an epoch beyond the first and the last.</summary>
    public static (double Min, double Max) Limits(int first, int last) => (Math.Min(first, last) - 0.5, Math.Max(first, last) + 0.5);
}
