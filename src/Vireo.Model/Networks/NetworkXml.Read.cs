using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Xml.Linq;

namespace Vireo.Model.Networks;

/// <summary>
/// libvirt network XML to <see cref="NetworkDefinition"/> and back. Reading normalizes as libvirt does (a
/// <c>&lt;forward&gt;</c> without mode is nat, <c>dev</c> becomes the first <c>&lt;interface&gt;</c>, MACs lower case),
/// so writing what was read gives libvirt's own <c>networkxml2xmlout</c> form.
/// </summary>
public static partial class NetworkXml
{
    /// <summary>Parses a network definition; syntax and value errors name the element and attribute.</summary>
    public static NetworkDefinition Parse(string xml)
    {
        var doc = SafeXml.Parse(xml, "network XML");
        var root = doc.Root!;
        if (root.Name.LocalName != "network")
        {
            throw VireoException.Invalid($"network XML: the root element is <{root.Name.LocalName}>, expected <network>");
        }

        string name = ObjectName.Validate(root.Element("name")?.Value.Trim(), "network");
        Guid uuid = Guid.NewGuid();
        string? uuidText = root.Element("uuid")?.Value.Trim();
        if (!string.IsNullOrEmpty(uuidText) && !Guid.TryParse(uuidText, out uuid))
        {
            throw VireoException.Invalid($"network '{name}': <uuid> '{uuidText}' is not a UUID");
        }

        var forward = ReadForward(root.Element("forward"), name);
        var bridgeEl = root.Element("bridge");
        NetworkBridge? bridge = null;
        if (bridgeEl is not null)
        {
            bridge = new NetworkBridge
            {
                Name = Attr(bridgeEl, "name"),
                Zone = Attr(bridgeEl, "zone"),
                Stp = Bool(bridgeEl, "stp", "<bridge stp>") ?? true,
                Delay = (int)(Long(bridgeEl, "delay", "<bridge delay>", 0, int.MaxValue) ?? 0),
                MacTableManager = Attr(bridgeEl, "macTableManager"),
            };
        }

        var domainEl = root.Element("domain");
        return new NetworkDefinition
        {
            Name = name,
            Uuid = uuid,
            Ipv6NoGateway = Bool(root, "ipv6", "<network ipv6>") ?? false,
            TrustGuestRxFilters = Bool(root, "trustGuestRxFilters", "<network trustGuestRxFilters>"),
            Forward = forward,
            Bridge = bridge,
            Mtu = root.Element("mtu") is { } mtuEl ? (int?)Long(mtuEl, "size", "<mtu size>", 68, 65535) : null,
            Mac = root.Element("mac") is { } macEl ? Mac(Attr(macEl, "address"), "<mac address>") : null,
            Domain = domainEl is null ? null : new NetworkDomain(
                Required(domainEl, "name", "<domain name>"), Bool(domainEl, "localOnly", "<domain localOnly>")),
            Dns = ReadDns(root.Element("dns")),
            Vlan = ReadVlan(root.Element("vlan")),
            Bandwidth = ReadBandwidth(root.Element("bandwidth")),
            Ips = root.Elements("ip").Select(ReadIp).ToList(),
            VirtualPort = ReadVirtualPort(root.Element("virtualport")),
            PortGroups = root.Elements("portgroup").Select(ReadPortGroup).ToList(),
        };
    }

    private static NetworkForward ReadForward(XElement? el, string network)
    {
        if (el is null)
        {
            return NetworkForward.Isolated;
        }

        string modeText = Attr(el, "mode") ?? "nat";
        ForwardMode mode = modeText switch
        {
            "nat" => ForwardMode.Nat,
            "route" => ForwardMode.Route,
            "open" => ForwardMode.Open,
            "bridge" => ForwardMode.Bridge,
            "private" => ForwardMode.Private,
            "vepa" => ForwardMode.Vepa,
            "passthrough" => ForwardMode.Passthrough,
            "hostdev" => ForwardMode.Hostdev,
            _ => throw VireoException.Invalid(
                $"network '{network}': <forward mode> '{modeText}' is not one of nat, route, open, bridge, private, vepa, passthrough, hostdev"),
        };

        var interfaces = el.Elements("interface").Select(i => Required(i, "dev", "<forward><interface dev>")).ToList();
        string? dev = Attr(el, "dev");
        if (dev is not null)
        {
            if (interfaces.Count == 0)
            {
                interfaces.Add(dev);
            }
            else if (interfaces[0] != dev)
            {
                throw VireoException.Invalid(
                    $"network '{network}': <forward dev> '{dev}' must match the first <interface dev> '{interfaces[0]}'");
            }
        }

        NetworkNat? nat = null;
        if (el.Element("nat") is { } natEl)
        {
            var addr = natEl.Element("address");
            var port = natEl.Element("port");
            nat = new NetworkNat
            {
                AddressStart = addr is null ? null : Ip(Required(addr, "start", "<nat><address start>"), "<nat><address start>"),
                AddressEnd = addr is null ? null : Ip(Attr(addr, "end") ?? Attr(addr, "start")!, "<nat><address end>"),
                PortStart = port is null ? 0 : (int)Long(port, "start", "<nat><port start>", 0, 65535)!.Value,
                PortEnd = port is null ? 0 : (int)(Long(port, "end", "<nat><port end>", 0, 65535) ?? 0),
                Ipv6 = Bool(natEl, "ipv6", "<nat ipv6>") ?? false,
            };
        }

        return new NetworkForward
        {
            Mode = mode,
            Interfaces = interfaces,
            PhysicalFunctions = el.Elements("pf").Select(p => Required(p, "dev", "<forward><pf dev>")).ToList(),
            Managed = Bool(el, "managed", "<forward managed>"),
            Nat = nat,
        };
    }

