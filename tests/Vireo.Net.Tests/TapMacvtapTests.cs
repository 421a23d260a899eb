using Vireo.Model;
using Vireo.Net.Netlink;
using Vireo.Net.Tap;

namespace Vireo.Net.Tests;

public sealed class TapMacvtapTests
{
    [Fact]
    public void Macvtap_char_device_opens_one_fd_per_queue_with_vnet_hdr()
    {
        using var ns = new NetlinkTestNamespace("mvq");
        ns.Rtnl.CreateVeth("lower0", "lower1");
        ns.Rtnl.CreateMacvtap("mvt0", "lower0", MacvtapMode.Bridge, MacAddress.Parse("52:54:00:00:00:07"));
        int index = ns.Rtnl.GetLink("mvt0").Index;
        using (MacvtapQueues q = MacvtapQueues.Open(index, queues: 2, ns: ns.Namespace))
        {
            Assert.Equal($"/dev/tap{index}", q.Device);
            Assert.Equal(2, q.QueueFds.Distinct().Count());
        }
        ns.Rtnl.DeleteLink("mvt0");
        Assert.Null(ns.Rtnl.FindLink(index));
        var e = Assert.Throws<VireoException>(() => MacvtapQueues.Open(0));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        ns.Rtnl.DeleteLink("lower0");
        ns.AssertOnlyLoopback();
    }
}
