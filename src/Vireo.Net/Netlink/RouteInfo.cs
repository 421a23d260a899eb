using System.Net;

namespace Vireo.Net.Netlink;

/// <summary>An address on a link, as <c>ip addr</c> shows it.</summary>
public sealed record AddressInfo(int LinkIndex, IPAddress Address, int PrefixLength, byte Scope, string? Label)
{
    public IPNetwork Network => IPNetworkExtensions.Masked(Address, PrefixLength);
}

/// <summary>A route of the main table (or another), as <c>ip route</c> shows it. A default route has prefix length 0.</summary>
/// <param name="Destination">The destination network, <c>0.0.0.0/0</c> or <c>::/0</c> for a default route.</param>
/// <param name="OutputLinkIndex">RTA_OIF, 0 when the route has none (multipath, unreachable).</param>
/// <param name="Type">RTN_*: 1 unicast, 2 local, 3 broadcast, 6 blackhole, 7 unreachable.</param>
public sealed record RouteInfo(
    IPNetwork Destination,
    IPAddress? Gateway,
    int OutputLinkIndex,
    uint Table,
    byte Protocol,
    byte Scope,
    byte Type,
    uint? Metric,
    IPAddress? PreferredSource)
{
    public bool IsDefault => Destination.PrefixLength == 0;
}

/// <summary>A route to add or delete. Either <see cref="Gateway"/> or <see cref="Device"/> (or both) must be given.</summary>
/// <param name="Destination"><c>0.0.0.0/0</c> (or <c>::/0</c>) for a default route; see RouteSpec.Default.</param>
public sealed record RouteSpec(IPNetwork Destination, IPAddress? Gateway = null, string? Device = null, uint? Metric = null)
{
    /// <summary>Table id; 254 is the main table.</summary>
    public uint Table { get; init; } = 254;

    public IPAddress? PreferredSource { get; init; }

    /// <summary>A default route through <paramref name="gateway"/>.</summary>
    public static RouteSpec Default(IPAddress gateway, string? device = null) =>
        new(new IPNetwork(gateway.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0), gateway, device);
}

/// <summary>A VLAN on a bridge port (or on the bridge itself), as <c>bridge vlan show</c> lists it.</summary>
public sealed record BridgeVlan(int LinkIndex, ushort Vid, bool Pvid, bool Untagged);

internal static class IPNetworkExtensions
{
    /// <summary>The network of <paramref name="address"/>/<paramref name="prefix"/> with host bits cleared, so <c>192.0.2.7/24</c> becomes <c>192.0.2.0/24</c>.</summary>
    public static IPNetwork Masked(IPAddress address, int prefix)
    {
        byte[] bytes = address.GetAddressBytes();
        for (int i = 0; i < bytes.Length; i++)
        {
            int keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        return new IPNetwork(new IPAddress(bytes), prefix);
    }
}
