using Vireo.Model;
using Vireo.Model.Domains;
using Vireo.Model.Networks;
using Vireo.Net.Netlink;
using Vireo.Net.Ovs;
using Vireo.Net.Tap;
using Vireo.Net.Tc;
using DomainLimit = Vireo.Model.Domains.BandwidthLimit;
using TcLimit = Vireo.Net.Tc.BandwidthLimit;

namespace Vireo.Engine.Networks;

/// <summary>
/// One domain interface made ready for QEMU: the TAP (its queue fds and vhost-net fds, owned by this object until
/// QEMU has its copies) and the resource strings that <see cref="InterfacePlumber.Release"/> needs at stop.
/// </summary>
public sealed class PlumbedInterface : IDisposable
{
    internal PlumbedInterface(int index, TapDevice tap, IReadOnlyList<string> resources)
    {
        Index = index;
        Tap = tap;
        Resources = resources;
    }

    /// <summary>The interface's index among the domain's interfaces.</summary>
    public int Index { get; }

    public TapDevice Tap { get; }

    public string TapName => Tap.Name;

    /// <summary>One fd per queue: QEMU gets them as <c>-netdev tap,fds=a:b</c> (or <c>fd=N</c> for one queue).</summary>
    public int[] TapFds => Tap.QueueFds;

    /// <summary>vhost-net fds (empty when vhost-net is unavailable or <c>&lt;driver name='qemu'&gt;</c>): <c>vhostfds=</c>.</summary>
    public int[] VhostFds => Tap.VhostNetFds;

    /// <summary>"tap:NAME", "ovs-port:NAME": what to remove when the domain stops.</summary>
    public IReadOnlyList<string> Resources { get; }

    /// <summary>Closes this process's fds (after QEMU has inherited its copies). A TAP lives while any fd is open.</summary>
    public void Dispose() => Tap.Dispose();
}

/// <summary>
/// Prepares a domain's interfaces: for <c>network</c>, <c>bridge</c> and <c>ethernet</c> interfaces it creates the
/// TAP (named from <c>&lt;target dev&gt;</c> or the kernel's next <c>vnetN</c>; MAC = guest MAC with first byte 0xFE;
/// vnet header; multiqueue; vhost-net when <c>/dev/vhost-net</c> exists), plugs it into the network's Linux bridge or
/// Open vSwitch bridge (VLAN tag or trunk, <c>iface-id</c>, <c>attached-mac</c> and <c>vm-id</c> external ids) and
/// applies <c>&lt;bandwidth&gt;</c> with tc. Other types (user, direct, vhostuser, hostdev) need no TAP and get null.
/// </summary>
public sealed class InterfacePlumber
{
    private readonly NetworkManager _networks;

    public InterfacePlumber(NetworkManager networks)
    {
        _networks = networks;
    }

    /// <summary>Plumbs every TAP-backed interface; on failure everything already made is removed.</summary>
    public async Task<IReadOnlyList<PlumbedInterface>> PlumbAllAsync(string domainName, Guid domainUuid, IReadOnlyList<NetInterface> interfaces, CancellationToken ct = default)
    {
        var done = new List<PlumbedInterface>();
        try
        {
            for (int i = 0; i < interfaces.Count; i++)
            {
                if (await PlumbAsync(domainName, domainUuid, interfaces[i], i, ct).ConfigureAwait(false) is { } p)
                {
                    done.Add(p);
                }
            }

            return done;
        }
        catch
        {
            foreach (var p in done)
            {
                p.Dispose();
                Release(p.Resources);
            }

            throw;
        }
    }

    /// <summary>Plumbs one interface, or returns null when its type needs no TAP.</summary>
    public async Task<PlumbedInterface?> PlumbAsync(string domainName, Guid domainUuid, NetInterface iface, int index, CancellationToken ct = default)
    {
        if (!iface.UsesTap)
        {
            return null;
        }

        string what = $"domain '{domainName}' interface {index} (type '{iface.Type}')";
        var target = await ResolveAsync(iface, what, ct).ConfigureAwait(false);
        if (iface.Mac is null || !MacAddress.TryParse(iface.Mac, out var guestMac))
        {
            throw VireoException.Invalid($"{what} has no usable <mac address> ('{iface.Mac}')");
        }

        if (iface.Type == "ethernet" && iface.TargetManaged == false)
        {
            throw VireoException.Unsupported($"{what}: <target managed='no'> (a pre-created TAP) is not supported yet");
        }

        if (iface.Vlans.Count > 0 && target.Bridge is not null && !target.Ovs)
        {
            throw VireoException.Unsupported($"{what}: <vlan> tags need an Open vSwitch bridge; '{target.Bridge}' is a Linux bridge");
        }

        // libvirt regenerates names in its own vnet/vif/macvtap namespaces; so do we (the kernel picks vnetN).
        string? name = iface.TargetDev is { } t && !t.StartsWith("vnet", StringComparison.Ordinal) && !t.StartsWith("vif", StringComparison.Ordinal) ? t : null;
        if (name is not null)
        {
            NetworkValidator.ValidateInterfaceName(name, $"{what}: <target dev>");
        }

        bool vhost = iface.DriverName != "qemu" && (iface.Model is null or "virtio" or "virtio-transitional" or "virtio-non-transitional");
        var tap = TapDevice.Create(new TapOptions(name, iface.Queues ?? 1, VnetHeader: true)
        {
            Mac = TapDevice.HostMacFor(guestMac),
            Mtu = iface.Mtu ?? target.Mtu,
            Bridge = target.Ovs ? null : target.Bridge,
            VhostNet = vhost,
        });
        var resources = new List<string> { $"tap:{tap.Name}" };
        try
        {
            if (target.Ovs)
            {
                var (tag, trunks) = VlanOf(iface, target);
                var ids = new Dictionary<string, string>
                {
                    ["iface-id"] = iface.VirtualPort?.InterfaceId ?? DeriveInterfaceId(domainUuid, index),
                    ["iface-status"] = "active",
                    ["attached-mac"] = iface.Mac,
                    ["vm-id"] = domainUuid.ToString(),
                };
                resources.Add($"ovs-port:{tap.Name}");
                await new OvsVsctl().AddPortAsync(target.Bridge!, tap.Name, tag, trunks, ids, ct).ConfigureAwait(false);
            }

            if (ShapingOf(iface) is { } bw)
            {
                using var nl = RtNetlink.Open();
                TrafficControl.SetBandwidth(nl, tap.Name, bw);
            }

            return new PlumbedInterface(index, tap, resources);
        }
        catch
        {
            tap.Dispose();
            Release(resources);
            throw;
        }
    }

