namespace Vireo.Qemu;

/// <summary>What the argv builder needs besides the definition: host-side decisions the engine made.</summary>
public sealed record QemuArgvOptions
{
    /// <summary>The per-domain runtime directory (pty logs, sockets Vireo owns, NVRAM copies).</summary>
    public required string RuntimeDirectory { get; init; }

    /// <summary>An fd QEMU inherits that is a listening socket for the QMP monitor; exclusive with <see cref="QmpSocketPath"/>.</summary>
    public int? QmpFd { get; init; }

    /// <summary>A path where QEMU itself listens for QMP. When neither this nor <see cref="QmpFd"/> is set, no monitor is added (the launcher adds its own).</summary>
    public string? QmpSocketPath { get; init; }

    /// <summary><c>tcg</c> or <c>kvm</c>, decided by the engine from the KVM probe and &lt;domain type&gt;.</summary>
    public string Accelerator { get; init; } = "tcg";

    /// <summary>Start with the vCPUs stopped (<c>-S</c>); the engine sends <c>cont</c> when ready.</summary>
    public bool StartPaused { get; init; } = true;

    /// <summary>Index in <c>Devices.Interfaces</c> → the TAP fd number QEMU inherits.</summary>
    public IReadOnlyDictionary<int, int> InterfaceTapFds { get; init; } = new Dictionary<int, int>();

    /// <summary>Index in <c>Devices.Interfaces</c> → vhost-net fd numbers QEMU inherits (optional).</summary>
    public IReadOnlyDictionary<int, IReadOnlyList<int>> InterfaceVhostFds { get; init; } = new Dictionary<int, IReadOnlyList<int>>();

    /// <summary>Index in <c>Devices.Interfaces</c> → all TAP fds for a multiqueue interface (overrides <see cref="InterfaceTapFds"/>).</summary>
    public IReadOnlyDictionary<int, IReadOnlyList<int>> InterfaceTapQueueFds { get; init; } = new Dictionary<int, IReadOnlyList<int>>();

    /// <summary>Index in <c>Devices.Disks</c> → the path the engine resolved for a <c>&lt;disk type='volume'&gt;</c>.</summary>
    public IReadOnlyDictionary<int, string> ResolvedDiskSources { get; init; } = new Dictionary<int, string>();

    /// <summary>When set, pty serial/console chardevs also log to <c>DIR/console.log</c> (appending).</summary>
    public string? SerialLogDirectory { get; init; }

    /// <summary>The firmware code image for <c>&lt;os firmware='efi'&gt;</c> without a &lt;loader&gt; (Debian's OVMF).</summary>
    public string? DefaultEfiLoader { get; init; }

    /// <summary>The per-domain NVRAM copy the engine prepared for EFI domains; overrides &lt;nvram&gt;.</summary>
    public string? NvramPath { get; init; }

    /// <summary>Where the VNC server listens for <c>autoport</c> graphics; the engine picks a free port (null: <c>:0</c> + port search by QEMU is not available).</summary>
    public int? VncAutoPort { get; init; }

    /// <summary>Hugepage size in KiB → the hugetlbfs mount to back guest RAM with (default: 2048 → /dev/hugepages).</summary>
    public IReadOnlyDictionary<long, string> HugepageMounts { get; init; } = new Dictionary<long, string>();

    /// <summary>The host NUMA nodes for <c>&lt;numatune&gt;&lt;memory placement='auto'&gt;</c>, chosen by the engine (like numad).</summary>
    public string? AutoNumaNodeset { get; init; }

    /// <summary>The swtpm control socket for an emulator TPM, when the engine started swtpm.</summary>
    public string? TpmEmulatorSocket { get; init; }

    /// <summary>Where the host's SMBIOS strings are read for <c>&lt;smbios mode='host'/&gt;</c>.</summary>
    public string HostDmiDirectory { get; init; } = "/sys/class/dmi/id";
}
