using System.Diagnostics;
using System.Text.Json;

namespace Vireo.Integration.Networks;

/// <summary>
/// Real guests on an Open vSwitch bridge (userspace datapath, private switch): VLAN 10 guests reach each other, a
/// VLAN 20 guest reaches only VLAN 20; each port carries the domain's ids; a crashed guest's port is removed.
/// </summary>
public sealed class GuestOvsTests
{
    [Fact]
    public async Task OvsVlans_IsolateGuestsAndPortsCarryTheirIds()
    {
        using var t = new NetTestHost();
        using var ovs = new PrivateOvs(t);
        ovs.Vsctl("add-br", "vbr-ovs", "--", "set", "Bridge", "vbr-ovs", "datapath_type=netdev");
        // A host port on VLAN 20: what the VLAN 20 guest can reach, and the VLAN 10 guests cannot.
        ovs.Vsctl("add-port", "vbr-ovs", "vbr-v20", "tag=20", "--", "set", "Interface", "vbr-v20", "type=internal");
        NetTestHost.In(t.Host, "ip", "addr", "add", "203.0.113.20/24", "dev", "vbr-v20").Ensure();
        NetTestHost.In(t.Host, "ip", "link", "set", "vbr-v20", "up").Ensure();

        string xml = Path.Combine(t.Root, "ovs.xml");
        await File.WriteAllTextAsync(xml, """
            <network>
              <name>ovs</name>
              <forward mode='bridge'/>
              <bridge name='vbr-ovs'/>
              <virtualport type='openvswitch'/>
              <portgroup name='v10'><vlan><tag id='10'/></vlan></portgroup>
              <portgroup name='v20'><vlan><tag id='20'/></vlan></portgroup>
            </network>
            """);
        t.Vireo("net-define", xml).Ensure();
        t.Vireo("net-start", "ovs").Ensure();

        // Two on VLAN 10 through the network's portgroup; one on VLAN 20 straight on the bridge with its own tag.
        var starting = new[]
        {
            NetGuest.StartAsync(t, "o1", NetGuest.Interface("network", "52:54:00:00:04:11", "<source network='ovs' portgroup='v10'/>", "<target dev='vt-o1'/>"), "vireo.ip=203.0.113.11/24"),
            NetGuest.StartAsync(t, "o2", NetGuest.Interface("network", "52:54:00:00:04:12", "<source network='ovs' portgroup='v10'/>", "<target dev='vt-o2'/>"), "vireo.ip=203.0.113.12/24"),
            NetGuest.StartAsync(t, "o3", NetGuest.Interface("bridge", "52:54:00:00:04:13", "<source bridge='vbr-ovs'/><virtualport type='openvswitch'/>",
                "<vlan><tag id='20'/></vlan><target dev='vt-o3'/>"), "vireo.ip=203.0.113.13/24"),
        };
        await using var o1 = await starting[0];
        await using var o2 = await starting[1];
        await using var o3 = await starting[2];

        Assert.Equal("10", ovs.Vsctl("get", "Port", "vt-o1", "tag"));
        Assert.Equal("10", ovs.Vsctl("get", "Port", "vt-o2", "tag"));
        Assert.Equal("20", ovs.Vsctl("get", "Port", "vt-o3", "tag"));
        string uuid = t.Vireo("domuuid", "o1").Ensure().StdOut.Trim();
        Assert.Equal($"\"{uuid}\"", ovs.Vsctl("get", "Interface", "vt-o1", "external_ids:vm-id"));
        Assert.Matches("^\"[0-9a-f-]{36}\"$", ovs.Vsctl("get", "Interface", "vt-o1", "external_ids:iface-id"));
        Assert.Equal("\"52:54:00:00:04:13\"", ovs.Vsctl("get", "Interface", "vt-o3", "external_ids:attached-mac"));

        foreach (var g in new[] { o1, o2, o3 })
        {
            await g.Console.WaitForAsync("VIREO-GUEST-READY", NetGuest.Boot);
        }

        Assert.Equal(0, await o1.RunAsync("ping -c 3 -W 2 203.0.113.12"));
        Assert.Equal(0, await o3.RunAsync("ping -c 3 -W 2 203.0.113.20"));
        Assert.NotEqual(0, await o3.RunAsync("ping -c 2 -W 1 203.0.113.11"));
        Assert.NotEqual(0, await o1.RunAsync("ping -c 2 -W 1 203.0.113.20"));

        // A guest that crashes (QEMU killed behind vireo's back, its watcher first so that nobody sees it happen)
        // loses its TAP and its OVS port when the next vireo command reconciles it.
        int pid = o3.Pid;
        using (var status = JsonDocument.Parse(File.ReadAllText(Path.Combine(t.Root, "run", "domains", "o3", "status.json"))))
        {
            // SIGKILL is final once kill(2) returns: the watcher runs no more code, whenever init reaps it.
            Process.GetProcessById(status.RootElement.GetProperty("watcherPid").GetInt32()).Kill();
        }

        Process.GetProcessById(pid).Kill();
        await o3.Console.Closed.WaitAsync(NetGuest.Command);
        await WaitForStateAsync(t, "o3", "shut off (crashed)");
        Assert.DoesNotContain("vt-o3", ovs.Vsctl("list-ports", "vbr-ovs"), StringComparison.Ordinal);
        Assert.NotEqual(0, NetTestHost.In(t.Host, "ip", "link", "show", "vt-o3").ExitCode);

        t.Vireo("destroy", "o1").Ensure();
        t.Vireo("destroy", "o2").Ensure();
        Assert.Equal("vbr-v20", ovs.Vsctl("list-ports", "vbr-ovs"));
        t.Vireo("net-destroy", "ovs").Ensure();
        ovs.Vsctl("del-br", "vbr-ovs");
        t.AssertNothingLeft();
    }

    /// <summary>domstate reconciles a dead QEMU itself; QEMU's end is seen once init has reaped it or it is a zombie.</summary>
    private static async Task WaitForStateAsync(NetTestHost t, string domain, string expected)
    {
        var sw = Stopwatch.StartNew();
        string last = "";
        while (sw.Elapsed < NetGuest.Command)
        {
            last = t.Vireo("domstate", domain, "--reason").StdOut.Trim();
            if (last == expected)
            {
                return;
            }

            await Task.Delay(200);
        }

        Assert.Fail($"domain '{domain}' did not reach '{expected}'; last: '{last}'");
    }
}
