using Vireo.Model;
using Vireo.Model.Domains;

namespace Vireo.Engine.Networks;

/// <summary>One address a running domain's interface holds: a row of <c>domifaddr</c>.</summary>
/// <param name="Name">The host side of the interface (the TAP, from the live definition's <c>&lt;target dev&gt;</c>).</param>
public sealed record InterfaceAddress(string Name, string Mac, string Protocol, string Address, int Prefix);

/// <summary>
/// <c>domifaddr --source lease</c>: the addresses dnsmasq leased to a running domain's interfaces, matched by MAC in the
/// lease file of the network each interface is on. Interfaces on no Vireo network (bridge, ethernet, user) have none.
/// </summary>
public static class DomainInterfaceAddresses
{
    public static IReadOnlyList<InterfaceAddress> FromLeases(DomainDefinition live, NetworkManager networks, string? onlyInterface = null)
    {
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(networks);
        var rows = new List<InterfaceAddress>();
        bool matched = onlyInterface is null;
        foreach (var iface in live.Devices.Interfaces)
        {
            string name = iface.TargetDev ?? "-";
            if (onlyInterface is not null && !string.Equals(onlyInterface, name, StringComparison.Ordinal) &&
                !string.Equals(onlyInterface, iface.Mac, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            matched = true;
            if (iface.Type != "network" || iface.SourceNetwork is null || iface.Mac is null)
            {
                continue;
            }

            IReadOnlyList<NetworkLease> leases;
            try
            {
                leases = networks.GetLeases(iface.SourceNetwork, iface.Mac);
            }
            catch (VireoException e) when (e.Kind is ErrorKind.NotFound or ErrorKind.InvalidState)
            {
                // The network was destroyed under the running domain: it has no leases to show.
                continue;
            }

            foreach (var lease in leases)
            {
                int slash = lease.Address.LastIndexOf('/');
                int prefix = int.Parse(lease.Address.AsSpan(slash + 1), System.Globalization.CultureInfo.InvariantCulture);
                rows.Add(new InterfaceAddress(name, iface.Mac, lease.Protocol, lease.Address[..slash], prefix));
            }
        }

        if (!matched)
        {
            throw VireoException.NotFound($"domain '{live.Name}' has no interface '{onlyInterface}'");
        }

        return rows;
    }
}
