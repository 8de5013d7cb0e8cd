using GpuNet.Nn;

namespace GpuNet.Lessons;

/// <summary>Numbering and names of boolean functions, shared by the lessons.</summary>
public static class BooleanFunctions
{
    private static readonly string[] TwoInputNames =
    [
        "FALSE", "AND", "x1 AND NOT x2", "x1", "NOT x1 AND x2", "x2", "XOR", "OR",
        "NOR", "XNOR", "NOT x2", "x1 OR NOT x2", "NOT x1", "NOT x1 OR x2", "NAND", "TRUE",
    ];

    /// <summary>
    /// The truth table of function number <paramref name="f"/> of <paramref name="inputs"/> inputs: read left to right
    /// over the patterns 0…0, 0…1, …, 1…1, the table is f written in binary (so for two inputs AND = 0001 = 1, XOR = 0110 = 6).
    /// </summary>
    public static bool[] Table(int f, int inputs)
    {
        int patterns = 1 << inputs;
        return Enumerable.Range(0, patterns).Select(k => ((f >> (patterns - 1 - k)) & 1) == 1).ToArray();
    }

    /// <summary>The number of a truth table (the inverse of <see cref="Table"/>).</summary>
    public static int Number(IReadOnlyList<bool> table)
    {
        int f = 0;
        foreach (var b in table) f = (f << 1) | (b ? 1 : 0);
        return f;
    }

    /// <summary>The usual name of two-input function <paramref name="f"/> (0…15).</summary>
    public static string Name(int f) => TwoInputNames[f];

    /// <summary>A truth table as 0s and 1s, e.g. "0110".</summary>
    public static string Bits(IEnumerable<bool> table) => string.Concat(table.Select(b => b ? '1' : '0'));
}
