namespace Vireo.Cli.Commands;

/// <summary>Host and hypervisor commands.</summary>
internal static class HostCommands
{
    public const string Group = "Host and hypervisor";

    public static IReadOnlyList<CommandSpec> All { get; } =
    [
    ];
}
