namespace Vireo.Engine.State;

/// <summary>
/// Where Vireo keeps things. Persistent state lives under <c>$VIREO_ROOT</c> (default <c>/var/lib/vireo</c>);
/// runtime state (status records, QMP sockets, locks) under <c>$VIREO_ROOT/run</c> when VIREO_ROOT is set,
/// else <c>/run/vireo</c>, so a reboot clears it as it clears QEMU.
/// </summary>
public sealed class VireoPaths
{
    public VireoPaths(string root, string runtime)
    {
        Root = Path.GetFullPath(root);
        Runtime = Path.GetFullPath(runtime);
    }

    public string Root { get; }

    public string Runtime { get; }

    /// <summary>Persistent domain definitions: <c>NAME.xml</c>.</summary>
    public string Domains => Path.Combine(Root, "domains");

    /// <summary>Persistent network definitions: <c>NAME.xml</c>, autostart markers.</summary>
    public string Networks => Path.Combine(Root, "networks");

    /// <summary>Persistent storage pool definitions.</summary>
    public string Pools => Path.Combine(Root, "pools");

    /// <summary>Per-domain runtime directories (status record, QMP socket, console log).</summary>
    public string RunDomains => Path.Combine(Runtime, "domains");

    /// <summary>Per-network runtime directories (dnsmasq config, leases, pid).</summary>
    public string RunNetworks => Path.Combine(Runtime, "networks");

    /// <summary>Lock files, one per object.</summary>
    public string Locks => Path.Combine(Runtime, "locks");

    public static VireoPaths FromEnvironment()
    {
        string? root = Environment.GetEnvironmentVariable("VIREO_ROOT");
        if (string.IsNullOrEmpty(root))
        {
            return new VireoPaths("/var/lib/vireo", "/run/vireo");
        }

        return new VireoPaths(root, Path.Combine(root, "run"));
    }

    public string LockFile(string kind, string name) => Path.Combine(Locks, $"{kind}-{name}.lock");
}