    /// <summary>
    /// Removes what <see cref="PlumbAsync"/> recorded; tolerant of everything already gone (a TAP vanishes by
    /// itself when QEMU's fds close; its OVS port record does not).
    /// </summary>
    public static void Release(IReadOnlyList<string> resources)
    {
        foreach (string r in resources)
        {
            try
            {
                if (r.StartsWith("ovs-port:", StringComparison.Ordinal))
                {
                    new OvsVsctl().DeletePortAsync(r["ovs-port:".Length..]).GetAwaiter().GetResult();
                }
                else if (r.StartsWith("tap:", StringComparison.Ordinal))
                {
                    using var nl = RtNetlink.Open();
                    if (nl.FindLink(r["tap:".Length..]) is { Kind: "tun" })
                    {
                        nl.DeleteLink(r["tap:".Length..]);
                    }
                }
            }
            catch (VireoException)
            {
                // Best effort: the next release (or the reconciler) tries again.
            }
        }
    }

    private sealed record Target(string? Bridge, bool Ovs, int? Mtu, NetworkDefinition? Network);

    private async Task<Target> ResolveAsync(NetInterface iface, string what, CancellationToken ct)
    {
        switch (iface.Type)
        {
            case "network":
            {
                NetworkRecord rec;
                try
                {
                    rec = _networks.GetActive(iface.SourceNetwork!);
                }
                catch (VireoException e)
                {
                    throw new VireoException(e.Kind, $"{what}: {e.Message}");
                }

                var def = rec.Definition;
                if (rec.Bridge is null)
                {
                    throw VireoException.Unsupported($"{what}: network '{def.Name}' (forward mode {def.Forward.Mode.ToString().ToLowerInvariant()}) has no bridge; macvtap and hostdev networks are not supported yet");
                }

                if (iface.SourcePortGroup is { } pg && def.PortGroups.All(p => p.Name != pg))
                {
                    throw VireoException.Invalid($"{what}: network '{def.Name}' has no portgroup '{pg}'");
                }

                return new Target(rec.Bridge, def.IsOpenVSwitch, def.Mtu, def);
            }

            case "bridge":
            {
                string br = iface.SourceBridge!;
                bool ovs = iface.VirtualPort?.Type == "openvswitch";
                using (var nl = RtNetlink.Open())
                {
                    var link = nl.FindLink(br);
                    if (!ovs && link?.Kind == "bridge")
                    {
                        return new Target(br, false, null, null);
                    }
                }

                if (await new OvsVsctl().BridgeExistsAsync(br, ct).ConfigureAwait(false))
                {
                    return new Target(br, true, null, null);
                }

                throw VireoException.Invalid($"{what}: <source bridge='{br}'> is neither a Linux bridge nor an Open vSwitch bridge on this host");
            }

            default:
                return new Target(null, false, null, null);
        }
    }

    private static (int? Tag, IReadOnlyList<int>? Trunks) VlanOf(NetInterface iface, Target target)
    {
        // The interface's own <vlan> wins; else the portgroup's (named or default); else the network's.
        if (iface.Vlans.Count > 0)
        {
            return !iface.VlanTrunk && iface.Vlans.Count == 1 ? (iface.Vlans[0].Id, null) : (null, iface.Vlans.Select(v => v.Id).ToList());
        }

        var net = target.Network;
        var pg = net?.PortGroups.FirstOrDefault(p => p.Name == iface.SourcePortGroup) ?? net?.PortGroups.FirstOrDefault(p => p.IsDefault);
        var vlan = pg?.Vlan ?? net?.Vlan;
        if (vlan is null)
        {
            return (null, null);
        }

        return vlan.Trunk != true && vlan.Tags.Count == 1 ? (vlan.Tags[0].Id, null) : (null, vlan.Tags.Select(t => t.Id).ToList());
    }

    private static InterfaceBandwidth? ShapingOf(NetInterface iface)
    {
        if (iface.Bandwidth is not { } bw || (bw.Inbound?.Average is null && bw.Outbound?.Average is null))
        {
            return null;
        }

        static TcLimit? Limit(DomainLimit? l) =>
            l?.Average is long avg && avg > 0 ? new TcLimit((ulong)avg, (ulong?)l.Peak, (ulong?)l.Burst) : null;

        return new InterfaceBandwidth(Limit(bw.Inbound), Limit(bw.Outbound));
    }

    /// <summary>A stable iface-id when the definition has none: the domain uuid with the interface index mixed in.</summary>
    private static string DeriveInterfaceId(Guid domain, int index)
    {
        var b = domain.ToByteArray();
        b[15] ^= (byte)index;
        b[14] ^= (byte)(index >> 8);
        return new Guid(b).ToString();
    }
}
