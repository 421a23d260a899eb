using System.Buffers.Binary;
using Vireo.Model;

namespace Vireo.Net.Netlink;

public sealed partial class RtNetlink
{
    /// <summary>All links of the namespace, ordered by index.</summary>
    public IReadOnlyList<LinkInfo> ListLinks()
    {
        var links = new List<LinkInfo>();
        var w = LinkMessage(Rtm.GETLINK, 0);
        _socket.Dump(w, "cannot list links", (type, payload) =>
        {
            if (type == Rtm.NEWLINK && ParseLink(payload) is { } link)
            {
                links.Add(link);
            }
        });
        links.Sort((a, b) => a.Index.CompareTo(b.Index));
        return links;
    }

    /// <summary>The link called <paramref name="name"/>, or null when there is none.</summary>
    public LinkInfo? FindLink(string name)
    {
        ValidateLinkName(name);
        var w = LinkMessage(Rtm.GETLINK, 0);
        w.AttrString(Ifla.IFNAME, name);
        LinkInfo? found = null;
        try
        {
            _socket.Request(w, $"cannot look up link '{name}'", (type, payload) =>
            {
                if (type == Rtm.NEWLINK)
                {
                    found = ParseLink(payload);
                }
            });
        }
        catch (VireoException e) when (e.Kind == ErrorKind.NotFound)
        {
            return null;
        }
        return found;
    }

    /// <summary>The link with that index, or null.</summary>
    public LinkInfo? FindLink(int index)
    {
        var w = LinkMessage(Rtm.GETLINK, 0, index);
        LinkInfo? found = null;
        try
        {
            _socket.Request(w, $"cannot look up link #{index}", (type, payload) =>
            {
                if (type == Rtm.NEWLINK)
                {
                    found = ParseLink(payload);
                }
            });
        }
        catch (VireoException e) when (e.Kind == ErrorKind.NotFound)
        {
            return null;
        }
        return found;
    }

    /// <summary>The link called <paramref name="name"/>; a NotFound error naming it when absent.</summary>
    public LinkInfo GetLink(string name) =>
        FindLink(name) ?? throw VireoException.NotFound($"link '{name}' does not exist");

    /// <summary>Whether a link with that name exists.</summary>
    public bool LinkExists(string name) => FindLink(name) is not null;

    /// <summary>The rtnl_link_stats64 counters of a link.</summary>
    public LinkStats GetStats(string name) => GetLink(name).Stats;

    /// <summary>Creates a Linux bridge (down; call <see cref="SetUp"/>).</summary>
    public void CreateBridge(string name, BridgeOptions? options = null)
    {
        ValidateLinkName(name, "bridge name");
        options ??= new BridgeOptions();
        var w = LinkMessage(Rtm.NEWLINK, Nl.F_CREATE | Nl.F_EXCL);
        w.AttrString(Ifla.IFNAME, name);
        if (options.Mac is { } mac)
        {
            w.Attr(Ifla.ADDRESS, mac.ToBytes());
        }
        if (options.Mtu is { } mtu)
        {
            w.AttrU32(Ifla.MTU, CheckMtu(mtu));
        }
        int info = w.BeginNested(Ifla.LINKINFO);
        w.AttrString(Ifla.INFO_KIND, "bridge");
        if (options.Stp is not null || options.ForwardDelaySeconds is not null || options.VlanFiltering is not null)
        {
            int data = w.BeginNested(Ifla.INFO_DATA);
            if (options.ForwardDelaySeconds is { } delay)
            {
                // The kernel takes clock_t (USER_HZ = 100) and refuses STP delays below 2 s only when STP is on.
                w.AttrU32(Ifla.BR_FORWARD_DELAY, checked(delay * 100));
            }
            if (options.Stp is { } stp)
            {
                w.AttrU32(Ifla.BR_STP_STATE, stp ? 1u : 0u);
            }
            if (options.VlanFiltering is { } filtering)
            {
                w.AttrU8(Ifla.BR_VLAN_FILTERING, filtering ? (byte)1 : (byte)0);
            }
            w.EndNested(data);
        }
        w.EndNested(info);
        _socket.Request(w, $"cannot create bridge '{name}'");
    }

