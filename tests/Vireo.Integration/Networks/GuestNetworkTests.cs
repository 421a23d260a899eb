using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Vireo.Net.Namespaces;

namespace Vireo.Integration.Networks;

/// <summary>
/// Real guests on Vireo's networks, end to end: the test guest booted by <c>vireo start</c> under TCG with TAPs that
/// vireo made and handed to QEMU, inside private namespaces. DHCP from the real dnsmasq, NAT through the real nft,
/// VLANs on a private Open vSwitch; afterwards nothing vireo made is left.
/// </summary>
public sealed class GuestNetworkTests
{
    [Fact]
    public async Task IsolatedNetwork_GuestsLeaseTheirStaticAddressesAndPingEachOther()
    {
        using var t = new NetTestHost();
        string xml = Path.Combine(t.Root, "iso.xml");
        await File.WriteAllTextAsync(xml, """
            <network>
              <name>iso</name>
              <bridge name='vbr-iso'/>
              <ip address='192.0.2.1' netmask='255.255.255.0'>
                <dhcp>
                  <range start='192.0.2.100' end='192.0.2.200'/>
                  <host mac='52:54:00:00:02:11' name='g1' ip='192.0.2.11'/>
                  <host mac='52:54:00:00:02:12' name='g2' ip='192.0.2.12'/>
                </dhcp>
              </ip>
            </network>
            """);
        t.Vireo("net-define", xml).Ensure();
        t.Vireo("net-start", "iso").Ensure();

        // g1's TAP is named by <target dev>; g2's is the kernel's next vnetN, with two queues (multiqueue virtio-net).
        var starting = new[]
        {
            NetGuest.StartAsync(t, "g1", NetGuest.Interface("network", "52:54:00:00:02:11", "<source network='iso'/>",
                "<target dev='vt-g1'/><bandwidth><inbound average='1000' burst='64'/></bandwidth>"), "vireo.dhcp=1"),
            NetGuest.StartAsync(t, "g2", NetGuest.Interface("network", "52:54:00:00:02:12", "<source network='iso'/>", "<driver queues='2'/>"), "vireo.dhcp=1"),
        };
        await using var g1 = await starting[0];
        await using var g2 = await starting[1];

        // The TAP: FE-prefixed MAC, a port of the network's bridge.
        string tap = NetTestHost.In(t.Host, "ip", "-o", "link", "show", "vt-g1").Ensure().StdOut;
        Assert.Contains("master vbr-iso", tap, StringComparison.Ordinal);
        Assert.Contains("link/ether fe:54:00:00:02:11", tap, StringComparison.Ordinal);
        // <bandwidth inbound> (towards the guest) shapes the TAP's egress: 1000 KiB/s is 8 Mbit.
        Assert.Contains("qdisc tbf", NetTestHost.In(t.Host, "tc", "qdisc", "show", "dev", "vt-g1").Ensure().StdOut, StringComparison.Ordinal);
        string mq = NetTestHost.In(t.Host, "ip", "-d", "-o", "link", "show", "vnet0").Ensure().StdOut;
        Assert.Contains("master vbr-iso", mq, StringComparison.Ordinal);
        // Two queue fds attached; QEMU detaches the queues the guest driver does not use (numdisabled).
        var queues = System.Text.RegularExpressions.Regex.Match(mq, @"multi_queue numqueues (\d) numdisabled (\d)");
        Assert.True(queues.Success, mq);
        Assert.Equal(2, int.Parse(queues.Groups[1].Value, CultureInfo.InvariantCulture) + int.Parse(queues.Groups[2].Value, CultureInfo.InvariantCulture));
        string argv = File.ReadAllText($"/proc/{g2.Pid}/cmdline").Replace('\0', ' ');
        Assert.Matches(@"-netdev tap,fds=\d+:\d+,id=hostnet0", argv);
        Assert.Matches(@"virtio-net-pci,mq=on,vectors=6,", argv);

        Assert.EndsWith("eth0 192.0.2.11/24", await g1.Console.WaitForLineAsync("VIREO-DHCP-OK", NetGuest.Boot), StringComparison.Ordinal);
        Assert.EndsWith("eth0 192.0.2.12/24", await g2.Console.WaitForLineAsync("VIREO-DHCP-OK", NetGuest.Boot), StringComparison.Ordinal);
        await g1.Console.WaitForAsync("VIREO-GUEST-READY", NetGuest.Boot);
        await g2.Console.WaitForAsync("VIREO-GUEST-READY", NetGuest.Boot);
        Assert.Equal(0, await g1.RunAsync("ping -c 3 -W 2 192.0.2.12"));
        Assert.Equal(0, await g2.RunAsync("ping -c 3 -W 2 192.0.2.11"));
        // The guest driver negotiated VIRTIO_NET_F_MQ (feature bit 22).
        Assert.Equal("1", await g2.Console.RunAsync("cut -c23 /sys/class/net/eth0/device/features", NetGuest.Command));

        string leases = t.Vireo("net-dhcp-leases", "iso").Ensure().StdOut;
        Assert.Matches(@"52:54:00:00:02:11\s+ipv4\s+192\.0\.2\.11/24\s+g1", leases);
        Assert.Matches(@"52:54:00:00:02:12\s+ipv4\s+192\.0\.2\.12/24\s+g2", leases);
        string addr = t.Vireo("domifaddr", "g1").Ensure().StdOut;
        Assert.Matches(@"vt-g1\s+52:54:00:00:02:11\s+ipv4\s+192\.0\.2\.11/24", addr);
        Assert.Contains("\"addr\":\"192.0.2.12\"", t.Vireo("domifaddr", "g2", "--source", "lease", "--json").Ensure().StdOut.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);

        var arp = t.Vireo("domifaddr", "g1", "--source", "arp");
        Assert.Equal("error: domifaddr --source 'arp' is not supported yet; use --source lease", arp.StdErr.Trim());

        // Destroying a guest takes its TAP with it.
        t.Vireo("destroy", "g1").Ensure();
        Assert.NotEqual(0, NetTestHost.In(t.Host, "ip", "link", "show", "vt-g1").ExitCode);
        Assert.Equal("error: domain 'g1' is not running", t.Vireo("domifaddr", "g1").StdErr.Trim());
        t.Vireo("destroy", "g2").Ensure();
        t.Vireo("net-destroy", "iso").Ensure();
        t.AssertNothingLeft();
    }

