using Vireo.Model.Networks;

namespace Vireo.Engine.Networks;

/// <summary>What <c>net-list</c> and <c>net-info</c> show about one network.</summary>
public sealed record NetworkInfo(
    string Name,
    Guid Uuid,
    bool Active,
    bool Persistent,
    bool Autostart,
    string? Bridge,
    ForwardMode Forward,
    NetworkRunState? State);

/// <summary>One lease as <c>net-dhcp-leases</c> shows it.</summary>
public sealed record NetworkLease(DateTimeOffset Expiry, string? Mac, string? Iaid, string Protocol, string Address, string? Hostname, string? ClientId);