    /// <summary>
    /// Creates a veth pair. With <paramref name="peerNamespace"/> the peer is born inside that namespace (the lab and
    /// multi-tenant building block: one end here, one end there).
    /// </summary>
    public void CreateVeth(string name, string peerName, Namespaces.NetNamespace? peerNamespace = null, int? mtu = null)
    {
        ValidateLinkName(name, "veth name");
        ValidateLinkName(peerName, "veth peer name");
        Microsoft.Win32.SafeHandles.SafeFileHandle? nsHandle = peerNamespace?.OpenHandle();
        try
        {
            var w = LinkMessage(Rtm.NEWLINK, Nl.F_CREATE | Nl.F_EXCL);
            w.AttrString(Ifla.IFNAME, name);
            if (mtu is { } m)
            {
                w.AttrU32(Ifla.MTU, CheckMtu(m));
            }
            int info = w.BeginNested(Ifla.LINKINFO);
            w.AttrString(Ifla.INFO_KIND, "veth");
            int data = w.BeginNested(Ifla.INFO_DATA);
            int peer = w.BeginNested(Ifla.VETH_INFO_PEER);
            w.Reserve(16); // the peer's own ifinfomsg, all zero
            w.AttrString(Ifla.IFNAME, peerName);
            if (mtu is { } pm)
            {
                w.AttrU32(Ifla.MTU, (uint)pm);
            }
            if (nsHandle is not null)
            {
                w.AttrU32(Ifla.NET_NS_FD, (uint)nsHandle.DangerousGetHandle());
            }
            w.EndNested(peer);
            w.EndNested(data);
            w.EndNested(info);
            _socket.Request(w, $"cannot create veth pair '{name}'/'{peerName}'");
        }
        finally
        {
            nsHandle?.Dispose();
        }
    }

    /// <summary>Creates an 802.1Q VLAN link <paramref name="name"/> on <paramref name="parent"/>.</summary>
    public void CreateVlan(string name, string parent, ushort vlanId)
    {
        ValidateLinkName(name, "vlan link name");
        if (vlanId is 0 or > 4094)
        {
            throw VireoException.Invalid($"VLAN id {vlanId} is out of range 1-4094");
        }
        int parentIndex = GetLink(parent).Index;
        var w = LinkMessage(Rtm.NEWLINK, Nl.F_CREATE | Nl.F_EXCL);
        w.AttrString(Ifla.IFNAME, name);
        w.AttrU32(Ifla.LINK, (uint)parentIndex);
        int info = w.BeginNested(Ifla.LINKINFO);
        w.AttrString(Ifla.INFO_KIND, "vlan");
        int data = w.BeginNested(Ifla.INFO_DATA);
        w.AttrU16(Ifla.VLAN_ID, vlanId);
        w.EndNested(data);
        w.EndNested(info);
        _socket.Request(w, $"cannot create vlan '{name}' (id {vlanId} on '{parent}')");
    }

    /// <summary>Creates a dummy link (a placeholder NIC).</summary>
    public void CreateDummy(string name)
    {
        ValidateLinkName(name, "dummy link name");
        var w = LinkMessage(Rtm.NEWLINK, Nl.F_CREATE | Nl.F_EXCL);
        w.AttrString(Ifla.IFNAME, name);
        int info = w.BeginNested(Ifla.LINKINFO);
        w.AttrString(Ifla.INFO_KIND, "dummy");
        w.EndNested(info);
        _socket.Request(w, $"cannot create dummy link '{name}'");
    }

