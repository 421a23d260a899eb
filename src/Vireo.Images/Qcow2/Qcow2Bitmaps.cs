using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Vireo.Images.Qcow2;

/// <summary>One entry of the bitmap directory, with where it sits so its flags can be rewritten in place.</summary>
internal sealed record BitmapEntry(
    string Name,
    long TableOffset,
    int TableSize,
    uint Flags,
    byte Type,
    int GranularityBits,
    uint ExtraDataSize,
    long EntryOffset)
{
    public const uint InUse = 1;
    public const uint Auto = 2;
    public const uint ExtraDataCompatible = 4;

    public long Granularity => 1L << GranularityBits;

    public BitmapInfo ToInfo()
    {
        var flags = new List<string>();
        if ((Flags & InUse) != 0)
        {
            flags.Add("in-use");
        }

        if ((Flags & Auto) != 0)
        {
            flags.Add("auto");
        }

        return new BitmapInfo(Name, Granularity, flags);
    }
}

/// <summary>
/// The bitmaps extension (spec "Bitmaps"): one parser for the directory, used by info, check and the dirty
/// tracking in <see cref="Qcow2Image"/>. Sizes are bounded so that a hostile directory cannot exhaust memory.
/// </summary>
internal static class Qcow2Bitmaps
{
    // qemu's limits: 65535 bitmaps, a 64 MiB directory, names up to 1023 bytes.
    private const long MaxDirectoryBytes = 64L << 20;
    private const int MaxBitmaps = 65535;
    private const int MaxNameBytes = 1023;

    /// <summary>The extension's directory, or null when the image has no bitmaps extension.</summary>
    public static IReadOnlyList<BitmapEntry>? ReadDirectory(SafeFileHandle file, Qcow2Header header, string path, long fileLength)
    {
        var ext = header.OtherExtensions.FirstOrDefault(e => e.Type == Qcow2Header.ExtBitmaps);
        if (ext is null)
        {
            return null;
        }

        if (ext.Data.Length < 24)
        {
            throw ImageException.Corrupt(path, $"bitmaps extension of {ext.Data.Length} bytes is too short");
        }

        uint count = BinaryPrimitives.ReadUInt32BigEndian(ext.Data);
        ulong dirSize = BinaryPrimitives.ReadUInt64BigEndian(ext.Data.AsSpan(8));
        ulong dirOff = BinaryPrimitives.ReadUInt64BigEndian(ext.Data.AsSpan(16));
        if (count == 0 || count > MaxBitmaps)
        {
            throw ImageException.Corrupt(path, $"bitmaps extension names {count} bitmaps");
        }

        if (dirSize > MaxDirectoryBytes || dirSize < 24 || dirOff > (ulong)fileLength || dirSize > (ulong)fileLength - dirOff)
        {
            throw ImageException.Corrupt(path, $"bitmap directory at 0x{dirOff:x} ({dirSize} bytes) lies outside the file");
        }

        var dir = new byte[dirSize];
        FileIo.ReadExact(file, dir, (long)dirOff, path, "bitmap directory");
        var entries = new List<BitmapEntry>((int)Math.Min(count, 1024));
        int pos = 0;
        for (int i = 0; i < count; i++)
        {
            if (pos + 24 > dir.Length)
            {
                throw ImageException.Corrupt(path, $"bitmap directory ends inside entry {i}");
            }

            var e = dir.AsSpan(pos);
            ulong tableOffset = BinaryPrimitives.ReadUInt64BigEndian(e);
            uint tableSize = BinaryPrimitives.ReadUInt32BigEndian(e[8..]);
            uint flags = BinaryPrimitives.ReadUInt32BigEndian(e[12..]);
            int nameSize = BinaryPrimitives.ReadUInt16BigEndian(e[18..]);
            uint extra = BinaryPrimitives.ReadUInt32BigEndian(e[20..]);
            long entryLen = (24L + extra + nameSize + 7) & ~7L;
            if (nameSize == 0 || nameSize > MaxNameBytes || pos + entryLen > dir.Length)
            {
                throw ImageException.Corrupt(path, $"bitmap directory entry {i} is malformed (name of {nameSize} bytes, {extra} bytes of extra data)");
            }

            if ((ulong)tableSize * 8 > Qcow2Header.MaxL1Bytes)
            {
                throw ImageException.Corrupt(path, $"bitmap {i} table of {tableSize} entries is larger than the {Qcow2Header.MaxL1Bytes >> 20} MiB Vireo accepts");
            }

            if (tableOffset > (ulong)fileLength || (ulong)tableSize * 8 > (ulong)fileLength - tableOffset)
            {
                throw ImageException.Corrupt(path, $"bitmap {i} table at 0x{tableOffset:x} ({tableSize} entries) lies outside the file");
            }

            string name = Encoding.UTF8.GetString(dir, pos + 24 + (int)extra, nameSize);
            entries.Add(new BitmapEntry(name, (long)tableOffset, (int)tableSize, flags, e[16], e[17], extra, (long)dirOff + pos));
            pos += (int)entryLen;
        }

        return entries;
    }

    /// <summary>The bitmaps for <c>info</c>; an unreadable directory lists none (check reports it).</summary>
    public static IReadOnlyList<BitmapInfo> List(Qcow2Image img)
    {
        try
        {
            var dir = ReadDirectory(img.File, img.Header, img.Path, RandomAccess.GetLength(img.File));
            return dir is null ? [] : dir.Select(b => b.ToInfo()).ToList();
        }
        catch (ImageException)
        {
            return [];
        }
    }

    /// <summary>Reads a bitmap table: one big-endian entry per bitmap data cluster.</summary>
    public static ulong[] ReadTable(SafeFileHandle file, BitmapEntry b, string path)
    {
        var raw = new byte[(long)b.TableSize * 8];
        FileIo.ReadExact(file, raw, b.TableOffset, path, "bitmap table");
        var table = new ulong[b.TableSize];
        for (int i = 0; i < table.Length; i++)
        {
            table[i] = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
        }

        return table;
    }
}
