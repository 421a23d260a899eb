using System.Net.Sockets;
using Vireo.Model;
using Vireo.Model.Networks;
using Vireo.Net.Netlink;

namespace Vireo.Engine.Networks;

/// <summary>
/// Checks of a definition against this host, done before anything is created: the bridge name is not taken by
/// an interface Vireo does not own, forward devices exist, and no subnet collides with a route of the host.
/// </summary>
internal static class NetworkHostChecks
{
    public static bool LinkExists(Func<RtNetlink> open, string name)
    {
        using var nl = open();
        return nl.LinkExists(name);
    }

    /// <param name="activeBridgeOfThis">The bridge this network already owns (it is active), which is not a conflict.</param>
    public static void CheckDefinition(Func<RtNetlink> open, NetworkDefinition def, string? activeBridgeOfThis)
    {
        string n = $"network '{def.Name}'";
        using var nl = open();
        if (def.HasManagedBridge && def.Bridge?.Name is { } br && br != activeBridgeOfThis && nl.LinkExists(br))
        {
            throw VireoException.Invalid($"{n}: <bridge name> '{br}' is in use by an existing interface");
        }

        foreach (string dev in def.Forward.Interfaces.Concat(def.Forward.PhysicalFunctions))
        {
            if (!nl.LinkExists(dev))
            {
                throw VireoException.Invalid($"{n}: <forward dev> '{dev}' does not exist on this host");
            }
        }

        if (!def.HasManagedBridge)
        {
            return;
        }

        foreach (var family in new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 })
        {
            var ips = def.Ips.Where(i => i.Address.AddressFamily == family).ToList();
            if (ips.Count == 0)
            {
                continue;
            }

            foreach (var route in nl.ListRoutes(family))
            {
                if (route.IsDefault || route.Type != 1 /* RTN_UNICAST */)
                {
                    continue;
                }

                string? dev = route.OutputLinkIndex > 0 ? nl.FindLink(route.OutputLinkIndex)?.Name : null;
                if (dev is not null && dev == activeBridgeOfThis)
                {
                    continue;
                }

                var dest = new IpNetwork(route.Destination.BaseAddress, route.Destination.PrefixLength);
                if (family == AddressFamily.InterNetworkV6 && (dest.Address.IsIPv6LinkLocal || dest.Address.IsIPv6Multicast))
                {
                    continue;
                }

                foreach (var ip in ips)
                {
                    if (ip.Subnet.Overlaps(dest))
                    {
                        throw VireoException.Invalid(
                            $"{n}: <ip address='{ip.Address}'> subnet {ip.Subnet} collides with the existing route {dest}{(dev is null ? "" : $" dev {dev}")}");
                    }
                }
            }
        }
    }
}
