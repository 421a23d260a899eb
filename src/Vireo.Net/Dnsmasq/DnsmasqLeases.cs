using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Vireo.Net.Dnsmasq;

/// <summary>One DHCP lease as dnsmasq records it. <see cref="Mac"/> is null for DHCPv6 leases (they carry an IAID and DUID).</summary>
public sealed record DhcpLeaseEntry(DateTimeOffset Expiry, string? Mac, IPAddress Address, string? Hostname, string? ClientId, string? Iaid)
{
    public bool IsIpv6 => Address.AddressFamily == AddressFamily.InterNetworkV6;
}

/// <summary>
/// Reads dnsmasq's lease file: <c>EXPIRY MAC IP HOSTNAME CLIENTID</c> per IPv4 lease; after a <c>duid</c> line,
/// <c>EXPIRY IAID IP HOSTNAME DUID</c> per IPv6 lease. '*' means absent; malformed lines are skipped, not fatal.
/// </summary>
public static class DnsmasqLeases
{
    public static IReadOnlyList<DhcpLeaseEntry> Parse(string text)
    {
        var leases = new List<DhcpLeaseEntry>();
        bool v6Section = false;
        foreach (string raw in text.Split('\n'))
        {
            var f = raw.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length == 0)
            {
                continue;
            }

            if (f[0] == "duid")
            {
                v6Section = true;
                continue;
            }

            if (f.Length < 4 || !long.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out long expiry)
                || !IPAddress.TryParse(f[2], out var ip))
            {
                continue;
            }

            string? host = f[3] == "*" ? null : f[3];
            string? client = f.Length > 4 && f[4] != "*" ? f[4] : null;
            var when = expiry == 0 ? DateTimeOffset.MaxValue : DateTimeOffset.FromUnixTimeSeconds(expiry);
            leases.Add(v6Section || ip.AddressFamily == AddressFamily.InterNetworkV6
                ? new DhcpLeaseEntry(when, null, ip, host, client, f[1])
                : new DhcpLeaseEntry(when, f[1].ToLowerInvariant(), ip, host, client, null));
        }

        return leases;
    }

    public static IReadOnlyList<DhcpLeaseEntry> Read(string path) =>
        File.Exists(path) ? Parse(File.ReadAllText(path)) : [];
}
