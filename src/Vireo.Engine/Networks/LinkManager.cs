using System.Xml.Linq;
using Vireo.Engine.State;
using Vireo.Model;
using Vireo.Model.Networks;
using Vireo.Net.Namespaces;
using Vireo.Net.Netlink;
using Vireo.Net.Ovs;

namespace Vireo.Engine.Networks;

/// <summary>Where one end of a veth link goes.</summary>
public enum LinkEndKind
{
    /// <summary>Enslaved to an active network's bridge (Linux or Open vSwitch).</summary>
    Network,
    /// <summary>Moved into a named network namespace (<c>ip netns</c>), optionally with addresses.</summary>
    Netns,
    /// <summary>Left in Vireo's own namespace as a plain interface, optionally with addresses.</summary>
    Host,
}

/// <summary>One end: its kind, the network or namespace name, and addresses (<c>CIDR</c>) for netns/host ends.</summary>
public sealed record LinkEnd(LinkEndKind Kind, string? Target, IReadOnlyList<IpNetwork> Addresses)
{
    public override string ToString() => Kind switch
    {
        LinkEndKind.Network => $"network {Target}",
        LinkEndKind.Netns => $"netns {Target}",
        _ => "host",
    } + (Addresses.Count > 0 ? $" ({string.Join(", ", Addresses.Select(a => $"{a.Address}/{a.PrefixLength}"))})" : "");
}

/// <summary>A veth link as <c>link-list</c> shows it; the interfaces are <c>NAME-a</c> and <c>NAME-b</c>.</summary>
public sealed record VethLink(string Name, LinkEnd A, LinkEnd B, bool Present)
{
    public string NameA => Name + "-a";

    public string NameB => Name + "-b";
}

/// <summary>
/// veth links: the building block of lab and multi-tenant topologies — two networks joined by a cable, or a
/// network (or the host) plugged into a namespace. Records live under <c>RunNetworks/links</c> (links vanish at
/// reboot, like bridges); interface names are derived from the link name, so nothing but the record is needed to
/// find and remove them.
/// </summary>
public sealed class LinkManager
{
    /// <summary>15-byte interface names minus the "-a"/"-b" suffix.</summary>
    public const int MaxNameBytes = 13;

    private readonly NetworkManager _networks;

    public LinkManager(NetworkManager networks)
    {
        _networks = networks;
    }

    private string Dir => Path.Combine(_networks.Paths.RunNetworks, "links");

    private string RecordPath(string name) => Path.Combine(Dir, name + ".xml");

    public async Task<VethLink> CreateAsync(string name, LinkEnd a, LinkEnd b, CancellationToken ct = default)
    {
        NetworkValidator.ValidateInterfaceName(name, "link name");
        if (System.Text.Encoding.UTF8.GetByteCount(name) > MaxNameBytes)
        {
            throw VireoException.Invalid($"link name '{name}' must be at most {MaxNameBytes} bytes (its ends are {name}-a and {name}-b)");
        }

        using var l = ObjectLock.Acquire(_networks.Paths.LockFile("link", name), TimeSpan.FromSeconds(30), $"link '{name}'");
        if (File.Exists(RecordPath(name)))
        {
            throw new VireoException(ErrorKind.AlreadyExists, $"link '{name}' already exists");
        }

        // Resolve everything before creating anything.
        var ra = Resolve(a, "first end");
        var rb = Resolve(b, "second end");
        if (a.Kind == LinkEndKind.Netns && b.Kind == LinkEndKind.Netns && a.Target == b.Target)
        {
            throw VireoException.Invalid($"link '{name}': both ends are in netns '{a.Target}'");
        }

        var link = new VethLink(name, a, b, true);
        using var nl = RtNetlink.Open();
        foreach (string n in new[] { link.NameA, link.NameB })
        {
            if (nl.LinkExists(n))
            {
                throw VireoException.Invalid($"link '{name}': interface '{n}' already exists");
            }
        }

        AtomicFile.WriteAllText(RecordPath(name), ToXml(link));
        try
        {
            nl.CreateVeth(link.NameA, link.NameB, rb.Ns);
            if (ra.Ns is not null)
            {
                nl.MoveToNamespace(link.NameA, ra.Ns);
            }

            await AttachAsync(link.NameA, a, ra, ct).ConfigureAwait(false);
            await AttachAsync(link.NameB, b, rb, ct).ConfigureAwait(false);
        }
        catch
        {
            await RemoveAsync(link, CancellationToken.None).ConfigureAwait(false);
            AtomicFile.Delete(RecordPath(name));
            throw;
        }

        return link;
    }

    public async Task DeleteAsync(string name, CancellationToken ct = default)
    {
        using var l = ObjectLock.Acquire(_networks.Paths.LockFile("link", name), TimeSpan.FromSeconds(30), $"link '{name}'");
        var link = Load(name) ?? throw VireoException.NotFound($"link '{name}' does not exist");
        await RemoveAsync(link, ct).ConfigureAwait(false);
        AtomicFile.Delete(RecordPath(name));
    }

    public IReadOnlyList<VethLink> List()
    {
        if (!Directory.Exists(Dir))
        {
            return [];
        }

        return Directory.GetFiles(Dir, "*.xml").Order(StringComparer.Ordinal)
            .Select(f => Load(Path.GetFileNameWithoutExtension(f))).OfType<VethLink>().ToList();
    }

