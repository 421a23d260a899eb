using Vireo.Model.Networks;

namespace Vireo.Net.Firewall;

/// <summary>The address family a rule applies to; in Vireo's <c>inet</c> table a rule without an address match says so with <c>meta nfproto</c>.</summary>
public enum FirewallFamily
{
    Ip,
    Ip6,
}

/// <summary>
/// The chains of Vireo's table, as libvirt lays them out: the forward hook jumps to <see cref="Cross"/>, then
/// <see cref="Input"/> (traffic towards guests), then <see cref="Output"/> (traffic from guests); <see cref="Nat"/> is
/// the postrouting NAT hook.
/// </summary>
public enum FirewallChain
{
    Cross,
    Input,
    Output,
    Nat,
}

public enum FirewallVerdict
{
    Accept,
    Reject,
    Return,
    Masquerade,
    Snat,
}

/// <summary>
/// One rule as a value: what it matches and what it does. Rendering to nft syntax is separate, so the rules
/// can be compared with libvirt's (which are text of another layout) by meaning.
/// </summary>
public sealed record FirewallRule
{
    public required FirewallFamily Family { get; init; }

    public required FirewallChain Chain { get; init; }

    public string? InInterface { get; init; }

    public string? OutInterface { get; init; }

    public IpNetwork? Source { get; init; }

    public IpNetwork? Destination { get; init; }

    /// <summary>Negates <see cref="Destination"/>: <c>daddr != S</c>.</summary>
    public bool DestinationNot { get; init; }

    /// <summary><c>tcp</c> or <c>udp</c>, for NAT rules with a port range.</summary>
    public string? L4Proto { get; init; }

    /// <summary>Connection tracking states, e.g. <c>related,established</c>.</summary>
    public string? CtState { get; init; }

    public required FirewallVerdict Verdict { get; init; }

    /// <summary>SNAT address range (<c>A-B</c>) for <see cref="FirewallVerdict.Snat"/>.</summary>
    public string? NatAddress { get; init; }

    /// <summary>Port range <c>lo-hi</c> for masquerade/snat of tcp and udp.</summary>
    public string? NatPorts { get; init; }
}
