using Vireo.Model;
using Vireo.Model.Networks;
using Vireo.Net.Dnsmasq;

namespace Vireo.Net.Tests;

public sealed class DnsmasqConfigTests
{
    public static TheoryData<string> Cases => DnsmasqCorpus.Names("networkxml2confdata", "*.xml", ".xml");

    private static DnsmasqFiles Build(string name)
    {
        string dir = DnsmasqCorpus.Dir("networkxml2confdata");
        var def = NetworkXml.Parse(File.ReadAllText(Path.Combine(dir, name + ".xml")));
        NetworkValidator.Validate(def);
        var paths = new DnsmasqPaths($"/var/lib/libvirt/dnsmasq/{def.Name}.hostsfile", $"/var/lib/libvirt/dnsmasq/{def.Name}.addnhosts");
        return DnsmasqConfig.Build(def, def.Bridge!.Name!, paths);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ConfigMatchesLibvirt(string name)
    {
        string expected = File.ReadAllText(Path.Combine(DnsmasqCorpus.Dir("networkxml2confdata"), name + ".conf"));
        Assert.Equal(expected, Build(name).Config);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void HostsFileMatchesLibvirt(string name)
    {
        string path = Path.Combine(DnsmasqCorpus.Dir("networkxml2confdata"), name + ".hostsfile");
        string expected = File.Exists(path) ? File.ReadAllText(path) : "";
        Assert.Equal(expected, Build(name).HostsFile);
    }

    [Fact]
    public void DnsHostsGoToAddnHosts()
    {
        var files = Build("nat-network-dns-hosts");
        Assert.Equal("192.168.122.1\thost\tgateway\n", files.AddnHosts);
    }

    [Fact]
    public void RuntimePathsAreWrittenWhenGiven()
    {
        var def = NetworkXml.Parse("<network><name>t</name><bridge name='vbr0'/><ip address='192.0.2.1' prefix='24'><dhcp><range start='192.0.2.10' end='192.0.2.20'/></dhcp></ip></network>");
        var files = DnsmasqConfig.Build(def, "vbr0", new DnsmasqPaths("/r/h", "/r/a", "/r/pid", "/r/leases"));
        Assert.Contains("pid-file=/r/pid\n", files.Config, StringComparison.Ordinal);
        Assert.Contains("dhcp-leasefile=/r/leases\n", files.Config, StringComparison.Ordinal);
        Assert.Contains("dhcp-lease-max=11\n", files.Config, StringComparison.Ordinal);
    }

    [Fact]
    public void StaticHostsOnlyEnableAStaticRange()
    {
        var def = NetworkXml.Parse("<network><name>t</name><bridge name='vbr0'/><ip address='192.0.2.1' prefix='24'><dhcp><host mac='52:54:00:00:00:01' ip='192.0.2.5'><lease expiry='2' unit='hours'/></host></dhcp></ip></network>");
        var files = DnsmasqConfig.Build(def, "vbr0", new DnsmasqPaths("/r/h", "/r/a"));
        Assert.Contains("dhcp-range=192.0.2.1,static\n", files.Config, StringComparison.Ordinal);
        Assert.Equal("52:54:00:00:00:01,192.0.2.5,2h\n", files.HostsFile);
    }

    [Fact]
    public void BadBridgeNameIsRefused()
    {
        var def = NetworkXml.Parse("<network><name>t</name></network>");
        var e = Assert.Throws<VireoException>(() => DnsmasqConfig.Build(def, "br\ninterface=eth0", new DnsmasqPaths("/h", "/a")));
        Assert.Contains("bridge", e.Message, StringComparison.Ordinal);
    }
}
