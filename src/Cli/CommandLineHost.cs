using System.CommandLine;

namespace GpuNet.Cli;

/// <summary>Shared command-line plumbing: parse errors and bad option values exit with code 2.</summary>
internal static class CommandLineHost
{
    /// <summary>Exit code for invalid command lines and option values.</summary>
    public const int UsageError = 2;

    /// <summary>Parses <paramref name="args"/>; reports parse errors (exit 2) or invokes the chosen command.</summary>
    public static int Run(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors) Console.Error.WriteLine($"error: {error.Message}");
            Console.Error.WriteLine("Run with --help for usage.");
            return UsageError;
        }
        return parse.Invoke();
    }

    /// <summary>Prints a usage error for an option value and returns exit code 2.</summary>
    public static int Usage(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return UsageError;
    }
}
