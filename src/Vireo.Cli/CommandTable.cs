using Vireo.Cli.Commands;

namespace Vireo.Cli;

/// <summary>Every command, one routing table. Each area lists its own commands in Commands/.</summary>
internal static class CommandTable
{
    private static IReadOnlyList<CommandSpec>? s_all;

    public static IReadOnlyList<CommandSpec> All => s_all ??=
    [
        .. DomainCommands.All,
        .. DomainTuningCommands.All,
        .. DomainDeviceCommands.All,
        .. DomainStatsCommands.All,
        .. HostCommands.All,
        .. NetworkCommands.All,
        .. PoolCommands.All,
        .. ImageCommands.All,
    ];

    public static CommandSpec? Find(string name) =>
        All.FirstOrDefault(c => c.Name == name || c.Aliases.Contains(name));
}
