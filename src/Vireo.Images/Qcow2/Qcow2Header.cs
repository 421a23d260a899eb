using System.Buffers.Binary;
using System.Text;

namespace Vireo.Images.Qcow2;

/// <summary>Bits of the header's incompatible_features field.</summary>
[Flags]
internal enum IncompatibleFeatures : ulong
{
    None = 0,
    Dirty = 1,
    Corrupt = 2,
    ExternalDataFile = 4,
    CompressionType = 8,
    ExtendedL2 = 16,
}

/// <summary>One header extension kept as raw bytes so that unknown ones survive a header rewrite.</summary>
internal sealed record HeaderExtension(uint Type, byte[] Data);

/// <summary>
/// The qcow2 header (spec "Header" and "Header extensions"), parsed defensively: everything below derives
/// from the cluster size, so it is validated first, and every offset and count is checked against limits
/// before anything is allocated from it.
/// </summary>
internal sealed class Qcow2Header
{
    public const uint Magic = 0x514649fb;
    public const uint ExtEnd = 0;
    public const uint ExtBackingFormat = 0xe2792aca;
    public const uint ExtFeatureNames = 0x6803f857;
    public const uint ExtBitmaps = 0x23852875;
    public const uint ExtEncryption = 0x0537be77;
    public const uint ExtDataFile = 0x44415441;
    public const int V2HeaderLength = 72;
    public const int V3HeaderLength = 112;

    /// <summary>Limits qemu also applies; they bound memory for hostile images.</summary>
    public const long MaxL1Bytes = 32L * 1024 * 1024;
    public const long MaxRefcountTableBytes = 8L * 1024 * 1024;
    public const long MaxVirtualSize = 1L << 61;

    public int Version { get; set; }
    public ulong BackingFileOffset { get; set; }
    public uint BackingFileSize { get; set; }
    public int ClusterBits { get; set; }
    public long Size { get; set; }
    public uint CryptMethod { get; set; }
    public int L1Size { get; set; }
    public long L1TableOffset { get; set; }
    public long RefcountTableOffset { get; set; }
    public int RefcountTableClusters { get; set; }
    public int SnapshotCount { get; set; }
    public long SnapshotsOffset { get; set; }
    public IncompatibleFeatures Incompatible { get; set; }
    public ulong Compatible { get; set; }
    public ulong Autoclear { get; set; }
    public int RefcountOrder { get; set; } = 4;
    public int HeaderLength { get; set; }
    public CompressionType CompressionType { get; set; }
    public string? BackingFile { get; set; }
    public string? BackingFormat { get; set; }
    public string? DataFile { get; set; }

    /// <summary>All extensions except backing format and data file name, verbatim (bitmaps, encryption, feature names, unknown).</summary>
    public List<HeaderExtension> OtherExtensions { get; } = [];

    public int ClusterSize => 1 << ClusterBits;
    public bool ExtendedL2 => (Incompatible & IncompatibleFeatures.ExtendedL2) != 0;
    public bool LazyRefcounts => (Compatible & 1) != 0;
    public int RefcountBits => 1 << RefcountOrder;
    public int L2EntrySize => ExtendedL2 ? 16 : 8;
    public int L2Entries => ClusterSize / L2EntrySize;

