namespace Vireo.Cli.Commands;

/// <summary>Storage pools and volumes commands.</summary>
internal static class PoolCommands
{
    public const string Group = "Storage pools and volumes";

    public static IReadOnlyList<CommandSpec> All { get; } =
    [
    ];
}
