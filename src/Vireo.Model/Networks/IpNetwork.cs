using System.Net;
using System.Net.Sockets;
using System.Numerics;

namespace Vireo.Model.Networks;

/// <summary>An address with a prefix length: 192.0.2.1/24. Arithmetic is done on the address as a big-endian integer.</summary>
public readonly record struct IpNetwork(IPAddress Address, int PrefixLength)
{
    public bool IsIpv6 => Address.AddressFamily == AddressFamily.InterNetworkV6;

    public int Bits => IsIpv6 ? 128 : 32;

    /// <summary>The network address (host bits cleared).</summary>
    public IPAddress NetworkAddress => FromInteger(ToInteger(Address) & Mask, IsIpv6);

    /// <summary>The last address of the subnet (IPv4 broadcast).</summary>
    public IPAddress LastAddress => FromInteger((ToInteger(Address) & Mask) | ~Mask & AllOnes, IsIpv6);

    private BigInteger AllOnes => (BigInteger.One << Bits) - 1;

    private BigInteger Mask => AllOnes ^ ((BigInteger.One << (Bits - PrefixLength)) - 1);

    public bool Contains(IPAddress ip) =>
        ip.AddressFamily == Address.AddressFamily && (ToInteger(ip) & Mask) == (ToInteger(Address) & Mask);

    /// <summary>True when either subnet contains the other's network address.</summary>
    public bool Overlaps(IpNetwork other) =>
        other.IsIpv6 == IsIpv6 && (Contains(other.NetworkAddress) || other.Contains(NetworkAddress));

    public override string ToString() => $"{NetworkAddress}/{PrefixLength}";

    public static BigInteger ToInteger(IPAddress ip) => new(ip.GetAddressBytes(), isUnsigned: true, isBigEndian: true);

    public static IPAddress FromInteger(BigInteger value, bool ipv6)
    {
        var bytes = new byte[ipv6 ? 16 : 4];
        value.TryWriteBytes(bytes, out int written, isUnsigned: true, isBigEndian: true);
        if (written < bytes.Length)
        {
            // TryWriteBytes writes the minimal big-endian form at the start: move it right.
            Array.Copy(bytes, 0, bytes, bytes.Length - written, written);
            Array.Clear(bytes, 0, bytes.Length - written);
        }

        return new IPAddress(bytes);
    }

    /// <summary>Number of addresses from <paramref name="start"/> to <paramref name="end"/> inclusive.</summary>
    public static BigInteger RangeSize(IPAddress start, IPAddress end) => ToInteger(end) - ToInteger(start) + 1;

    /// <summary>The prefix length of a contiguous netmask, or -1 when the mask has holes.</summary>
    public static int PrefixFromNetmask(IPAddress netmask)
    {
        int prefix = 0;
        bool zeroSeen = false;
        foreach (byte b in netmask.GetAddressBytes())
        {
            for (int bit = 7; bit >= 0; bit--)
            {
                bool one = (b & (1 << bit)) != 0;
                if (one && zeroSeen)
                {
                    return -1;
                }

                if (one)
                {
                    prefix++;
                }
                else
                {
                    zeroSeen = true;
                }
            }
        }

        return prefix;
    }

    public static IPAddress NetmaskFromPrefix(int prefix) =>
        FromInteger(((BigInteger.One << 32) - 1) ^ ((BigInteger.One << (32 - prefix)) - 1), ipv6: false);

    /// <summary>libvirt's fallback when neither prefix nor netmask is given: the classful default for IPv4, 64 for IPv6.</summary>
    public static int DefaultPrefix(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return 64;
        }

        byte first = address.GetAddressBytes()[0];
        return first < 128 ? 8 : first < 192 ? 16 : 24;
    }

    /// <summary>Parses <c>192.0.2.0/24</c> or a bare address (full length prefix).</summary>
    public static bool TryParse(string text, out IpNetwork network)
    {
        network = default;
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        string addr = slash < 0 ? text : text[..slash];
        if (!IPAddress.TryParse(addr, out var ip))
        {
            return false;
        }

        int bits = ip.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;
        int prefix = bits;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), out prefix) || prefix < 0 || prefix > bits))
        {
            return false;
        }

        network = new IpNetwork(ip, prefix);
        return true;
    }
}
