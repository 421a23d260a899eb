using System.Globalization;
using System.Runtime.InteropServices;
using Vireo.Model;
using Vireo.Qemu.Process;

namespace Vireo.Qemu.Tests;

/// <summary>The launcher with ordinary programs standing in for QEMU: fd mapping, stdio, sessions, process identity.</summary>
public sealed class LauncherTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task PassedFd_ArrivesAtItsNumber_StdinIsDevNull_NothingElseLeaks()
    {
        using var dir = new TempDir();
        string marker = dir.File("passed-file");
        using var passed = File.Open(marker, FileMode.Create, FileAccess.ReadWrite);
        int fd = (int)passed.SafeFileHandle.DangerousGetHandle();
        string log = dir.File("log");

        using (QemuProcess readlink = QemuLauncher.Start(new QemuLaunchOptions
        {
            EmulatorPath = "/usr/bin/readlink",
            Arguments = ["/proc/self/fd/0", "/proc/self/fd/5"],
            LogPath = log,
            PassFds = [new QemuPassedFd(fd, 5)],
        }))
        {
            Assert.True(await readlink.WaitForExitAsync(Wait));
            Assert.Equal(new QemuExitStatus(0, null), readlink.TryReap());
        }

        Assert.Equal(["/dev/null", marker], OutputLines(log));

        // ls opens the directory itself as fd 3; every other number but 5 must be closed.
        File.Delete(log);
        using (QemuProcess ls = QemuLauncher.Start(new QemuLaunchOptions
        {
            EmulatorPath = "/bin/ls",
            Arguments = ["/proc/self/fd"],
            LogPath = log,
            PassFds = [new QemuPassedFd(fd, 5)],
        }))
        {
            Assert.True(await ls.WaitForExitAsync(Wait));
            ls.TryReap();
        }

        Assert.Equal(["0", "1", "2", "3", "5"], OutputLines(log));
    }

    [Fact]
    public async Task InheritableFdsBelowTheTargets_AreClosedInTheChild()
    {
        using var dir = new TempDir();
        using var leaky = File.Open(dir.File("leaky"), FileMode.Create);
        int leakyFd = (int)leaky.SafeFileHandle.DangerousGetHandle();
        ClearCloseOnExec(leakyFd);
        using var passed = File.Open(dir.File("passed"), FileMode.Create);
        string log = dir.File("log");

        using QemuProcess ls = QemuLauncher.Start(new QemuLaunchOptions
        {
            EmulatorPath = "/bin/ls",
            Arguments = ["/proc/self/fd"],
            LogPath = log,
            PassFds = [new QemuPassedFd((int)passed.SafeFileHandle.DangerousGetHandle(), leakyFd + 5)],
        });
        Assert.True(await ls.WaitForExitAsync(Wait));
        ls.TryReap();

        Assert.DoesNotContain(leakyFd.ToString(CultureInfo.InvariantCulture), OutputLines(log));
        Assert.Contains((leakyFd + 5).ToString(CultureInfo.InvariantCulture), OutputLines(log));
    }

    [DllImport("libc", EntryPoint = "fcntl")]
    private static extern int Fcntl(int fd, int cmd, int arg);

    private static void ClearCloseOnExec(int fd) => Assert.Equal(0, Fcntl(fd, 2 /* F_SETFD */, 0));

    [Fact]
    public async Task PassedFds_ThatCollideWithTargets_AreNotClobbered()
    {
        using var dir = new TempDir();
        using var a = File.Open(dir.File("a"), FileMode.Create);
        using var b = File.Open(dir.File("b"), FileMode.Create);
        int fa = (int)a.SafeFileHandle.DangerousGetHandle();
        int fb = (int)b.SafeFileHandle.DangerousGetHandle();
        string log = dir.File("log");

        // Swap: a goes to b's number and b to a's; naive dup2 in order would lose one of them.
        using QemuProcess p = QemuLauncher.Start(new QemuLaunchOptions
        {
            EmulatorPath = "/usr/bin/readlink",
            Arguments = [$"/proc/self/fd/{fb}", $"/proc/self/fd/{fa}"],
            LogPath = log,
            PassFds = [new QemuPassedFd(fa, fb), new QemuPassedFd(fb, fa)],
        });
        Assert.True(await p.WaitForExitAsync(Wait));
        p.TryReap();

        Assert.Equal([dir.File("a"), dir.File("b")], OutputLines(log));
    }

    [Fact]
    public async Task Child_RunsInItsOwnSession_AndTerminateMakesItAZombieThenGone()
    {
        using var dir = new TempDir();
        using QemuProcess p = QemuLauncher.Start(new QemuLaunchOptions
        {
            EmulatorPath = "/bin/sleep",
            Arguments = ["60"],
            LogPath = dir.File("log"),
        });

        string stat = File.ReadAllText($"/proc/{p.Pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        Assert.Equal(p.Pid, int.Parse(fields[3], CultureInfo.InvariantCulture)); // field 6: session id
        Assert.True(QemuProcessWatch.IsAlive(p.Pid, p.StartTime));
        Assert.False(QemuProcessWatch.IsAlive(p.Pid, p.StartTime + 1));
        Assert.False(p.HasExited);

        Assert.True(await p.TerminateAsync(TimeSpan.FromSeconds(5)));
        // Exited but not yet reaped: a zombie, which must count as dead.
        Assert.Equal('Z', ProcStat.Read(p.Pid)!.Value.State);
        Assert.False(QemuProcessWatch.IsAlive(p.Pid, p.StartTime));
        Assert.Equal(new QemuExitStatus(null, 15), p.TryReap());
        Assert.Null(ProcStat.Read(p.Pid));
    }

    [Fact]
    public async Task Attach_FindsTheRecordedProcess_OnlyWithItsStartTime()
    {
        using var dir = new TempDir();
        using QemuProcess p = QemuLauncher.Start(new QemuLaunchOptions
        {
            EmulatorPath = "/bin/sleep",
            Arguments = ["60"],
            LogPath = dir.File("log"),
        });

        Assert.Null(QemuProcess.Attach(p.Pid, p.StartTime - 1));
        using (QemuProcess? attached = QemuProcess.Attach(p.Pid, p.StartTime))
        {
            Assert.NotNull(attached);
            Assert.True(await attached.KillAsync());
        }

        Assert.True(await p.WaitForExitAsync(Wait));
        Assert.Equal(new QemuExitStatus(null, 9), p.TryReap());
        Assert.Null(QemuProcess.Attach(p.Pid, p.StartTime));
    }

    [Fact]
    public async Task WaitForExit_TimesOut_AndHonoursCancellation()
    {
        using var dir = new TempDir();
        using QemuProcess p = QemuLauncher.Start(new QemuLaunchOptions
        {
            EmulatorPath = "/bin/sleep",
            Arguments = ["60"],
            LogPath = dir.File("log"),
        });

        Assert.False(await p.WaitForExitAsync(TimeSpan.FromMilliseconds(20)));
        using var cts = new CancellationTokenSource();
        Task<bool> wait = p.WaitForExitAsync(Timeout.InfiniteTimeSpan, cts.Token);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        Assert.True(await p.KillAsync());
        p.TryReap();
    }

    [Fact]
    public void MissingEmulator_IsAClearError()
    {
        var e = Assert.Throws<VireoException>(() => QemuLauncher.Start(new QemuLaunchOptions
        {
            EmulatorPath = "/nonexistent/qemu-system-x86_64",
            Arguments = [],
            LogPath = "/tmp/unused.log",
        }));
        Assert.Equal(ErrorKind.HostUnavailable, e.Kind);
        Assert.Contains("/nonexistent/qemu-system-x86_64", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(-1)]
    public void StdioOrNegativeTargets_AreRefused(int target)
    {
        var e = Assert.Throws<VireoException>(() => QemuLauncher.Start(new QemuLaunchOptions
        {
            EmulatorPath = "/bin/true",
            Arguments = [],
            LogPath = "/tmp/unused.log",
            PassFds = [new QemuPassedFd(0, target)],
        }));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
    }

    [Fact]
    public void ProcStat_ParsesCommandNamesWithParenthesesAndSpaces()
    {
        string line = "4242 (qemu (a) b) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 3 0 987654 0 0 18446744073709551615";
        Assert.Equal(new ProcStat('S', 987654), ProcStat.Parse(line));
        Assert.Null(ProcStat.Parse("4242 (x) S 1"));
        Assert.Null(ProcStat.Parse("garbage"));
        Assert.True(new ProcStat('Z', 1).IsExited);
    }

    private static string[] OutputLines(string log)
        => File.ReadAllLines(log).Where(l => !l.Contains(": starting QEMU: ", StringComparison.Ordinal)).ToArray();
}
