using System.CommandLine;
using System.CommandLine.Parsing;
using System.Reflection;

namespace GpuNet.Cli;

/// <summary>
/// Shared command-line plumbing. Every failure a user can cause ends in one <c>error: …</c> line on stderr and a
/// non-zero exit: 2 for an invalid command line or option value, 1 for anything that goes wrong while running, 130
/// for Ctrl-C. The stack trace is printed only with <c>--verbose</c> or <c>GPUNET_VERBOSE=1</c>.
/// </summary>
internal static class CommandLineHost
{
    /// <summary>Exit code for invalid command lines and option values.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code for an error while running.</summary>
    public const int Failure = 1;

    /// <summary>Exit code after Ctrl-C (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;

    /// <summary>Environment variable that, set to 1 (or true), prints stack traces like <c>--verbose</c>.</summary>
    public const string VerboseVariable = "GPUNET_VERBOSE";

    /// <summary>The <c>--verbose</c> option every command accepts.</summary>
    public static readonly Option<bool> Verbose = new("--verbose")
    {
        Description = $"On an error, also print its stack trace (or set {VerboseVariable}=1).",
        Recursive = true,
    };

    /// <summary>Parses <paramref name="args"/>; reports parse errors (exit 2) or invokes the chosen command, turning any exception into one error line.</summary>
    public static int Run(RootCommand root, string[] args)
    {
        root.Options.Add(Verbose);
        // A root without an action makes System.CommandLine report "Required command was not provided" next to the
        // real error (gpunet bogus printed two); with one, an unknown word is the only error.
        root.SetAction(parse =>
        {
            var names = root.Subcommands.Where(c => !c.Hidden).Select(c => c.Name);
            return Usage($"no command given; expected one of: {string.Join(", ", names)} (gpunet --help describes them).");
        });
        ParseResult parse;
        try
        {
            parse = root.Parse(args);
        }
        catch (Exception e)
        {
            return Report(e, VerboseFromEnvironment());
        }
        if (parse.Errors.Count > 0)
        {
            foreach (var message in parse.Errors.Select(Describe).Distinct()) Console.Error.WriteLine($"error: {message}");
            Console.Error.WriteLine("Run with --help for usage.");
            return UsageError;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            return Report(e, parse.GetValue(Verbose) || VerboseFromEnvironment());
        }
    }

    /// <summary>Prints a usage error for an option value and returns exit code 2.</summary>
    public static int Usage(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return UsageError;
    }

    /// <summary>Prints a warning line on stderr.</summary>
    public static void Warn(string message) => Console.Error.WriteLine($"warning: {message}");

    /// <summary>The exit code for an exception a command did not handle: one line, the trace only when asked.</summary>
    public static int Report(Exception e, bool verbose)
    {
        var inner = Unwrap(e);
        Console.Error.WriteLine($"error: {OneLine(inner.Message)}");
        if (verbose) Console.Error.WriteLine(e);
        else if (inner is not (IOException or InvalidDataException or ArgumentException or InvalidOperationException or UnauthorizedAccessException or OperationCanceledException or NotSupportedException))
            Console.Error.WriteLine($"(an unexpected {inner.GetType().Name}: run with --verbose or {VerboseVariable}=1 for the stack trace)");
        return inner is ArgumentException ? UsageError : inner is OperationCanceledException ? Interrupted : Failure;
    }

    private static bool VerboseFromEnvironment() =>
        Environment.GetEnvironmentVariable(VerboseVariable) is { } v && (v == "1" || v.Equals("true", StringComparison.OrdinalIgnoreCase));

    private static Exception Unwrap(Exception e)
    {
        while (true)
        {
            if (e is AggregateException { InnerExceptions.Count: > 0 } a) e = a.InnerExceptions[0];
            else if (e is TargetInvocationException { InnerException: { } t }) e = t;
            else return e;
        }
    }

    // System.CommandLine's messages list allowed values on tab-indented lines; one line, prefixed by the option, reads better.
    private static string Describe(ParseError error)
    {
        var message = OneLine(error.Message);
        var option = error.SymbolResult switch
        {
            OptionResult o => o.Option.Name,
            ArgumentResult { Parent: OptionResult o } => o.Option.Name,
            ArgumentResult { Parent: CommandResult c } a => $"{c.Command.Name} {a.Argument.Name.ToUpperInvariant()}",
            _ => null,
        };
        return option is null || message.StartsWith(option, StringComparison.Ordinal) ? message : $"{option}: {message}";
    }

    private static string OneLine(string text)
    {
        var lines = text.Split(['\n', '\r'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length <= 1 ? text.Trim() : lines[0] + " " + string.Join(", ", lines[1..]);
    }
}
