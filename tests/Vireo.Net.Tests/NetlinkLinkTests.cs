using Vireo.Model;
using Vireo.Net.Netlink;

namespace Vireo.Net.Tests;

public sealed class NetlinkLinkTests
{
    [Fact]
    public void Bridge_with_options_is_created_listed_and_deleted()
    {
        using var ns = new NetlinkTestNamespace("br");
        var rtnl = ns.Rtnl;
        var mac = MacAddress.Parse("52:54:00:aa:bb:01");
        rtnl.CreateBridge("vbr0", new BridgeOptions(Stp: true, ForwardDelaySeconds: 4) { Mac = mac, Mtu = 1400 });
        LinkInfo br = rtnl.GetLink("vbr0");
        Assert.Equal("bridge", br.Kind);
        Assert.Equal(mac, br.Mac);
        Assert.Equal(1400, br.Mtu);
        Assert.False(br.IsAdminUp);
        Assert.Equal(new BridgeSettings(Stp: true, ForwardDelayCentiseconds: 400, VlanFiltering: false), br.Bridge);
        // iproute2 reads the same kernel state.
        string shown = IpTool.Run("-n", ns.Name, "-d", "link", "show", "vbr0");
        Assert.Contains("stp_state 1", shown);
        Assert.Contains("forward_delay 400", shown);
        Assert.Contains(rtnl.ListLinks(), l => l.Name == "vbr0" && l.Index == br.Index);

        rtnl.SetUp("vbr0");
        Assert.True(rtnl.GetLink("vbr0").IsAdminUp);
        rtnl.SetDown("vbr0");
        Assert.False(rtnl.GetLink("vbr0").IsAdminUp);

        rtnl.DeleteLink("vbr0");
        Assert.Null(rtnl.FindLink("vbr0"));
        ns.AssertOnlyLoopback();
    }

    [Fact]
    public void Creating_an_existing_bridge_names_it_and_says_why()
    {
        using var ns = new NetlinkTestNamespace("dup");
        ns.Rtnl.CreateBridge("vbr0");
        var e = Assert.Throws<VireoException>(() => ns.Rtnl.CreateBridge("vbr0"));
        Assert.Equal(ErrorKind.AlreadyExists, e.Kind);
        Assert.StartsWith("cannot create bridge 'vbr0': File exists", e.Message);
        ns.Rtnl.DeleteLink("vbr0");
        ns.AssertOnlyLoopback();
    }

    [Fact]
    public void Bad_names_and_missing_links_are_refused_clearly()
    {
        using var ns = new NetlinkTestNamespace("bad");
        var e = Assert.Throws<VireoException>(() => ns.Rtnl.CreateBridge("a-name-that-is-too-long"));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("longer than 15 bytes", e.Message);
        Assert.Throws<VireoException>(() => ns.Rtnl.CreateBridge("bad/name"));
        var missing = Assert.Throws<VireoException>(() => ns.Rtnl.SetMtu("nosuch0", 1400));
        Assert.Equal(ErrorKind.NotFound, missing.Kind);
        Assert.Contains("'nosuch0'", missing.Message);
        var del = Assert.Throws<VireoException>(() => ns.Rtnl.DeleteLink("nosuch0"));
        Assert.Equal("cannot delete link 'nosuch0': No such device", del.Message);
        Assert.False(ns.Rtnl.DeleteLinkIfExists("nosuch0"));
        Assert.Throws<VireoException>(() => ns.Rtnl.SetMtu("lo", 20));
        ns.AssertOnlyLoopback();
    }

    [Fact]
    public void Veth_master_nomaster_mtu_mac_and_rename()
    {
        using var ns = new NetlinkTestNamespace("veth");
        var rtnl = ns.Rtnl;
        rtnl.CreateBridge("vbr0");
        rtnl.CreateVeth("va0", "vb0", mtu: 1450);
        LinkInfo a = rtnl.GetLink("va0");
        LinkInfo b = rtnl.GetLink("vb0");
        Assert.Equal("veth", a.Kind);
        Assert.Equal(b.Index, a.ParentIndex);
        Assert.Equal(1450, b.Mtu);

        rtnl.SetMaster("va0", "vbr0");
        Assert.Equal(rtnl.GetLink("vbr0").Index, rtnl.GetLink("va0").MasterIndex);
        rtnl.SetMaster("va0", null);
        Assert.Equal(0, rtnl.GetLink("va0").MasterIndex);

        rtnl.SetMtu("va0", 1300);
        var mac = MacAddress.Parse("fe:54:00:12:34:56");
        rtnl.SetMac("va0", mac);
        a = rtnl.GetLink("va0");
        Assert.Equal(1300, a.Mtu);
        Assert.Equal(mac, a.Mac);
        Assert.Throws<VireoException>(() => rtnl.SetMac("va0", MacAddress.Parse("01:00:5e:00:00:01")));

        rtnl.Rename("va0", "vx0");
        Assert.Null(rtnl.FindLink("va0"));
        Assert.Equal(a.Index, rtnl.GetLink("vx0").Index);

        rtnl.DeleteLink("vx0"); // takes its peer along
        Assert.Null(rtnl.FindLink("vb0"));
        rtnl.DeleteLink("vbr0");
        ns.AssertOnlyLoopback();
    }

