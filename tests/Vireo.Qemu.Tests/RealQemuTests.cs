using System.Diagnostics;
using Vireo.Model;
using Vireo.Qemu.Process;
using Vireo.Qemu.Qmp;
using Xunit.Abstractions;

namespace Vireo.Qemu.Tests;

/// <summary>The launcher and QMP client against the real qemu-system-x86_64 (TCG, no disks).</summary>
public sealed class RealQemuTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static readonly string[] MachineNone = ["-S", "-nodefaults", "-no-user-config", "-machine", "none", "-accel", "tcg", "-display", "none"];

    private static readonly string[] TinyPc =
        ["-S", "-nodefaults", "-no-user-config", "-machine", "pc", "-accel", "tcg", "-m", "32", "-smp", "2", "-display", "none",
         "-object", "iothread,id=io1", "-chardev", "pty,id=serial0", "-serial", "chardev:serial0"];

    private static QemuLaunchOptions Options(TempDir dir, string[] arguments) => new()
    {
        Arguments = arguments,
        LogPath = dir.File("qemu.log"),
        QmpSocketPath = dir.File("qmp.sock"),
    };

    [Fact]
    public async Task Lifecycle_QueryStatus_Cont_Stop_Quit()
    {
        using var dir = new TempDir();
        (QemuProcess process, QmpClient qmp) = await QemuLauncher.LaunchAsync(Options(dir, MachineNone), Wait);
        using (process)
        await using (qmp)
        {
            Assert.Equal(7, qmp.Version.Major);
            Assert.Equal(new QmpStatus("prelaunch", false), await qmp.QueryStatusAsync());

            Task<QmpEvent> resumed = qmp.WaitForEventAsync(QmpEventKind.Resume, Wait);
            await qmp.ContAsync();
            await resumed;
            Assert.Equal(new QmpStatus("running", true), await qmp.QueryStatusAsync());

            Task<QmpEvent> stopped = qmp.WaitForEventAsync(QmpEventKind.Stop, Wait);
            await qmp.StopAsync();
            await stopped;
            Assert.Equal(new QmpStatus("paused", false), await qmp.QueryStatusAsync());

            Task<QmpEvent> shutdown = qmp.WaitForEventAsync(QmpEventKind.Shutdown, Wait);
            await qmp.QuitAsync();
            QmpEvent e = await shutdown;
            Assert.False(e.Guest);
            Assert.Equal("host-qmp-quit", e.Reason);
            await qmp.Closed.WaitAsync(Wait);
            Assert.True(await process.WaitForExitAsync(Wait));
            Assert.Equal(new QemuExitStatus(0, null), process.TryReap());

            var late = await Assert.ThrowsAsync<VireoException>(() => qmp.QueryStatusAsync());
            Assert.Equal(ErrorKind.OperationFailed, late.Kind);
        }
    }

    [Fact]
    public async Task Machine_CpuThreads_IoThreads_ResetAndPowerdownEvents_Hmp_Raw()
    {
        using var dir = new TempDir();
        (QemuProcess process, QmpClient qmp) = await QemuLauncher.LaunchAsync(Options(dir, TinyPc), Wait);
        using (process)
        await using (qmp)
        {
            IReadOnlyDictionary<int, int> cpus = await qmp.QueryCpusFastAsync();
            Assert.Equal([0, 1], cpus.Keys);
            Assert.All(cpus.Values, tid => Assert.True(File.Exists($"/proc/{process.Pid}/task/{tid}/stat")));

            IReadOnlyList<QmpIoThread> io = await qmp.QueryIoThreadsAsync();
            Assert.Equal("io1", Assert.Single(io).Id);

            await qmp.ContAsync();
            Task<QmpEvent> reset = qmp.WaitForEventAsync(QmpEventKind.Reset, Wait);
            await qmp.SystemResetAsync();
            Assert.Equal("host-qmp-system-reset", (await reset).Reason);

            Task<QmpEvent> powerdown = qmp.WaitForEventAsync(QmpEventKind.Powerdown, Wait);
            await qmp.SystemPowerdownAsync();
            await powerdown;

            Assert.Contains("VM status: running", await qmp.HumanMonitorCommandAsync("info status"), StringComparison.Ordinal);
            QmpChardev serial = Assert.Single(await qmp.QueryChardevAsync(), c => c.Label == "serial0");
            Assert.StartsWith("/dev/pts/", serial.PtyPath, StringComparison.Ordinal);
            Assert.Equal((false, true), await qmp.QueryKvmAsync());
            string raw = await qmp.RawAsync("""{"execute": "query-kvm", "id": 7}""");
            Assert.Equal("""{"return":{"enabled":false,"present":true},"id":7}""", raw);

            var error = await Assert.ThrowsAsync<QmpException>(() => qmp.ExecuteAsync("device_del", w => w.WriteString("id", "nope")));
            Assert.Equal("DeviceNotFound", error.ErrorClass);

            Assert.True(await process.KillAsync());
            await qmp.Closed.WaitAsync(Wait);
            process.TryReap();
        }
    }

    [Fact]
    public async Task ManyConcurrentCommands_EachGetsItsOwnReply()
    {
        using var dir = new TempDir();
        (QemuProcess process, QmpClient qmp) = await QemuLauncher.LaunchAsync(Options(dir, MachineNone), Wait);
        using (process)
        await using (qmp)
        {
            // Alternate two commands with different reply shapes: a mix-up would show as a missing member.
            Task<bool>[] replies = Enumerable.Range(0, 200).Select(async i => i % 2 == 0
                ? (await qmp.ExecuteAsync("query-status", timeout: Wait)).TryGetProperty("status", out _)
                : (await qmp.ExecuteAsync("query-kvm", timeout: Wait)).TryGetProperty("present", out _)).ToArray();
            Assert.All(await Task.WhenAll(replies), Assert.True);
            await process.KillAsync();
            process.TryReap();
        }
    }

    [Fact]
    public void SocketPathInAMissingDirectory_IsAClearError()
    {
        using var dir = new TempDir();
        var options = new QemuLaunchOptions { Arguments = MachineNone, LogPath = dir.File("qemu.log"), QmpSocketPath = dir.File("nodir/qmp.sock") };
        var e = Assert.Throws<VireoException>(() => QemuLauncher.Start(options));
        Assert.Contains(dir.File("nodir/qmp.sock"), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetFd_SendsADescriptorQemuCanName()
    {
        using var dir = new TempDir();
        (QemuProcess process, QmpClient qmp) = await QemuLauncher.LaunchAsync(Options(dir, MachineNone), Wait);
        using (process)
        await using (qmp)
        {
            using var file = File.Open(dir.File("fd-target"), FileMode.Create);
            await qmp.GetFdAsync("probe", file.SafeFileHandle);

            // QEMU now holds a descriptor to the same file.
            string[] links = Directory.GetFiles($"/proc/{process.Pid}/fd").Select(f => new FileInfo(f).LinkTarget ?? "").ToArray();
            Assert.Contains(dir.File("fd-target"), links);

            await qmp.ExecuteAsync("closefd", w => w.WriteString("fdname", "probe"));
            var e = await Assert.ThrowsAsync<QmpException>(() => qmp.ExecuteAsync("closefd", w => w.WriteString("fdname", "probe")));
            Assert.Contains("probe", e.Description, StringComparison.Ordinal);

            await qmp.QuitAsync();
            await process.WaitForExitAsync(Wait);
            process.TryReap();
        }
    }

    [Fact]
    public async Task PassedFd_AndQmpSocket_ReachQemuTogether()
    {
        using var dir = new TempDir();
        using var file = File.Open(dir.File("passed"), FileMode.Create);
        QemuLaunchOptions options = Options(dir, MachineNone);
        options = new QemuLaunchOptions
        {
            Arguments = options.Arguments,
            LogPath = options.LogPath,
            QmpSocketPath = options.QmpSocketPath,
            PassFds = [new QemuPassedFd((int)file.SafeFileHandle.DangerousGetHandle(), 10)],
        };
        (QemuProcess process, QmpClient qmp) = await QemuLauncher.LaunchAsync(options, Wait);
        using (process)
        await using (qmp)
        {
            Assert.Equal(dir.File("passed"), new FileInfo($"/proc/{process.Pid}/fd/10").LinkTarget);
            // The monitor socket went in right above the caller's fds; the log names it in the command line.
            Assert.Contains("fd=11,server=on,wait=off", File.ReadAllText(dir.File("qemu.log")), StringComparison.Ordinal);
            Assert.DoesNotContain(dir.File("passed"), Directory.GetFiles($"/proc/{process.Pid}/fd")
                .Where(f => Path.GetFileName(f) != "10").Select(f => new FileInfo(f).LinkTarget));
            await process.KillAsync();
            process.TryReap();
        }
    }

    [Fact]
    public async Task PrivateChannels_AndTheSocketPath_AreThreeMonitorsSeeingTheSameEvents()
    {
        using var dir = new TempDir();
        QemuLaunchOptions options = new()
        {
            Arguments = MachineNone,
            LogPath = dir.File("qemu.log"),
            QmpSocketPath = dir.File("qmp.sock"),
            PrivateQmpChannels = 2,
        };
        (QemuProcess process, QmpClient first) = await QemuLauncher.LaunchAsync(options, Wait);
        using (process)
        await using (first)
        await using (QmpClient second = await QmpClient.AttachAsync(process.PrivateQmpSockets[1], "channel 2"))
        await using (QmpClient byPath = await QmpClient.ConnectAsync(dir.File("qmp.sock")))
        {
            Assert.Equal(2, process.PrivateQmpSockets.Count);
            Task<QmpEvent> resumedOnSecond = second.WaitForEventAsync(QmpEventKind.Resume, Wait);
            Task<QmpEvent> resumedByPath = byPath.WaitForEventAsync(QmpEventKind.Resume, Wait);
            await first.ContAsync();
            await resumedOnSecond;
            await resumedByPath;
            Assert.True((await byPath.QueryStatusAsync()).Running);

            Task<QmpEvent> shutdownOnSecond = second.WaitForEventAsync(QmpEventKind.Shutdown, Wait);
            await first.QuitAsync();
            Assert.Equal("host-qmp-quit", (await shutdownOnSecond).Reason);
            await Task.WhenAll(first.Closed, second.Closed, byPath.Closed).WaitAsync(Wait);
            Assert.True(await process.WaitForExitAsync(Wait));
            process.TryReap();
        }
    }

    [Fact]
    public async Task QemuDyingEarly_ReportsItsLogTail_AndLeavesNothingRunning()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("qemu.log"), "old run noise\n");
        var e = await Assert.ThrowsAsync<VireoException>(() => QemuLauncher.LaunchAsync(Options(dir, [.. MachineNone, "-no-such-option"]), Wait));

        Assert.Equal(ErrorKind.OperationFailed, e.Kind);
        Assert.Contains("-no-such-option", e.Message, StringComparison.Ordinal);
        Assert.Contains("exit status 1", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("old run noise", e.Message, StringComparison.Ordinal);
        // The log records the command line that failed.
        Assert.Contains("-no-such-option", File.ReadAllText(dir.File("qemu.log")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task QemuDyingEarly_OnAPrivateChannel_AlsoReportsItsLog()
    {
        using var dir = new TempDir();
        var options = new QemuLaunchOptions { Arguments = [.. MachineNone, "-no-such-option"], LogPath = dir.File("qemu.log"), PrivateQmpChannels = 1 };
        var e = await Assert.ThrowsAsync<VireoException>(() => QemuLauncher.LaunchAsync(options, Wait));
        Assert.Contains("-no-such-option", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kill_ClosesQmp_AndTheProcessIsNoLongerAlive()
    {
        using var dir = new TempDir();
        (QemuProcess process, QmpClient qmp) = await QemuLauncher.LaunchAsync(Options(dir, MachineNone), Wait);
        using (process)
        await using (qmp)
        {
            Task<QmpStatus> status = qmp.QueryStatusAsync();
            await status;
            Assert.True(QemuProcessWatch.IsAlive(process.Pid, process.StartTime));
            Assert.True(await process.KillAsync());
            await qmp.Closed.WaitAsync(Wait);
            Assert.False(QemuProcessWatch.IsAlive(process.Pid, process.StartTime));
            Assert.Equal(new QemuExitStatus(null, 9), process.TryReap());
        }
    }

    /// <summary>The figures for the report: spawn → greeting, qmp_capabilities round trip, cont round trip.</summary>
    [Fact]
    public async Task Latency_SpawnToGreeting_Capabilities_Cont()
    {
        var greeting = new List<double>();
        var capabilities = new List<double>();
        var cont = new List<double>();
        for (int i = 0; i < 5; i++)
        {
            using var dir = new TempDir();
            long spawn = Stopwatch.GetTimestamp();
            (QemuProcess process, QmpClient qmp) = await QemuLauncher.LaunchAsync(Options(dir, MachineNone), Wait);
            using (process)
            await using (qmp)
            {
                long beforeCont = Stopwatch.GetTimestamp();
                await qmp.ContAsync();
                long afterCont = Stopwatch.GetTimestamp();
                greeting.Add(Stopwatch.GetElapsedTime(spawn, qmp.GreetingTimestamp).TotalMilliseconds);
                capabilities.Add(Stopwatch.GetElapsedTime(qmp.GreetingTimestamp, qmp.NegotiatedTimestamp).TotalMilliseconds);
                cont.Add(Stopwatch.GetElapsedTime(beforeCont, afterCont).TotalMilliseconds);
                await process.KillAsync();
                process.TryReap();
            }
        }

        string line = $"QMP latency (median of 5, -machine none): spawn->greeting {Median(greeting):0.0} ms, "
            + $"qmp_capabilities {Median(capabilities):0.00} ms, cont {Median(cont):0.00} ms";
        output.WriteLine(line);
        Console.WriteLine(line);
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
}