    public static Qcow2Header Parse(ReadOnlySpan<byte> buf, long fileLength, string path)
    {
        if (buf.Length < V2HeaderLength)
        {
            throw Bad(path, $"file is too short for a qcow2 header ({buf.Length} bytes)");
        }

        if (BinaryPrimitives.ReadUInt32BigEndian(buf) != Magic)
        {
            throw Bad(path, "not a qcow2 image (bad magic)");
        }

        var h = new Qcow2Header { Version = (int)BinaryPrimitives.ReadUInt32BigEndian(buf[4..]) };
        if (h.Version is not (2 or 3))
        {
            throw Bad(path, $"unsupported qcow2 version {h.Version}");
        }

        uint clusterBits = BinaryPrimitives.ReadUInt32BigEndian(buf[20..]);
        if (clusterBits is < 9 or > 21)
        {
            throw Bad(path, $"cluster_bits {clusterBits} is out of range 9..21");
        }

        h.ClusterBits = (int)clusterBits;
        h.BackingFileOffset = BinaryPrimitives.ReadUInt64BigEndian(buf[8..]);
        h.BackingFileSize = BinaryPrimitives.ReadUInt32BigEndian(buf[16..]);
        ulong size = BinaryPrimitives.ReadUInt64BigEndian(buf[24..]);
        if (size > MaxVirtualSize)
        {
            throw Bad(path, $"virtual size {size} is too large");
        }

        h.Size = (long)size;
        h.CryptMethod = BinaryPrimitives.ReadUInt32BigEndian(buf[32..]);
        uint l1Size = BinaryPrimitives.ReadUInt32BigEndian(buf[36..]);
        ulong l1Offset = BinaryPrimitives.ReadUInt64BigEndian(buf[40..]);
        ulong rtOffset = BinaryPrimitives.ReadUInt64BigEndian(buf[48..]);
        uint rtClusters = BinaryPrimitives.ReadUInt32BigEndian(buf[56..]);
        uint nbSnapshots = BinaryPrimitives.ReadUInt32BigEndian(buf[60..]);
        ulong snapOffset = BinaryPrimitives.ReadUInt64BigEndian(buf[64..]);
        h.HeaderLength = V2HeaderLength;
        if (h.Version == 3)
        {
            if (buf.Length < 104)
            {
                throw Bad(path, "file is too short for a version 3 header");
            }

            h.Incompatible = (IncompatibleFeatures)BinaryPrimitives.ReadUInt64BigEndian(buf[72..]);
            h.Compatible = BinaryPrimitives.ReadUInt64BigEndian(buf[80..]);
            h.Autoclear = BinaryPrimitives.ReadUInt64BigEndian(buf[88..]);
            uint order = BinaryPrimitives.ReadUInt32BigEndian(buf[96..]);
            if (order > 6)
            {
                throw Bad(path, $"refcount_order {order} is out of range 0..6");
            }

            h.RefcountOrder = (int)order;
            uint hl = BinaryPrimitives.ReadUInt32BigEndian(buf[100..]);
            if (hl < 104 || hl > h.ClusterSize || hl > buf.Length)
            {
                throw Bad(path, $"header_length {hl} is invalid");
            }

            h.HeaderLength = (int)hl;
            if (hl > 104)
            {
                byte ct = buf[104];
                h.CompressionType = ct switch
                {
                    0 => CompressionType.Zlib,
                    1 => CompressionType.Zstd,
                    _ => throw Bad(path, $"unknown compression_type {ct}"),
                };
            }

            var unknown = (ulong)h.Incompatible & ~0x1FUL;
            if (unknown != 0)
            {
                throw Bad(path, $"unsupported incompatible features 0x{unknown:x}");
            }

            if (((h.Incompatible & IncompatibleFeatures.CompressionType) != 0) != (h.CompressionType != CompressionType.Zlib))
            {
                throw Bad(path, "compression type bit and compression_type field disagree");
            }
        }

        long cs = h.ClusterSize;
        if (l1Offset % (ulong)cs != 0 || rtOffset % (ulong)cs != 0 || snapOffset % (ulong)cs != 0)
        {
            throw Bad(path, "a table offset is not aligned to the cluster size");
        }

        if (rtClusters == 0 || (ulong)rtClusters * (ulong)cs > MaxRefcountTableBytes)
        {
            throw Bad(path, $"refcount table of {rtClusters} clusters is invalid or too large");
        }

        if ((ulong)l1Size * 8 > MaxL1Bytes)
        {
            throw Bad(path, $"L1 table of {l1Size} entries is too large");
        }

        long l2Coverage = (long)h.L2Entries * cs;
        long neededL1 = (h.Size + l2Coverage - 1) / l2Coverage;
        if (l1Size < neededL1)
        {
            throw Bad(path, $"L1 table of {l1Size} entries is too small for virtual size {h.Size}");
        }

        if (nbSnapshots > 65536)
        {
            throw Bad(path, $"{nbSnapshots} snapshots is too many");
        }

        h.L1Size = (int)l1Size;
        h.L1TableOffset = (long)l1Offset;
        h.RefcountTableOffset = (long)rtOffset;
        h.RefcountTableClusters = (int)rtClusters;
        h.SnapshotCount = (int)nbSnapshots;
        h.SnapshotsOffset = (long)snapOffset;
        CheckRange(path, "L1 table", h.L1TableOffset, (long)l1Size * 8, fileLength);
        CheckRange(path, "refcount table", h.RefcountTableOffset, (long)rtClusters * cs, fileLength);
        if (h.L1TableOffset == 0 && l1Size > 0)
        {
            throw Bad(path, "L1 table offset is 0");
        }

        if (h.RefcountTableOffset == 0)
        {
            throw Bad(path, "refcount table offset is 0");
        }

        long l1Bytes = Math.Max((long)l1Size * 8, 1);
        long rtBytes = (long)rtClusters * cs;
        if (Overlaps(0, cs, h.RefcountTableOffset, rtBytes) || (l1Size > 0 && (Overlaps(0, cs, h.L1TableOffset, l1Bytes) || Overlaps(h.L1TableOffset, l1Bytes, h.RefcountTableOffset, rtBytes))))
        {
            throw Bad(path, "the header, L1 table and refcount table overlap");
        }

        h.ParseExtensions(buf, path);
        if (h.BackingFileOffset != 0)
        {
            if (h.BackingFileSize > 1023 || h.BackingFileOffset + h.BackingFileSize > (ulong)Math.Min(buf.Length, cs))
            {
                throw Bad(path, "backing file name is out of the header cluster or too long");
            }

            h.BackingFile = Encoding.UTF8.GetString(buf.Slice((int)h.BackingFileOffset, (int)h.BackingFileSize));
        }

        return h;
    }

