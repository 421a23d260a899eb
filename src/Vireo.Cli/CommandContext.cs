namespace Vireo.Cli;

/// <summary>What a handler gets: its parsed arguments and where to print.</summary>
internal sealed class CommandContext
{
    public CommandContext(CommandSpec spec, ParsedArgs args, IReadOnlyList<string> rawArgs, TextWriter stdout, TextWriter stderr)
    {
        Spec = spec;
        Args = args;
        RawArgs = rawArgs;
        Out = stdout;
        Err = stderr;
    }

    public CommandSpec Spec { get; }

    public ParsedArgs Args { get; }

    public IReadOnlyList<string> RawArgs { get; }

    public TextWriter Out { get; }

    public TextWriter Err { get; }

    /// <summary>True when <c>--json</c> was given: print one JSON document and nothing else on stdout.</summary>
    public bool Json => Args.Has("json");

    /// <summary>Whether stdout is a terminal (progress bars are shown only then).</summary>
    public static bool StdoutIsTerminal => !Console.IsOutputRedirected;
}
