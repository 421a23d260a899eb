using System.Globalization;
using Vireo.Model;

namespace Vireo.Net.Netlink;

/// <summary>A 48-bit Ethernet address, written the way ip(8) and libvirt write it: <c>52:54:00:12:34:56</c>.</summary>
public readonly record struct MacAddress(ulong Value)
{
    public static MacAddress FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != 6)
        {
            throw VireoException.Invalid($"a MAC address has 6 bytes, not {bytes.Length}");
        }
        ulong v = 0;
        foreach (byte b in bytes)
        {
            v = (v << 8) | b;
        }
        return new MacAddress(v);
    }

    /// <summary>Parses <c>aa:bb:cc:dd:ee:ff</c> (or with dashes); anything else is refused, naming the value.</summary>
    public static MacAddress Parse(string text)
    {
        if (!TryParse(text, out MacAddress mac))
        {
            throw VireoException.Invalid($"invalid MAC address '{text}': expected six hex bytes such as 52:54:00:12:34:56");
        }
        return mac;
    }

    public static bool TryParse(string? text, out MacAddress mac)
    {
        mac = default;
        if (text is null || text.Length != 17)
        {
            return false;
        }
        ulong v = 0;
        for (int i = 0; i < 6; i++)
        {
            if (i > 0 && text[(i * 3) - 1] is not (':' or '-'))
            {
                return false;
            }
            if (!byte.TryParse(text.AsSpan(i * 3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
            {
                return false;
            }
            v = (v << 8) | b;
        }
        mac = new MacAddress(v);
        return true;
    }

    public void WriteTo(Span<byte> destination)
    {
        for (int i = 0; i < 6; i++)
        {
            destination[i] = (byte)(Value >> (8 * (5 - i)));
        }
    }

    public byte[] ToBytes()
    {
        byte[] b = new byte[6];
        WriteTo(b);
        return b;
    }

    /// <summary>True for a multicast address (low bit of the first byte), which no NIC may use.</summary>
    public bool IsMulticast => ((Value >> 40) & 1) != 0;

    /// <summary>The same address with its first byte replaced — libvirt gives a TAP the guest's MAC with 0xFE first,
    /// so the host side never wins the bridge's MAC election over a real port.</summary>
    public MacAddress WithFirstByte(byte first) => new((Value & 0x0000_FFFF_FFFF_FFFFUL) | ((ulong)first << 40));

    public override string ToString()
    {
        Span<byte> b = stackalloc byte[6];
        WriteTo(b);
        return string.Create(CultureInfo.InvariantCulture, $"{b[0]:x2}:{b[1]:x2}:{b[2]:x2}:{b[3]:x2}:{b[4]:x2}:{b[5]:x2}");
    }
}
