using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Vireo.Model;

namespace Vireo.Engine.Domains;

/// <summary>
/// QEMU 7.2's screendump writes binary PPM (P6); users expect PNG. A PNG is a signature and three chunks: IHDR
/// (size, 8-bit RGB), IDAT (the zlib stream of the rows, each prefixed by filter type 0) and IEND.
/// </summary>
internal static class PngWriter
{
    private static readonly uint[] CrcTable = BuildCrcTable();

    public static byte[] FromPpm(ReadOnlySpan<byte> ppm)
    {
        int pos = 0;
        string magic = Token(ppm, ref pos);
        if (magic != "P6")
        {
            throw new VireoException(ErrorKind.OperationFailed, $"screendump is not a binary PPM (magic '{magic}')");
        }

        int width = Number(ppm, ref pos, "width");
        int height = Number(ppm, ref pos, "height");
        int max = Number(ppm, ref pos, "maxval");
        pos++; // the single whitespace byte before the raster
        if (max != 255 || width <= 0 || height <= 0 || (long)width * height * 3 > ppm.Length - pos)
        {
            throw new VireoException(ErrorKind.OperationFailed, $"screendump PPM {width}x{height} (maxval {max}) is truncated or unsupported");
        }

        return Encode(width, height, ppm.Slice(pos, width * height * 3));
    }

    /// <summary>8-bit RGB pixels, row by row, as PNG.</summary>
    public static byte[] Encode(int width, int height, ReadOnlySpan<byte> rgb)
    {
        using var ms = new MemoryStream();
        ms.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a]);
        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], height);
        ihdr[8] = 8;  // bit depth
        ihdr[9] = 2;  // colour type: RGB
        ihdr[10] = 0; // deflate
        ihdr[11] = 0; // adaptive filtering (each row says which; all use 0, none)
        ihdr[12] = 0; // no interlace
        Chunk(ms, "IHDR", ihdr);

        using var idat = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionLevel.Fastest, leaveOpen: true))
        {
            int stride = width * 3;
            for (int y = 0; y < height; y++)
            {
                z.WriteByte(0);
                z.Write(rgb.Slice(y * stride, stride));
            }
        }

        Chunk(ms, "IDAT", idat.GetBuffer().AsSpan(0, (int)idat.Length));
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    private static void Chunk(Stream s, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
        Encoding.ASCII.GetBytes(type, head[4..]);
        s.Write(head);
        s.Write(data);
        uint crc = Crc(0xffffffff, head[4..]);
        crc = Crc(crc, data) ^ 0xffffffff;
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(tail, crc);
        s.Write(tail);
    }

    internal static uint Crc(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
        {
            crc = CrcTable[(crc ^ b) & 0xff] ^ (crc >> 8);
        }

        return crc;
    }

    private static uint[] BuildCrcTable()
    {
        var t = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xedb88320 ^ (c >> 1) : c >> 1;
            }

            t[n] = c;
        }

        return t;
    }

    private static string Token(ReadOnlySpan<byte> p, ref int pos)
    {
        while (pos < p.Length)
        {
            if (p[pos] == '#')
            {
                while (pos < p.Length && p[pos] != '\n')
                {
                    pos++;
                }
            }
            else if (p[pos] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')
            {
                pos++;
            }
            else
            {
                break;
            }
        }

        int start = pos;
        while (pos < p.Length && p[pos] is not ((byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t'))
        {
            pos++;
        }

        return Encoding.ASCII.GetString(p[start..pos]);
    }

    private static int Number(ReadOnlySpan<byte> p, ref int pos, string what)
    {
        string t = Token(p, ref pos);
        return int.TryParse(t, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int v)
            ? v
            : throw new VireoException(ErrorKind.OperationFailed, $"screendump PPM has a bad {what} '{t}'");
    }
}
