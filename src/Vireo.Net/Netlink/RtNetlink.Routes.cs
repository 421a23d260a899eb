using System.Net;
using System.Net.Sockets;
using Vireo.Model;

namespace Vireo.Net.Netlink;

public sealed partial class RtNetlink
{
    /// <summary><c>ip route add</c>: a unicast route through a gateway and/or out of a device.</summary>
    public void AddRoute(RouteSpec route) => ChangeRoute(Rtm.NEWROUTE, Nl.F_CREATE | Nl.F_EXCL, route, "add");

    /// <summary><c>ip route del</c>: removes the route matching destination, table and (when given) gateway, device and metric.</summary>
    public void DeleteRoute(RouteSpec route) => ChangeRoute(Rtm.DELROUTE, 0, route, "delete");

    /// <summary>Routes of one family in one table (the main table by default), as <c>ip route show [table N]</c>.</summary>
    public IReadOnlyList<RouteInfo> ListRoutes(AddressFamily family = AddressFamily.InterNetwork, uint table = 254)
    {
        byte af = family switch
        {
            AddressFamily.InterNetwork => Af.INET,
            AddressFamily.InterNetworkV6 => Af.INET6,
            _ => throw VireoException.Invalid($"route family {family} is neither IPv4 nor IPv6"),
        };
        var result = new List<RouteInfo>();
        var w = new NetlinkWriter(Rtm.GETROUTE, 0);
        Span<byte> rtm = w.Reserve(12);
        rtm[0] = af;
        _socket.Dump(w, "cannot list routes", (type, payload) =>
        {
            if (type != Rtm.NEWROUTE || payload.Length < 12 || ParseRoute(payload) is not { } route)
            {
                return;
            }
            if (route.Table == table)
            {
                result.Add(route);
            }
        });
        return result;
    }

    /// <summary>The default route of the main table for a family, or null.</summary>
    public RouteInfo? FindDefaultRoute(AddressFamily family = AddressFamily.InterNetwork) =>
        ListRoutes(family).FirstOrDefault(r => r.IsDefault && r.Type == Rta.RTN_UNICAST);

    private void ChangeRoute(ushort type, ushort flags, RouteSpec route, string verb)
    {
        ArgumentNullException.ThrowIfNull(route);
        IPAddress dst = route.Destination.BaseAddress;
        byte family = FamilyOf(dst);
        if (route.Gateway is { } gw && FamilyOf(gw) != family)
        {
            throw VireoException.Invalid($"route {route.Destination}: gateway {gw} is not of the destination's family");
        }
        if (type == Rtm.NEWROUTE && route.Gateway is null && route.Device is null)
        {
            throw VireoException.Invalid($"route {route.Destination} needs a gateway or a device");
        }
        int oif = route.Device is null ? 0 : GetLink(route.Device).Index;
        var w = new NetlinkWriter(type, flags);
        Span<byte> rtm = w.Reserve(12);
        rtm[0] = family;
        rtm[1] = (byte)route.Destination.PrefixLength;
        rtm[4] = route.Table < 256 ? (byte)route.Table : (byte)0;
        if (type == Rtm.NEWROUTE)
        {
            rtm[5] = Rta.PROT_BOOT; // what ip(8) uses for administrator-added routes
            rtm[6] = route.Gateway is null ? Rta.SCOPE_LINK : Rta.SCOPE_UNIVERSE;
            rtm[7] = Rta.RTN_UNICAST;
        }
        else
        {
            rtm[6] = Rta.SCOPE_NOWHERE; // "any scope" when matching for deletion
        }
        if (route.Destination.PrefixLength > 0)
        {
            w.Attr(Rta.DST, dst.GetAddressBytes());
        }
        if (route.Gateway is { } g)
        {
            w.Attr(Rta.GATEWAY, g.GetAddressBytes());
        }
        if (oif != 0)
        {
            w.AttrU32(Rta.OIF, (uint)oif);
        }
        if (route.Metric is { } metric)
        {
            w.AttrU32(Rta.PRIORITY, metric);
        }
        if (route.PreferredSource is { } src)
        {
            w.Attr(Rta.PREFSRC, src.GetAddressBytes());
        }
        if (route.Table >= 256)
        {
            w.AttrU32(Rta.TABLE, route.Table);
        }
        string via = route.Gateway is null ? "" : $" via {route.Gateway}";
        string dev = route.Device is null ? "" : $" dev '{route.Device}'";
        _socket.Request(w, $"cannot {verb} route {route.Destination}{via}{dev}");
    }

    private static RouteInfo? ParseRoute(ReadOnlySpan<byte> payload)
    {
        byte family = payload[0];
        byte dstLen = payload[1];
        uint table = payload[4];
        byte protocol = payload[5], scope = payload[6], rtType = payload[7];
        IPAddress? dst = null, gateway = null, prefsrc = null;
        int oif = 0;
        uint? metric = null;
        foreach (var a in new NetlinkAttributes(payload[12..]))
        {
            switch (a.Type)
            {
                case Rta.DST when a.Value.Length is 4 or 16: dst = new IPAddress(a.Value); break;
                case Rta.GATEWAY when a.Value.Length is 4 or 16: gateway = new IPAddress(a.Value); break;
                case Rta.PREFSRC when a.Value.Length is 4 or 16: prefsrc = new IPAddress(a.Value); break;
                case Rta.OIF: oif = (int)a.U32; break;
                case Rta.PRIORITY: metric = a.U32; break;
                case Rta.TABLE: table = a.U32; break;
            }
        }
        dst ??= family == Af.INET6 ? IPAddress.IPv6Any : IPAddress.Any;
        if (family is not (Af.INET or Af.INET6))
        {
            return null;
        }
        return new RouteInfo(IPNetworkExtensions.Masked(dst, dstLen), gateway, oif, table, protocol, scope, rtType, metric, prefsrc);
    }
}