    [Fact]
    public void Veth_peer_born_in_another_namespace_and_a_link_moved_there()
    {
        using var left = new NetlinkTestNamespace("l");
        using var right = new NetlinkTestNamespace("r");
        left.Rtnl.CreateVeth("vl0", "vr0", right.Namespace);
        Assert.NotNull(left.Rtnl.FindLink("vl0"));
        Assert.Null(left.Rtnl.FindLink("vr0"));
        Assert.Equal("veth", right.Rtnl.GetLink("vr0").Kind);

        // Bridges are namespace-local; a veth end moves.
        left.Rtnl.CreateVeth("vm0", "vm1");
        left.Rtnl.MoveToNamespace("vm1", right.Namespace);
        Assert.Null(left.Rtnl.FindLink("vm1"));
        Assert.Equal("veth", right.Rtnl.GetLink("vm1").Kind);
        var bridge = Assert.Throws<VireoException>(() =>
        {
            left.Rtnl.CreateBridge("vbr9");
            try
            {
                left.Rtnl.MoveToNamespace("vbr9", right.Namespace);
            }
            finally
            {
                left.Rtnl.DeleteLink("vbr9");
            }
        });
        Assert.StartsWith($"cannot move 'vbr9' to namespace '{right.Name}': ", bridge.Message);

        right.Rtnl.DeleteLink("vm1");
        right.Rtnl.DeleteLink("vr0");
        Assert.Null(left.Rtnl.FindLink("vl0"));
        left.AssertOnlyLoopback();
        right.AssertOnlyLoopback();
    }

    [Fact]
    public void Macvtap_in_every_mode_on_a_veth()
    {
        using var ns = new NetlinkTestNamespace("mvt");
        var rtnl = ns.Rtnl;
        rtnl.CreateVeth("lower0", "lower1");
        var mac = MacAddress.Parse("52:54:00:00:00:42");
        foreach (MacvtapMode mode in new[] { MacvtapMode.Bridge, MacvtapMode.Vepa, MacvtapMode.Private })
        {
            rtnl.CreateMacvtap("mvt0", "lower0", mode, mac);
            LinkInfo m = rtnl.GetLink("mvt0");
            Assert.Equal("macvtap", m.Kind);
            Assert.Equal(mac, m.Mac);
            Assert.Equal(rtnl.GetLink("lower0").Index, m.ParentIndex);
            rtnl.DeleteLink("mvt0");
        }
        rtnl.CreateMacvtap("mvt1", "lower1", MacvtapMode.Passthrough);
        rtnl.DeleteLink("mvt1");
        var e = Assert.Throws<VireoException>(() => rtnl.CreateMacvtap("mvt2", "nosuch0", MacvtapMode.Bridge));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        rtnl.DeleteLink("lower0");
        ns.AssertOnlyLoopback();
    }

    // Debian's kernel has dummy and 8021q; this machine's minimal kernel has neither. Either the link is made and
    // removed, or the refusal is a HostUnavailable error that names the link — never a half-made link.
    [Fact]
    public void Dummy_and_vlan_are_created_or_refused_as_host_unavailable()
    {
        using var ns = new NetlinkTestNamespace("dvl");
        var rtnl = ns.Rtnl;
        try
        {
            rtnl.CreateDummy("dum0");
            Assert.Equal("dummy", rtnl.GetLink("dum0").Kind);
            rtnl.DeleteLink("dum0");
        }
        catch (VireoException e)
        {
            Assert.Equal(ErrorKind.HostUnavailable, e.Kind);
            Assert.StartsWith("cannot create dummy link 'dum0': ", e.Message);
        }
        rtnl.CreateVeth("base0", "base1");
        try
        {
            rtnl.CreateVlan("base0.10", "base0", 10);
            Assert.Equal("vlan", rtnl.GetLink("base0.10").Kind);
            Assert.Equal(rtnl.GetLink("base0").Index, rtnl.GetLink("base0.10").ParentIndex);
            rtnl.DeleteLink("base0.10");
        }
        catch (VireoException e)
        {
            Assert.Equal(ErrorKind.HostUnavailable, e.Kind);
            Assert.StartsWith("cannot create vlan 'base0.10' (id 10 on 'base0'): ", e.Message);
        }
        Assert.Throws<VireoException>(() => rtnl.CreateVlan("base0.0", "base0", 0));
        rtnl.DeleteLink("base0");
        ns.AssertOnlyLoopback();
    }
}
