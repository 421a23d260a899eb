using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Vireo.Model;

namespace Vireo.Net.Netlink;

public sealed partial class RtNetlink
{
    /// <summary><c>ip addr add ADDRESS/PREFIX dev LINK</c>, IPv4 or IPv6.</summary>
    public void AddAddress(string link, IPAddress address, int prefixLength) =>
        ChangeAddress(Rtm.NEWADDR, Nl.F_CREATE | Nl.F_EXCL, link, address, prefixLength, "add");

    /// <summary><c>ip addr del ADDRESS/PREFIX dev LINK</c>.</summary>
    public void DeleteAddress(string link, IPAddress address, int prefixLength) =>
        ChangeAddress(Rtm.DELADDR, 0, link, address, prefixLength, "delete");

    /// <summary>Addresses of one link (by name) or of all links (null), both families.</summary>
    public IReadOnlyList<AddressInfo> ListAddresses(string? link = null)
    {
        int index = link is null ? 0 : GetLink(link).Index;
        var result = new List<AddressInfo>();
        var w = new NetlinkWriter(Rtm.GETADDR, 0);
        Span<byte> ifa = w.Reserve(8);
        BinaryPrimitives.WriteInt32LittleEndian(ifa[4..], index); // honoured under NETLINK_GET_STRICT_CHK
        _socket.Dump(w, link is null ? "cannot list addresses" : $"cannot list addresses of '{link}'", (type, payload) =>
        {
            if (type != Rtm.NEWADDR || payload.Length < 8)
            {
                return;
            }
            byte prefix = payload[1];
            byte scope = payload[3];
            int ifIndex = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
            if (index != 0 && ifIndex != index)
            {
                return;
            }
            IPAddress? address = null, local = null;
            string? label = null;
            foreach (var a in new NetlinkAttributes(payload[8..]))
            {
                switch (a.Type)
                {
                    case Ifa.ADDRESS when a.Value.Length is 4 or 16: address = new IPAddress(a.Value); break;
                    case Ifa.LOCAL when a.Value.Length is 4 or 16: local = new IPAddress(a.Value); break;
                    case Ifa.LABEL: label = a.String; break;
                }
            }
            // On point-to-point links IFA_ADDRESS is the peer; IFA_LOCAL is ours when present.
            if ((local ?? address) is { } ours)
            {
                result.Add(new AddressInfo(ifIndex, ours, prefix, scope, label));
            }
        });
        return result;
    }

    private void ChangeAddress(ushort type, ushort flags, string link, IPAddress address, int prefixLength, string verb)
    {
        ArgumentNullException.ThrowIfNull(address);
        int max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (prefixLength < 0 || prefixLength > max)
        {
            throw VireoException.Invalid($"prefix length {prefixLength} is out of range 0-{max} for {address}");
        }
        int index = GetLink(link).Index;
        var w = new NetlinkWriter(type, flags);
        Span<byte> ifa = w.Reserve(8);
        ifa[0] = FamilyOf(address);
        ifa[1] = (byte)prefixLength;
        BinaryPrimitives.WriteInt32LittleEndian(ifa[4..], index);
        byte[] bytes = address.GetAddressBytes();
        w.Attr(Ifa.LOCAL, bytes);
        w.Attr(Ifa.ADDRESS, bytes);
        _socket.Request(w, $"cannot {verb} address {address}/{prefixLength} on '{link}'");
    }

    private static byte FamilyOf(IPAddress address) => address.AddressFamily switch
    {
        AddressFamily.InterNetwork => Af.INET,
        AddressFamily.InterNetworkV6 => Af.INET6,
        _ => throw VireoException.Invalid($"'{address}' is neither IPv4 nor IPv6"),
    };
}