    private void ParseExtensions(ReadOnlySpan<byte> buf, string path)
    {
        if (Version == 2 && BackingFileOffset == 0 && buf.Length <= V2HeaderLength)
        {
            return;
        }

        int end = Math.Min(buf.Length, ClusterSize);
        if (BackingFileOffset != 0 && BackingFileOffset < (ulong)end)
        {
            end = (int)BackingFileOffset;
        }

        int pos = HeaderLength;
        while (pos + 8 <= end)
        {
            uint type = BinaryPrimitives.ReadUInt32BigEndian(buf[pos..]);
            uint len = BinaryPrimitives.ReadUInt32BigEndian(buf[(pos + 4)..]);
            pos += 8;
            if (type == ExtEnd)
            {
                return;
            }

            if (len > (uint)(end - pos))
            {
                throw Bad(path, $"header extension 0x{type:x8} of {len} bytes runs past the header");
            }

            var data = buf.Slice(pos, (int)len);
            switch (type)
            {
                case ExtBackingFormat:
                    BackingFormat = Encoding.UTF8.GetString(data);
                    break;
                case ExtDataFile:
                    DataFile = Encoding.UTF8.GetString(data);
                    break;
                default:
                    OtherExtensions.Add(new HeaderExtension(type, data.ToArray()));
                    break;
            }

            pos += (int)((len + 7) & ~7u);
        }
    }

    private static void CheckRange(string path, string what, long offset, long length, long fileLength)
    {
        if (offset < 0 || length < 0 || offset > fileLength || length > fileLength - offset)
        {
            throw Bad(path, $"{what} at offset {offset} ({length} bytes) lies past the end of the file ({fileLength} bytes)");
        }
    }

    private static bool Overlaps(long a, long alen, long b, long blen) => a < b + blen && b < a + alen;

    public static ImageException Bad(string path, string message) => ImageException.Corrupt(path, message);