    /// <summary>
    /// Creates a macvtap on <paramref name="lower"/> (libvirt's <c>&lt;interface type='direct'&gt;</c>). The guest
    /// then opens <c>/dev/tapN</c> where N is the new link's index (see <see cref="LinkInfo.Index"/>).
    /// </summary>
    public void CreateMacvtap(string name, string lower, MacvtapMode mode, MacAddress? mac = null)
    {
        ValidateLinkName(name, "macvtap name");
        if (!Enum.IsDefined(mode))
        {
            throw VireoException.Invalid($"invalid macvtap mode {(int)mode}");
        }
        int lowerIndex = GetLink(lower).Index;
        var w = LinkMessage(Rtm.NEWLINK, Nl.F_CREATE | Nl.F_EXCL);
        w.AttrString(Ifla.IFNAME, name);
        w.AttrU32(Ifla.LINK, (uint)lowerIndex);
        if (mac is { } m)
        {
            w.Attr(Ifla.ADDRESS, m.ToBytes());
        }
        int info = w.BeginNested(Ifla.LINKINFO);
        w.AttrString(Ifla.INFO_KIND, "macvtap");
        int data = w.BeginNested(Ifla.INFO_DATA);
        w.AttrU32(Ifla.MACVLAN_MODE, (uint)mode);
        w.EndNested(data);
        w.EndNested(info);
        _socket.Request(w, $"cannot create macvtap '{name}' on '{lower}'");
    }

    /// <summary>Deletes a link (both ends of a veth go together).</summary>
    public void DeleteLink(string name)
    {
        ValidateLinkName(name);
        var w = LinkMessage(Rtm.DELLINK, 0);
        w.AttrString(Ifla.IFNAME, name);
        _socket.Request(w, $"cannot delete link '{name}'");
    }

    /// <summary>Deletes a link if it exists; true when it did. For cleanup paths that must not fail on "already gone".</summary>
    public bool DeleteLinkIfExists(string name)
    {
        try
        {
            DeleteLink(name);
            return true;
        }
        catch (VireoException e) when (e.Kind == ErrorKind.NotFound)
        {
            return false;
        }
    }

    /// <summary><c>ip link set NAME up</c>.</summary>
    public void SetUp(string name) => SetFlags(name, Ifla.IFF_UP, Ifla.IFF_UP, "bring up");

    /// <summary><c>ip link set NAME down</c>.</summary>
    public void SetDown(string name) => SetFlags(name, 0, Ifla.IFF_UP, "bring down");

    public void SetMtu(string name, int mtu)
    {
        var w = NamedLinkMessage(name);
        w.AttrU32(Ifla.MTU, CheckMtu(mtu));
        _socket.Request(w, $"cannot set MTU {mtu} on '{name}'");
    }

    public void SetMac(string name, MacAddress mac)
    {
        if (mac.IsMulticast)
        {
            throw VireoException.Invalid($"MAC address {mac} for '{name}' is a multicast address");
        }
        var w = NamedLinkMessage(name);
        w.Attr(Ifla.ADDRESS, mac.ToBytes());
        _socket.Request(w, $"cannot set MAC {mac} on '{name}'");
    }

    /// <summary>Makes <paramref name="name"/> a port of <paramref name="master"/> (a bridge), or detaches it when null (<c>nomaster</c>).</summary>
    public void SetMaster(string name, string? master)
    {
        int masterIndex = master is null ? 0 : GetLink(master).Index;
        var w = NamedLinkMessage(name);
        w.AttrU32(Ifla.MASTER, (uint)masterIndex);
        _socket.Request(w, master is null ? $"cannot detach '{name}' from its master" : $"cannot attach '{name}' to '{master}'");
    }

    /// <summary>Renames a link (the kernel requires it to be down).</summary>
    public void Rename(string name, string newName)
    {
        ValidateLinkName(newName, "new link name");
        int index = GetLink(name).Index;
        var w = LinkMessage(Rtm.SETLINK, 0, index);
        w.AttrString(Ifla.IFNAME, newName);
        _socket.Request(w, $"cannot rename '{name}' to '{newName}'");
    }

    /// <summary>Moves a link into another namespace (it goes down there and keeps its name).</summary>
    public void MoveToNamespace(string name, Namespaces.NetNamespace target)
    {
        ArgumentNullException.ThrowIfNull(target);
        using var handle = target.OpenHandle();
        MoveToNamespaceFd(name, (int)handle.DangerousGetHandle(), $"namespace '{target.Name}'");
    }

    /// <summary>Moves a link into the network namespace referred to by an open fd (of /run/netns/X or /proc/PID/ns/net).</summary>
    public void MoveToNamespaceFd(string name, int namespaceFd, string? description = null)
    {
        var w = NamedLinkMessage(name);
        w.AttrU32(Ifla.NET_NS_FD, (uint)namespaceFd);
        _socket.Request(w, $"cannot move '{name}' to {description ?? $"namespace fd {namespaceFd}"}");
    }

