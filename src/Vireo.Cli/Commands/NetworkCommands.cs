namespace Vireo.Cli.Commands;

/// <summary>Networking commands.</summary>
internal static class NetworkCommands
{
    public const string Group = "Networking";

    public static IReadOnlyList<CommandSpec> All { get; } =
    [
    ];
}
