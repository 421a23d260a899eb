using System.Net.Sockets;
using System.Text;

namespace Vireo.Qemu.Process;

/// <summary>
/// A running (or exited) QEMU we launched or attached to: its pid, its start time (the identity to record in
/// the runtime status, see <see cref="QemuProcessWatch.IsAlive"/>) and a pidfd to wait on and signal.
/// </summary>
public sealed class QemuProcess : IDisposable
{
    internal QemuProcess(int pid, ulong startTime, PidfdHandle pidfd, string? logPath, string? qmpSocketPath)
    {
        Pid = pid;
        StartTime = startTime;
        Pidfd = pidfd;
        LogPath = logPath;
        QmpSocketPath = qmpSocketPath;
    }

    public int Pid { get; }

    /// <summary>Field 22 of <c>/proc/PID/stat</c>: clock ticks after boot. Record it with the pid.</summary>
    public ulong StartTime { get; }

    public PidfdHandle Pidfd { get; }

    public string? LogPath { get; }

    public string? QmpSocketPath { get; }

    /// <summary>
    /// Our ends of the private QMP channels (<see cref="QemuLaunchOptions.PrivateQmpChannels"/>), in order.
    /// They belong to the caller: hand each to <see cref="Qmp.QmpClient.AttachAsync"/> or to another process.
    /// </summary>
    public IReadOnlyList<Socket> PrivateQmpSockets { get; internal init; } = [];

    public bool HasExited => QemuProcessWatch.HasExited(Pidfd);

    /// <summary>Attaches to a QEMU started earlier (by another vireo process); null when it is gone.</summary>
    public static QemuProcess? Attach(int pid, ulong startTime, string? logPath = null, string? qmpSocketPath = null)
    {
        PidfdHandle? pidfd = QemuProcessWatch.TryOpen(pid, startTime);
        return pidfd is null ? null : new QemuProcess(pid, startTime, pidfd, logPath, qmpSocketPath);
    }

    public Task<bool> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
        => QemuProcessWatch.WaitForExitAsync(Pidfd, timeout, cancellationToken);

    /// <summary>SIGTERM, then SIGKILL after <paramref name="grace"/>; true once exited.</summary>
    public Task<bool> TerminateAsync(TimeSpan grace, CancellationToken cancellationToken = default)
        => QemuProcessWatch.TerminateAsync(Pidfd, grace, TimeSpan.FromSeconds(10), cancellationToken);

    /// <summary>SIGKILL and wait for the exit; true once exited.</summary>
    public Task<bool> KillAsync(CancellationToken cancellationToken = default)
        => QemuProcessWatch.KillAsync(Pidfd, TimeSpan.FromSeconds(10), cancellationToken);

    /// <summary>Reaps the exited child and returns how it ended; null while it runs or when it is not our child.</summary>
    public QemuExitStatus? TryReap() => QemuProcessWatch.TryReap(Pidfd);

    /// <summary>The last lines of QEMU's log, for error messages.</summary>
    public string ReadLogTail(int maxLines = 10) => LogPath is null ? "" : ReadTail(LogPath, maxLines);

    internal static string ReadTail(string path, int maxLines)
    {
        const int MaxBytes = 16384;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            long start = Math.Max(0, stream.Length - MaxBytes);
            stream.Position = start;
            byte[] buffer = new byte[stream.Length - start];
            stream.ReadExactly(buffer);
            string[] lines = Encoding.UTF8.GetString(buffer).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            // Only what this run wrote: the log is appended to across starts, each run opened by our header line.
            int last = Array.FindLastIndex(lines, l => l.Contains(QemuLauncher.LogHeaderMarker, StringComparison.Ordinal));
            return string.Join("\n", lines.Skip(last + 1).TakeLast(maxLines));
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }

    public void Dispose() => Pidfd.Dispose();
}
