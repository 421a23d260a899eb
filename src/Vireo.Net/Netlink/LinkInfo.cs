namespace Vireo.Net.Netlink;

/// <summary>Operational state as the kernel reports it (IFLA_OPERSTATE, RFC 2863).</summary>
public enum LinkOperState
{
    Unknown = 0,
    NotPresent = 1,
    Down = 2,
    LowerLayerDown = 3,
    Testing = 4,
    Dormant = 5,
    Up = 6,
}

/// <summary>A network link as <c>ip -d -s link show</c> would describe it.</summary>
/// <param name="Kind">IFLA_INFO_KIND: <c>bridge</c>, <c>veth</c>, <c>tun</c>, <c>macvtap</c>, <c>vlan</c>, <c>dummy</c>; null for physical NICs and loopback.</param>
/// <param name="MasterIndex">The bridge (or bond) this link is a port of, 0 when none.</param>
/// <param name="ParentIndex">IFLA_LINK: the lower device of a vlan/macvtap, or a veth's peer; 0 when none or in another namespace.</param>
/// <param name="IsAdminUp">IFF_UP: what <c>ip link set up</c> sets.</param>
/// <param name="HasCarrier">IFF_LOWER_UP.</param>
public sealed record LinkInfo(
    int Index,
    string Name,
    string? Kind,
    MacAddress? Mac,
    int Mtu,
    LinkOperState State,
    bool IsAdminUp,
    bool HasCarrier,
    int MasterIndex,
    int ParentIndex,
    LinkStats Stats)
{
    /// <summary>The raw ifi_flags (IFF_*).</summary>
    public uint Flags { get; init; }

    /// <summary>ARPHRD_* from ifi_type: 1 for Ethernet, 772 for loopback.</summary>
    public ushort HardwareType { get; init; }

    /// <summary>The bridge settings when <see cref="Kind"/> is <c>bridge</c>, else null.</summary>
    public BridgeSettings? Bridge { get; init; }
}

/// <summary>A bridge's settings as the kernel reports them (IFLA_INFO_DATA of kind bridge).</summary>
/// <param name="ForwardDelayCentiseconds">In clock_t (1/100 s), as the kernel keeps it; libvirt's <c>delay</c> is seconds.</param>
public sealed record BridgeSettings(bool Stp, uint ForwardDelayCentiseconds, bool VlanFiltering);

/// <summary>rtnl_link_stats64: the counters <c>ip -s link</c> and <c>virsh domifstat</c> show.</summary>
public sealed record LinkStats(
    ulong RxPackets,
    ulong TxPackets,
    ulong RxBytes,
    ulong TxBytes,
    ulong RxErrors,
    ulong TxErrors,
    ulong RxDropped,
    ulong TxDropped,
    ulong Multicast,
    ulong Collisions)
{
    public static readonly LinkStats Empty = new(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}

/// <summary>Options for a new Linux bridge; null fields keep the kernel's defaults.</summary>
/// <param name="Stp">Spanning tree on (kernel STP) or off.</param>
/// <param name="ForwardDelaySeconds">libvirt's <c>delay</c>, in seconds (may be 0).</param>
/// <param name="VlanFiltering">Turns on per-port VLAN tables (<c>bridge vlan</c>).</param>
public sealed record BridgeOptions(bool? Stp = null, uint? ForwardDelaySeconds = null, bool? VlanFiltering = null)
{
    /// <summary>The bridge's own MAC; libvirt sets it to keep a network's bridge MAC stable across restarts.</summary>
    public MacAddress? Mac { get; init; }

    public int? Mtu { get; init; }
}

/// <summary>macvtap/macvlan modes (IFLA_MACVLAN_MODE), as libvirt's <c>&lt;source mode=&gt;</c> names them.</summary>
public enum MacvtapMode
{
    Private = 1,
    Vepa = 2,
    Bridge = 4,
    Passthrough = 8,
}
