namespace Vireo.Qemu.Process;

/// <summary>A descriptor of ours that QEMU gets at a fixed number, e.g. a TAP fd for <c>-netdev tap,fd=N</c>.</summary>
/// <param name="SourceFd">Our descriptor; it stays open (and ours to close) after the launch.</param>
/// <param name="TargetFd">The number QEMU sees it as; 3 or above.</param>
public readonly record struct QemuPassedFd(int SourceFd, int TargetFd);

/// <summary>What <see cref="QemuLauncher"/> needs to start one QEMU.</summary>
public sealed class QemuLaunchOptions
{
    /// <summary>QEMU's arguments after the program name, exactly as QEMU must see them (no shell is involved).</summary>
    public required IReadOnlyList<string> Arguments { get; init; }

    /// <summary>The emulator binary; <see cref="QemuLauncher.DefaultEmulatorPath"/> when null.</summary>
    public string? EmulatorPath { get; init; }

    /// <summary>QEMU's stdout and stderr are appended here (created 0600 when missing).</summary>
    public required string LogPath { get; init; }

    /// <summary>Descriptors to hand QEMU at fixed numbers.</summary>
    public IReadOnlyList<QemuPassedFd> PassFds { get; init; } = [];

    /// <summary>
    /// When set, the launcher binds and listens on this UNIX socket path itself and gives QEMU the listening
    /// socket as an fd, adding <c>-chardev socket,id=vireo-qmp,fd=N,server=on,wait=off -mon chardev=vireo-qmp,mode=control</c>.
    /// The socket then exists before QEMU runs, so a client can connect at once: no polling, no race.
    /// The argv builder must not add its own QMP monitor in that case.
    /// </summary>
    public string? QmpSocketPath { get; init; }

    /// <summary>
    /// How many private QMP channels to create: for each, a socketpair whose one end QEMU gets as an already
    /// connected monitor (<c>-chardev socket,id=vireo-qmpN,fd=F -mon chardev=vireo-qmpN,mode=control</c>) and
    /// whose other end is returned in <see cref="QemuProcess.PrivateQmpSockets"/>, for
    /// <see cref="Qmp.QmpClient.AttachAsync"/>. Nobody else can connect to these, unlike the socket path.
    /// </summary>
    public int PrivateQmpChannels { get; init; }

    /// <summary>Extra environment variables; QEMU otherwise gets a clean environment (LC_ALL=C and PATH).</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }
}
