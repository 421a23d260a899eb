using System.Net;

namespace Vireo.Model.Networks;

/// <summary>How a network reaches the outside, libvirt's <c>&lt;forward mode&gt;</c>.</summary>
public enum ForwardMode
{
    /// <summary>No <c>&lt;forward&gt;</c>: an isolated network, guests reach only each other and the host.</summary>
    None,
    Nat,
    Route,
    Open,
    Bridge,
    Private,
    Vepa,
    Passthrough,
    Hostdev,
}

/// <summary>
/// A virtual network as libvirt's network XML describes it. Immutable: parsing produces one, validation reads it,
/// updates (<c>net-update</c>) produce a new one with <c>with</c>.
/// </summary>
public sealed record NetworkDefinition
{
    public required string Name { get; init; }

    public Guid Uuid { get; init; }

    /// <summary><c>&lt;network ipv6='yes'&gt;</c>: guest-to-guest IPv6 without an IPv6 gateway address.</summary>
    public bool Ipv6NoGateway { get; init; }

    public bool? TrustGuestRxFilters { get; init; }

    public NetworkForward Forward { get; init; } = NetworkForward.Isolated;

    public NetworkBridge? Bridge { get; init; }

    public int? Mtu { get; init; }

    /// <summary>The bridge's MAC, lower case, or null to let the kernel pick.</summary>
    public string? Mac { get; init; }

    public NetworkDomain? Domain { get; init; }

    public NetworkDns? Dns { get; init; }

    public NetworkVlan? Vlan { get; init; }

    public Bandwidth? Bandwidth { get; init; }

    public IReadOnlyList<NetworkIp> Ips { get; init; } = [];

    public VirtualPort? VirtualPort { get; init; }

    public IReadOnlyList<PortGroup> PortGroups { get; init; } = [];

    /// <summary>True for modes where Vireo owns a bridge with addresses (none, nat, route, open).</summary>
    public bool HasManagedBridge => Forward.Mode is ForwardMode.None or ForwardMode.Nat or ForwardMode.Route or ForwardMode.Open;

    /// <summary>True when the network joins an existing Open vSwitch bridge.</summary>
    public bool IsOpenVSwitch => Forward.Mode == ForwardMode.Bridge && VirtualPort?.Type == "openvswitch";

    public IEnumerable<NetworkIp> Ipv4 => Ips.Where(i => i.IsIpv6 == false);

    public IEnumerable<NetworkIp> Ipv6 => Ips.Where(i => i.IsIpv6);
}

public sealed record NetworkForward
{
    public static NetworkForward Isolated { get; } = new() { Mode = ForwardMode.None };

    public ForwardMode Mode { get; init; }

    /// <summary>Interfaces of <c>&lt;interface dev&gt;</c>; <c>&lt;forward dev&gt;</c> is the first.</summary>
    public IReadOnlyList<string> Interfaces { get; init; } = [];

    public IReadOnlyList<string> PhysicalFunctions { get; init; } = [];

    public bool? Managed { get; init; }

    public NetworkNat? Nat { get; init; }

    /// <summary>The device NAT/route traffic must leave through, or null for any.</summary>
    public string? Dev => PhysicalFunctions.Count == 0 && Interfaces.Count > 0 ? Interfaces[0] : null;
}

/// <summary><c>&lt;nat&gt;</c>: the source address range and port range masquerading uses.</summary>
public sealed record NetworkNat
{
    public IPAddress? AddressStart { get; init; }

    public IPAddress? AddressEnd { get; init; }

    public int PortStart { get; init; }

    public int PortEnd { get; init; }

    public bool Ipv6 { get; init; }
}

public sealed record NetworkBridge
{
    public string? Name { get; init; }

    public string? Zone { get; init; }

    public bool Stp { get; init; } = true;

    public int Delay { get; init; }

    public string? MacTableManager { get; init; }
}

public sealed record NetworkDomain(string Name, bool? LocalOnly);

public sealed record NetworkIp
{
    /// <summary>The <c>family</c> attribute as written (null when absent, meaning IPv4).</summary>
    public string? Family { get; init; }

    public required IPAddress Address { get; init; }

    public IPAddress? Netmask { get; init; }

    public int? Prefix { get; init; }

    public string? LocalPtr { get; init; }

    public string? TftpRoot { get; init; }

    public IReadOnlyList<DhcpRange> Ranges { get; init; } = [];

    public IReadOnlyList<DhcpHost> Hosts { get; init; } = [];

    public string? BootFile { get; init; }

    public IPAddress? BootServer { get; init; }

    /// <summary>Whether a <c>&lt;dhcp&gt;</c> element was written, even an empty one.</summary>
    public bool HasDhcp => Ranges.Count > 0 || Hosts.Count > 0 || BootFile is not null;

    public bool IsIpv6 => Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;

    /// <summary>The prefix length from <c>prefix</c>, <c>netmask</c> or the address class default, as libvirt does.</summary>
    public int PrefixLength => Prefix ?? (Netmask is not null ? IpNetwork.PrefixFromNetmask(Netmask) : IpNetwork.DefaultPrefix(Address));

    public IpNetwork Subnet => new(Address, PrefixLength);
}

public sealed record DhcpRange(IPAddress Start, IPAddress End, DhcpLease? Lease = null);

public sealed record DhcpHost
{
    public string? Mac { get; init; }

    /// <summary>DHCPv6 client id (DUID), as <c>id='0:4:…'</c>.</summary>
    public string? Id { get; init; }

    public string? Name { get; init; }

    public IPAddress? Ip { get; init; }

    public DhcpLease? Lease { get; init; }
}

/// <summary><c>&lt;lease expiry='N' unit='…'/&gt;</c>; expiry 0 means infinite.</summary>
public sealed record DhcpLease(long Expiry, string? Unit);

public sealed record NetworkDns
{
    public bool? Enable { get; init; }

    public bool? ForwardPlainNames { get; init; }

    public IReadOnlyList<DnsForwarder> Forwarders { get; init; } = [];

    public IReadOnlyList<DnsTxt> Txts { get; init; } = [];

    public IReadOnlyList<DnsSrv> Srvs { get; init; } = [];

    public IReadOnlyList<DnsHost> Hosts { get; init; } = [];
}

public sealed record DnsForwarder(string? Domain, IPAddress? Address);

public sealed record DnsTxt(string Name, string Value);

public sealed record DnsSrv(string Service, string Protocol, string? Domain, string? Target, int? Port, int? Priority, int? Weight);

public sealed record DnsHost(IPAddress Ip, IReadOnlyList<string> Hostnames);

public sealed record NetworkVlan(bool? Trunk, IReadOnlyList<VlanTag> Tags);

public sealed record VlanTag(int Id, string? NativeMode);

/// <summary>Inbound/outbound rates in KiB/s (average, peak, floor) and KiB (burst), as libvirt writes them.</summary>
public sealed record Bandwidth(BandwidthRate? Inbound, BandwidthRate? Outbound);

public sealed record BandwidthRate(long? Average, long? Peak, long? Floor, long? Burst);

/// <summary><c>&lt;virtualport&gt;</c>; the parameters keep the order they were written in.</summary>
public sealed record VirtualPort(string? Type, IReadOnlyList<KeyValuePair<string, string>> Parameters);

public sealed record PortGroup
{
    public required string Name { get; init; }

    public bool IsDefault { get; init; }

    public bool? TrustGuestRxFilters { get; init; }

    public NetworkVlan? Vlan { get; init; }

    public VirtualPort? VirtualPort { get; init; }

    public Bandwidth? Bandwidth { get; init; }
}
