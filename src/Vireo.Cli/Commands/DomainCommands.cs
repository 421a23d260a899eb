namespace Vireo.Cli.Commands;

/// <summary>Domain lifecycle and inspection commands.</summary>
internal static class DomainCommands
{
    public const string Group = "Domain management";

    public static IReadOnlyList<CommandSpec> All { get; } =
    [
    ];
}
