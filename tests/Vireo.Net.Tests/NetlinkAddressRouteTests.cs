using System.Net;
using System.Net.Sockets;
using Vireo.Model;
using Vireo.Net.Netlink;

namespace Vireo.Net.Tests;

public sealed class NetlinkAddressRouteTests
{
    [Fact]
    public void Addresses_v4_and_v6_are_added_listed_and_deleted()
    {
        using var ns = new NetlinkTestNamespace("addr");
        var rtnl = ns.Rtnl;
        rtnl.CreateVeth("va0", "vb0");
        rtnl.AddAddress("va0", IPAddress.Parse("192.0.2.1"), 24);
        rtnl.AddAddress("va0", IPAddress.Parse("2001:db8::1"), 64);
        var list = rtnl.ListAddresses("va0");
        int index = rtnl.GetLink("va0").Index;
        Assert.Contains(new AddressInfo(index, IPAddress.Parse("192.0.2.1"), 24, 0, "va0"), list);
        Assert.Contains(list, a => a.Address.Equals(IPAddress.Parse("2001:db8::1")) && a.PrefixLength == 64);
        Assert.Equal(IPNetwork.Parse("192.0.2.0/24"), list.First(a => a.Address.AddressFamily == AddressFamily.InterNetwork).Network);
        Assert.DoesNotContain(list, a => a.LinkIndex != index);
        Assert.Contains("inet 192.0.2.1/24", IpTool.Run("-n", ns.Name, "addr", "show", "dev", "va0"));

        var dup = Assert.Throws<VireoException>(() => rtnl.AddAddress("va0", IPAddress.Parse("192.0.2.1"), 24));
        Assert.StartsWith("cannot add address 192.0.2.1/24 on 'va0': File exists", dup.Message);
        Assert.Throws<VireoException>(() => rtnl.AddAddress("va0", IPAddress.Parse("192.0.2.9"), 33));

        rtnl.DeleteAddress("va0", IPAddress.Parse("192.0.2.1"), 24);
        rtnl.DeleteAddress("va0", IPAddress.Parse("2001:db8::1"), 64);
        Assert.DoesNotContain(rtnl.ListAddresses("va0"), a => a.Address.AddressFamily == AddressFamily.InterNetwork);
        rtnl.DeleteLink("va0");
        ns.AssertOnlyLoopback();
    }

    [Fact]
    public void Routes_and_the_default_route_are_added_listed_and_deleted()
    {
        using var ns = new NetlinkTestNamespace("rt");
        var rtnl = ns.Rtnl;
        rtnl.CreateVeth("va0", "vb0");
        rtnl.AddAddress("va0", IPAddress.Parse("198.51.100.1"), 24);
        rtnl.SetUp("va0");
        rtnl.SetUp("vb0");

        Assert.Null(rtnl.FindDefaultRoute());
        rtnl.AddRoute(RouteSpec.Default(IPAddress.Parse("198.51.100.254")));
        rtnl.AddRoute(new RouteSpec(IPNetwork.Parse("203.0.113.0/24"), IPAddress.Parse("198.51.100.2"), "va0", Metric: 50));
        rtnl.AddRoute(new RouteSpec(IPNetwork.Parse("192.0.2.128/25"), Device: "va0"));

        int index = rtnl.GetLink("va0").Index;
        RouteInfo? def = rtnl.FindDefaultRoute();
        Assert.NotNull(def);
        Assert.Equal(IPAddress.Parse("198.51.100.254"), def.Gateway);
        Assert.Equal(index, def.OutputLinkIndex);
        var routes = rtnl.ListRoutes();
        Assert.Contains(routes, r => r.Destination.Equals(IPNetwork.Parse("203.0.113.0/24")) && r.Metric == 50
            && IPAddress.Parse("198.51.100.2").Equals(r.Gateway));
        Assert.Contains(routes, r => r.Destination.Equals(IPNetwork.Parse("192.0.2.128/25")) && r.Gateway is null && r.Scope == 253);
        Assert.Contains(routes, r => r.Destination.Equals(IPNetwork.Parse("198.51.100.0/24")) && r.Protocol == 2); // the kernel's
        string shown = IpTool.Run("-n", ns.Name, "route", "show");
        Assert.Contains("default via 198.51.100.254 dev va0", shown);
        Assert.Contains("203.0.113.0/24 via 198.51.100.2 dev va0 metric 50", shown);

        var e = Assert.Throws<VireoException>(() => rtnl.AddRoute(RouteSpec.Default(IPAddress.Parse("198.51.100.253"))));
        Assert.Equal(ErrorKind.AlreadyExists, e.Kind);
        Assert.Throws<VireoException>(() => rtnl.AddRoute(new RouteSpec(IPNetwork.Parse("203.0.113.0/25"))));

        rtnl.DeleteRoute(RouteSpec.Default(IPAddress.Parse("198.51.100.254")));
        rtnl.DeleteRoute(new RouteSpec(IPNetwork.Parse("203.0.113.0/24"), Metric: 50));
        rtnl.DeleteRoute(new RouteSpec(IPNetwork.Parse("192.0.2.128/25")));
        Assert.Null(rtnl.FindDefaultRoute());
        Assert.DoesNotContain(rtnl.ListRoutes(), r => r.Destination.Equals(IPNetwork.Parse("203.0.113.0/24")));
        var gone = Assert.Throws<VireoException>(() => rtnl.DeleteRoute(new RouteSpec(IPNetwork.Parse("203.0.113.0/24"))));
        Assert.Equal(ErrorKind.NotFound, gone.Kind);
        Assert.StartsWith("cannot delete route 203.0.113.0/24: No such entry", gone.Message);
        rtnl.DeleteLink("va0");
        ns.AssertOnlyLoopback();
    }

    [Fact]
    public void Stats_count_a_ping_between_two_namespaces_over_a_veth()
    {
        using var left = new NetlinkTestNamespace("pl");
        using var right = new NetlinkTestNamespace("pr");
        left.Rtnl.CreateVeth("vl0", "vr0", right.Namespace);
        left.Rtnl.AddAddress("vl0", IPAddress.Parse("203.0.113.1"), 24);
        right.Rtnl.AddAddress("vr0", IPAddress.Parse("203.0.113.2"), 24);
        left.Rtnl.SetUp("vl0");
        right.Rtnl.SetUp("vr0");
        LinkStats before = left.Rtnl.GetStats("vl0");

        // Run busybox ping inside the left namespace the way product code runs dnsmasq: nsenter argv, no shell.
        var argv = left.Namespace.ExecArgv("busybox", "ping", "-c", "3", "-i", "0.2", "-W", "5", "203.0.113.2");
        string output = IpTool.Exec(argv[0], [.. argv.Skip(1)]);
        Assert.Contains("3 packets received", output);

        LinkStats after = left.Rtnl.GetStats("vl0");
        LinkStats peer = right.Rtnl.GetStats("vr0");
        Assert.True(after.TxPackets - before.TxPackets >= 3, $"tx {before.TxPackets} -> {after.TxPackets}");
        Assert.True(after.RxPackets - before.RxPackets >= 3, $"rx {before.RxPackets} -> {after.RxPackets}");
        Assert.True(after.TxBytes > before.TxBytes + (3 * 84));
        Assert.Equal(after.TxPackets, peer.RxPackets);
        Assert.Equal(0UL, after.TxErrors);

        left.Rtnl.DeleteLink("vl0");
        left.AssertOnlyLoopback();
        right.AssertOnlyLoopback();
    }
}
