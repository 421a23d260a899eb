using System.Buffers.Binary;

namespace Vireo.Images.Qcow2;

/// <summary>
/// Lays out a new qcow2 file the way qemu-img does: header in cluster 0, then the refcount table, the
/// refcount blocks that cover the metadata, then the L1 table.
/// </summary>
internal static class Qcow2Creator
{
    public static void Validate(ImageCreateOptions o)
    {
        int cs = o.ClusterSize;
        if (cs < 512 || cs > 2 * 1024 * 1024 || (cs & (cs - 1)) != 0)
        {
            throw new ImageException($"cluster_size {cs}: must be a power of two between 512 and 2M");
        }

        if (o.RefcountBits is < 1 or > 64 || (o.RefcountBits & (o.RefcountBits - 1)) != 0)
        {
            throw new ImageException($"refcount_bits {o.RefcountBits}: must be a power of two between 1 and 64");
        }

        if (o.Version is not (2 or 3))
        {
            throw new ImageException($"compat: version {o.Version} is not supported (use 0.10 or 1.1)");
        }

        if (o.Version == 2 && (o.RefcountBits != 16 || o.LazyRefcounts || o.ExtendedL2 || o.CompressionType != CompressionType.Zlib))
        {
            throw new ImageException("compat=0.10 supports only refcount_bits=16, no lazy_refcounts, no extended_l2 and zlib compression");
        }

        if (o.ExtendedL2 && cs < 16384)
        {
            throw new ImageException($"extended_l2 needs a cluster size of at least 16k (got {cs})");
        }

        if (o.Size < 0 || o.Size > Qcow2Header.MaxVirtualSize)
        {
            throw new ImageException($"size {o.Size} is out of range");
        }

        if (o.Encrypted)
        {
            _ = o.Password ?? throw new ImageException("Parameter 'encrypt.key-secret' is required for cipher (encrypt.format=luks)");
            _ = Crypto.LuksParams.From(o, o.Password);
        }
    }

    public static void Create(string path, ImageCreateOptions o, long size)
    {
        Validate(o);
        int cs = o.ClusterSize;
        int cb = System.Numerics.BitOperations.Log2((uint)cs);
        var h = new Qcow2Header
        {
            Version = o.Version,
            ClusterBits = cb,
            Size = size,
            RefcountOrder = System.Numerics.BitOperations.Log2((uint)o.RefcountBits),
            Compatible = o.LazyRefcounts ? 1UL : 0,
            Incompatible = o.ExtendedL2 ? IncompatibleFeatures.ExtendedL2 : IncompatibleFeatures.None,
            CompressionType = o.CompressionType,
            BackingFile = o.BackingFile,
            BackingFormat = o.BackingFile is null ? null : o.BackingFormat?.ToString().ToLowerInvariant(),
        };
        long l2Coverage = (long)(cs / h.L2EntrySize) * cs;
        long l1Entries = (size + l2Coverage - 1) / l2Coverage;
        if (l1Entries * 8 > Qcow2Header.MaxL1Bytes)
        {
            throw new ImageException($"size {size} needs an L1 table larger than {Qcow2Header.MaxL1Bytes} bytes; use a larger cluster size");
        }

        long l1Clusters = Math.Max(1, ((l1Entries * 8) + cs - 1) / cs);

        // qemu puts the LUKS header and key material in clusters right after the L1 table.
        long luksLength = o.Encrypted ? Crypto.LuksWriter.AreaLength(Crypto.LuksParams.KeyBytesOf(o.LuksCipher)) : 0;
        long luksClusters = (luksLength + cs - 1) / cs;
        long entriesPerBlock = (long)cs * 8 / o.RefcountBits;
        long rtClusters = 1;
        long rbClusters = 1;
        while (true)
        {
            long total = 1 + rtClusters + rbClusters + l1Clusters + luksClusters;
            long rb = (total + entriesPerBlock - 1) / entriesPerBlock;
            long rtc = Math.Max(1, ((rb * 8) + cs - 1) / cs);
            if (rb == rbClusters && rtc == rtClusters)
            {
                break;
            }

            rbClusters = rb;
            rtClusters = rtc;
        }

        h.RefcountTableOffset = (long)cs;
        h.RefcountTableClusters = (int)rtClusters;
        h.L1TableOffset = (1 + rtClusters + rbClusters) * cs;
        h.L1Size = (int)l1Entries;
        long used = 1 + rtClusters + rbClusters + l1Clusters + luksClusters;
        long luksOffset = (1 + rtClusters + rbClusters + l1Clusters) * cs;
        if (o.Encrypted)
        {
            h.CryptMethod = 2;
            var ext = new byte[16];
            BinaryPrimitives.WriteUInt64BigEndian(ext, (ulong)luksOffset);
            BinaryPrimitives.WriteUInt64BigEndian(ext.AsSpan(8), (ulong)luksLength);
            h.OtherExtensions.Add(new HeaderExtension(Qcow2Header.ExtEncryption, ext));
        }

        using var file = File.Open(path, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.ReadWrite, Share = FileShare.Read });
        var handle = file.SafeFileHandle;
        var rt = new byte[rtClusters * cs];
        for (long b = 0; b < rbClusters; b++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(rt.AsSpan((int)(b * 8)), (ulong)((1 + rtClusters + b) * cs));
        }

        var rbs = new byte[rbClusters * cs];
        var bits = o.RefcountBits;
        for (long c = 0; c < used; c++)
        {
            SetRefcount(rbs, c, bits);
        }

        RandomAccess.Write(handle, rt, cs);
        RandomAccess.Write(handle, rbs, (1 + rtClusters) * cs);
        RandomAccess.Write(handle, new byte[l1Clusters * cs], h.L1TableOffset);
        if (o.Encrypted)
        {
            // The area is whole clusters; what the key material leaves of it reads as zeroes.
            RandomAccess.SetLength(handle, used * cs);
            Crypto.LuksWriter.Write(handle, luksOffset, Crypto.LuksParams.From(o, o.Password!));
        }

        RandomAccess.Write(handle, h.Serialize(), 0);
    }

    private static void SetRefcount(byte[] blocks, long c, int bits)
    {
        switch (bits)
        {
            case 64: BinaryPrimitives.WriteUInt64BigEndian(blocks.AsSpan((int)(c * 8)), 1); break;
            case 32: BinaryPrimitives.WriteUInt32BigEndian(blocks.AsSpan((int)(c * 4)), 1); break;
            case 16: BinaryPrimitives.WriteUInt16BigEndian(blocks.AsSpan((int)(c * 2)), 1); break;
            case 8: blocks[c] = 1; break;
            default: blocks[c * bits / 8] |= (byte)(1 << (int)(c * bits % 8)); break;
        }
    }

    /// <summary>preallocation=metadata|falloc|full: every L2 table and data cluster allocated up front.</summary>
    public static void Preallocate(Qcow2Image img, Preallocation mode)
    {
        img.PreallocateAll(mode == Preallocation.Full);
        if (mode == Preallocation.Falloc)
        {
            Raw.LinuxFile.Allocate(img.File, 0, RandomAccess.GetLength(img.File));
        }
    }
}
