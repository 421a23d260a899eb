using System.Net;
using System.Text;

namespace Vireo.Model.Networks;

/// <summary>
/// Checks a definition on its own (no host facts): subnets, DHCP ranges and hosts, bridge name, forward mode
/// requirements. Host checks (routes, links in use) live in the engine. Each error names the field and value.
/// </summary>
public static class NetworkValidator
{
    /// <summary>Linux IFNAMSIZ is 16 including the NUL.</summary>
    public const int MaxInterfaceNameBytes = 15;

    public static void Validate(NetworkDefinition def)
    {
        string n = $"network '{def.Name}'";
        if (def.Bridge?.Name is { } br)
        {
            ValidateInterfaceName(br, $"{n}: <bridge name>");
        }

        foreach (string dev in def.Forward.Interfaces.Concat(def.Forward.PhysicalFunctions))
        {
            ValidateInterfaceName(dev, $"{n}: <forward> device");
        }

        if (def.Forward.Mode == ForwardMode.Bridge && def.Bridge?.Name is not null && def.Forward.Interfaces.Count > 0)
        {
            throw VireoException.Invalid($"{n}: <forward mode='bridge'> takes either <bridge name> or <forward><interface dev>, not both");
        }

        if (!def.HasManagedBridge && def.Ips.Count > 0)
        {
            throw VireoException.Invalid($"{n}: <ip> is not allowed with <forward mode='{Mode(def)}'>; the host bridge's addresses are not Vireo's");
        }

        if (def.Forward.Mode is ForwardMode.Nat or ForwardMode.Route && def.Forward.Interfaces.Count > 1)
        {
            throw VireoException.Invalid($"{n}: <forward mode='{Mode(def)}'> takes at most one <interface dev>");
        }

        NoControl(def.Domain?.Name, $"{n}: <domain name>");
        if (def.Domain is { } d && !IsToken(d.Name))
        {
            throw VireoException.Invalid($"{n}: <domain name> '{d.Name}' must not contain whitespace or ','");
        }

        foreach (var ip in def.Ips)
        {
            NoControl(ip.TftpRoot, $"{n}: <tftp root>");
            NoControl(ip.BootFile, $"{n}: <bootp file>");
        }

        ValidateNat(def, n);
        ValidateIps(def, n);
        ValidateDns(def, n);
        if (def.Mtu is int mtu && mtu < 68)
        {
            throw VireoException.Invalid($"{n}: <mtu size> {mtu} is below the IPv4 minimum of 68");
        }

        if (def.Mac is { } mac && (Convert.ToByte(mac[..2], 16) & 1) != 0)
        {
            throw VireoException.Invalid($"{n}: <mac address> '{mac}' is a multicast address");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pg in def.PortGroups)
        {
            if (!names.Add(pg.Name))
            {
                throw VireoException.Invalid($"{n}: <portgroup name> '{pg.Name}' appears twice");
            }
        }

        if (def.PortGroups.Count(p => p.IsDefault) > 1)
        {
            throw VireoException.Invalid($"{n}: more than one <portgroup default='yes'>");
        }
    }

