using System.Globalization;
using Vireo.Model.Networks;

namespace Vireo.Net.Firewall;

/// <summary>
/// The forwarding and NAT rules one network needs, with libvirt's semantics: guests on the bridge may talk to
/// each other; isolated networks reach nothing else; routed networks forward their subnets both ways; NAT networks
/// forward outgoing traffic and replies only, and masquerade (ports 1024-65535 unless a <c>&lt;nat&gt;</c> range
/// says otherwise) everything leaving the subnet except multicast and broadcast. IPv6 subnets of a NAT network are
/// routed, as libvirt does, unless <c>&lt;nat ipv6='yes'&gt;</c>. Open and host-bridge networks get no rules.
/// Rules are listed per chain in evaluation order.
/// </summary>
public static class FirewallRules
{
    public static IReadOnlyList<FirewallRule> Build(NetworkDefinition def, string bridge)
    {
        var rules = new List<FirewallRule>();
        if (!def.HasManagedBridge || def.Forward.Mode == ForwardMode.Open)
        {
            return rules;
        }

        bool anyV4 = def.Ipv4.Any();
        bool anyV6 = def.Ipv6.Any() || def.Ipv6NoGateway;
        var families = new List<FirewallFamily>();
        if (anyV4 || !anyV6)
        {
            families.Add(FirewallFamily.Ip);
        }

        if (anyV6 || !anyV4)
        {
            families.Add(FirewallFamily.Ip6);
        }

        string? dev = def.Forward.Dev;
        var nat = def.Forward.Nat;
        foreach (var ip in def.Ips)
        {
            var family = ip.IsIpv6 ? FirewallFamily.Ip6 : FirewallFamily.Ip;
            var subnet = new IpNetwork(ip.Subnet.NetworkAddress, ip.PrefixLength);
            bool masquerade = def.Forward.Mode == ForwardMode.Nat && (!ip.IsIpv6 || nat?.Ipv6 == true);
            if (def.Forward.Mode is ForwardMode.Nat or ForwardMode.Route)
            {
                rules.Add(new FirewallRule
                {
                    Family = family, Chain = FirewallChain.Output, Verdict = FirewallVerdict.Accept,
                    Source = subnet, InInterface = bridge, OutInterface = dev,
                });
                rules.Add(new FirewallRule
                {
                    Family = family, Chain = FirewallChain.Input, Verdict = FirewallVerdict.Accept,
                    Destination = subnet, OutInterface = bridge, InInterface = dev,
                    CtState = masquerade ? "related,established" : null,
                });
            }

            if (masquerade)
            {
                AddNat(rules, family, subnet, dev, nat);
            }
        }

        foreach (var family in families)
        {
            rules.Add(new FirewallRule { Family = family, Chain = FirewallChain.Cross, Verdict = FirewallVerdict.Accept, InInterface = bridge, OutInterface = bridge });
            rules.Add(new FirewallRule { Family = family, Chain = FirewallChain.Input, Verdict = FirewallVerdict.Reject, OutInterface = bridge });
            rules.Add(new FirewallRule { Family = family, Chain = FirewallChain.Output, Verdict = FirewallVerdict.Reject, InInterface = bridge });
        }

        // Evaluation order within a chain: accepts before rejects (stable sort keeps the per-subnet order).
        return rules.OrderBy(r => r.Chain).ThenBy(r => r.Verdict == FirewallVerdict.Reject ? 1 : 0).ToList();
    }

    private static void AddNat(List<FirewallRule> rules, FirewallFamily family, IpNetwork subnet, string? dev, NetworkNat? nat)
    {
        // Multicast and broadcast must leave with their own source address: DHCP and mDNS clients depend on it.
        IpNetwork multicast = family == FirewallFamily.Ip ? Parse("224.0.0.0/24") : Parse("ff02::/16");
        rules.Add(new FirewallRule
        {
            Family = family, Chain = FirewallChain.Nat, Verdict = FirewallVerdict.Return,
            Source = subnet, Destination = multicast, OutInterface = dev,
        });
        if (family == FirewallFamily.Ip)
        {
            rules.Add(new FirewallRule
            {
                Family = family, Chain = FirewallChain.Nat, Verdict = FirewallVerdict.Return,
                Source = subnet, Destination = Parse("255.255.255.255/32"), OutInterface = dev,
            });
        }

        var verdict = nat?.AddressStart is not null ? FirewallVerdict.Snat : FirewallVerdict.Masquerade;
        string? address = nat?.AddressStart is null ? null
            : nat.AddressStart.Equals(nat.AddressEnd) ? nat.AddressStart.ToString() : $"{nat.AddressStart}-{nat.AddressEnd}";
        string ports = nat is { PortStart: > 0 } ? $"{nat.PortStart.ToString(CultureInfo.InvariantCulture)}-{nat.PortEnd.ToString(CultureInfo.InvariantCulture)}" : "1024-65535";
        foreach (string proto in new[] { "tcp", "udp" })
        {
            rules.Add(new FirewallRule
            {
                Family = family, Chain = FirewallChain.Nat, Verdict = verdict, L4Proto = proto,
                Source = subnet, Destination = subnet, DestinationNot = true, OutInterface = dev,
                NatAddress = address, NatPorts = ports,
            });
        }

        rules.Add(new FirewallRule
        {
            Family = family, Chain = FirewallChain.Nat, Verdict = verdict,
            Source = subnet, Destination = subnet, DestinationNot = true, OutInterface = dev, NatAddress = address,
        });
    }

    private static IpNetwork Parse(string s) => IpNetwork.TryParse(s, out var n) ? n : throw new FormatException(s);
}
