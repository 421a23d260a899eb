using Vireo.Model;

namespace Vireo.Net.Tc;

/// <summary>
/// One direction of libvirt's <c>&lt;bandwidth&gt;</c>, in libvirt's units: <paramref name="Average"/> and
/// <paramref name="Peak"/> in kilobytes per second (1000 bytes, as tc's <c>kbps</c>), <paramref name="Burst"/> in
/// kibibytes (tc's <c>kb</c>).
/// </summary>
public sealed record BandwidthLimit(ulong Average, ulong? Peak = null, ulong? Burst = null)
{
    internal ulong AverageBytesPerSecond => Average * 1000;

    internal ulong? PeakBytesPerSecond => Peak * 1000;

    internal void Validate(string direction)
    {
        if (Average == 0 || Average > 1UL << 40)
        {
            throw VireoException.Invalid($"bandwidth {direction} average {Average} kB/s is out of range 1-{1UL << 40}");
        }
        if (Peak is { } p && p < Average)
        {
            throw VireoException.Invalid($"bandwidth {direction} peak {p} kB/s is below its average {Average} kB/s");
        }
        if (Burst is { } b && (b == 0 || b > 4 * 1024 * 1024))
        {
            throw VireoException.Invalid($"bandwidth {direction} burst {b} KiB is out of range 1-4194304");
        }
    }
}

/// <summary>
/// libvirt's <c>&lt;bandwidth&gt;</c> of an interface, seen from the guest: <see cref="Inbound"/> is traffic the
/// guest receives (the host-side TAP's egress), <see cref="Outbound"/> traffic it sends (the TAP's ingress).
/// </summary>
public sealed record InterfaceBandwidth(BandwidthLimit? Inbound = null, BandwidthLimit? Outbound = null);