    /// <summary>Moves a link into the network namespace of process <paramref name="pid"/>.</summary>
    public void MoveToNamespaceOfProcess(string name, int pid)
    {
        var w = NamedLinkMessage(name);
        w.AttrU32(Ifla.NET_NS_PID, (uint)pid);
        _socket.Request(w, $"cannot move '{name}' to the namespace of process {pid}");
    }

    private void SetFlags(string name, uint flags, uint change, string verb)
    {
        ValidateLinkName(name);
        var w = LinkMessage(Rtm.NEWLINK, 0, 0, Af.UNSPEC, flags, change);
        w.AttrString(Ifla.IFNAME, name);
        _socket.Request(w, $"cannot {verb} '{name}'");
    }

    // RTM_NEWLINK without NLM_F_CREATE on an existing name is "change this link"; index 0 means "look up IFLA_IFNAME".
    private static NetlinkWriter NamedLinkMessage(string name)
    {
        ValidateLinkName(name);
        var w = LinkMessage(Rtm.NEWLINK, 0);
        w.AttrString(Ifla.IFNAME, name);
        return w;
    }

    private static uint CheckMtu(int mtu) =>
        mtu is >= 68 and <= 65535 ? (uint)mtu : throw VireoException.Invalid($"MTU {mtu} is out of range 68-65535");

    private static LinkInfo? ParseLink(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 16)
        {
            return null;
        }
        ushort hwType = BinaryPrimitives.ReadUInt16LittleEndian(payload[2..]);
        int index = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]);
        string name = "";
        string? kind = null;
        MacAddress? mac = null;
        int mtu = 0, master = 0, parent = 0;
        var state = LinkOperState.Unknown;
        LinkStats stats = LinkStats.Empty;
        BridgeSettings? bridge = null;
        foreach (var a in new NetlinkAttributes(payload[16..]))
        {
            switch (a.Type)
            {
                case Ifla.IFNAME: name = a.String; break;
                case Ifla.ADDRESS when a.Value.Length == 6: mac = MacAddress.FromBytes(a.Value); break;
                case Ifla.MTU: mtu = (int)a.U32; break;
                case Ifla.MASTER: master = (int)a.U32; break;
                case Ifla.LINK: parent = (int)a.U32; break;
                case Ifla.OPERSTATE: state = (LinkOperState)a.U8; break;
                case Ifla.STATS64: stats = ParseStats64(a.Value); break;
                case Ifla.LINKINFO:
                    foreach (var i in a.Nested())
                    {
                        if (i.Type == Ifla.INFO_KIND)
                        {
                            kind = i.String;
                        }
                        else if (i.Type == Ifla.INFO_DATA && kind == "bridge")
                        {
                            bridge = ParseBridge(i.Nested());
                        }
                    }
                    break;
            }
        }
        return new LinkInfo(index, name, kind, mac, mtu, state, (flags & Ifla.IFF_UP) != 0, (flags & Ifla.IFF_LOWER_UP) != 0,
            master, parent, stats) { Flags = flags, HardwareType = hwType, Bridge = bridge };
    }

    private static BridgeSettings ParseBridge(NetlinkAttributes data)
    {
        bool stp = false, filtering = false;
        uint delay = 0;
        foreach (var a in data)
        {
            switch (a.Type)
            {
                case Ifla.BR_STP_STATE: stp = a.U32 != 0; break;
                case Ifla.BR_FORWARD_DELAY: delay = a.U32; break;
                case Ifla.BR_VLAN_FILTERING: filtering = a.U8 != 0; break;
            }
        }
        return new BridgeSettings(stp, delay, filtering);
    }

    private static LinkStats ParseStats64(ReadOnlySpan<byte> v)
    {
        if (v.Length < 80)
        {
            return LinkStats.Empty;
        }
        Span<ulong> u = stackalloc ulong[10];
        for (int i = 0; i < u.Length; i++)
        {
            u[i] = BinaryPrimitives.ReadUInt64LittleEndian(v[(i * 8)..]);
        }
        return new LinkStats(u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9]);
    }
}
