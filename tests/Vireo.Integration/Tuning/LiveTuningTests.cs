using System.Text.Json;
using Vireo.Integration.Guest;
using Vireo.Integration.Infrastructure;
using Xunit.Abstractions;

namespace Vireo.Integration.Tuning;

/// <summary>
/// One running guest, tuned as packet-processing users tune theirs: &lt;cputune&gt; pins checked in the kernel's
/// Cpus_allowed_list of each QEMU thread, then every live tuning command against the same guest.
/// The machine has 2 CPUs: vCPU 0 and the I/O thread go to CPU 1, the emulator threads to CPU 0.
/// </summary>
public sealed class LiveTuningTests : IDisposable
{
    private static readonly TimeSpan Boot = TimeSpan.FromSeconds(180);
    private readonly VireoCli _vireo = new();
    private readonly TestGuest _guest = TestGuest.Get();
    private readonly ITestOutputHelper _out;

    public LiveTuningTests(ITestOutputHelper output) => _out = output;

    public void Dispose() => _vireo.Dispose();

    [Fact]
    public async Task CputunePinsThreadsAtStart_AndLiveCommandsRetuneTheRunningGuest()
    {
        string sock = Path.Combine(_vireo.Root, "serial.sock");
        string xml = Path.Combine(_vireo.Root, "pinned.xml");
        await File.WriteAllTextAsync(xml, TunedDomain.Xml(_guest, "pinned", sock, """
            <vcpu current='1'>2</vcpu>
              <iothreads>1</iothreads>
              <cputune>
                <vcpupin vcpu='0' cpuset='1'/>
                <emulatorpin cpuset='0'/>
                <iothreadpin iothread='1' cpuset='1'/>
                <shares>2048</shares>
              </cputune>
            """));
        (await _vireo.RunAsync("define", xml)).EnsureSuccess();

        // Inactive: the answers come from the definition.
        Assert.Matches(@"(?m)^ 0\s+1$", (await _vireo.RunAsync("vcpupin", "pinned")).EnsureSuccess().Stdout);
        var inactiveInfo = (await _vireo.RunAsync("vcpuinfo", "pinned")).EnsureSuccess().Stdout;
        Assert.Contains("CPU:            N/A", inactiveInfo, StringComparison.Ordinal);
        Assert.Contains("CPU Affinity:   -y", inactiveInfo, StringComparison.Ordinal);

        (await _vireo.RunAsync("start", "pinned", "--paused")).EnsureSuccess();
        await using var console = await SerialConsole.ConnectAsync(sock, TimeSpan.FromSeconds(10));
        (await _vireo.RunAsync("resume", "pinned")).EnsureSuccess();
        int pid = TunedDomain.QemuPid((await _vireo.RunAsync("dominfo", "pinned", "--json")).EnsureSuccess().Stdout);

        // (a) Pinned before the guest ran: vCPU 0 and iothread1 on CPU 1, every other QEMU thread on CPU 0.
        var threads = TunedDomain.Threads(pid);
        foreach (var (tid, (name, allowed)) in threads)
        {
            _out.WriteLine($"{tid} {name}: {allowed}");
        }

        int vcpu0 = threads.Single(t => t.Value.Name == "CPU 0/TCG").Key;
        int io1 = threads.Single(t => t.Value.Name == "IO iothread1").Key;
        Assert.Equal("1", threads[vcpu0].Allowed);
        Assert.Equal("1", threads[io1].Allowed);
        Assert.All(threads.Where(t => t.Key != vcpu0 && t.Key != io1), t => Assert.Equal("0", t.Value.Allowed));

        // vcpuinfo: the thread QMP names is the kernel's CPU 0/TCG thread; CPU and time come from its stat.
        var info = JsonDocument.Parse((await _vireo.RunAsync("vcpuinfo", "pinned", "--json")).EnsureSuccess().Stdout).RootElement;
        Assert.Equal(1, info.GetArrayLength());
        Assert.Equal(vcpu0, info[0].GetProperty("threadId").GetInt32());
        Assert.Equal(1, info[0].GetProperty("cpu").GetInt32());
        Assert.Equal("running", info[0].GetProperty("state").GetString());
        Assert.Equal("1", info[0].GetProperty("affinity").GetString());
        Assert.Matches(@"CPU Affinity:   -y\n", (await _vireo.RunAsync("vcpuinfo", "pinned")).EnsureSuccess().Stdout);
        Assert.Contains(" emulator: CPU Affinity\n----------------------------------\n       *: 0\n",
            (await _vireo.RunAsync("emulatorpin", "pinned")).EnsureSuccess().Stdout, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^ IOThread ID\s+CPU Affinity\n-+\n 1\s+1$", (await _vireo.RunAsync("iothreadinfo", "pinned")).EnsureSuccess().Stdout);

        // Bad input changes nothing: a CPU the host lacks, a vCPU beyond the maximum.
        var bad = await _vireo.RunAsync("vcpupin", "pinned", "0", "64");
        Assert.Equal(1, bad.ExitCode);
        Assert.Equal("error: cpulist '64' names CPU 64, which this host does not have (its online CPUs are 0-1)", bad.Stderr.Trim());
        bad = await _vireo.RunAsync("vcpupin", "pinned", "2", "0");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("vcpu 2 is out of range", bad.Stderr, StringComparison.Ordinal);
        Assert.Equal("1", TunedDomain.AllowedOf(pid, vcpu0));

        // Live re-pinning: the threads move, the live definition records it, the persistent one keeps its pins.
        (await _vireo.RunAsync("vcpupin", "pinned", "0", "0", "--live")).EnsureSuccess();
        Assert.Equal("0", TunedDomain.AllowedOf(pid, vcpu0));
        Assert.Matches(@"(?m)^ 0\s+0$", (await _vireo.RunAsync("vcpupin", "pinned", "--vcpu", "0")).EnsureSuccess().Stdout);
        Assert.Contains("<vcpupin vcpu=\"0\" cpuset=\"0\"", (await _vireo.RunAsync("dumpxml", "pinned")).Stdout, StringComparison.Ordinal);
        Assert.Contains("<vcpupin vcpu=\"0\" cpuset=\"1\"", (await _vireo.RunAsync("dumpxml", "pinned", "--inactive")).Stdout, StringComparison.Ordinal);
        (await _vireo.RunAsync("vcpupin", "pinned", "0", "0-1", "--config")).EnsureSuccess();
        Assert.Contains("<vcpupin vcpu=\"0\" cpuset=\"0-1\"", (await _vireo.RunAsync("dumpxml", "pinned", "--inactive")).Stdout, StringComparison.Ordinal);
        Assert.Equal("0", TunedDomain.AllowedOf(pid, vcpu0));

        (await _vireo.RunAsync("emulatorpin", "pinned", "1")).EnsureSuccess();
        Assert.Equal("1", TunedDomain.AllowedOf(pid, pid));
        Assert.Equal("0", TunedDomain.AllowedOf(pid, vcpu0));
        (await _vireo.RunAsync("iothreadpin", "pinned", "1", "0")).EnsureSuccess();
        Assert.Equal("0", TunedDomain.AllowedOf(pid, io1));
        var io = JsonDocument.Parse((await _vireo.RunAsync("iothreadinfo", "pinned", "--json")).EnsureSuccess().Stdout).RootElement;
        Assert.Equal(io1, io[0].GetProperty("threadId").GetInt32());
        Assert.Equal("0", io[0].GetProperty("affinity").GetString());
        bad = await _vireo.RunAsync("iothreadpin", "pinned", "2", "0");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("I/O thread 2 does not exist", bad.Stderr, StringComparison.Ordinal);

        await console.WaitForAsync("VIREO-GUEST-READY", Boot);

        // setvcpus: a vCPU hot-plugged into the free slot, its thread pinned like the others (all CPUs here).
        bad = await _vireo.RunAsync("setvcpus", "pinned", "3");
        Assert.Equal(1, bad.ExitCode);
        Assert.Equal("error: requested vcpus is greater than max allowable vcpus for the live domain: 3 > 2", bad.Stderr.Trim());
        (await _vireo.RunAsync("setvcpus", "pinned", "2", "--live")).EnsureSuccess();
        info = JsonDocument.Parse((await _vireo.RunAsync("vcpuinfo", "pinned", "--json")).EnsureSuccess().Stdout).RootElement;
        Assert.Equal(2, info.GetArrayLength());
        int vcpu1 = info[1].GetProperty("threadId").GetInt32();
        Assert.Equal("CPU 1/TCG", File.ReadAllText($"/proc/{pid}/task/{vcpu1}/comm").Trim());
        Assert.Equal("0-1", TunedDomain.AllowedOf(pid, vcpu1));
        Assert.Contains("<vcpu placement=\"static\">2</vcpu>", (await _vireo.RunAsync("dumpxml", "pinned")).Stdout, StringComparison.Ordinal);
        Assert.Contains("current=\"1\"", (await _vireo.RunAsync("dumpxml", "pinned", "--inactive")).Stdout, StringComparison.Ordinal);

        // ...and unplugged again once the guest has released it; the vCPU present at start cannot be.
        (await _vireo.RunAsync("setvcpus", "pinned", "1", "--live")).EnsureSuccess();
        Assert.Equal(1, JsonDocument.Parse((await _vireo.RunAsync("vcpuinfo", "pinned", "--json")).EnsureSuccess().Stdout).RootElement.GetArrayLength());
        Assert.Contains("current=\"1\">2</vcpu>", (await _vireo.RunAsync("dumpxml", "pinned")).Stdout, StringComparison.Ordinal);

        // Plugging again would make QEMU's TCG abort the guest (it keeps the unplugged vCPU's context): refused.
        bad = await _vireo.RunAsync("setvcpus", "pinned", "2", "--live");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("runs under TCG and has had a vCPU unplugged", bad.Stderr, StringComparison.Ordinal);
        Assert.Equal("running", (await _vireo.RunAsync("domstate", "pinned")).EnsureSuccess().Stdout.Trim());

        // setmem: the balloon takes memory from the guest, which sees its MemTotal shrink.
        bad = await _vireo.RunAsync("setmem", "pinned", "300M");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("cannot set memory higher than max memory", bad.Stderr, StringComparison.Ordinal);
        long before = await GuestMemTotalKiB(console);
        (await _vireo.RunAsync("setmem", "pinned", "160M", "--live")).EnsureSuccess();
        long after = before;
        for (int i = 0; i < 50 && after > before - (80 << 10); i++)
        {
            after = await GuestMemTotalKiB(console);
        }

        _out.WriteLine($"guest MemTotal {before} KiB -> {after} KiB");
        Assert.True(after <= before - (80 << 10), $"the guest's MemTotal went from {before} to {after} KiB only");
        Assert.Contains("Used memory:    163840 KiB", (await _vireo.RunAsync("dominfo", "pinned")).Stdout, StringComparison.Ordinal);
        bad = await _vireo.RunAsync("setmaxmem", "pinned", "512M");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("cannot resize the maximum memory of running domain", bad.Stderr, StringComparison.Ordinal);

        // numatune and schedinfo: what is supported is said plainly.
        Assert.Equal("numa_mode      : strict\nnuma_nodeset   : \n\n", (await _vireo.RunAsync("numatune", "pinned")).EnsureSuccess().Stdout);
        bad = await _vireo.RunAsync("numatune", "pinned", "--nodeset", "0");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("not supported", bad.Stderr, StringComparison.Ordinal);
        bad = await _vireo.RunAsync("numatune", "pinned", "--nodeset", "7", "--config");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("nodeset '7' names NUMA node 7, which this host does not have", bad.Stderr, StringComparison.Ordinal);
        (await _vireo.RunAsync("numatune", "pinned", "--nodeset", "0", "--mode", "preferred", "--config")).EnsureSuccess();
        Assert.Equal("numa_mode      : preferred\nnuma_nodeset   : 0\n\n", (await _vireo.RunAsync("numatune", "pinned", "--config")).EnsureSuccess().Stdout);
        var sched = (await _vireo.RunAsync("schedinfo", "pinned")).EnsureSuccess().Stdout;
        Assert.StartsWith("Scheduler      : posix\ncpu_shares     : 2048\n", sched, StringComparison.Ordinal);

        (await _vireo.RunAsync("destroy", "pinned")).EnsureSuccess();
        Assert.Contains("<vcpupin vcpu=\"0\" cpuset=\"0-1\"", (await _vireo.RunAsync("dumpxml", "pinned")).Stdout, StringComparison.Ordinal);
        (await _vireo.RunAsync("setvcpus", "pinned", "2", "--config")).EnsureSuccess();
        (await _vireo.RunAsync("setmaxmem", "pinned", "192M")).EnsureSuccess();
        string persistent = (await _vireo.RunAsync("dumpxml", "pinned")).Stdout;
        Assert.Contains("<vcpu placement=\"static\">2</vcpu>", persistent, StringComparison.Ordinal);
        Assert.Contains("<memory unit=\"KiB\">196608</memory>", persistent, StringComparison.Ordinal);
        Assert.Contains("<currentMemory unit=\"KiB\">196608</currentMemory>", persistent, StringComparison.Ordinal);
    }

    private static async Task<long> GuestMemTotalKiB(SerialConsole console)
    {
        string line = await console.RunAsync("grep MemTotal /proc/meminfo", TimeSpan.FromSeconds(30));
        return long.Parse(new string(line.Where(char.IsAsciiDigit).ToArray()), System.Globalization.CultureInfo.InvariantCulture);
    }
}
