namespace Vireo.Qemu.Qmp;

/// <summary>
/// How long to wait for a reply when the caller does not say. Queries are answered from QEMU's main loop in
/// microseconds; hotplug waits for the guest and block operations for I/O, so they get seconds.
/// </summary>
public static class QmpTimeouts
{
    public static readonly TimeSpan Query = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan RunState = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan Hotplug = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan BlockJob = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(10);

    public static TimeSpan For(string command) => command switch
    {
        _ when command.StartsWith("query-", StringComparison.Ordinal) => Query,
        "qmp_capabilities" or "cont" or "stop" or "system_powerdown" or "system_reset" or "quit" or "getfd" or "closefd" => RunState,
        "device_add" or "device_del" or "netdev_add" or "netdev_del" or "chardev-add" or "chardev-remove" or "object-add" or "object-del" => Hotplug,
        _ when command.StartsWith("blockdev-", StringComparison.Ordinal) || command.StartsWith("block-", StringComparison.Ordinal)
            || command.StartsWith("block_", StringComparison.Ordinal) || command.StartsWith("drive-", StringComparison.Ordinal)
            || command.StartsWith("job-", StringComparison.Ordinal) || command.StartsWith("x-blockdev-", StringComparison.Ordinal) => BlockJob,
        "human-monitor-command" or "migrate" or "migrate-incoming" or "dump-guest-memory" => BlockJob,
        _ => Default,
    };
}
