using System.Diagnostics;
using Vireo.Net.Ovs;

namespace Vireo.Net.Tests;

/// <summary>
/// <see cref="OvsVsctl"/> against a private Open vSwitch: its own ovsdb-server and an ovs-vswitchd with the
/// userspace (netdev) datapath running inside a namespace the test creates, so nothing touches the host's switch.
/// </summary>
public sealed class OvsVsctlTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vireo-ovs-").FullName;
    private readonly string _ns = $"vto{Environment.ProcessId % 10000}{Random.Shared.Next(1000):d3}";

    public OvsVsctlTests()
    {
        Run("ip", "netns", "add", _ns);
        Run("ovsdb-tool", "create", Path.Combine(_dir, "conf.db"), "/usr/share/openvswitch/vswitch.ovsschema");
        Run("ovsdb-server", Path.Combine(_dir, "conf.db"), $"--remote=punix:{Db}", $"--pidfile={_dir}/ovsdb.pid",
            $"--unixctl={_dir}/ovsdb.ctl", "--detach", $"--log-file={_dir}/ovsdb.log");
        Run("ovs-vsctl", $"--db=unix:{Db}", "--no-wait", "init");
        Run("ip", "netns", "exec", _ns, "ovs-vswitchd", $"unix:{Db}", $"--pidfile={_dir}/vswitchd.pid",
            $"--unixctl={_dir}/vswitchd.ctl", "--detach", $"--log-file={_dir}/vswitchd.log", "--disable-system");
    }

    private string Db => Path.Combine(_dir, "db.sock");

    public void Dispose()
    {
        foreach (string pidFile in new[] { "vswitchd.pid", "ovsdb.pid" })
        {
            try
            {
                using var p = Process.GetProcessById(int.Parse(File.ReadAllText(Path.Combine(_dir, pidFile)).Trim(), System.Globalization.CultureInfo.InvariantCulture));
                p.Kill();
                p.WaitForExit(5000);
            }
            catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or FormatException)
            {
            }
        }

        Run("ip", "netns", "delete", _ns);
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task BridgePortVlanAndExternalIds()
    {
        var ovs = new OvsVsctl($"unix:{Db}");
        Assert.False(await ovs.BridgeExistsAsync("vtbr0"));
        await ovs.AddBridgeAsync("vtbr0", "netdev");
        Assert.True(await ovs.BridgeExistsAsync("vtbr0"));

        Run("ip", "netns", "exec", _ns, "ip", "link", "add", "vtp0", "type", "veth", "peer", "name", "vtp1");
        var vmId = Guid.NewGuid().ToString();
        await ovs.AddPortAsync("vtbr0", "vtp0", tag: 10, externalIds: new Dictionary<string, string> { ["iface-id"] = "if-1", ["vm-id"] = vmId });
        Assert.Contains("vtp0", await ovs.ListPortsAsync("vtbr0"));
        Assert.Equal("vtbr0", await ovs.PortToBridgeAsync("vtp0"));
        Assert.Equal("10", await ovs.GetAsync("Port", "vtp0", "tag"));
        Assert.Equal(vmId, (await ovs.GetAsync("Interface", "vtp0", "external_ids:vm-id")).Trim('"'));

        // Re-adding replaces the port (a restarted domain reuses its TAP name) with the new settings.
        await ovs.AddPortAsync("vtbr0", "vtp0", trunks: [20, 30]);
        Assert.Equal("[20, 30]", await ovs.GetAsync("Port", "vtp0", "trunks"));

        await ovs.DeletePortAsync("vtp0");
        Assert.Null(await ovs.PortToBridgeAsync("vtp0"));
        await ovs.DeleteBridgeAsync("vtbr0");
        Assert.False(await ovs.BridgeExistsAsync("vtbr0"));
    }

    [Fact]
    public async Task HostileExternalIdsAreRefused()
    {
        var ovs = new OvsVsctl($"unix:{Db}");
        await ovs.AddBridgeAsync("vtbr1", "netdev");
        var e = await Assert.ThrowsAsync<Vireo.Model.VireoException>(() => ovs.AddPortAsync("vtbr1", "vtp9",
            externalIds: new Dictionary<string, string> { ["vm-id\" -- del-br vtbr1"] = "x" }));
        Assert.Contains("external id", e.Message, StringComparison.Ordinal);
        Assert.True(await ovs.BridgeExistsAsync("vtbr1"));
        await ovs.DeleteBridgeAsync("vtbr1");
    }

    private static void Run(params string[] argv)
    {
        var psi = new ProcessStartInfo(argv[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in argv.Skip(1))
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{string.Join(' ', argv)} exited {p.ExitCode}: {err}");
    }
}
