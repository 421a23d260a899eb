using System.Net.Sockets;
using System.Xml.Linq;
using Vireo.Engine.State;
using Vireo.Model;
using Vireo.Model.Networks;
using Vireo.Net.Dnsmasq;

namespace Vireo.Engine.Networks;

/// <summary>What <c>net-update</c> does to a section.</summary>
public enum NetworkUpdateCommand
{
    Add,
    Delete,
    Modify,
}

public sealed partial class NetworkManager
{
    /// <summary>
    /// <c>net-update NAME add|delete|modify ip-dhcp-host XML</c>: changes the static hosts of the <c>&lt;ip&gt;</c> with
    /// DHCP of the host's family (or <paramref name="parentIndex"/>), in the live network (hosts file rewritten,
    /// dnsmasq told with SIGHUP) and/or the persistent definition. With neither flag: live if active, else config.
    /// </summary>
    public void UpdateDhcpHost(string name, NetworkUpdateCommand command, string hostXml, bool live, bool config, int? parentIndex = null)
    {
        var hostEl = SafeXml.Parse(hostXml, "ip-dhcp-host XML").Root!;
        if (hostEl.Name.LocalName != "host")
        {
            throw VireoException.Invalid($"ip-dhcp-host XML must be a <host> element, not <{hostEl.Name.LocalName}>");
        }

        using var l = Lock();
        ReconcileLocked(name);
        var rec = LoadRecord(name);
        var persistent = LoadDefinition(name);
        if (rec is null && persistent is null)
        {
            throw NotFound(name);
        }

        if (!live && !config)
        {
            live = rec is not null;
            config = rec is null;
        }

        if (live && rec is null)
        {
            throw VireoException.State($"network '{name}' is not active; use --config");
        }

        if (config && persistent is null)
        {
            throw VireoException.State($"network '{name}' is transient; it has no persistent definition to change (--config)");
        }

        // Compute both new definitions first, so a bad update changes neither.
        var newLive = live ? Apply(rec!.Definition, command, hostEl, parentIndex) : null;
        var newConfig = config ? Apply(persistent!, command, hostEl, parentIndex) : null;
        if (newConfig is not null)
        {
            AtomicFile.WriteAllText(DefinitionPath(name), NetworkXml.ToXml(newConfig));
        }

        if (newLive is not null)
        {
            var files = Run(name);
            var updated = rec! with { Definition = newLive };
            updated.Save(files.Status);
            if (File.Exists(files.DnsmasqConf) && updated.Bridge is not null)
            {
                WriteDnsmasqFiles(newLive, updated.Bridge, files);
                DnsmasqProcess.Reload(files.DnsmasqPid, files.DnsmasqConf);
            }
        }
    }

    private static NetworkDefinition Apply(NetworkDefinition def, NetworkUpdateCommand command, XElement hostEl, int? parentIndex)
    {
        // Parse the host through the network parser so it gets the same checks as a definition.
        var probe = NetworkXml.Parse($"<network><name>probe</name><ip address='{(hostEl.Attribute("id") is not null || IsV6(hostEl) ? "fd00::1' prefix='64" : "192.0.2.1' prefix='24")}'><dhcp>{hostEl}</dhcp></ip></network>");
        var host = probe.Ips[0].Hosts[0];
        bool v6 = probe.Ips[0].IsIpv6;
        int index = parentIndex ?? def.Ips.ToList().FindIndex(i => i.IsIpv6 == v6 && i.HasDhcp);
        if (index < 0 || index >= def.Ips.Count)
        {
            throw VireoException.Invalid($"network '{def.Name}' has no {(v6 ? "IPv6" : "IPv4")} <ip> with <dhcp> to hold the host");
        }

        var ip = def.Ips[index];
        var hosts = ip.Hosts.ToList();
        int match = hosts.FindIndex(h => (host.Mac is not null && h.Mac == host.Mac) || (host.Id is not null && h.Id == host.Id)
            || (host.Mac is null && host.Id is null && host.Name is not null && h.Name == host.Name));
        switch (command)
        {
            case NetworkUpdateCommand.Add:
                if (match >= 0 || hosts.Any(h => host.Ip is not null && host.Ip.Equals(h.Ip)))
                {
                    throw VireoException.Invalid($"network '{def.Name}': there is already a <host> with mac {host.Mac ?? host.Id ?? host.Name} or ip {host.Ip}");
                }

                hosts.Add(host);
                break;
            case NetworkUpdateCommand.Delete:
                if (match < 0)
                {
                    throw VireoException.NotFound($"network '{def.Name}' has no <host> with {(host.Mac is not null ? $"mac {host.Mac}" : host.Id is not null ? $"id {host.Id}" : $"name {host.Name}")}");
                }

                hosts.RemoveAt(match);
                break;
            default:
                if (match < 0)
                {
                    throw VireoException.NotFound($"network '{def.Name}' has no <host> matching {host.Mac ?? host.Id ?? host.Name}");
                }

                hosts[match] = host;
                break;
        }

        var ips = def.Ips.ToList();
        ips[index] = ip with { Hosts = hosts };
        var updated = def with { Ips = ips };
        NetworkValidator.Validate(updated);
        return updated;
    }

    private static bool IsV6(XElement host) =>
        System.Net.IPAddress.TryParse((string?)host.Attribute("ip") ?? "", out var a) && a.AddressFamily == AddressFamily.InterNetworkV6;

    /// <summary>The unexpired leases dnsmasq handed out on an active network, optionally for one MAC.</summary>
    public IReadOnlyList<NetworkLease> GetLeases(string name, string? mac = null)
    {
        var rec = GetActive(name);
        string? want = mac is null ? null : NetworkXml.Mac(mac, "--mac");
        var now = DateTimeOffset.UtcNow;
        return DnsmasqLeases.Read(Run(rec.Definition.Name).Leases)
            .Where(l => l.Expiry > now && (want is null || l.Mac == want))
            .Select(l => new NetworkLease(l.Expiry, l.Mac, l.Iaid, l.IsIpv6 ? "ipv6" : "ipv4",
                $"{l.Address}/{PrefixFor(rec.Definition, l.Address)}", l.Hostname, l.ClientId))
            .ToList();
    }

    private static int PrefixFor(NetworkDefinition def, System.Net.IPAddress a) =>
        def.Ips.FirstOrDefault(i => i.Subnet.Contains(a))?.PrefixLength ?? (a.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32);
}
