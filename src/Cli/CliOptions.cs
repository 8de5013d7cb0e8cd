using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace GpuNet.Cli;

/// <summary>
/// Options whose values are parsed and range-checked by the parser itself, so a bad value is one clear error naming
/// the option and what it expects (System.CommandLine's own message names a CLR type, e.g. <c>System.Nullable`1[System.Int64]</c>).
/// </summary>
internal static class CliOptions
{
    /// <summary>An integer option; <paramref name="min"/> is the smallest value accepted.</summary>
    public static Option<int> Int(string name, string description, int defaultValue, int min = int.MinValue) =>
        new(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = r => Parse(r, name, min, int.MaxValue, v => (int?)(int)v) ?? defaultValue,
            HelpName = "N",
        };

    /// <summary>An integer option without a default (null when absent).</summary>
    public static Option<int?> OptionalInt(string name, string description, int min = int.MinValue) =>
        new(name)
        {
            Description = description,
            CustomParser = r => Parse(r, name, min, int.MaxValue, v => (int?)(int)v),
            HelpName = "N",
        };

    /// <summary>A 64-bit integer option (seeds).</summary>
    public static Option<long> Long(string name, string description, long defaultValue) =>
        new(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = r => Parse(r, name, long.MinValue, long.MaxValue, v => (long?)v) ?? defaultValue,
            HelpName = "N",
        };

    /// <summary>A 64-bit integer option without a default (null when absent).</summary>
    public static Option<long?> OptionalLong(string name, string description) =>
        new(name)
        {
            Description = description,
            CustomParser = r => Parse(r, name, long.MinValue, long.MaxValue, v => (long?)v),
            HelpName = "N",
        };

    /// <summary>A real-number option; <paramref name="valid"/> says which values are accepted and <paramref name="expected"/> how to describe them.</summary>
    public static Option<double> Double(string name, string description, double defaultValue, Func<double, bool> valid, string expected) =>
        new(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = r => ParseDouble(r, name, valid, expected) ?? defaultValue,
            HelpName = "X",
        };

    /// <summary>A real-number option without a default (null when absent).</summary>
    public static Option<double?> OptionalDouble(string name, string description, Func<double, bool> valid, string expected) =>
        new(name)
        {
            Description = description,
            CustomParser = r => ParseDouble(r, name, valid, expected),
            HelpName = "X",
        };

    /// <summary>A string option that accepts only <paramref name="allowed"/> (listed by --help and by shell completion).</summary>
    public static Option<string> Choice(string name, string description, string defaultValue, IEnumerable<string> allowed)
    {
        var values = allowed.ToArray();
        var option = new Option<string>(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            HelpName = string.Join("|", values),
        };
        return option.AcceptOnlyFromAmong(values);
    }

    private static T? Parse<T>(ArgumentResult r, string name, long min, long max, Func<long, T> make)
    {
        var text = Token(r);
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
        {
            r.AddError($"{name}: '{text}' is not a whole number.");
            return default;
        }
        if (v < min)
        {
            r.AddError($"{name}: {v} is too small; expected {(min == 1 ? "a positive whole number" : $"a whole number of at least {min}")}.");
            return default;
        }
        if (v > max)
        {
            r.AddError($"{name}: {v} is too large; expected at most {max}.");
            return default;
        }
        return make(v);
    }

    private static double? ParseDouble(ArgumentResult r, string name, Func<double, bool> valid, string expected)
    {
        var text = Token(r);
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
        {
            r.AddError($"{name}: '{text}' is not a number; expected {expected}.");
            return null;
        }
        if (!valid(v))
        {
            r.AddError($"{name}: {text} is out of range; expected {expected}.");
            return null;
        }
        return v;
    }

    private static string Token(ArgumentResult r) => r.Tokens.Count == 0 ? "" : r.Tokens[^1].Value;
}