    [Fact]
    public async Task NatNetwork_GuestReachesTheOutsideOnlyAsTheHost()
    {
        using var t = new NetTestHost();
        string outside = t.AddNamespace("out");
        t.Vireo("link-create", "wan", "--host", "--netns", outside, "--address", "203.0.113.2/24").Ensure();
        NetTestHost.In(t.Host, "ip", "addr", "add", "203.0.113.1/24", "dev", "wan-b").Ensure();
        t.Vireo("net-define-default", "--name", "nat", "--bridge", "vbr-nat", "--subnet", "198.51.100.1/24", "--start").Ensure();
        // The outside has no route to 198.51.100.0/24: replies can only come back through masquerading.
        Assert.DoesNotContain("198.51.100", NetTestHost.In(outside, "ip", "route").Ensure().StdOut, StringComparison.Ordinal);

        // The outside world: a TCP listener born in the outside namespace that reports who connected.
        using var listener = NetNamespace.Open(outside).Run(() =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.Parse("203.0.113.2"), 7000));
            s.Listen();
            return s;
        });
        var accepted = listener.AcceptAsync();

        await using var g = await NetGuest.StartAsync(t, "n1", NetGuest.Interface("network", "52:54:00:00:03:11", "<source network='nat'/>"), "vireo.dhcp=1");
        string lease = await g.Console.WaitForLineAsync("VIREO-DHCP-OK", NetGuest.Boot);
        Assert.Contains(" 198.51.100.", lease, StringComparison.Ordinal);
        await g.Console.WaitForAsync("VIREO-GUEST-READY", NetGuest.Boot);

        // busybox nc exits when the far end closes, so the outside reads the greeting, then hangs up.
        var send = g.RunAsync("echo hello | nc 203.0.113.2 7000");
        using (var peer = await accepted.WaitAsync(NetGuest.Command))
        {
            Assert.Equal(IPAddress.Parse("203.0.113.1"), ((IPEndPoint)peer.RemoteEndPoint!).Address);
            var buf = new byte[16];
            int n = await peer.ReceiveAsync(buf, SocketFlags.None).WaitAsync(NetGuest.Command);
            Assert.Equal("hello\n", System.Text.Encoding.ASCII.GetString(buf, 0, n));
        }

        Assert.Equal(0, await send);
        Assert.Equal(0, await g.RunAsync("ping -c 2 -W 2 203.0.113.2"));

        t.Vireo("destroy", "n1").Ensure();
        t.Vireo("net-destroy", "nat").Ensure();
        t.Vireo("link-delete", "wan").Ensure();
        t.AssertNothingLeft();
    }
}