    /// <summary>Serializes the header and its extensions into the first cluster.</summary>
    public byte[] Serialize()
    {
        var buf = new byte[ClusterSize];
        var s = buf.AsSpan();
        BinaryPrimitives.WriteUInt32BigEndian(s, Magic);
        BinaryPrimitives.WriteUInt32BigEndian(s[4..], (uint)Version);
        BinaryPrimitives.WriteUInt32BigEndian(s[20..], (uint)ClusterBits);
        BinaryPrimitives.WriteUInt64BigEndian(s[24..], (ulong)Size);
        BinaryPrimitives.WriteUInt32BigEndian(s[32..], CryptMethod);
        BinaryPrimitives.WriteUInt32BigEndian(s[36..], (uint)L1Size);
        BinaryPrimitives.WriteUInt64BigEndian(s[40..], (ulong)L1TableOffset);
        BinaryPrimitives.WriteUInt64BigEndian(s[48..], (ulong)RefcountTableOffset);
        BinaryPrimitives.WriteUInt32BigEndian(s[56..], (uint)RefcountTableClusters);
        BinaryPrimitives.WriteUInt32BigEndian(s[60..], (uint)SnapshotCount);
        BinaryPrimitives.WriteUInt64BigEndian(s[64..], (ulong)SnapshotsOffset);
        int pos = V2HeaderLength;
        if (Version == 3)
        {
            var incompat = Incompatible;
            incompat = CompressionType != CompressionType.Zlib
                ? incompat | IncompatibleFeatures.CompressionType
                : incompat & ~IncompatibleFeatures.CompressionType;
            BinaryPrimitives.WriteUInt64BigEndian(s[72..], (ulong)incompat);
            BinaryPrimitives.WriteUInt64BigEndian(s[80..], Compatible);
            BinaryPrimitives.WriteUInt64BigEndian(s[88..], Autoclear);
            BinaryPrimitives.WriteUInt32BigEndian(s[96..], (uint)RefcountOrder);
            BinaryPrimitives.WriteUInt32BigEndian(s[100..], V3HeaderLength);
            s[104] = (byte)(CompressionType == CompressionType.Zstd ? 1 : 0);
            pos = V3HeaderLength;
        }

        if (BackingFormat is not null)
        {
            pos = WriteExt(s, pos, ExtBackingFormat, Encoding.UTF8.GetBytes(BackingFormat));
        }

        if (DataFile is not null)
        {
            pos = WriteExt(s, pos, ExtDataFile, Encoding.UTF8.GetBytes(DataFile));
        }

        bool hasNames = false;
        foreach (var ext in OtherExtensions)
        {
            hasNames |= ext.Type == ExtFeatureNames;
            pos = WriteExt(s, pos, ext.Type, ext.Data);
        }

        if (!hasNames && Version == 3)
        {
            pos = WriteExt(s, pos, ExtFeatureNames, FeatureNameTable());
        }

        if (Version == 3 || BackingFile is not null || pos > V2HeaderLength)
        {
            pos = WriteExt(s, pos, ExtEnd, []);
        }

        if (BackingFile is not null)
        {
            var name = Encoding.UTF8.GetBytes(BackingFile);
            if (pos + name.Length > buf.Length || name.Length > 1023)
            {
                throw new ImageException($"backing file name '{BackingFile}' is too long for the header");
            }

            name.CopyTo(s[pos..]);
            BinaryPrimitives.WriteUInt64BigEndian(s[8..], (ulong)pos);
            BinaryPrimitives.WriteUInt32BigEndian(s[16..], (uint)name.Length);
            pos += name.Length;
        }

        return buf.AsSpan(0, (pos + 511) & ~511).ToArray();
    }

    private static int WriteExt(Span<byte> s, int pos, uint type, byte[] data)
    {
        int padded = (data.Length + 7) & ~7;
        if (pos + 8 + padded > s.Length)
        {
            throw new ImageException("header extensions do not fit in the first cluster");
        }

        BinaryPrimitives.WriteUInt32BigEndian(s[pos..], type);
        BinaryPrimitives.WriteUInt32BigEndian(s[(pos + 4)..], (uint)data.Length);
        data.CopyTo(s[(pos + 8)..]);
        return pos + 8 + padded;
    }

    /// <summary>The feature name table qemu writes, so tools can name the bits we set.</summary>
    private static byte[] FeatureNameTable()
    {
        (byte Type, byte Bit, string Name)[] names =
        [
            (0, 0, "dirty bit"), (0, 1, "corrupt bit"), (0, 2, "external data file"),
            (0, 3, "compression type"), (0, 4, "extended L2 entries"), (1, 0, "lazy refcounts"),
            (2, 0, "bitmaps"), (2, 1, "raw external data"),
        ];
        var buf = new byte[names.Length * 48];
        for (int i = 0; i < names.Length; i++)
        {
            buf[i * 48] = names[i].Type;
            buf[(i * 48) + 1] = names[i].Bit;
            Encoding.ASCII.GetBytes(names[i].Name).CopyTo(buf, (i * 48) + 2);
        }

        return buf;
    }

    /// <summary>Names from the image's own feature name table, for messages about unknown bits.</summary>
    public string? FeatureName(int type, int bit)
    {
        foreach (var ext in OtherExtensions)
        {
            if (ext.Type != ExtFeatureNames)
            {
                continue;
            }

            for (int i = 0; i + 48 <= ext.Data.Length; i += 48)
            {
                if (ext.Data[i] == type && ext.Data[i + 1] == bit)
                {
                    return Encoding.ASCII.GetString(ext.Data, i + 2, 46).TrimEnd('\0');
                }
            }
        }

        return null;
    }
}
