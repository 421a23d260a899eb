using System.Runtime.InteropServices;
using Vireo.Model;
using Vireo.Qemu.Native;

namespace Vireo.Qemu.Process;

/// <summary>How a process ended, as waitid(2) reports it.</summary>
public readonly record struct QemuExitStatus(int? ExitCode, int? Signal)
{
    public override string ToString() => Signal is int sig ? $"killed by signal {sig}" : $"exit status {ExitCode}";
}

/// <summary>
/// Watching a QEMU process without trusting its pid alone. Identity is the pid plus the start time from
/// <c>/proc/PID/stat</c> (pids are reused; start times are not); liveness excludes zombies, because PID 1 may
/// take seconds to reap an orphan; waiting and signalling go through a pidfd so they hit exactly that process.
/// </summary>
public static class QemuProcessWatch
{
    /// <summary>True when <paramref name="pid"/> is still the process that started at <paramref name="startTime"/> and has not exited.</summary>
    public static bool IsAlive(int pid, ulong startTime, string procRoot = "/proc")
    {
        ProcStat? stat = ProcStat.Read(pid, procRoot);
        return stat is { } s && s.StartTime == startTime && !s.IsExited;
    }

    /// <summary>
    /// Opens a pidfd on <paramref name="pid"/> and checks, after opening, that it is the process recorded with
    /// <paramref name="startTime"/>; null when that process is gone (or the pid now belongs to another one).
    /// </summary>
    public static PidfdHandle? TryOpen(int pid, ulong startTime, string procRoot = "/proc")
    {
        int fd = LibC.PidfdOpen(pid);
        if (fd < 0)
        {
            return null;
        }

        var handle = new PidfdHandle(fd);
        // Checked after pidfd_open: the pidfd now pins the process, so a match here cannot be a later reuse.
        if (!IsAlive(pid, startTime, procRoot))
        {
            handle.Dispose();
            return null;
        }

        return handle;
    }

    /// <summary>Opens a pidfd without an identity check; for a child just spawned, which cannot have been reaped yet.</summary>
    internal static PidfdHandle OpenChild(int pid)
    {
        int fd = LibC.PidfdOpen(pid);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new VireoException(ErrorKind.OperationFailed, $"pidfd_open({pid}) failed: {LibC.ErrorText(errno)}");
        }

        return new PidfdHandle(fd);
    }

    /// <summary>True once the process has exited (a zombie counts as exited).</summary>
    public static bool HasExited(PidfdHandle pidfd) => WaitForExit(pidfd, TimeSpan.Zero);

    /// <summary>Blocks until the process exits or the timeout passes; true when it exited.</summary>
    public static unsafe bool WaitForExit(PidfdHandle pidfd, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        var pfd = new LibC.PollFd { Fd = pidfd.Fd, Events = LibC.POLLIN };
        while (true)
        {
            int remaining = (int)Math.Clamp(deadline - Environment.TickCount64, 0, int.MaxValue);
            int n = LibC.Poll(&pfd, 1, remaining);
            if (n > 0)
            {
                return true;
            }

            if (n == 0)
            {
                return false;
            }

            if (Marshal.GetLastPInvokeError() != LibC.EINTR)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// Waits for the process to exit without holding a thread-pool thread: the poll runs on its own thread and
    /// an eventfd wakes it on cancellation. True when it exited, false on timeout.
    /// </summary>
    public static Task<bool> WaitForExitAsync(PidfdHandle pidfd, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (HasExited(pidfd))
        {
            return Task.FromResult(true);
        }

        if (timeout == TimeSpan.Zero)
        {
            return Task.FromResult(false);
        }

        return Task.Factory.StartNew(
            () => PollWithCancel(pidfd, timeout, cancellationToken),
            cancellationToken,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
    }

    private static unsafe bool PollWithCancel(PidfdHandle pidfd, TimeSpan timeout, CancellationToken cancellationToken)
    {
        int efd = LibC.EventFd(0, LibC.EFD_CLOEXEC);
        if (efd < 0)
        {
            return WaitForExit(pidfd, timeout);
        }

        try
        {
            using CancellationTokenRegistration reg = cancellationToken.Register(() =>
            {
                ulong one = 1;
                LibC.Write(efd, &one, sizeof(ulong));
            });
            long deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            LibC.PollFd* fds = stackalloc LibC.PollFd[2];
            while (true)
            {
                fds[0] = new LibC.PollFd { Fd = pidfd.Fd, Events = LibC.POLLIN };
                fds[1] = new LibC.PollFd { Fd = efd, Events = LibC.POLLIN };
                int remaining = deadline == long.MaxValue ? -1 : (int)Math.Clamp(deadline - Environment.TickCount64, 0, int.MaxValue);
                int n = LibC.Poll(fds, 2, remaining);
                if (n < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR)
                {
                    continue;
                }

                if (n > 0 && fds[0].REvents != 0)
                {
                    return true;
                }

                cancellationToken.ThrowIfCancellationRequested();
                return false;
            }
        }
        finally
        {
            LibC.Close(efd);
        }
    }

    /// <summary>
    /// Reaps the process if it is our child and has exited, returning how it ended. Null when it still runs or
    /// is not our child (then PID 1 reaps it, and its status is not ours to know).
    /// </summary>
    public static unsafe QemuExitStatus? TryReap(PidfdHandle pidfd)
    {
        byte* info = stackalloc byte[128];
        new Span<byte>(info, 128).Clear();
        if (LibC.WaitId(LibC.P_PIDFD, pidfd.Fd, info, LibC.WEXITED | LibC.WNOHANG) != 0)
        {
            return null;
        }

        // siginfo_t for SIGCHLD: si_code at 8, si_pid at 16, si_status at 24. si_pid 0 means nothing to reap yet.
        int pid = *(int*)(info + 16);
        if (pid == 0)
        {
            return null;
        }

        int code = *(int*)(info + 8);
        int status = *(int*)(info + 24);
        return code == LibC.CLD_EXITED ? new QemuExitStatus(status, null) : new QemuExitStatus(null, status);
    }

    /// <summary>Sends a signal through the pidfd; false when the process is already gone.</summary>
    public static bool Signal(PidfdHandle pidfd, int signal) => LibC.PidfdSendSignal(pidfd.Fd, signal) == 0;

    /// <summary>
    /// Ends the process: SIGTERM, then SIGKILL when it has not exited after <paramref name="grace"/>. QEMU on
    /// SIGTERM stops the guest and exits at once; SIGKILL is the fallback for a wedged one. True once it has exited.
    /// </summary>
    public static async Task<bool> TerminateAsync(PidfdHandle pidfd, TimeSpan grace, TimeSpan killWait, CancellationToken cancellationToken = default)
    {
        if (HasExited(pidfd))
        {
            return true;
        }

        Signal(pidfd, LibC.SIGTERM);
        if (await WaitForExitAsync(pidfd, grace, cancellationToken).ConfigureAwait(false))
        {
            return true;
        }

        Signal(pidfd, LibC.SIGKILL);
        return await WaitForExitAsync(pidfd, killWait, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>SIGKILL at once and wait for the kernel to tear the process down; for <c>destroy</c>.</summary>
    public static Task<bool> KillAsync(PidfdHandle pidfd, TimeSpan wait, CancellationToken cancellationToken = default)
    {
        Signal(pidfd, LibC.SIGKILL);
        return WaitForExitAsync(pidfd, wait, cancellationToken);
    }
}
