namespace Vireo.Integration.Networks;

/// <summary>
/// Networks end to end, inside namespaces: real bridges, the real dnsmasq, the real nft. Guests are stand-ins —
/// namespaces plugged into the network with <c>vireo link-create</c> running busybox <c>udhcpc</c> — so DHCP, DNS,
/// forwarding and NAT are exercised exactly as a VM's TAP would see them.
/// </summary>
public sealed class NetworkLifecycleTests
{
    private const string UdhcpcScript = """
        #!/bin/sh
        case "$1" in
          bound|renew)
            busybox ifconfig "$interface" "$ip" netmask "$subnet" up
            [ -n "$router" ] && busybox route add default gw "${router%% *}" dev "$interface"
            ;;
        esac
        exit 0
        """;

    private static string WriteScript(NetTestHost t)
    {
        string path = Path.Combine(t.Root, "udhcpc.sh");
        File.WriteAllText(path, UdhcpcScript);
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        return path;
    }

    /// <summary>Plugs a stand-in guest (a namespace) into <paramref name="network"/> and runs a DHCP client there.</summary>
    private static string Guest(NetTestHost t, string network, string role, string mac, string script)
    {
        string ns = t.AddNamespace(role);
        t.Vireo("link-create", role, "--network", network, "--netns", ns).Ensure();
        NetTestHost.In(ns, "ip", "link", "set", $"{role}-b", "address", mac).Ensure();
        NetTestHost.In(ns, "busybox", "udhcpc", "-i", $"{role}-b", "-n", "-q", "-t", "10", "-T", "1", "-s", script).Ensure();
        return ns;
    }

    [Fact]
    public void IsolatedNetworkServesDhcpAndGuestsReachEachOther()
    {
        using var t = new NetTestHost();
        string xml = Path.Combine(t.Root, "iso.xml");
        File.WriteAllText(xml, """
            <network>
              <name>iso</name>
              <bridge name='vbr-iso'/>
              <ip address='192.0.2.1' netmask='255.255.255.0'>
                <dhcp>
                  <range start='192.0.2.100' end='192.0.2.200'/>
                  <host mac='52:54:00:00:00:11' name='g1' ip='192.0.2.11'/>
                  <host mac='52:54:00:00:00:12' name='g2' ip='192.0.2.12'/>
                </dhcp>
              </ip>
            </network>
            """);
        t.Vireo("net-define", xml).Ensure();
        t.Vireo("net-start", "iso").Ensure();
        Assert.Contains("vireo", NetTestHost.In(t.Host, "nft", "list", "tables").Ensure().StdOut, StringComparison.Ordinal);

        string script = WriteScript(t);
        string g1 = Guest(t, "iso", "g1", "52:54:00:00:00:11", script);
        string g2 = Guest(t, "iso", "g2", "52:54:00:00:00:12", script);
        Assert.Contains("192.0.2.11/24", NetTestHost.In(g1, "ip", "-br", "addr").Ensure().StdOut, StringComparison.Ordinal);
        NetTestHost.In(g1, "busybox", "ping", "-c", "1", "-W", "5", "192.0.2.12").Ensure();
        NetTestHost.In(g2, "busybox", "ping", "-c", "1", "-W", "5", "192.0.2.11").Ensure();

        string leases = t.Vireo("net-dhcp-leases", "iso").Ensure().StdOut;
        Assert.Contains("192.0.2.11/24", leases, StringComparison.Ordinal);
        Assert.Contains("192.0.2.12/24", leases, StringComparison.Ordinal);
        Assert.Contains("52:54:00:00:00:12", t.Vireo("net-dhcp-leases", "iso", "--json").Ensure().StdOut, StringComparison.Ordinal);

        // A live net-update reaches dnsmasq without a restart.
        t.Vireo("net-update", "iso", "add", "ip-dhcp-host", "<host mac='52:54:00:00:00:13' ip='192.0.2.13'/>", "--live", "--config").Ensure();
        Assert.Contains("52:54:00:00:00:13", File.ReadAllText(Path.Combine(t.Root, "run", "networks", "iso", "dnsmasq.hostsfile")), StringComparison.Ordinal);
        Assert.Contains("192.0.2.13", t.Vireo("net-dumpxml", "iso", "--inactive").Ensure().StdOut, StringComparison.Ordinal);

        t.Vireo("link-delete", "g1").Ensure();
        t.Vireo("link-delete", "g2").Ensure();
        t.Vireo("net-destroy", "iso").Ensure();
        t.Vireo("net-undefine", "iso").Ensure();
        t.AssertNothingLeft();
    }

