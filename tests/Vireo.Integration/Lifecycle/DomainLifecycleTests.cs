using System.Text.Json;
using Vireo.Integration.Guest;
using Vireo.Integration.Infrastructure;
using Xunit.Abstractions;

namespace Vireo.Integration.Lifecycle;

/// <summary>
/// The whole life of a real guest through the real CLI binary: define, start, console, suspend/resume,
/// ACPI shutdown, a guest that powers itself off, destroy, and a QEMU killed behind Vireo's back.
/// </summary>
public sealed class DomainLifecycleTests : IDisposable
{
    private static readonly TimeSpan Boot = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(60);
    private readonly VireoCli _vireo = new();
    private readonly TestGuest _guest = TestGuest.Get();
    private readonly ITestOutputHelper _out;

    public DomainLifecycleTests(ITestOutputHelper output) => _out = output;

    public void Dispose() => _vireo.Dispose();

    [Fact]
    public async Task WholeLife_StartConsoleSuspendResumeAcpiShutdown()
    {
        string sock = Path.Combine(_vireo.Root, "serial.sock");
        string disk = Path.Combine(_vireo.Root, "data.img");
        await using (var f = File.Create(disk))
        {
            f.SetLength(32L << 20);
        }

        string xml = Path.Combine(_vireo.Root, "web1.xml");
        await File.WriteAllTextAsync(xml, GuestDomain.Xml(_guest, "web1", serialSocket: sock, dataDisk: disk));

        var define = (await _vireo.RunAsync("define", xml)).EnsureSuccess();
        Assert.Equal($"Domain 'web1' defined from {xml}", define.Stdout.Trim());
        Assert.Equal("shut off", (await _vireo.RunAsync("domstate", "web1")).EnsureSuccess().Stdout.Trim());

        // Start paused so the console sees the guest from its first byte, then let it run.
        Assert.Equal("Domain 'web1' started", (await _vireo.RunAsync("start", "web1", "--paused")).EnsureSuccess().Stdout.Trim());
        Assert.Equal("paused (user)", (await _vireo.RunAsync("domstate", "web1", "--reason")).EnsureSuccess().Stdout.Trim());
        await using var console = await SerialConsole.ConnectAsync(sock, TimeSpan.FromSeconds(10));
        Assert.Equal("Domain 'web1' resumed", (await _vireo.RunAsync("resume", "web1")).EnsureSuccess().Stdout.Trim());
        Assert.Equal("running (unpaused)", (await _vireo.RunAsync("domstate", "web1", "--reason")).EnsureSuccess().Stdout.Trim());

        await console.WaitForAsync("VIREO-GUEST-READY", Boot);
        string disks = await console.WaitForLineAsync("VIREO-DISKS", TimeSpan.FromSeconds(5));
        Assert.Contains("vda:33554432", disks, StringComparison.Ordinal);
        Assert.Equal("vireo-guest", await console.RunAsync("hostname", TimeSpan.FromSeconds(30)));

        var list = (await _vireo.RunAsync("list")).EnsureSuccess().Stdout;
        _out.WriteLine(list);
        Assert.Matches(@"(?m)^\s*\d+\s+web1\s+running\s*$", list);
        var info = (await _vireo.RunAsync("dominfo", "web1")).EnsureSuccess().Stdout;
        Assert.Contains("State:          running", info, StringComparison.Ordinal);
        Assert.Contains("Max memory:     262144 KiB", info, StringComparison.Ordinal);
        int pid = QemuPid(await _vireo.RunAsync("dominfo", "web1", "--json"));

        // Suspend really stops the vCPUs: the guest shell does not answer until resume.
        Assert.Equal("Domain 'web1' suspended", (await _vireo.RunAsync("suspend", "web1")).EnsureSuccess().Stdout.Trim());
        Assert.Equal("paused (user)", (await _vireo.RunAsync("domstate", "web1", "--reason")).EnsureSuccess().Stdout.Trim());
        var echo = console.RunAsync("echo still-alive", TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(echo.IsCompleted, "a suspended guest answered on its console");
        (await _vireo.RunAsync("resume", "web1")).EnsureSuccess();
        Assert.Equal("still-alive", await echo);

        // ACPI power button: returns at once; the guest powers off and the watcher records why.
        Assert.Equal("Domain 'web1' is being shutdown", (await _vireo.RunAsync("shutdown", "web1")).EnsureSuccess().Stdout.Trim());
        await console.WaitForAsync("VIREO-GUEST-ACPI-POWEROFF", Settle);
        await _vireo.WaitForStateAsync("web1", "shut off (shutdown)", Settle);
        Assert.False(IsRunning(pid), "QEMU is still running after the guest powered off");
        Assert.Matches(@"(?m)^\s*-\s+web1\s+shut off\s*$", (await _vireo.RunAsync("list", "--all")).Stdout);
        Assert.DoesNotContain("web1", (await _vireo.RunAsync("list")).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GuestThatPowersItselfOff_IsShutOffWithReasonShutdown()
    {
        string xml = Path.Combine(_vireo.Root, "self.xml");
        await File.WriteAllTextAsync(xml, GuestDomain.Xml(_guest, "selfoff", extraCmdline: "vireo.poweroff=1"));
        (await _vireo.RunAsync("define", xml)).EnsureSuccess();
        (await _vireo.RunAsync("start", "selfoff")).EnsureSuccess();
        Assert.Equal("running (booted)", (await _vireo.RunAsync("domstate", "selfoff", "--reason")).EnsureSuccess().Stdout.Trim());
        await _vireo.WaitForStateAsync("selfoff", "shut off (shutdown)", Boot);

        // The pty console was logged for the whole run.
        string log = await File.ReadAllTextAsync(Path.Combine(_vireo.RunDir("selfoff"), "console.log"));
        Assert.Contains("VIREO-GUEST-READY", log, StringComparison.Ordinal);
        Assert.Contains("VIREO-GUEST-POWEROFF", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Destroy_ThenSigkill_AreSeenWithTheirReasons()
    {
        string xml = Path.Combine(_vireo.Root, "victim.xml");
        await File.WriteAllTextAsync(xml, GuestDomain.Xml(_guest, "victim"));
        (await _vireo.RunAsync("define", xml)).EnsureSuccess();

        (await _vireo.RunAsync("start", "victim")).EnsureSuccess();
        int pid = QemuPid(await _vireo.RunAsync("dominfo", "victim", "--json"));
        var again = await _vireo.RunAsync("start", "victim");
        Assert.Equal(1, again.ExitCode);
        Assert.Equal("error: domain 'victim' is already active", again.Stderr.Trim());

        Assert.Equal("Domain 'victim' destroyed", (await _vireo.RunAsync("destroy", "victim")).EnsureSuccess().Stdout.Trim());
        Assert.False(IsRunning(pid), "QEMU survived destroy");
        Assert.Equal("shut off (destroyed)", (await _vireo.RunAsync("domstate", "victim", "--reason")).Stdout.Trim());
        Assert.False(File.Exists(Path.Combine(_vireo.RunDir("victim"), "status.json")));

        (await _vireo.RunAsync("start", "victim")).EnsureSuccess();
        pid = QemuPid(await _vireo.RunAsync("dominfo", "victim", "--json"));
        System.Diagnostics.Process.GetProcessById(pid).Kill();
        await _vireo.WaitForStateAsync("victim", "shut off (crashed)", Settle);
        Assert.False(File.Exists(Path.Combine(_vireo.RunDir("victim"), "status.json")));

        // A domain that crashed starts again.
        (await _vireo.RunAsync("start", "victim")).EnsureSuccess();
        (await _vireo.RunAsync("destroy", "victim")).EnsureSuccess();
    }

    [Fact]
    public async Task TransientDomain_VanishesWhenDestroyed()
    {
        string xml = Path.Combine(_vireo.Root, "temp.xml");
        await File.WriteAllTextAsync(xml, GuestDomain.Xml(_guest, "temp"));
        Assert.Equal($"Domain 'temp' created from {xml}", (await _vireo.RunAsync("create", xml)).EnsureSuccess().Stdout.Trim());
        var listed = JsonDocument.Parse((await _vireo.RunAsync("list", "--json")).EnsureSuccess().Stdout).RootElement;
        var temp = Assert.Single(listed.EnumerateArray());
        Assert.Equal("temp", temp.GetProperty("name").GetString());
        Assert.False(temp.GetProperty("persistent").GetBoolean());
        Assert.Equal("running", temp.GetProperty("state").GetString());
        (await _vireo.RunAsync("destroy", "temp")).EnsureSuccess();
        Assert.DoesNotContain("temp", (await _vireo.RunAsync("list", "--all")).Stdout, StringComparison.Ordinal);
        Assert.Equal(1, (await _vireo.RunAsync("domstate", "temp")).ExitCode);
    }

    [Fact]
    public async Task ConcurrentCommands_OnOneDomain_AreSerialized()
    {
        string xml = Path.Combine(_vireo.Root, "busy.xml");
        await File.WriteAllTextAsync(xml, GuestDomain.Xml(_guest, "busy"));
        (await _vireo.RunAsync("define", xml)).EnsureSuccess();

        var starts = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => _vireo.RunAsync("start", "busy")));
        Assert.Equal(1, starts.Count(r => r.ExitCode == 0));
        Assert.All(starts.Where(r => r.ExitCode != 0), r => Assert.Equal("error: domain 'busy' is already active", r.Stderr.Trim()));

        var toggles = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => _vireo.RunAsync(i % 2 == 0 ? "suspend" : "resume", "busy")));
        Assert.All(toggles, r => Assert.True(r.ExitCode == 0 || r.Stderr.StartsWith("error: domain 'busy' is not paused", StringComparison.Ordinal), r.Stderr));
        await _vireo.RunAsync("resume", "busy");
        Assert.Equal("running", (await _vireo.RunAsync("domstate", "busy")).EnsureSuccess().Stdout.Trim());

        var destroys = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => _vireo.RunAsync("destroy", "busy")));
        Assert.Equal(1, destroys.Count(r => r.ExitCode == 0));
        Assert.All(destroys.Where(r => r.ExitCode != 0), r => Assert.StartsWith("error: failed to destroy domain 'busy': domain is not running", r.Stderr.Trim(), StringComparison.Ordinal));
        Assert.Equal("shut off (destroyed)", (await _vireo.RunAsync("domstate", "busy", "--reason")).Stdout.Trim());
    }

    [Fact]
    public async Task Console_ReachesTheGuestShell_AndCtrlBracketDetaches()
    {
        string xml = Path.Combine(_vireo.Root, "tty.xml");
        await File.WriteAllTextAsync(xml, GuestDomain.Xml(_guest, "tty"));
        (await _vireo.RunAsync("define", xml)).EnsureSuccess();

        // Paused first: a pty drops what the guest writes while nobody has it open.
        (await _vireo.RunAsync("start", "tty", "--paused")).EnsureSuccess();
        using var console = _vireo.Start("console", "tty");
        await console.WaitForAsync("Escape character is ^] (Ctrl + ])", Settle);
        Assert.StartsWith("Connected to domain 'tty'", console.Output, StringComparison.Ordinal);
        (await _vireo.RunAsync("resume", "tty")).EnsureSuccess();
        await console.WaitForAsync("VIREO-GUEST-READY", Boot);

        // The shell echoes what is typed; only its evaluation prints 42.
        await console.Input.WriteAsync("echo CONSOLE-$((40+2))\n"u8.ToArray());
        await console.Input.FlushAsync();
        await console.WaitForAsync("CONSOLE-42", Settle);

        await console.Input.WriteAsync(new byte[] { 0x1d });
        await console.Input.FlushAsync();
        Assert.Equal(0, await console.WaitForExitAsync(Settle));
        Assert.Equal("running", (await _vireo.RunAsync("domstate", "tty")).EnsureSuccess().Stdout.Trim());

        // A second session attaches to the same pty after the first detached.
        using var again = _vireo.Start("console", "tty");
        await again.WaitForAsync("Connected to domain 'tty'", Settle);
        await again.Input.WriteAsync("echo AGAIN-$((6*7))\n"u8.ToArray());
        await again.Input.FlushAsync();
        await again.WaitForAsync("AGAIN-42", Settle);
        (await _vireo.RunAsync("destroy", "tty")).EnsureSuccess();
        Assert.Equal(0, await again.WaitForExitAsync(Settle));
    }

    [Fact]
    public async Task CommaInNameAndDiskPath_Boots()
    {
        string dir = Path.Combine(_vireo.Root, "vm,images");
        Directory.CreateDirectory(dir);
        string disk = Path.Combine(dir, "a,b.img");
        await using (var f = File.Create(disk))
        {
            f.SetLength(16L << 20);
        }

        string sock = Path.Combine(_vireo.Root, "c.sock");
        string xml = Path.Combine(_vireo.Root, "comma.xml");
        await File.WriteAllTextAsync(xml, GuestDomain.Xml(_guest, "web,1", serialSocket: sock, dataDisk: disk));
        (await _vireo.RunAsync("define", xml)).EnsureSuccess();
        (await _vireo.RunAsync("start", "web,1", "--paused")).EnsureSuccess();
        await using var console = await SerialConsole.ConnectAsync(sock, TimeSpan.FromSeconds(10));
        (await _vireo.RunAsync("resume", "web,1")).EnsureSuccess();
        string disks = await console.WaitForLineAsync("VIREO-DISKS", Boot);
        Assert.Contains("vda:16777216", disks, StringComparison.Ordinal);
        (await _vireo.RunAsync("destroy", "web,1")).EnsureSuccess();
    }

    private static int QemuPid(CliResult dominfoJson) =>
        JsonDocument.Parse(dominfoJson.EnsureSuccess().Stdout).RootElement.GetProperty("pid").GetInt32();

    /// <summary>Alive and not a zombie (orphans are reaped late here).</summary>
    private static bool IsRunning(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            char state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state != 'Z' && state != 'X';
        }
        catch (IOException)
        {
            return false;
        }
    }
}