    private sealed record Resolved(NetNamespace? Ns, string? Bridge, bool Ovs);

    private Resolved Resolve(LinkEnd end, string which)
    {
        switch (end.Kind)
        {
            case LinkEndKind.Network:
                if (end.Addresses.Count > 0)
                {
                    throw VireoException.Invalid($"the {which} (network {end.Target}) cannot take addresses; the network's bridge has them");
                }

                var rec = _networks.GetActive(end.Target!);
                if (rec.Bridge is null)
                {
                    throw VireoException.Invalid($"network '{end.Target}' has no bridge to plug a link into (forward mode {rec.Definition.Forward.Mode.ToString().ToLowerInvariant()})");
                }

                return new Resolved(null, rec.Bridge, rec.Definition.IsOpenVSwitch);
            case LinkEndKind.Netns:
                if (!NetNamespace.Exists(end.Target!))
                {
                    throw VireoException.NotFound($"network namespace '{end.Target}' does not exist (create it with ip netns add)");
                }

                return new Resolved(NetNamespace.Open(end.Target!), null, false);
            default:
                return new Resolved(null, null, false);
        }
    }

    private static async Task AttachAsync(string ifname, LinkEnd end, Resolved r, CancellationToken ct)
    {
        using var nl = r.Ns is null ? RtNetlink.Open() : r.Ns.OpenRtNetlink();
        if (r.Bridge is not null)
        {
            if (r.Ovs)
            {
                await new OvsVsctl().AddPortAsync(r.Bridge, ifname, ct: ct).ConfigureAwait(false);
            }
            else
            {
                nl.SetMaster(ifname, r.Bridge);
            }
        }

        foreach (var a in end.Addresses)
        {
            nl.AddAddress(ifname, a.Address, a.PrefixLength);
        }

        nl.SetUp(ifname);
    }

    private static async Task RemoveAsync(VethLink link, CancellationToken ct)
    {
        // Deleting either end of a veth deletes both; try ours first, then inside each namespace.
        foreach (var (ifname, end) in new[] { (link.NameA, link.A), (link.NameB, link.B) })
        {
            if (end.Kind == LinkEndKind.Network)
            {
                try
                {
                    var ovs = new OvsVsctl();
                    if (await ovs.PortToBridgeAsync(ifname, ct).ConfigureAwait(false) is not null)
                    {
                        await ovs.DeletePortAsync(ifname, ct).ConfigureAwait(false);
                    }
                }
                catch (VireoException)
                {
                    // No Open vSwitch on this host: nothing to remove there.
                }
            }
        }

        using (var nl = RtNetlink.Open())
        {
            if (nl.DeleteLinkIfExists(link.NameA) || nl.DeleteLinkIfExists(link.NameB))
            {
                return;
            }
        }

        foreach (var (ifname, end) in new[] { (link.NameA, link.A), (link.NameB, link.B) })
        {
            if (end.Kind == LinkEndKind.Netns && NetNamespace.Exists(end.Target!))
            {
                using var nsl = NetNamespace.Open(end.Target!).OpenRtNetlink();
                if (nsl.DeleteLinkIfExists(ifname))
                {
                    return;
                }
            }
        }
    }

    private VethLink? Load(string name)
    {
        string path = RecordPath(name);
        if (!File.Exists(path))
        {
            return null;
        }

        var root = SafeXml.Parse(File.ReadAllText(path), $"link record {path}").Root!;
        var ends = root.Elements("end").Select(e => new LinkEnd(
            Enum.Parse<LinkEndKind>((string)e.Attribute("kind")!, ignoreCase: true),
            (string?)e.Attribute("target"),
            e.Elements("address").Select(x => IpNetwork.TryParse(x.Value, out var n) ? n : default).Where(n => n.Address is not null).ToList())).ToList();
        if (ends.Count != 2)
        {
            throw new VireoException(ErrorKind.Corrupt, $"link record {path} does not have two ends");
        }

        var link = new VethLink(name, ends[0], ends[1], false);
        return link with { Present = IsPresent(link) };
    }

    private static bool IsPresent(VethLink link)
    {
        using (var nl = RtNetlink.Open())
        {
            if (nl.LinkExists(link.NameA) || nl.LinkExists(link.NameB))
            {
                return true;
            }
        }

        foreach (var (ifname, end) in new[] { (link.NameA, link.A), (link.NameB, link.B) })
        {
            if (end.Kind == LinkEndKind.Netns && NetNamespace.Exists(end.Target!))
            {
                using var nsl = NetNamespace.Open(end.Target!).OpenRtNetlink();
                if (nsl.LinkExists(ifname))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static string ToXml(VethLink link) => new XElement("link", new XAttribute("name", link.Name),
        new[] { link.A, link.B }.Select(e => new XElement("end",
            new XAttribute("kind", e.Kind.ToString().ToLowerInvariant()),
            e.Target is null ? null : new XAttribute("target", e.Target),
            e.Addresses.Select(a => new XElement("address", $"{a.Address}/{a.PrefixLength}"))))).ToString() + "\n";
}
