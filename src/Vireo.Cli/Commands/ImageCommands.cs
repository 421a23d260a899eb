namespace Vireo.Cli.Commands;

/// <summary>Disk images commands.</summary>
internal static class ImageCommands
{
    public const string Group = "Disk images";

    public static IReadOnlyList<CommandSpec> All { get; } =
    [
    ];
}
