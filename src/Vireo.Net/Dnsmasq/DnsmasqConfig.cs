using System.Globalization;
using System.Numerics;
using System.Text;
using Vireo.Model;
using Vireo.Model.Networks;

namespace Vireo.Net.Dnsmasq;

/// <summary>Where one network's dnsmasq keeps its files. Null paths are left out of the configuration.</summary>
public sealed record DnsmasqPaths(string HostsFile, string AddnHostsFile, string? PidFile = null, string? LeaseFile = null);

/// <summary>The three files dnsmasq reads for one network.</summary>
public sealed record DnsmasqFiles(string Config, string HostsFile, string AddnHosts);

/// <summary>
/// Writes the dnsmasq configuration libvirt writes for a network (option for option, in libvirt's order, so
/// libvirt's <c>networkxml2confdata</c> files are the expected output), plus the dhcp-hostsfile and addn-hosts
/// files that carry static hosts so <c>net-update</c> can change them with a SIGHUP instead of a restart.
/// </summary>
public static class DnsmasqConfig
{
    public static DnsmasqFiles Build(NetworkDefinition def, string bridge, DnsmasqPaths paths)
    {
        NetworkValidator.ValidateInterfaceName(bridge, "bridge");
        var c = new StringBuilder();
        c.Append(CultureInfo.InvariantCulture,
            $"##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n##OVERWRITTEN AND LOST.  Changes to this configuration should be made using:\n##    virsh net-edit {def.Name}\n## or other application using the libvirt API.\n##\n## dnsmasq conf file created by libvirt\nstrict-order\n");

        bool wantDns = def.Dns?.Enable != false;
        if (!wantDns)
        {
            c.Append("port=0\n");
        }

        if (wantDns && def.Dns is { } dns)
        {
            foreach (var f in dns.Forwarders)
            {
                // server=/domain/addr, server=addr, or server=/domain/ (resolve locally only).
                c.Append("server=");
                if (f.Domain is not null)
                {
                    c.Append('/').Append(f.Domain).Append('/');
                }

                c.Append(f.Address is not null ? f.Address.ToString() : f.Domain is not null ? "" : "#");
                c.Append('\n');
            }
        }

        if (def.Domain is { } domain)
        {
            if (domain.LocalOnly == true)
            {
                c.Append(CultureInfo.InvariantCulture, $"local=/{domain.Name}/\n");
            }

            c.Append(CultureInfo.InvariantCulture, $"domain={domain.Name}\nexpand-hosts\n");
        }

        if (wantDns)
        {
            AppendLocalPtrs(c, def);
        }

        if (wantDns && def.Dns?.ForwardPlainNames == false)
        {
            c.Append("domain-needed\nlocal=//\n");
        }

        if (paths.PidFile is not null)
        {
            c.Append(CultureInfo.InvariantCulture, $"pid-file={paths.PidFile}\n");
        }

        c.Append("except-interface=lo\n");
        c.Append(CultureInfo.InvariantCulture, $"bind-dynamic\ninterface={bridge}\n");

        if (def.Forward.Mode == ForwardMode.None)
        {
            // Isolated: no default route in DHCP offers, no forwarding of DNS queries to the host's resolvers,
            // and a zero lifetime on the route that IPv6 router advertisements imply.
            c.Append("dhcp-option=3\nno-resolv\nra-param=*,0,0\n");
        }

        if (wantDns && def.Dns is { } dns2)
        {
            foreach (var t in dns2.Txts)
            {
                c.Append(CultureInfo.InvariantCulture, $"txt-record={t.Name},{t.Value}\n");
            }

            foreach (var s in dns2.Srvs)
            {
                c.Append(CultureInfo.InvariantCulture, $"srv-host=_{s.Service}._{s.Protocol}");
                if (s.Domain is not null)
                {
                    c.Append('.').Append(s.Domain);
                }

                if (s.Target is not null)
                {
                    c.Append(',').Append(s.Target);
                }

                c.Append(CultureInfo.InvariantCulture, $",{s.Port ?? 0},{s.Priority ?? 0},{s.Weight ?? 0}\n");
            }
        }

        foreach (var ip in def.Ipv4.Where(i => i.TftpRoot is not null))
        {
            c.Append(CultureInfo.InvariantCulture, $"enable-tftp\ntftp-root={ip.TftpRoot}\n");
        }

        var hosts = new StringBuilder();
        NetworkIp? v4 = def.Ipv4.FirstOrDefault(i => i.Ranges.Count > 0 || i.Hosts.Count > 0);
        NetworkIp? v6 = def.Ipv6.FirstOrDefault(i => i.Ranges.Count > 0 || i.Hosts.Count > 0);
        BigInteger leases = 0;
        for (var ip = v4 ?? v6; ip is not null; ip = ip == v6 ? null : v6)
        {
            int prefix = ip.PrefixLength;
            foreach (var r in ip.Ranges)
            {
                c.Append(CultureInfo.InvariantCulture, $"dhcp-range={r.Start},{r.End},");
                c.Append(ip.IsIpv6 ? prefix.ToString(CultureInfo.InvariantCulture) : IpNetwork.NetmaskFromPrefix(prefix).ToString());
                if (LeaseTime(r.Lease) is { } lt)
                {
                    c.Append(',').Append(lt);
                }

                c.Append('\n');
                leases += IpNetwork.RangeSize(r.Start, r.End);
            }

            if (ip.Ranges.Count == 0 && ip.Hosts.Count > 0)
            {
                // Static hosts only: dnsmasq serves DHCP on a subnet only when it has a range for it.
                c.Append(CultureInfo.InvariantCulture, $"dhcp-range={ip.Address},static");
                if (ip.IsIpv6)
                {
                    c.Append(CultureInfo.InvariantCulture, $",{prefix}");
                }

                c.Append('\n');
            }

            foreach (var h in ip.Hosts)
            {
                hosts.Append(HostsLine(h, ip.IsIpv6)).Append('\n');
            }

            if (!ip.IsIpv6)
            {
                c.Append("dhcp-no-override\ndhcp-authoritative\n");
                if (ip.BootFile is not null)
                {
                    c.Append(CultureInfo.InvariantCulture, $"dhcp-boot={ip.BootFile}{(ip.BootServer is null ? "" : ",," + ip.BootServer)}\n");
                }
            }
        }

        if (leases > 0)
        {
            c.Append(CultureInfo.InvariantCulture, $"dhcp-lease-max={leases}\n");
        }

        if (v4 is not null || v6 is not null)
        {
            c.Append(CultureInfo.InvariantCulture, $"dhcp-hostsfile={paths.HostsFile}\n");
            if (paths.LeaseFile is not null)
            {
                c.Append(CultureInfo.InvariantCulture, $"dhcp-leasefile={paths.LeaseFile}\n");
            }
        }

        if (wantDns)
        {
            c.Append(CultureInfo.InvariantCulture, $"addn-hosts={paths.AddnHostsFile}\n");
        }

        if (v6 is not null)
        {
            c.Append("enable-ra\n");
        }
        else
        {
            foreach (var ip in def.Ipv6)
            {
                c.Append(CultureInfo.InvariantCulture, $"dhcp-range={ip.Address},ra-only\n");
            }
        }

        var addn = new StringBuilder();
        if (wantDns && def.Dns is { } dns3)
        {
            foreach (var h in dns3.Hosts)
            {
                addn.Append(h.Ip).Append('\t').AppendJoin('\t', h.Hostnames).Append('\n');
            }
        }

        return new DnsmasqFiles(c.ToString(), hosts.ToString(), addn.ToString());
    }

