namespace Vireo.Images.Qcow2;

/// <summary>How one guest cluster (or subcluster) is stored, decoded from its L2 entry.</summary>
internal enum ClusterKind
{
    Unallocated,
    Zero,
    Data,
    Compressed,
}

/// <summary>Bit layout of L1 and L2 entries (spec "Cluster mapping").</summary>
internal static class L2Entry
{
    public const ulong OffsetMask = 0x00ff_ffff_ffff_fe00UL;
    public const ulong Copied = 1UL << 63;
    public const ulong CompressedBit = 1UL << 62;
    public const ulong ZeroFlag = 1UL;
    public const ulong ReservedMask = 0x3f00_0000_0000_01feUL;
    public const ulong L1ReservedMask = 0x7f00_0000_0000_01ffUL;

    /// <summary>Bit where the sector count of a compressed descriptor starts: 62 - (cluster_bits - 8).</summary>
    public static int CompressedShift(int clusterBits) => 62 - (clusterBits - 8);

    public static long CompressedOffset(ulong entry, int clusterBits) =>
        (long)(entry & ((1UL << CompressedShift(clusterBits)) - 1) & 0x00ff_ffff_ffff_ffffUL);

    /// <summary>Bytes to read for a compressed cluster: the sector holding the offset plus the additional sectors.</summary>
    public static int CompressedLength(ulong entry, int clusterBits)
    {
        int shift = CompressedShift(clusterBits);
        long sectors = (long)((entry & ~CompressedBit & ~Copied) >> shift) + 1;
        long host = CompressedOffset(entry, clusterBits);
        return (int)((sectors * 512) - (host & 511));
    }

    public static ulong MakeCompressed(long host, int length, int clusterBits)
    {
        long extra = ((host + length - 1) / 512) - (host / 512);
        return CompressedBit | ((ulong)extra << CompressedShift(clusterBits)) | (ulong)host;
    }
}