    private static NetworkIp ReadIp(XElement el)
    {
        string? family = Attr(el, "family");
        if (family is not null and not "ipv4" and not "ipv6")
        {
            throw VireoException.Invalid($"<ip family> '{family}' must be ipv4 or ipv6");
        }

        var address = Ip(Required(el, "address", "<ip address>"), "<ip address>");
        bool v6 = address.AddressFamily == AddressFamily.InterNetworkV6;
        if (family is not null && (family == "ipv6") != v6)
        {
            throw VireoException.Invalid($"<ip address> '{address}' is not an {family} address");
        }

        IPAddress? netmask = null;
        if (Attr(el, "netmask") is { } nm)
        {
            netmask = Ip(nm, "<ip netmask>");
            if (v6 || netmask.AddressFamily != AddressFamily.InterNetwork || IpNetwork.PrefixFromNetmask(netmask) < 0)
            {
                throw VireoException.Invalid($"<ip netmask> '{nm}' of {address} is not a contiguous IPv4 netmask");
            }
        }

        int? prefix = (int?)Long(el, "prefix", "<ip prefix>", 0, v6 ? 128 : 32);
        if (netmask is not null && prefix is not null)
        {
            throw VireoException.Invalid($"<ip address='{address}'> has both netmask and prefix; give one");
        }

        var dhcp = el.Element("dhcp");
        var bootp = dhcp?.Element("bootp");
        return new NetworkIp
        {
            Family = family,
            Address = address,
            Netmask = netmask,
            Prefix = prefix,
            LocalPtr = Attr(el, "localPtr"),
            TftpRoot = el.Element("tftp") is { } tftp ? Required(tftp, "root", "<tftp root>") : null,
            Ranges = dhcp?.Elements("range").Select(r => new DhcpRange(
                Ip(Required(r, "start", "<dhcp><range start>"), "<dhcp><range start>"),
                Ip(Required(r, "end", "<dhcp><range end>"), "<dhcp><range end>"),
                ReadLease(r.Element("lease")))).ToList() ?? [],
            Hosts = dhcp?.Elements("host").Select(ReadDhcpHost).ToList() ?? [],
            BootFile = bootp is null ? null : Required(bootp, "file", "<bootp file>"),
            BootServer = bootp is null || Attr(bootp, "server") is not { } server ? null : Ip(server, "<bootp server>"),
        };
    }

    private static DhcpHost ReadDhcpHost(XElement el)
    {
        string? ip = Attr(el, "ip");
        return new DhcpHost
        {
            Mac = Attr(el, "mac") is { } mac ? Mac(mac, "<dhcp><host mac>") : null,
            Id = Attr(el, "id"),
            Name = Attr(el, "name"),
            Ip = ip is null ? null : Ip(ip, "<dhcp><host ip>"),
            Lease = ReadLease(el.Element("lease")),
        };
    }

    private static DhcpLease? ReadLease(XElement? el) =>
        el is null ? null : new DhcpLease(Long(el, "expiry", "<lease expiry>", 0, long.MaxValue) ?? 0, Attr(el, "unit"));

    private static NetworkDns? ReadDns(XElement? el)
    {
        if (el is null)
        {
            return null;
        }

        return new NetworkDns
        {
            Enable = Bool(el, "enable", "<dns enable>"),
            ForwardPlainNames = Bool(el, "forwardPlainNames", "<dns forwardPlainNames>"),
            Forwarders = el.Elements("forwarder").Select(f => new DnsForwarder(
                Attr(f, "domain"), Attr(f, "addr") is { } a ? Ip(a, "<dns><forwarder addr>") : null)).ToList(),
            Txts = el.Elements("txt").Select(t => new DnsTxt(
                Required(t, "name", "<dns><txt name>"), Required(t, "value", "<dns><txt value>"))).ToList(),
            Srvs = el.Elements("srv").Select(s => new DnsSrv(
                Required(s, "service", "<dns><srv service>"), Required(s, "protocol", "<dns><srv protocol>"),
                Attr(s, "domain"), Attr(s, "target"),
                (int?)Long(s, "port", "<dns><srv port>", 0, 65535),
                (int?)Long(s, "priority", "<dns><srv priority>", 0, 65535),
                (int?)Long(s, "weight", "<dns><srv weight>", 0, 65535))).ToList(),
            Hosts = el.Elements("host").Select(h =>
            {
                var ip = Ip(Required(h, "ip", "<dns><host ip>"), "<dns><host ip>");
                var names = h.Elements("hostname").Select(n => n.Value.Trim()).ToList();
                if (names.Count == 0 || names.Any(string.IsNullOrEmpty))
                {
                    throw VireoException.Invalid($"<dns><host ip='{ip}'> needs at least one non-empty <hostname>");
                }

                return new DnsHost(ip, names);
            }).ToList(),
        };
    }