    [Fact]
    public void NatNetworkMasqueradesToTheOutside()
    {
        using var t = new NetTestHost();
        string outside = t.AddNamespace("out");
        t.Vireo("link-create", "wan", "--host", "--netns", outside, "--address", "203.0.113.2/24").Ensure();
        NetTestHost.In(t.Host, "ip", "addr", "add", "203.0.113.1/24", "dev", "wan-b").Ensure();
        t.Vireo("net-define-default", "--name", "nat", "--bridge", "vbr-nat", "--subnet", "198.51.100.1/24", "--start").Ensure();
        Assert.Contains("masquerade", NetTestHost.In(t.Host, "nft", "list", "table", "inet", "vireo").Ensure().StdOut, StringComparison.Ordinal);

        string g = Guest(t, "nat", "g1", "52:54:00:00:00:21", WriteScript(t));
        // The outside has no route to 198.51.100.0/24: a reply can only come back through masquerading.
        Assert.DoesNotContain("198.51.100", NetTestHost.In(outside, "ip", "route").Ensure().StdOut, StringComparison.Ordinal);
        NetTestHost.In(g, "busybox", "ping", "-c", "1", "-W", "5", "203.0.113.2").Ensure();

        t.Vireo("link-delete", "g1").Ensure();
        t.Vireo("net-destroy", "nat").Ensure();
        t.Vireo("link-delete", "wan").Ensure();
        t.AssertNothingLeft();
    }

    [Fact]
    public void KilledStartIsReconciledByTheNextCommand()
    {
        using var t = new NetTestHost();
        t.Vireo("net-define-default", "--name", "k", "--bridge", "vbr-k", "--subnet", "192.0.2.1/24", "--start").Ensure();

        // What a SIGKILL between "bridge made" and "network active" leaves: the intent record still says starting.
        string status = Path.Combine(t.Root, "run", "networks", "k", "status.xml");
        File.WriteAllText(status, File.ReadAllText(status).Replace("state=\"active\"", "state=\"starting\"", StringComparison.Ordinal));
        Assert.Contains("inactive", t.Vireo("net-list", "--all").Ensure().StdOut, StringComparison.Ordinal);
        t.AssertNothingLeft();

        t.Vireo("net-start", "k").Ensure();
        t.Vireo("net-destroy", "k").Ensure();
        t.AssertNothingLeft();
    }

    [Fact]
    public void BadInputIsRefusedAndNothingIsCreated()
    {
        using var t = new NetTestHost();
        NetTestHost.In(t.Host, "ip", "link", "add", "vtaken0", "type", "bridge").Ensure();
        string xml = Path.Combine(t.Root, "bad.xml");
        File.WriteAllText(xml, "<network><name>b</name><bridge name='vtaken0'/><ip address='192.0.2.1' prefix='24'/></network>");
        var r = t.Vireo("net-create", xml);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error: network 'b': <bridge name> 'vtaken0' is in use by an existing interface", r.StdErr, StringComparison.Ordinal);

        File.WriteAllText(xml, "<network><name>b</name><forward mode='nat' dev='nosuch0'/><bridge name='vbr-b'/><ip address='192.0.2.1' prefix='24'/></network>");
        r = t.Vireo("net-define", xml);
        Assert.Contains("<forward dev> 'nosuch0' does not exist", r.StdErr, StringComparison.Ordinal);

        var inactive = t.Vireo("link-create", "l0", "--network", "nosuch", "--host");
        Assert.Equal(1, inactive.ExitCode);
        Assert.Contains("network 'nosuch' does not exist", inactive.StdErr, StringComparison.Ordinal);
        NetTestHost.In(t.Host, "ip", "link", "del", "vtaken0").Ensure();
        t.AssertNothingLeft();
    }
}
