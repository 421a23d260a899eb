using Vireo.Model.Networks;

namespace Vireo.Model.Tests.Networks;

public sealed class NetworkValidatorTests
{
    private static string Net(string body, string forward = "", string bridge = "<bridge name='vbr0'/>") =>
        $"<network><name>t</name>{forward}{bridge}{body}</network>";

    private static string Dhcp(string inner) =>
        $"<ip address='192.0.2.1' netmask='255.255.255.0'><dhcp>{inner}</dhcp></ip>";

    [Fact]
    public void IsolatedNetworkWithStaticHostsIsValid()
    {
        NetworkValidator.Validate(NetworkXml.Parse(Net(Dhcp(
            "<range start='192.0.2.100' end='192.0.2.200'/>" +
            "<host mac='52:54:00:00:00:01' name='g1' ip='192.0.2.11'/>" +
            "<host mac='52:54:00:00:00:02' name='g2' ip='192.0.2.12'/>"))));
    }

    [Theory]
    [InlineData("<range start='192.0.2.100' end='198.51.100.5'/>", "198.51.100.5 is outside the subnet 192.0.2.0/24")]
    [InlineData("<range start='192.0.2.200' end='192.0.2.100'/>", "ends before it starts")]
    [InlineData("<range start='192.0.2.0' end='192.0.2.10'/>", "network or broadcast")]
    [InlineData("<range start='192.0.2.1' end='192.0.2.10'/>", "contains the network's own address")]
    [InlineData("<host mac='52:54:00:00:00:01' ip='203.0.113.5'/>", "ip 203.0.113.5 is outside the subnet 192.0.2.0/24")]
    [InlineData("<host mac='52:54:00:00:00:01' ip='192.0.2.5'/><host mac='52:54:00:00:00:01' ip='192.0.2.6'/>", "mac 52:54:00:00:00:01 is given to more than one <host>")]
    [InlineData("<host mac='52:54:00:00:00:01' ip='192.0.2.5'/><host mac='52:54:00:00:00:02' ip='192.0.2.5'/>", "ip 192.0.2.5 is given to more than one <host>")]
    [InlineData("<host mac='52:54:00:00:00:01' name='a,b' ip='192.0.2.5'/>", "name 'a,b' must not contain")]
    [InlineData("<host ip='192.0.2.5'/>", "needs a mac or a name")]
    public void BadDhcpIsRefused(string dhcp, string expected)
    {
        var e = Assert.Throws<VireoException>(() => NetworkValidator.Validate(NetworkXml.Parse(Net(Dhcp(dhcp)))));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<bridge name='thisnameiswaytoolong'/>", "<bridge name> 'thisnameiswaytoolong' must be 1 to 15 bytes")]
    [InlineData("<bridge name='a/b'/>", "not a valid interface name")]
    [InlineData("<bridge name='a b'/>", "not a valid interface name")]
    public void BadBridgeNameIsRefused(string bridge, string expected)
    {
        var e = Assert.Throws<VireoException>(() => NetworkValidator.Validate(NetworkXml.Parse(Net("", bridge: bridge))));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OverlappingIpElementsAreRefused()
    {
        var e = Assert.Throws<VireoException>(() => NetworkValidator.Validate(NetworkXml.Parse(Net(
            "<ip address='192.0.2.1' prefix='24'/><ip address='192.0.2.129' prefix='25'/>"))));
        Assert.Contains("overlaps 192.0.2.0/24", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TwoIpv4DhcpBlocksAreRefused()
    {
        var e = Assert.Throws<VireoException>(() => NetworkValidator.Validate(NetworkXml.Parse(Net(
            "<ip address='192.0.2.1' prefix='24'><dhcp><range start='192.0.2.2' end='192.0.2.9'/></dhcp></ip>" +
            "<ip address='198.51.100.1' prefix='24'><dhcp><range start='198.51.100.2' end='198.51.100.9'/></dhcp></ip>"))));
        Assert.Contains("only one IPv4 <ip> may have <dhcp>", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadNatPortRangeIsRefused()
    {
        var e = Assert.Throws<VireoException>(() => NetworkValidator.Validate(NetworkXml.Parse(Net("",
            forward: "<forward mode='nat'><nat><port start='2000' end='1000'/></nat></forward>"))));
        Assert.Contains("<nat><port start='2000' end='1000'>", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HostBridgeModeTakesBridgeOrInterfaceNotBoth()
    {
        var e = Assert.Throws<VireoException>(() => NetworkValidator.Validate(NetworkXml.Parse(Net("",
            forward: "<forward mode='bridge' dev='eth0'/>", bridge: "<bridge name='br0'/>"))));
        Assert.Contains("not both", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DomainNameCannotInjectDnsmasqOptions()
    {
        var e = Assert.Throws<VireoException>(() => NetworkValidator.Validate(NetworkXml.Parse(Net("<domain name='a&#10;dhcp-script=/bin/sh'/>"))));
        Assert.Contains("<domain name>", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SubnetArithmetic()
    {
        Assert.True(IpNetwork.TryParse("198.51.100.77/26", out var n));
        Assert.Equal("198.51.100.64", n.NetworkAddress.ToString());
        Assert.Equal("198.51.100.127", n.LastAddress.ToString());
        Assert.True(IpNetwork.TryParse("198.51.100.0/24", out var m));
        Assert.True(n.Overlaps(m));
        Assert.True(IpNetwork.TryParse("2001:db8::1/64", out var v6));
        Assert.Equal("2001:db8::", v6.NetworkAddress.ToString());
        Assert.Equal(24, IpNetwork.PrefixFromNetmask(System.Net.IPAddress.Parse("255.255.255.0")));
    }
}