    /// <summary>One dhcp-hostsfile line, as libvirt writes it.</summary>
    public static string HostsLine(DhcpHost h, bool ipv6)
    {
        string line;
        if (ipv6)
        {
            string ip = $"[{h.Ip}]";
            line = h.Id is not null
                ? (h.Name is not null ? $"id:{h.Id},{h.Name},{ip}" : $"id:{h.Id},{ip}")
                : $"{h.Name},{ip}";
        }
        else
        {
            var parts = new[] { h.Mac, h.Ip?.ToString(), h.Name }.Where(p => p is not null);
            line = string.Join(',', parts);
        }

        return LeaseTime(h.Lease) is { } lt ? $"{line},{lt}" : line;
    }

    private static string? LeaseTime(DhcpLease? lease)
    {
        if (lease is null)
        {
            return null;
        }

        if (lease.Expiry == 0)
        {
            return "infinite";
        }

        string unit = lease.Unit switch
        {
            null or "minutes" => "m",
            "seconds" => "",
            "hours" => "h",
            var u => throw VireoException.Invalid($"<lease unit> '{u}' must be seconds, minutes or hours"),
        };
        return $"{lease.Expiry.ToString(CultureInfo.InvariantCulture)}{unit}";
    }

    private static void AppendLocalPtrs(StringBuilder c, NetworkDefinition def)
    {
        foreach (var ip in def.Ips.Where(i => i.LocalPtr == "yes"))
        {
            // Answer reverse lookups for the subnet locally: local=/x.y.z.in-addr.arpa/, only on octet/nibble boundaries.
            int prefix = ip.PrefixLength;
            var bytes = ip.Subnet.NetworkAddress.GetAddressBytes();
            var sb = new StringBuilder("local=/");
            if (ip.IsIpv6)
            {
                if (prefix % 4 != 0)
                {
                    continue;
                }

                for (int nib = prefix / 4 - 1; nib >= 0; nib--)
                {
                    int b = bytes[nib / 2];
                    sb.Append(((nib % 2 == 0) ? b >> 4 : b & 0xf).ToString("x", CultureInfo.InvariantCulture)).Append('.');
                }

                sb.Append("ip6.arpa/\n");
            }
            else
            {
                if (prefix % 8 != 0)
                {
                    continue;
                }

                for (int i = prefix / 8 - 1; i >= 0; i--)
                {
                    sb.Append(bytes[i].ToString(CultureInfo.InvariantCulture)).Append('.');
                }

                sb.Append("in-addr.arpa/\n");
            }

            c.Append(sb);
        }
    }
}
