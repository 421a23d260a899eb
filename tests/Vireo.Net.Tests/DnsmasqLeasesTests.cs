using Vireo.Net.Dnsmasq;

namespace Vireo.Net.Tests;

public sealed class DnsmasqLeasesTests
{
    [Fact]
    public void ParsesIpv4AndIpv6Leases()
    {
        const string text = """
            1764130000 52:54:00:AA:00:01 192.0.2.11 guest1 01:52:54:00:aa:00:01
            0 52:54:00:aa:00:02 192.0.2.12 * *
            garbage line
            duid 00:01:00:01:2c:aa:bb:cc:52:54:00:00:00:01
            1764130000 12345 2001:db8::10 guest6 00:04:aa
            """;
        var leases = DnsmasqLeases.Parse(text);
        Assert.Equal(3, leases.Count);
        Assert.Equal("52:54:00:aa:00:01", leases[0].Mac);
        Assert.Equal("guest1", leases[0].Hostname);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1764130000), leases[0].Expiry);
        Assert.Null(leases[1].Hostname);
        Assert.Equal(DateTimeOffset.MaxValue, leases[1].Expiry);
        Assert.True(leases[2].IsIpv6);
        Assert.Equal("12345", leases[2].Iaid);
        Assert.Null(leases[2].Mac);
    }

    [Fact]
    public void MissingFileHasNoLeases() => Assert.Empty(DnsmasqLeases.Read("/nonexistent/vireo.leases"));
}
