using Vireo.Model;

namespace Vireo.Cli;

internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        // Storage asks the domain engine which volumes running guests hold before deleting or wiping one.
        Commands.Pool.PoolCli.VolumeUsage = paths => new Vireo.Engine.Domains.DomainVolumeUsage(new Vireo.Engine.VireoEngine(paths).Domains);
        return await RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false);
    }

    /// <summary>The whole CLI as a function, so tests drive it in-process.</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Count == 0 || args[0] is "--help" or "-h")
        {
            Help.PrintOverview(stdout);
            return 0;
        }

        if (args[0] is "--version" or "-v" or "version" && args.Count == 1 && CommandTable.Find("version") is null)
        {
            stdout.WriteLine(Help.Version);
            return 0;
        }

        if (args[0] is "--version" or "-V")
        {
            stdout.WriteLine(Help.Version);
            return 0;
        }

        if (args[0] == "help")
        {
            return Help.PrintCommand(args.Count > 1 ? args[1] : null, stdout, stderr);
        }

        var spec = CommandTable.Find(args[0]);
        if (spec is null)
        {
            stderr.WriteLine($"error: unknown command: '{args[0]}' (see 'vireo --help')");
            return 1;
        }

        var rest = args.Skip(1).ToArray();
        if (!spec.RawArguments && rest.Any(a => a is "--help" or "-h"))
        {
            return Help.PrintCommand(spec.Name, stdout, stderr);
        }

        try
        {
            var parsed = spec.RawArguments ? new ParsedArgs() : ParsedArgs.Parse(spec, rest);
            return await spec.Run(new CommandContext(spec, parsed, rest, stdout, stderr)).ConfigureAwait(false);
        }
        catch (VireoException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine("error: interrupted");
            return 1;
        }
        catch (UnauthorizedAccessException e)
        {
            stderr.WriteLine($"error: permission denied: {e.Message}");
            return 1;
        }
        catch (IOException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
