using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Vireo.Model;
using Vireo.Qemu.Native;

namespace Vireo.Qemu.Process;

/// <summary>
/// Starts QEMU detached from the short-lived vireo process: posix_spawn (no shell, no fork of the .NET runtime)
/// in a new session, stdin from /dev/null, stdout and stderr appended to the domain's log, chosen descriptors
/// at chosen numbers and every other descriptor closed. .NET's Process class can do neither the fd mapping
/// nor setsid, hence the direct call.
/// </summary>
public static partial class QemuLauncher
{
    public const string DefaultEmulatorPath = "/usr/bin/qemu-system-x86_64";

    /// <summary>The chardev id of the monitor the launcher adds for <see cref="QemuLaunchOptions.QmpSocketPath"/>.</summary>
    public const string QmpChardevId = "vireo-qmp";

    internal const string LogHeaderMarker = ": starting QEMU: ";

    private const int MaxUnixPathBytes = 107;

    /// <summary>The emulator to run: the given path, or the default; a clear error when it is not there.</summary>
    public static string FindEmulator(string? path = null)
    {
        string emulator = string.IsNullOrEmpty(path) ? DefaultEmulatorPath : path;
        if (!File.Exists(emulator))
        {
            throw new VireoException(ErrorKind.HostUnavailable,
                $"QEMU emulator '{emulator}' not found; install the Debian package qemu-system-x86 (apt-get install qemu-system-x86)");
        }

        if (LibC.Access(emulator, LibC.X_OK) != 0)
        {
            throw new VireoException(ErrorKind.HostUnavailable, $"QEMU emulator '{emulator}' is not executable");
        }

        return emulator;
    }

    /// <summary>The QEMU arguments that make an inherited listening socket at <paramref name="fd"/> the QMP monitor.</summary>
    public static string[] MonitorArguments(int fd) =>
    [
        "-chardev", $"socket,id={QmpChardevId},fd={fd.ToString(CultureInfo.InvariantCulture)},server=on,wait=off",
        "-mon", $"chardev={QmpChardevId},mode=control",
    ];

    /// <summary>
    /// Starts QEMU and returns at once, QEMU still initialising. With a QMP socket path the monitor socket
    /// already listens, so <see cref="Qmp.QmpClient.ConnectAsync(string, TimeSpan?, CancellationToken)"/> can follow
    /// immediately; <see cref="LaunchAsync"/> does both.
    /// </summary>
    public static QemuProcess Start(QemuLaunchOptions options)
    {
        string emulator = FindEmulator(options.EmulatorPath);
        ValidateFds(options.PassFds);

        var arguments = new List<string>(options.Arguments.Count + 4);
        arguments.AddRange(options.Arguments);

        int listener = -1;
        var qemuEnds = new List<int>();
        var ourEnds = new List<Socket>();
        var fds = new List<QemuPassedFd>(options.PassFds);
        int nextTarget = Math.Max(2, fds.Count == 0 ? 2 : fds.Max(f => f.TargetFd)) + 1;
        bool started = false;
        try
        {
            if (options.QmpSocketPath is { } socketPath)
            {
                listener = Listen(socketPath);
                fds.Add(new QemuPassedFd(listener, nextTarget));
                arguments.AddRange(MonitorArguments(nextTarget++));
            }

            for (int i = 1; i <= options.PrivateQmpChannels; i++)
            {
                (Socket ours, int theirs) = CreateChannel();
                ourEnds.Add(ours);
                qemuEnds.Add(theirs);
                string id = $"{QmpChardevId}{i.ToString(CultureInfo.InvariantCulture)}";
                fds.Add(new QemuPassedFd(theirs, nextTarget));
                arguments.AddRange(["-chardev", $"socket,id={id},fd={nextTarget.ToString(CultureInfo.InvariantCulture)}", "-mon", $"chardev={id},mode=control"]);
                nextTarget++;
            }

            int logFd = OpenLog(options.LogPath, emulator, arguments);
            try
            {
                int pid = Spawn(emulator, arguments, logFd, fds, options.Environment);
                PidfdHandle pidfd = QemuProcessWatch.OpenChild(pid);
                // Read right away: the child cannot have been reaped (only we can), so the start time is its own.
                ulong startTime = ProcStat.Read(pid)?.StartTime ?? 0;
                started = true;
                return new QemuProcess(pid, startTime, pidfd, options.LogPath, options.QmpSocketPath) { PrivateQmpSockets = ourEnds };
            }
            finally
            {
                LibC.Close(logFd);
            }
        }
        finally
        {
            // QEMU holds its own copies; ours would only keep a dead QEMU's monitor looking alive.
            if (listener >= 0)
            {
                LibC.Close(listener);
            }

            foreach (int fd in qemuEnds)
            {
                LibC.Close(fd);
            }

            if (!started)
            {
                ourEnds.ForEach(s => s.Dispose());
                if (listener >= 0)
                {
                    File.Delete(options.QmpSocketPath!);
                }
            }
        }
    }

