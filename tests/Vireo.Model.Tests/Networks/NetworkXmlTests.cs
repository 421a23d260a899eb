using Vireo.Model.Networks;

namespace Vireo.Model.Tests.Networks;

public sealed class NetworkXmlTests
{
    public static TheoryData<string> InputFiles => NetCorpus.Files("networkxml2xmlin");

    [Theory]
    [MemberData(nameof(InputFiles))]
    public void RoundTripMatchesLibvirtOutput(string file)
    {
        string input = File.ReadAllText(Path.Combine(NetCorpus.Dir("networkxml2xmlin"), file));
        string expected = File.ReadAllText(Path.Combine(NetCorpus.Dir("networkxml2xmlout"), file));
        var def = NetworkXml.Parse(input);
        Assert.Equal(expected, NetworkXml.ToXml(def));
    }

    [Theory]
    [MemberData(nameof(InputFiles))]
    public void OutputIsAFixedPoint(string file)
    {
        string expected = File.ReadAllText(Path.Combine(NetCorpus.Dir("networkxml2xmlout"), file));
        Assert.Equal(expected, NetworkXml.ToXml(NetworkXml.Parse(expected)));
    }

    [Theory]
    [MemberData(nameof(InputFiles))]
    public void CorpusInputsAreValid(string file)
    {
        var def = NetworkXml.Parse(File.ReadAllText(Path.Combine(NetCorpus.Dir("networkxml2xmlin"), file)));
        NetworkValidator.Validate(def);
    }

    [Fact]
    public void ForwardWithoutModeIsNat()
    {
        var def = NetworkXml.Parse("<network><name>n</name><forward/><ip address='192.0.2.1' prefix='24'/></network>");
        Assert.Equal(ForwardMode.Nat, def.Forward.Mode);
        Assert.Equal(24, def.Ips[0].PrefixLength);
        Assert.Equal("192.0.2.0/24", def.Ips[0].Subnet.ToString());
    }

    [Fact]
    public void MissingUuidIsGenerated()
    {
        var def = NetworkXml.Parse("<network><name>n</name></network>");
        Assert.NotEqual(Guid.Empty, def.Uuid);
        Assert.Equal(ForwardMode.None, def.Forward.Mode);
    }

    [Theory]
    [InlineData("<net><name>n</name></net>", "root element")]
    [InlineData("<network><name></name></network>", "network name must not be empty")]
    [InlineData("<network><name>a/b</name></network>", "must not contain '/'")]
    [InlineData("<network><name>n</name><uuid>zz</uuid></network>", "<uuid> 'zz'")]
    [InlineData("<network><name>n</name><forward mode='teleport'/></network>", "<forward mode> 'teleport'")]
    [InlineData("<network><name>n</name><ip address='192.0.2.300' prefix='24'/></network>", "<ip address> '192.0.2.300'")]
    [InlineData("<network><name>n</name><ip address='192.0.2.1' netmask='255.0.255.0'/></network>", "<ip netmask> '255.0.255.0'")]
    [InlineData("<network><name>n</name><ip address='192.0.2.1' prefix='33'/></network>", "<ip prefix> '33'")]
    [InlineData("<network><name>n</name><mac address='52:54:00:zz:00:01'/></network>", "<mac address> '52:54:00:zz:00:01'")]
    [InlineData("<network><name>n</name><bridge stp='maybe'/></network>", "<bridge stp> 'maybe'")]
    [InlineData("<!DOCTYPE x [<!ENTITY a 'b'>]><network><name>n</name></network>", "DTD")]
    [InlineData("<network><name>n</name><ip family='ipv6' address='192.0.2.1'/></network>", "not an ipv6 address")]
    public void BadXmlIsRefusedNamingTheField(string xml, string expected)
    {
        var e = Assert.Throws<VireoException>(() => NetworkXml.Parse(xml));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
