using Vireo.Model.Domains;
using Vireo.Qemu.Qmp;

namespace Vireo.Engine.Domains;

/// <summary>
/// A floor that takes part in starting a domain: storage resolves volumes, networking creates TAPs, tuning
/// validates and pins. Hooks run in order; when one fails, the ones before it are released in reverse.
/// </summary>
public interface IDomainStartHook
{
    /// <summary>Before QEMU exists: validate against the host, prepare resources, record them in the context.</summary>
    ValueTask PrepareAsync(DomainStartContext context, CancellationToken ct);

    /// <summary>After the QMP handshake and before <c>cont</c>: the guest has not run an instruction yet.</summary>
    ValueTask BeforeContinueAsync(DomainStartContext context, QmpClient qmp, CancellationToken ct);

    /// <summary>
    /// Releases what <see cref="PrepareAsync"/> recorded. Called at stop by whichever vireo process finds the
    /// domain stopped, so it works from the resource strings alone. Must tolerate resources already gone.
    /// </summary>
    void Release(string domainName, IReadOnlyList<string> resources);
}

/// <summary>What hooks share while one domain starts.</summary>
public sealed class DomainStartContext
{
    private int _nextFd = 3;

    public DomainStartContext(DomainDefinition definition, string runDirectory)
    {
        Definition = definition;
        RunDirectory = runDirectory;
    }

    public DomainDefinition Definition { get; set; }

    public string RunDirectory { get; }

    /// <summary>Host fd → the fd number QEMU will see it as.</summary>
    public List<(int HostFd, int TargetFd)> PassedFds { get; } = [];

    /// <summary>Interface index → the fd number QEMU sees its TAP as.</summary>
    public Dictionary<int, int> InterfaceTapFds { get; } = [];

    /// <summary>Interface index → the fd numbers of a multiqueue TAP's queues (<c>fds=a:b</c>).</summary>
    public Dictionary<int, IReadOnlyList<int>> InterfaceTapQueueFds { get; } = [];

    /// <summary>Interface index → the fd numbers of its vhost-net devices, one per queue.</summary>
    public Dictionary<int, IReadOnlyList<int>> InterfaceVhostFds { get; } = [];

    /// <summary>Disk index → resolved source path (for volume disks).</summary>
    public Dictionary<int, string> ResolvedDiskSources { get; } = [];

    /// <summary>"kind:value" strings released at stop by the hook that added them.</summary>
    public List<string> Resources { get; } = [];

    /// <summary>Host handles to close in this process once QEMU has its copies.</summary>
    public List<IDisposable> OwnedHandles { get; } = [];

    public int QemuPid { get; set; }

    /// <summary>Hugepage size (KiB) → hugetlbfs mount for guest RAM; the tuning hook fills it.</summary>
    public Dictionary<long, string> HugepageMounts { get; } = [];

    /// <summary>The host NUMA nodes chosen for <c>placement='auto'</c>; the tuning hook sets it.</summary>
    public string? AutoNumaNodeset { get; set; }

    /// <summary>Arranges for <paramref name="hostFd"/> to be QEMU's fd number returned.</summary>
    public int PassFd(int hostFd)
    {
        int target = _nextFd++;
        PassedFds.Add((hostFd, target));
        return target;
    }

    /// <summary>Reserves the next fd number (the launcher's own monitor socket uses this).</summary>
    internal int ReserveFd() => _nextFd++;
}

/// <summary>The floors the engine calls while domains start and stop. Tests substitute their own.</summary>
public sealed class DomainHostServices
{
    public List<IDomainStartHook> StartHooks { get; } = [];

    /// <summary>Path of the QEMU binary.</summary>
    public string Emulator { get; set; } = Environment.GetEnvironmentVariable("VIREO_QEMU") ?? "/usr/bin/qemu-system-x86_64";

    /// <summary>The vireo executable that runs the per-domain watcher; null disables it (tests).</summary>
    public string? WatcherExecutable { get; set; }
}