    private static unsafe (Socket Ours, int Theirs) CreateChannel()
    {
        int* pair = stackalloc int[2];
        if (LibC.SocketPair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0, pair) != 0)
        {
            throw new VireoException(ErrorKind.OperationFailed, $"cannot create a QMP socketpair: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        }

        return (new Socket(new SafeSocketHandle(pair[0], ownsHandle: true)), pair[1]);
    }

    /// <summary>
    /// Starts QEMU (normally with <c>-S</c>) and connects to its QMP monitor. When QEMU exits before the monitor
    /// answers, the error carries its exit status and the tail of its log; the process is never left behind.
    /// </summary>
    public static async Task<(QemuProcess Process, Qmp.QmpClient Qmp)> LaunchAsync(
        QemuLaunchOptions options, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (options.QmpSocketPath is null && options.PrivateQmpChannels == 0)
        {
            throw new ArgumentException("LaunchAsync needs QmpSocketPath or a private QMP channel", nameof(options));
        }

        TimeSpan wait = timeout ?? TimeSpan.FromSeconds(30);
        QemuProcess process = Start(options);
        try
        {
            Qmp.QmpClient qmp = await ConnectAsync(process, wait, cancellationToken).ConfigureAwait(false);
            return (process, qmp);
        }
        catch
        {
            await process.KillAsync(CancellationToken.None).ConfigureAwait(false);
            process.TryReap();
            foreach (Socket socket in process.PrivateQmpSockets)
            {
                socket.Dispose();
            }

            process.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Connects to the QMP monitor of a just-started QEMU, turning an early exit into a useful error: through
    /// the first private channel when there is one (it then belongs to the returned client), else the socket path.
    /// </summary>
    public static async Task<Qmp.QmpClient> ConnectAsync(QemuProcess process, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        string socketPath = process.PrivateQmpSockets.Count > 0 ? "private QMP channel 1"
            : process.QmpSocketPath ?? throw new ArgumentException("process has no QMP socket", nameof(process));
        using var exitWatch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task<bool> exited = process.WaitForExitAsync(timeout, exitWatch.Token);
        Task<Qmp.QmpClient> connect = process.PrivateQmpSockets.Count > 0
            ? Qmp.QmpClient.AttachAsync(process.PrivateQmpSockets[0], $"QEMU {process.Pid}'s private QMP channel", timeout, cancellationToken)
            : Qmp.QmpClient.ConnectAsync(socketPath, timeout, cancellationToken);
        Task first = await Task.WhenAny(connect, exited).ConfigureAwait(false);
        if (first == connect && connect.IsCompletedSuccessfully)
        {
            exitWatch.Cancel();
            try
            {
                await exited.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            return connect.Result;
        }

        // Either QEMU exited or the connection failed (which it does when QEMU dies and its socket closes).
        bool hasExited = first == exited ? exited.Result : process.HasExited;
        exitWatch.Cancel();
        _ = connect.ContinueWith(
            t =>
            {
                if (t.IsCompletedSuccessfully)
                {
                    t.Result.Dispose();
                }
                else
                {
                    _ = t.Exception; // observed: the error we report is the better one
                }
            },
            CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        if (hasExited || await process.WaitForExitAsync(TimeSpan.FromMilliseconds(200), CancellationToken.None).ConfigureAwait(false))
        {
            QemuExitStatus? status = process.TryReap();
            string tail = process.ReadLogTail();
            string how = status is { } s ? $" ({s})" : "";
            throw new VireoException(ErrorKind.OperationFailed,
                tail.Length == 0
                    ? $"QEMU exited before its QMP monitor came up{how}"
                    : $"QEMU exited before its QMP monitor came up{how}: {tail}");
        }

        if (first == exited)
        {
            throw new VireoException(ErrorKind.Timeout,
                $"QEMU (pid {process.Pid}) did not answer on its QMP socket '{socketPath}' within {timeout.TotalSeconds:0.#} s");
        }

        await connect.ConfigureAwait(false); // rethrows the connection error
        throw new InvalidOperationException("unreachable");
    }

    private static void ValidateFds(IReadOnlyList<QemuPassedFd> fds)
    {
        var seen = new HashSet<int>();
        foreach (QemuPassedFd fd in fds)
        {
            if (fd.TargetFd < 3)
            {
                throw VireoException.Invalid($"fd number {fd.TargetFd} for QEMU is reserved for stdio; use 3 or above");
            }

            if (!seen.Add(fd.TargetFd))
            {
                throw VireoException.Invalid($"fd number {fd.TargetFd} for QEMU is given twice");
            }

            if (fd.SourceFd < 0)
            {
                throw VireoException.Invalid($"invalid descriptor {fd.SourceFd} to pass to QEMU as fd {fd.TargetFd}");
            }
        }
    }

    /// <summary>
    /// A listening UNIX socket made with plain syscalls: .NET's Socket would, on Dispose, shut down and unlink
    /// what is now QEMU's monitor socket too. Returns the descriptor; the caller closes it after the spawn.
    /// </summary>
    private static unsafe int Listen(string path)
    {
        int length = Encoding.UTF8.GetByteCount(path);
        if (length > MaxUnixPathBytes)
        {
            throw VireoException.Invalid($"QMP socket path '{path}' is longer than the {MaxUnixPathBytes} bytes a UNIX socket allows");
        }

        // A socket file left by a QEMU that died is only a name; the caller holds the domain lock.
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VireoException(ErrorKind.OperationFailed, $"cannot replace QMP socket '{path}': {e.Message}", e);
        }

        int fd = LibC.Socket(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new VireoException(ErrorKind.OperationFailed, $"cannot create QMP socket: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        }

        // struct sockaddr_un: sa_family_t (2 bytes) then the NUL-terminated path.
        byte* address = stackalloc byte[110];
        new Span<byte>(address, 110).Clear();
        *(ushort*)address = LibC.AF_UNIX;
        Encoding.UTF8.GetBytes(path, new Span<byte>(address + 2, length));
        if (LibC.Bind(fd, address, 2 + length + 1) != 0 || LibC.Chmod(path, 0b110_000_000) != 0 || LibC.Listen(fd, 16) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            LibC.Close(fd);
            throw new VireoException(ErrorKind.OperationFailed, $"cannot listen on QMP socket '{path}': {LibC.ErrorText(errno)}");
        }

        return fd;
    }

    private static unsafe int OpenLog(string path, string emulator, List<string> arguments)
    {
        int fd = LibC.Open(path, LibC.O_WRONLY | LibC.O_APPEND | LibC.O_CREAT | LibC.O_CLOEXEC, 0b110_000_000);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new VireoException(ErrorKind.OperationFailed, $"cannot open QEMU log '{path}': {LibC.ErrorText(errno)}");
        }

        // Like libvirt's domain log: each start opens with the exact command line, shell-quoted for copy and paste.
        var header = new StringBuilder();
        header.Append(DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss.fff'+0000'", CultureInfo.InvariantCulture));
        header.Append(LogHeaderMarker).Append(ShellQuote(emulator));
        foreach (string arg in arguments)
        {
            header.Append(' ').Append(ShellQuote(arg));
        }

        header.Append('\n');
        byte[] bytes = Encoding.UTF8.GetBytes(header.ToString());
        fixed (byte* p = bytes)
        {
            LibC.Write(fd, p, (nuint)bytes.Length);
        }

        return fd;
    }

    private static string ShellQuote(string arg)
    {
        bool plain = arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '=' or ',' or '.' or '/' or ':' or '+');
        return plain ? arg : "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }
}
