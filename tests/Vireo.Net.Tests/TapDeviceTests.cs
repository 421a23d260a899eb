using Vireo.Model;
using Vireo.Net.Netlink;
using Vireo.Net.Tap;

namespace Vireo.Net.Tests;

public sealed class TapDeviceTests
{
    [Fact]
    public void Multiqueue_vnet_hdr_tap_on_a_bridge_vanishes_with_its_fds()
    {
        using var ns = new NetlinkTestNamespace("tap");
        ns.Rtnl.CreateBridge("vbr0");
        var guest = MacAddress.Parse("52:54:00:12:34:56");
        var options = new TapOptions("vtap0", Queues: 2) { Mac = TapDevice.HostMacFor(guest), Bridge = "vbr0", Mtu = 1400 };
        using (TapDevice tap = TapDevice.Create(options, ns.Namespace))
        {
            Assert.Equal("vtap0", tap.Name);
            Assert.Equal(2, tap.QueueHandles.Count);
            Assert.Equal(2, tap.QueueFds.Distinct().Count());
            Assert.True(tap.VnetHeader);
            Assert.Equal(TapDevice.VhostNetAvailable ? 2 : 0, tap.VhostNetFds.Length);

            LinkInfo link = ns.Rtnl.GetLink("vtap0");
            Assert.Equal("tun", link.Kind);
            Assert.Equal(MacAddress.Parse("fe:54:00:12:34:56"), link.Mac);
            Assert.Equal(1400, link.Mtu);
            Assert.True(link.IsAdminUp);
            Assert.Equal(ns.Rtnl.GetLink("vbr0").Index, link.MasterIndex);

            string shown = IpTool.Run("-n", ns.Name, "-d", "link", "show", "vtap0");
            Assert.Contains("tun type tap pi off vnet_hdr on multi_queue", shown);
            Assert.Contains("persist off", shown);

            foreach (int fd in tap.QueueFds)
            {
                // O_CLOEXEC (02000000) so no other child inherits it; the launcher's dup2 gives QEMU a plain copy.
                string flags = File.ReadAllLines($"/proc/self/fdinfo/{fd}").First(l => l.StartsWith("flags:"));
                Assert.Equal(1, (Convert.ToInt32(flags[6..].Trim(), 8) >> 19) & 1);
            }
        }
        Assert.Null(ns.Rtnl.FindLink("vtap0"));
        ns.Rtnl.DeleteLink("vbr0");
        ns.AssertOnlyLoopback();
    }

    [Fact]
    public void Generated_names_take_the_lowest_free_vnetN()
    {
        using var ns = new NetlinkTestNamespace("vnet");
        using TapDevice a = TapDevice.Create(new TapOptions(VnetHeader: false), ns.Namespace);
        using TapDevice b = TapDevice.Create(new TapOptions(), ns.Namespace);
        Assert.Equal("vnet0", a.Name);
        Assert.Equal("vnet1", b.Name);
        Assert.Contains("vnet_hdr off", IpTool.Run("-n", ns.Name, "-d", "link", "show", "vnet0"));
        a.Dispose();
        using TapDevice c = TapDevice.Create(new TapOptions { Up = false }, ns.Namespace);
        Assert.Equal("vnet0", c.Name);
        Assert.False(ns.Rtnl.GetLink("vnet0").IsAdminUp);
        c.Dispose();
        b.Dispose();
        ns.AssertOnlyLoopback();
    }

    [Fact]
    public void Existing_names_bad_options_and_failed_setup_leave_nothing_behind()
    {
        using var ns = new NetlinkTestNamespace("tapbad");
        ns.Rtnl.CreateVeth("taken0", "taken1");
        var e = Assert.Throws<VireoException>(() => TapDevice.Create(new TapOptions("taken0"), ns.Namespace));
        Assert.Equal(ErrorKind.AlreadyExists, e.Kind);
        Assert.Equal("cannot create TAP 'taken0': a link with that name already exists", e.Message);
        Assert.Throws<VireoException>(() => TapDevice.Create(new TapOptions("vnet%d"), ns.Namespace));
        Assert.Throws<VireoException>(() => TapDevice.Create(new TapOptions(Queues: 0), ns.Namespace));
        Assert.Throws<VireoException>(() => TapDevice.Create(new TapOptions("way-too-long-tap-name"), ns.Namespace));

        // A bridge that does not exist fails after TUNSETIFF: the half-made TAP must vanish with its fds.
        var missing = Assert.Throws<VireoException>(() => TapDevice.Create(new TapOptions("vtap1") { Bridge = "nobr0" }, ns.Namespace));
        Assert.Equal(ErrorKind.NotFound, missing.Kind);
        Assert.Null(ns.Rtnl.FindLink("vtap1"));
        ns.Rtnl.DeleteLink("taken0");
        ns.AssertOnlyLoopback();
    }

    [Fact]
    public void Host_mac_is_the_guest_mac_with_fe_first()
    {
        Assert.Equal("fe:54:00:ab:cd:ef", TapDevice.HostMacFor(MacAddress.Parse("52:54:00:AB:CD:EF")).ToString());
        Assert.Equal("fe:00:00:00:00:01", TapDevice.HostMacFor(MacAddress.Parse("00-00-00-00-00-01")).ToString());
        Assert.False(MacAddress.TryParse("52:54:00:ab:cd", out _));
        Assert.False(MacAddress.TryParse("52:54:00:ab:cd:zz", out _));
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<VireoException>(() => MacAddress.Parse("x")).Kind);
    }
}