    private static NetworkVlan? ReadVlan(XElement? el)
    {
        if (el is null)
        {
            return null;
        }

        var tags = el.Elements("tag").Select(t => new VlanTag(
            (int)Long(t, "id", "<vlan><tag id>", 0, 4095)!.Value, Attr(t, "nativeMode"))).ToList();
        if (tags.Count == 0)
        {
            throw VireoException.Invalid("<vlan> needs at least one <tag id>");
        }

        return new NetworkVlan(Bool(el, "trunk", "<vlan trunk>"), tags);
    }

    private static Bandwidth? ReadBandwidth(XElement? el)
    {
        if (el is null)
        {
            return null;
        }

        static BandwidthRate? Rate(XElement? r, string what) => r is null ? null : new BandwidthRate(
            Long(r, "average", $"<{what} average>", 0, long.MaxValue),
            Long(r, "peak", $"<{what} peak>", 0, long.MaxValue),
            Long(r, "floor", $"<{what} floor>", 0, long.MaxValue),
            Long(r, "burst", $"<{what} burst>", 0, long.MaxValue));

        return new Bandwidth(Rate(el.Element("inbound"), "inbound"), Rate(el.Element("outbound"), "outbound"));
    }

    internal static VirtualPort? ReadVirtualPort(XElement? el)
    {
        if (el is null)
        {
            return null;
        }

        var parameters = el.Element("parameters")?.Attributes()
            .Select(a => new KeyValuePair<string, string>(a.Name.LocalName, a.Value)).ToList() ?? [];
        return new VirtualPort(Attr(el, "type"), parameters);
    }

    private static PortGroup ReadPortGroup(XElement el) => new()
    {
        Name = Required(el, "name", "<portgroup name>"),
        IsDefault = Bool(el, "default", "<portgroup default>") ?? false,
        TrustGuestRxFilters = Bool(el, "trustGuestRxFilters", "<portgroup trustGuestRxFilters>"),
        Vlan = ReadVlan(el.Element("vlan")),
        VirtualPort = ReadVirtualPort(el.Element("virtualport")),
        Bandwidth = ReadBandwidth(el.Element("bandwidth")),
    };

    internal static string? Attr(XElement el, string name) => el.Attribute(name)?.Value;

    internal static string Required(XElement el, string name, string what) =>
        Attr(el, name) is { Length: > 0 } v ? v : throw VireoException.Invalid($"{what} is missing");

    internal static bool? Bool(XElement el, string name, string what) => Attr(el, name) switch
    {
        null => null,
        "yes" or "on" => true,
        "no" or "off" => false,
        var v => throw VireoException.Invalid($"{what} '{v}' must be yes or no"),
    };

    internal static long? Long(XElement el, string name, string what, long min, long max)
    {
        string? v = Attr(el, name);
        if (v is null)
        {
            return null;
        }

        if (!long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n < min || n > max)
        {
            throw VireoException.Invalid($"{what} '{v}' must be a number from {min} to {max}");
        }

        return n;
    }

    internal static IPAddress Ip(string text, string what)
    {
        // IPAddress.TryParse accepts "1" and "1.2" as IPv4 shorthands; libvirt (inet_pton) does not.
        if (!IPAddress.TryParse(text, out var ip) || text.Contains('%', StringComparison.Ordinal)
            || (ip.AddressFamily == AddressFamily.InterNetwork && text.Count(c => c == '.') != 3))
        {
            throw VireoException.Invalid($"{what} '{text}' is not an IP address");
        }

        return ip;
    }

    /// <summary>Validates and lower-cases a MAC address such as <c>52:54:00:AB:cd:01</c>.</summary>
    public static string Mac(string? text, string what)
    {
        if (text is null || !TryParseMac(text, out var bytes))
        {
            throw VireoException.Invalid($"{what} '{text}' is not a MAC address (six hex bytes separated by ':')");
        }

        return FormatMac(bytes);
    }

    public static bool TryParseMac(string text, out byte[] bytes)
    {
        bytes = new byte[6];
        var parts = text.Split(':');
        if (parts.Length != 6)
        {
            return false;
        }

        for (int i = 0; i < 6; i++)
        {
            if (parts[i].Length is < 1 or > 2 || !byte.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bytes[i]))
            {
                return false;
            }
        }

        return true;
    }

    public static string FormatMac(ReadOnlySpan<byte> b) => $"{b[0]:x2}:{b[1]:x2}:{b[2]:x2}:{b[3]:x2}:{b[4]:x2}:{b[5]:x2}";
}
