using System.Text.Json;
using System.Text.RegularExpressions;
using Vireo.Integration.Guest;
using Vireo.Integration.Infrastructure;
using Vireo.Integration.Lifecycle;
using Xunit.Abstractions;

namespace Vireo.Integration.Hotplug;

/// <summary>
/// Hotplug and live inspection against one booted guest: the guest's own /sys says what it sees. Also every bad
/// input, each checked to leave the running domain and its definition as they were.
/// </summary>
public sealed class HotplugTests : IDisposable
{
    private static readonly TimeSpan Boot = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan Shell = TimeSpan.FromSeconds(60);
    private readonly VireoCli _vireo = new();
    private readonly TestGuest _guest = TestGuest.Get();
    private readonly ITestOutputHelper _out;

    public HotplugTests(ITestOutputHelper output) => _out = output;

    public void Dispose() => _vireo.Dispose();

    [Fact]
    public async Task HotplugDiskAndNic_GuestSeesThemComeAndGo_StatsAndBadInput()
    {
        string sock = Path.Combine(_vireo.Root, "serial.sock");
        string data = MakeImage("data.img", 32);
        string extra = MakeImage("extra.img", 16);
        string iso = MakeImage("media.iso", 1);
        string xml = GuestDomain.Xml(_guest, "hp", serialSocket: sock, dataDisk: data).Replace("</devices>",
            "<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><target dev='sdb' bus='sata'/><readonly/></disk>" +
            "<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/></devices>", StringComparison.Ordinal);
        string file = Path.Combine(_vireo.Root, "hp.xml");
        await File.WriteAllTextAsync(file, xml);
        (await _vireo.RunAsync("define", file)).EnsureSuccess();
        (await _vireo.RunAsync("start", "hp", "--paused")).EnsureSuccess();
        await using var console = await SerialConsole.ConnectAsync(sock, TimeSpan.FromSeconds(10));
        (await _vireo.RunAsync("resume", "hp")).EnsureSuccess();
        await console.WaitForAsync("VIREO-GUEST-READY", Boot);
        Assert.Contains("vda:33554432", await console.WaitForLineAsync("VIREO-DISKS", TimeSpan.FromSeconds(5)), StringComparison.Ordinal);

        await StatsAsync();
        await BadInputAsync(extra);

        // Hotplug a disk and a NIC; the guest finds them under /sys (there is no udev to wait on).
        Assert.Equal("Disk attached successfully", (await _vireo.RunAsync("attach-disk", "hp", extra, "vdb")).EnsureSuccess().Stdout.Trim());
        const string Mac = "52:54:00:aa:bb:01";
        Assert.Equal("Interface attached successfully",
            (await _vireo.RunAsync("attach-interface", "hp", "user", "-", "--mac", Mac, "--model", "virtio")).EnsureSuccess().Stdout.Trim());
        Assert.Equal("32768", await console.RunAsync(WaitFor("-e /sys/block/vdb", "cat /sys/block/vdb/size"), Shell));
        string nics = await console.RunAsync(WaitFor("-e /sys/class/net/eth1", "cat /sys/class/net/eth1/address"), Shell);
        Assert.Equal(Mac, nics);
        string live = (await _vireo.RunAsync("dumpxml", "hp")).EnsureSuccess().Stdout;
        Assert.Contains(extra, live, StringComparison.Ordinal);
        Assert.Contains(Mac, live, StringComparison.Ordinal);
        Assert.DoesNotContain(extra, (await _vireo.RunAsync("dumpxml", "hp", "--inactive")).Stdout, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^\s*vdb\s+" + Regex.Escape(extra) + @"\s*$", (await _vireo.RunAsync("domblklist", "hp")).EnsureSuccess().Stdout);
        Assert.Contains(Mac, (await _vireo.RunAsync("domiflist", "hp")).EnsureSuccess().Stdout, StringComparison.Ordinal);
        Assert.Contains("vdb rd_req", (await _vireo.RunAsync("domblkstat", "hp", "vdb")).EnsureSuccess().Stdout, StringComparison.Ordinal);

        // Detach: vireo returns once the guest has released each device, and the guest no longer has it.
        Assert.Equal("Disk detached successfully", (await _vireo.RunAsync("detach-disk", "hp", "vdb")).EnsureSuccess().Stdout.Trim());
        Assert.Equal("Interface detached successfully", (await _vireo.RunAsync("detach-interface", "hp", "user", "--mac", Mac)).EnsureSuccess().Stdout.Trim());
        Assert.Equal("gone", await console.RunAsync(WaitFor("! -e /sys/block/vdb", "[ -e /sys/block/vdb ] || echo gone"), Shell));
        Assert.Equal("gone", await console.RunAsync(WaitFor("! -e /sys/class/net/eth1", "[ -e /sys/class/net/eth1 ] || echo gone"), Shell));
        live = (await _vireo.RunAsync("dumpxml", "hp")).EnsureSuccess().Stdout;
        Assert.DoesNotContain(extra, live, StringComparison.Ordinal);
        Assert.DoesNotContain(Mac, live, StringComparison.Ordinal);
        Assert.DoesNotContain(extra, (await _vireo.RunAsync("qemu-monitor-command", "hp", "--hmp", "info", "block")).EnsureSuccess().Stdout, StringComparison.Ordinal);

        // Plugged again after the detach: the same target and slot are free again.
        (await _vireo.RunAsync("attach-disk", "hp", extra, "vdb")).EnsureSuccess();
        Assert.Equal("32768", await console.RunAsync(WaitFor("-e /sys/block/vdb", "cat /sys/block/vdb/size"), Shell));
        (await _vireo.RunAsync("detach-disk", "hp", "vdb")).EnsureSuccess();

        // Media and link state.
        Assert.Equal("Successfully inserted media.", (await _vireo.RunAsync("change-media", "hp", "sdb", iso, "--insert")).EnsureSuccess().Stdout.Trim());
        Assert.Contains(iso, (await _vireo.RunAsync("qemu-monitor-command", "hp", "--hmp", "info", "block")).Stdout, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^\s*sdb\s+" + Regex.Escape(iso) + @"\s*$", (await _vireo.RunAsync("domblklist", "hp")).Stdout);
        Assert.Equal("Successfully ejected media.", (await _vireo.RunAsync("change-media", "hp", "sdb", "--eject")).EnsureSuccess().Stdout.Trim());
        Assert.DoesNotContain(iso, (await _vireo.RunAsync("qemu-monitor-command", "hp", "--hmp", "info", "block")).Stdout, StringComparison.Ordinal);
        await console.RunAsync("ip link set eth0 up", Shell); // carrier is readable only on an interface that is up
        (await _vireo.RunAsync("domif-setlink", "hp", "net0", "down")).EnsureSuccess();
        Assert.Equal("net0 down", (await _vireo.RunAsync("domif-getlink", "hp", "net0")).EnsureSuccess().Stdout.Trim());
        Assert.Equal("0", await console.RunAsync(WaitFor("$(cat /sys/class/net/eth0/carrier) = 0", "cat /sys/class/net/eth0/carrier"), Shell));
        (await _vireo.RunAsync("domif-setlink", "hp", "net0", "up")).EnsureSuccess();
        Assert.Equal("1", await console.RunAsync(WaitFor("$(cat /sys/class/net/eth0/carrier) = 1", "cat /sys/class/net/eth0/carrier"), Shell));

        // --config only: the next boot gets the disk, the running guest does not.
        (await _vireo.RunAsync("attach-disk", "hp", extra, "vdc", "--config")).EnsureSuccess();
        Assert.Contains("vdc", (await _vireo.RunAsync("dumpxml", "hp", "--inactive")).Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("vdc", (await _vireo.RunAsync("dumpxml", "hp")).Stdout, StringComparison.Ordinal);
    }

    private async Task StatsAsync()
    {
        string details = (await _vireo.RunAsync("domblklist", "hp", "--details")).EnsureSuccess().Stdout;
        _out.WriteLine(details);
        Assert.Matches(@"(?m)^\s*file\s+disk\s+vda\s+\S+data\.img\s*$", details);
        var blk = JsonDocument.Parse((await _vireo.RunAsync("domblklist", "hp", "--json")).EnsureSuccess().Stdout).RootElement;
        Assert.Equal("vda", blk[0].GetProperty("target").GetString());

        string stat = (await _vireo.RunAsync("domblkstat", "hp", "vda")).EnsureSuccess().Stdout;
        _out.WriteLine(stat);
        foreach (string field in (string[])["rd_req", "rd_bytes", "wr_req", "wr_bytes", "flush_operations", "rd_total_times", "wr_total_times", "flush_total_times"])
        {
            Assert.Matches($@"(?m)^vda {field} \d+$", stat);
        }

        Assert.Matches(@"(?m)^vda rd_req [1-9]\d*$", stat); // the guest read its partition table at boot
        var info = JsonDocument.Parse((await _vireo.RunAsync("domblkinfo", "hp", "vda", "--json")).EnsureSuccess().Stdout).RootElement;
        Assert.Equal(33554432, info.GetProperty("capacity").GetInt64());
        Assert.Equal(33554432, info.GetProperty("physical").GetInt64());
        Assert.Matches(@"(?m)^Capacity:\s+33554432$", (await _vireo.RunAsync("domblkinfo", "hp", "vda")).Stdout);

        string mem = (await _vireo.RunAsync("dommemstat", "hp", "--period", "1")).EnsureSuccess().Stdout;
        _out.WriteLine(mem);
        Assert.Matches(@"(?m)^actual 262144$", mem);
        Assert.Matches(@"(?m)^rss [1-9]\d*$", mem);

        string stats = (await _vireo.RunAsync("domstats", "hp")).EnsureSuccess().Stdout;
        _out.WriteLine(stats);
        Assert.StartsWith("Domain: 'hp'", stats, StringComparison.Ordinal);
        foreach (string line in (string[])["state.state=1", "state.reason=5", "vcpu.current=1", "balloon.maximum=262144", "net.count=1", "block.count=2", "block.0.name=vda", "block.0.capacity=33554432"])
        {
            Assert.Contains("  " + line + "\n", stats, StringComparison.Ordinal);
        }

        Assert.Matches(@"(?m)^  cpu\.time=[1-9]\d*$", stats);
        var only = (await _vireo.RunAsync("domstats", "hp", "--state", "--json")).EnsureSuccess().Stdout;
        var onlyState = JsonDocument.Parse(only).RootElement[0];
        Assert.Equal(1, onlyState.GetProperty("state.state").GetInt32()); // running; reason 5: unpaused
        Assert.False(onlyState.TryGetProperty("block.count", out _));

        string ifs = (await _vireo.RunAsync("domiflist", "hp")).EnsureSuccess().Stdout;
        Assert.Matches(@"(?m)^\s*-\s+user\s+-\s+virtio\s+52:54:00:", ifs);

        string png = Path.Combine(_vireo.Root, "shot.png");
        Assert.Equal($"Screenshot saved to {png}, with type of image/png", (await _vireo.RunAsync("screenshot", "hp", png)).EnsureSuccess().Stdout.Trim());
        byte[] head = File.ReadAllBytes(png)[..8];
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a }, head);

        string status = (await _vireo.RunAsync("qemu-monitor-command", "hp", "--pretty", """{"execute":"query-status"}""")).EnsureSuccess().Stdout;
        Assert.Equal("running", JsonDocument.Parse(status).RootElement.GetProperty("return").GetProperty("status").GetString());
        Assert.Contains("\n  ", status, StringComparison.Ordinal);
        (await _vireo.RunAsync("send-key", "hp", "KEY_LEFTSHIFT", "KEY_A")).EnsureSuccess();
        (await _vireo.RunAsync("send-key", "hp", "--codeset", "xt", "0x1e")).EnsureSuccess();
        Assert.Equal("error: send-key: unknown key 'KEY_NOPE' in codeset linux", (await _vireo.RunAsync("send-key", "hp", "KEY_NOPE")).Stderr.Trim());
        Assert.Matches(@"^127\.0\.0\.1:\d+$", (await _vireo.RunAsync("vncdisplay", "hp")).EnsureSuccess().Stdout.Trim());
        Assert.Matches(@"^vnc://127\.0\.0\.1:\d+$", (await _vireo.RunAsync("domdisplay", "hp")).EnsureSuccess().Stdout.Trim());
    }

    /// <summary>Each bad request fails with its message, and neither live.xml nor the definition changes.</summary>
    private async Task BadInputAsync(string extra)
    {
        string liveBefore = (await _vireo.RunAsync("dumpxml", "hp")).EnsureSuccess().Stdout;
        string configBefore = (await _vireo.RunAsync("dumpxml", "hp", "--inactive")).EnsureSuccess().Stdout;
        string pciBefore = (await _vireo.RunAsync("qemu-monitor-command", "hp", """{"execute":"query-pci"}""")).EnsureSuccess().Stdout;

        async Task Refused(string expected, params string[] args)
        {
            var r = await _vireo.RunAsync(args);
            Assert.Equal(1, r.ExitCode);
            Assert.Equal("error: " + expected, r.Stderr.Trim());
        }

        await Refused("target 'vda' already exists in domain 'hp'", "attach-disk", "hp", extra, "vda");
        await Refused("disk 'hda' uses bus 'ide', which machine type 'q35' (q35) does not have; use sata", "attach-disk", "hp", extra, "hda", "--targetbus", "ide");
        string missing = Path.Combine(_vireo.Root, "missing.img");
        await Refused($"cannot access storage file '{missing}' (disk 'vdb'): No such file or directory", "attach-disk", "hp", missing, "vdb");
        await Refused("device not found: domain 'hp' has no disk with target 'vdz'", "detach-disk", "hp", "vdz");
        await Refused("device not found: domain 'hp' has no interface of type 'user' with MAC '52:54:00:00:00:99'", "detach-interface", "hp", "user", "--mac", "52:54:00:00:00:99");

        // A PCI address some device already has.
        var m = Regex.Match(liveBefore, @"<target dev=""vda""[^>]*/>\s*<address (type=""pci""[^>]*)/>");
        Assert.True(m.Success, liveBefore);
        string dev = Path.Combine(_vireo.Root, "collide.xml");
        await File.WriteAllTextAsync(dev, $"<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{extra}'/><target dev='vdb' bus='virtio'/><address {m.Groups[1].Value.Replace("\"", "'", StringComparison.Ordinal)}/></disk>");
        var collide = await _vireo.RunAsync("attach-device", "hp", dev);
        Assert.Equal(1, collide.ExitCode);
        Assert.Matches(@"^error: PCI address 0000:\w\w:00\.0 is used by both disk 'vda' and disk 'vdb'$", collide.Stderr.Trim());

        // --live on a domain that does not run.
        string coldXml = Path.Combine(_vireo.Root, "cold.xml");
        await File.WriteAllTextAsync(coldXml, GuestDomain.Xml(_guest, "cold"));
        (await _vireo.RunAsync("define", coldXml)).EnsureSuccess();
        string coldBefore = (await _vireo.RunAsync("dumpxml", "cold")).Stdout;
        await Refused("failed to attach device to domain 'cold': domain is not running (use --config to change its persistent definition)", "attach-disk", "cold", extra, "vdb", "--live");
        Assert.Equal(coldBefore, (await _vireo.RunAsync("dumpxml", "cold")).Stdout);

        Assert.Equal(liveBefore, (await _vireo.RunAsync("dumpxml", "hp")).Stdout);
        Assert.Equal(configBefore, (await _vireo.RunAsync("dumpxml", "hp", "--inactive")).Stdout);
        Assert.Equal(pciBefore, (await _vireo.RunAsync("qemu-monitor-command", "hp", """{"execute":"query-pci"}""")).Stdout);
    }

    /// <summary>A guest command that waits (up to ~20 s) for a /sys condition, then prints: hotplug is asynchronous in the guest.</summary>
    private static string WaitFor(string test, string then) => $"i=0; while ! [ {test} ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done; {then}";

    private string MakeImage(string name, int mib)
    {
        string path = Path.Combine(_vireo.Root, name);
        using var f = File.Create(path);
        f.SetLength((long)mib << 20);
        return path;
    }
}
