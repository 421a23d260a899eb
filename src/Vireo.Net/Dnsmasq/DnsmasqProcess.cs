using System.Globalization;
using System.Runtime.InteropServices;
using Vireo.Model;

namespace Vireo.Net.Dnsmasq;

/// <summary>
/// One network's dnsmasq: started with <c>--conf-file=</c> and left to daemonize (its parent exits with a
/// non-zero code and a message when the configuration or the sockets are wrong, so start errors are synchronous),
/// found again by its pid file, and recognised by its command line before it is signalled — a pid file that
/// outlived a crash must never make Vireo kill an unrelated process that reused the pid.
/// </summary>
public static partial class DnsmasqProcess
{
    private const int SigTerm = 15;
    private const int SigKill = 9;
    private const int SigHup = 1;

    public static async Task<int> StartAsync(string confFile, string pidFile, CancellationToken ct = default)
    {
        string dnsmasq = ExternalTool.Locate("dnsmasq", "dnsmasq-base");
        File.Delete(pidFile);
        var r = await ExternalTool.RunAsync(dnsmasq, [$"--conf-file={confFile}"], ct: ct).ConfigureAwait(false);
        if (r.ExitCode != 0)
        {
            throw new VireoException(ErrorKind.OperationFailed, $"dnsmasq failed to start (exit {r.ExitCode}): {(r.StdErr + r.StdOut).Trim()}");
        }

        return FindRunning(pidFile, confFile)
            ?? throw new VireoException(ErrorKind.OperationFailed, $"dnsmasq started but wrote no usable pid file {pidFile}");
    }

    /// <summary>The pid of the dnsmasq that uses <paramref name="confFile"/>, if the pid file names a live one.</summary>
    public static int? FindRunning(string pidFile, string confFile)
    {
        string text;
        try
        {
            text = File.ReadAllText(pidFile).Trim();
        }
        catch (IOException)
        {
            return null;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid <= 1)
        {
            return null;
        }

        return IsOurs(pid, confFile) ? pid : null;
    }

    /// <summary>True when /proc says <paramref name="pid"/> is a live (not zombie) dnsmasq started with this config.</summary>
    public static bool IsOurs(int pid, string confFile)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            if (close < 0 || close + 2 >= stat.Length || stat[close + 2] is 'Z' or 'X')
            {
                return false;
            }

            var argv = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
            return argv.Length > 0 && Path.GetFileName(argv[0]) == "dnsmasq" && argv.Contains($"--conf-file={confFile}");
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Re-reads dhcp-hostsfile and addn-hosts (dnsmasq does so on SIGHUP).</summary>
    public static void Reload(string pidFile, string confFile)
    {
        if (FindRunning(pidFile, confFile) is int pid)
        {
            _ = Kill(pid, SigHup);
        }
    }

    /// <summary>Stops the network's dnsmasq and waits for it to exit; nothing running is not an error.</summary>
    public static async Task StopAsync(string pidFile, string confFile, CancellationToken ct = default)
    {
        if (FindRunning(pidFile, confFile) is not int pid)
        {
            File.Delete(pidFile);
            return;
        }

        // A pidfd pins the process identity: after it is open, signals cannot reach a recycled pid.
        int pidfd = PidfdOpen(pid);
        try
        {
            if (pidfd < 0 || !IsOurs(pid, confFile))
            {
                return;
            }

            _ = PidfdSendSignal(pidfd, SigTerm);
            if (!await WaitExitAsync(pidfd, TimeSpan.FromSeconds(5), ct).ConfigureAwait(false))
            {
                _ = PidfdSendSignal(pidfd, SigKill);
                await WaitExitAsync(pidfd, TimeSpan.FromSeconds(5), ct).ConfigureAwait(false);
            }
        }
        finally
        {
            if (pidfd >= 0)
            {
                _ = Close(pidfd);
            }

            File.Delete(pidFile);
        }
    }

    private static async Task<bool> WaitExitAsync(int pidfd, TimeSpan timeout, CancellationToken ct)
    {
        // A pidfd polls readable when the process exits (before its parent — PID 1 here — reaps it).
        return await Task.Run(() =>
        {
            var pfd = new PollFd { Fd = pidfd, Events = 1 /* POLLIN */ };
            var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            while (!ct.IsCancellationRequested)
            {
                int left = (int)Math.Max(0, deadline - Environment.TickCount64);
                int r = Poll(ref pfd, 1, Math.Min(left, 250));
                if (r > 0)
                {
                    return true;
                }

                if (left == 0)
                {
                    return false;
                }
            }

            return false;
        }, ct).ConfigureAwait(false);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    private static int PidfdOpen(int pid) => (int)Syscall(434 /* pidfd_open */, pid, 0);

    private static int PidfdSendSignal(int pidfd, int sig) => (int)Syscall(424 /* pidfd_send_signal */, pidfd, sig, 0, 0);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long a1, long a2);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long a1, long a2, long a3, long a4);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int sig);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(ref PollFd fds, int nfds, int timeout);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