    /// <summary>Refuses interface names the kernel would refuse: empty, over 15 bytes, '/', ':', whitespace, "." or "..".</summary>
    public static void ValidateInterfaceName(string name, string what)
    {
        int bytes = Encoding.UTF8.GetByteCount(name);
        if (bytes == 0 || bytes > MaxInterfaceNameBytes)
        {
            throw VireoException.Invalid($"{what} '{name}' must be 1 to {MaxInterfaceNameBytes} bytes long (it is {bytes})");
        }

        if (name is "." or ".." || name.Any(c => c == '/' || c == ':' || char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw VireoException.Invalid($"{what} '{name}' is not a valid interface name (no '/', ':' or whitespace)");
        }
    }

    private static string Mode(NetworkDefinition def) => def.Forward.Mode.ToString().ToLowerInvariant();

    private static void ValidateNat(NetworkDefinition def, string n)
    {
        if (def.Forward.Nat is not { } nat)
        {
            return;
        }

        if (def.Forward.Mode != ForwardMode.Nat)
        {
            throw VireoException.Invalid($"{n}: <nat> is only allowed with <forward mode='nat'>");
        }

        if (nat.AddressStart is not null)
        {
            if (nat.AddressStart.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
                || nat.AddressEnd!.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            {
                throw VireoException.Invalid($"{n}: <nat><address> range must be IPv4");
            }

            if (IpNetwork.RangeSize(nat.AddressStart, nat.AddressEnd) <= 0)
            {
                throw VireoException.Invalid($"{n}: <nat><address start='{nat.AddressStart}' end='{nat.AddressEnd}'> ends before it starts");
            }
        }

        if (nat.PortStart != 0 || nat.PortEnd != 0)
        {
            if (nat.PortStart == 0 || nat.PortEnd == 0 || nat.PortEnd < nat.PortStart)
            {
                throw VireoException.Invalid($"{n}: <nat><port start='{nat.PortStart}' end='{nat.PortEnd}'> must be a range of 1-65535 with start <= end");
            }
        }
    }

    private static void ValidateIps(NetworkDefinition def, string n)
    {
        var subnets = new List<IpNetwork>();
        bool v4Dhcp = false, v6Dhcp = false;
        foreach (var ip in def.Ips)
        {
            string where = $"{n}: <ip address='{ip.Address}'>";
            int prefix = ip.PrefixLength;
            if (prefix < 1 || prefix > (ip.IsIpv6 ? 128 : 32))
            {
                throw VireoException.Invalid($"{where} has an invalid prefix length {prefix}");
            }

            var subnet = ip.Subnet;
            if (!ip.IsIpv6 && prefix < 31 && (ip.Address.Equals(subnet.NetworkAddress) || ip.Address.Equals(subnet.LastAddress)))
            {
                throw VireoException.Invalid($"{where} is the network or broadcast address of {subnet}; use a host address");
            }

            foreach (var other in subnets)
            {
                if (other.Overlaps(subnet))
                {
                    throw VireoException.Invalid($"{where}: subnet {subnet} overlaps {other} of another <ip> of the same network");
                }
            }

            subnets.Add(subnet);
            if (ip.HasDhcp)
            {
                ref bool seen = ref ip.IsIpv6 ? ref v6Dhcp : ref v4Dhcp;
                if (seen)
                {
                    throw VireoException.Invalid($"{where}: only one {(ip.IsIpv6 ? "IPv6" : "IPv4")} <ip> may have <dhcp>");
                }

                seen = true;
                if (ip.IsIpv6 && prefix != 64 && ip.Ranges.Count > 0)
                {
                    throw VireoException.Invalid($"{where}: DHCPv6 ranges need a /64 prefix (prefix is {prefix})");
                }
            }

            ValidateDhcp(ip, where);
        }
    }

    private static void ValidateDhcp(NetworkIp ip, string where)
    {
        var subnet = ip.Subnet;
        foreach (var r in ip.Ranges)
        {
            string rw = $"{where}: <range start='{r.Start}' end='{r.End}'>";
            foreach (var a in new[] { r.Start, r.End })
            {
                if (!subnet.Contains(a))
                {
                    throw VireoException.Invalid($"{rw}: {a} is outside the subnet {subnet}");
                }

                if (!ip.IsIpv6 && (a.Equals(subnet.NetworkAddress) || a.Equals(subnet.LastAddress)))
                {
                    throw VireoException.Invalid($"{rw}: {a} is the network or broadcast address of {subnet}");
                }
            }

            if (IpNetwork.RangeSize(r.Start, r.End) <= 0)
            {
                throw VireoException.Invalid($"{rw} ends before it starts");
            }

            if (InRange(ip.Address, r))
            {
                throw VireoException.Invalid($"{rw} contains the network's own address {ip.Address}");
            }
        }

        var macs = new HashSet<string>(StringComparer.Ordinal);
        var ips = new HashSet<IPAddress>();
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var h in ip.Hosts)
        {
            string hw = $"{where}: <host{(h.Mac is null ? "" : $" mac='{h.Mac}'")}{(h.Name is null ? "" : $" name='{h.Name}'")}{(h.Ip is null ? "" : $" ip='{h.Ip}'")}>";
            if (ip.IsIpv6 ? h.Id is null && h.Name is null : h.Mac is null && h.Name is null)
            {
                throw VireoException.Invalid($"{hw} needs {(ip.IsIpv6 ? "an id or a name" : "a mac or a name")}");
            }

            if (h.Ip is null)
            {
                if (h.Mac is null || h.Name is null)
                {
                    throw VireoException.Invalid($"{hw} needs an ip (or both mac and name)");
                }
            }
            else
            {
                if (!subnet.Contains(h.Ip))
                {
                    throw VireoException.Invalid($"{hw}: ip {h.Ip} is outside the subnet {subnet}");
                }

                if (h.Ip.Equals(ip.Address))
                {
                    throw VireoException.Invalid($"{hw}: ip {h.Ip} is the network's own address");
                }

                if (!ips.Add(h.Ip))
                {
                    throw VireoException.Invalid($"{hw}: ip {h.Ip} is given to more than one <host>");
                }
            }

            if (h.Name is not null && !IsToken(h.Name))
            {
                throw VireoException.Invalid($"{hw}: name '{h.Name}' must not contain whitespace, ',' or control characters");
            }

            if (h.Id is not null && !IsToken(h.Id))
            {
                throw VireoException.Invalid($"{hw}: id '{h.Id}' must not contain whitespace, ',' or control characters");
            }

            if (h.Mac is not null && !macs.Add(h.Mac))
            {
                throw VireoException.Invalid($"{hw}: mac {h.Mac} is given to more than one <host>");
            }

            if (h.Name is not null && !names.Add(h.Name))
            {
                throw VireoException.Invalid($"{hw}: name '{h.Name}' is given to more than one <host>");
            }
        }
    }

    /// <summary>Values that end up in dnsmasq files, where ',' separates fields and a newline starts a new option.</summary>
    private static bool IsToken(string s) => s.Length > 0 && !s.Any(c => char.IsWhiteSpace(c) || c == ',' || char.IsControl(c));

    private static void NoControl(string? s, string what)
    {
        if (s is not null && s.Any(char.IsControl))
        {
            throw VireoException.Invalid($"{what} must not contain control characters or newlines");
        }
    }

    private static bool InRange(IPAddress a, DhcpRange r)
    {
        var x = IpNetwork.ToInteger(a);
        return a.AddressFamily == r.Start.AddressFamily && x >= IpNetwork.ToInteger(r.Start) && x <= IpNetwork.ToInteger(r.End);
    }

    private static void ValidateDns(NetworkDefinition def, string n)
    {
        if (def.Dns is not { } dns)
        {
            return;
        }

        foreach (var h in dns.Hosts)
        {
            foreach (string name in h.Hostnames)
            {
                if (!IsToken(name))
                {
                    throw VireoException.Invalid($"{n}: <dns><host ip='{h.Ip}'><hostname> '{name}' contains whitespace or ','");
                }
            }
        }

        foreach (var t in dns.Txts)
        {
            NoControl(t.Value, $"{n}: <dns><txt value>");
            if (t.Name.Any(c => char.IsWhiteSpace(c) || c == ','))
            {
                throw VireoException.Invalid($"{n}: <dns><txt name> '{t.Name}' contains whitespace or ','");
            }
        }
    }
}
