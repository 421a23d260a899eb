using System.Buffers.Binary;
using System.Text;
using Vireo.Model;
using Vireo.Net.Namespaces;

namespace Vireo.Net.Netlink;

/// <summary>
/// A native rtnetlink client: links, addresses, routes and bridge VLANs, spoken over an AF_NETLINK socket without
/// ip(8). An instance is bound for life to one network namespace — the caller's (<see cref="Open()"/>) or a named one
/// (<see cref="Open(NetNamespace)"/>) — so every call on it acts inside that namespace, whatever thread makes it.
/// Calls are synchronous (a kernel round trip of microseconds) and serialized; errors are <see cref="VireoException"/>s
/// that name the link and the operation, e.g. <c>cannot create bridge 'vbr0': File exists</c>.
/// </summary>
public sealed partial class RtNetlink : IDisposable
{
    /// <summary>Linux's IFNAMSIZ minus the NUL.</summary>
    public const int MaxLinkNameLength = 15;

    private readonly NetlinkSocket _socket;

    /// <summary>The socket, for the other rtnetlink families of this assembly (tc).</summary>
    internal NetlinkSocket Socket => _socket;

    private RtNetlink(NetlinkSocket socket) => _socket = socket;

    /// <summary>Opens a client in the calling thread's network namespace.</summary>
    public static RtNetlink Open() => new(NetlinkSocket.Open());

    /// <summary>Opens a client inside the named namespace; the socket stays there even as threads change.</summary>
    public static RtNetlink Open(NetNamespace ns)
    {
        ArgumentNullException.ThrowIfNull(ns);
        return new RtNetlink(ns.Run(NetlinkSocket.Open));
    }

    /// <summary>The namespace-independent socket factory a namespace helper calls on its thread.</summary>
    internal static RtNetlink OpenHere() => Open();

    public void Dispose() => _socket.Dispose();

    /// <summary>Refuses a name the kernel would refuse (or worse, truncate): empty, over 15 bytes, '/', ':' or whitespace.</summary>
    public static void ValidateLinkName(string name, string field = "link name")
    {
        if (string.IsNullOrEmpty(name))
        {
            throw VireoException.Invalid($"{field} must not be empty");
        }
        if (Encoding.UTF8.GetByteCount(name) > MaxLinkNameLength)
        {
            throw VireoException.Invalid($"{field} '{name}' is longer than {MaxLinkNameLength} bytes");
        }
        if (name is "." or ".." || name.AsSpan().IndexOfAny("/: \t\n\r\0") >= 0)
        {
            throw VireoException.Invalid($"{field} '{name}' contains a character Linux refuses in interface names");
        }
    }

    private static NetlinkWriter LinkMessage(ushort type, ushort flags, int index = 0, byte family = Af.UNSPEC,
        uint ifFlags = 0, uint change = 0)
    {
        var w = new NetlinkWriter(type, flags);
        Span<byte> ifi = w.Reserve(16);
        ifi[0] = family;
        BinaryPrimitives.WriteInt32LittleEndian(ifi[4..], index);
        BinaryPrimitives.WriteUInt32LittleEndian(ifi[8..], ifFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(ifi[12..], change);
        return w;
    }
}
