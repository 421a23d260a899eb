using System.Buffers.Binary;
using Vireo.Model;

namespace Vireo.Net.Netlink;

public sealed partial class RtNetlink
{
    /// <summary>
    /// <c>bridge vlan add dev PORT vid VID [pvid] [untagged] [self]</c>: allows a VLAN on a port of a bridge with
    /// vlan_filtering on. <paramref name="self"/> targets the bridge device's own port (traffic to the host).
    /// </summary>
    public void AddBridgeVlan(string port, ushort vid, bool pvid = false, bool untagged = false, bool self = false) =>
        ChangeBridgeVlan(Rtm.SETLINK, port, vid, pvid, untagged, self, "add");

    /// <summary><c>bridge vlan del dev PORT vid VID [self]</c>.</summary>
    public void DeleteBridgeVlan(string port, ushort vid, bool self = false) =>
        ChangeBridgeVlan(Rtm.DELLINK, port, vid, false, false, self, "delete");

    /// <summary><c>bridge vlan show</c>: VLANs of every bridge port (and bridges), or of one link.</summary>
    public IReadOnlyList<BridgeVlan> ListBridgeVlans(string? link = null)
    {
        int only = link is null ? 0 : GetLink(link).Index;
        var result = new List<BridgeVlan>();
        var w = LinkMessage(Rtm.GETLINK, 0, 0, Af.BRIDGE);
        w.AttrU32(Ifla.EXT_MASK, Ifla.RTEXT_FILTER_BRVLAN);
        _socket.Dump(w, "cannot list bridge VLANs", (type, payload) =>
        {
            if (type != Rtm.NEWLINK || payload.Length < 16)
            {
                return;
            }
            int index = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
            if (only != 0 && index != only)
            {
                return;
            }
            foreach (var a in new NetlinkAttributes(payload[16..]))
            {
                if (a.Type != Ifla.AF_SPEC)
                {
                    continue;
                }
                foreach (var v in a.Nested())
                {
                    if (v.Type == Ifla.BRIDGE_VLAN_INFO && v.Value.Length >= 4)
                    {
                        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(v.Value);
                        ushort vid = BinaryPrimitives.ReadUInt16LittleEndian(v.Value[2..]);
                        result.Add(new BridgeVlan(index, vid, (flags & Ifla.BRIDGE_VLAN_INFO_PVID) != 0,
                            (flags & Ifla.BRIDGE_VLAN_INFO_UNTAGGED) != 0));
                    }
                }
            }
        });
        return result;
    }

    private void ChangeBridgeVlan(ushort type, string port, ushort vid, bool pvid, bool untagged, bool self, string verb)
    {
        if (vid is 0 or > 4094)
        {
            throw VireoException.Invalid($"VLAN id {vid} is out of range 1-4094");
        }
        int index = GetLink(port).Index;
        var w = BridgeVlanMessage(type, index, vid, pvid, untagged, self);
        _socket.Request(w, $"cannot {verb} VLAN {vid} on bridge port '{port}'");
    }

    /// <summary>RTM_SETLINK/RTM_DELLINK, family AF_BRIDGE, IFLA_AF_SPEC { [IFLA_BRIDGE_FLAGS], IFLA_BRIDGE_VLAN_INFO {flags, vid} }.</summary>
    internal static NetlinkWriter BridgeVlanMessage(ushort type, int index, ushort vid, bool pvid, bool untagged, bool self)
    {
        var w = LinkMessage(type, 0, index, Af.BRIDGE);
        int spec = w.BeginNested(Ifla.AF_SPEC);
        if (self)
        {
            w.AttrU16(Ifla.BRIDGE_FLAGS, 2); // BRIDGE_FLAGS_SELF
        }
        Span<byte> info = stackalloc byte[4];
        ushort flags = (ushort)((pvid ? Ifla.BRIDGE_VLAN_INFO_PVID : 0) | (untagged ? Ifla.BRIDGE_VLAN_INFO_UNTAGGED : 0));
        BinaryPrimitives.WriteUInt16LittleEndian(info, flags);
        BinaryPrimitives.WriteUInt16LittleEndian(info[2..], vid);
        w.Attr(Ifla.BRIDGE_VLAN_INFO, info);
        w.EndNested(spec);
        return w;
    }
}
