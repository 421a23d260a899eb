using System.Buffers.Binary;

namespace Vireo.Images.Qcow2;

/// <summary>
/// amend compat=0.10, as qemu's qcow2_downgrade: refuse what version 2 cannot express, expand zero clusters
/// (qcow2_expand_zero_clusters) in the active tables and in every snapshot's, then write a version 2 header.
/// </summary>
internal sealed partial class Qcow2Image
{
    internal void DowngradeToV2()
    {
        lock (_lock)
        {
            CheckWritable();
            if (Header.Version == 2)
            {
                return;
            }

            var otherIncompatible = Header.Incompatible & ~(IncompatibleFeatures.Dirty | IncompatibleFeatures.CompressionType);
            string? why = Header.RefcountBits != 16 ? "compat=0.10 requires refcount_bits=16"
                : Header.DataFile is not null || (Header.Incompatible & IncompatibleFeatures.ExternalDataFile) != 0 ? "Cannot downgrade an image with a data file"
                : Snapshots.Any(sn => sn.VmStateSize != 0 || (sn.DiskSize ?? Header.Size) != Header.Size) ? "Internal snapshots prevent downgrade of image"
                : otherIncompatible != 0 ? $"Cannot downgrade an image with incompatible features 0x{(ulong)otherIncompatible:x} set"
                // qemu-img downgrades anyway and leaves the bitmaps inconsistent and their clusters leaked; Vireo never destroys bitmaps.
                : Header.OtherExtensions.Any(e => e.Type == Qcow2Header.ExtBitmaps) ? "Cannot downgrade an image with persistent bitmaps (version 2 cannot keep them; remove them first)"
                : Header.CompressionType != CompressionType.Zlib && AnyL2Entry(e => (e & L2Entry.CompressedBit) != 0) ? "Cannot downgrade an image with zstd compression type and existing compressed clusters"
                : null;
            if (why is not null)
            {
                throw new ImageException($"'{Path}': {why}");
            }

            ExpandZeroClusters();
            RandomAccess.FlushToDisk(_file);

            // Lazy refcounts need no repair here: a dirty image was repaired when it was opened for writing.
            var saved = (Header.Version, Header.HeaderLength, Header.Compatible, Header.Autoclear, Header.Incompatible, Header.CompressionType);
            Header.Version = 2;
            Header.HeaderLength = Qcow2Header.V2HeaderLength;
            Header.Compatible = 0;
            Header.Autoclear = 0;
            Header.Incompatible = IncompatibleFeatures.None;
            Header.CompressionType = CompressionType.Zlib;
            var featureNames = Header.OtherExtensions.Where(e => e.Type == Qcow2Header.ExtFeatureNames).ToList();
            Header.OtherExtensions.RemoveAll(e => e.Type == Qcow2Header.ExtFeatureNames);
            try
            {
                WriteHeader();
            }
            catch
            {
                (Header.Version, Header.HeaderLength, Header.Compatible, Header.Autoclear, Header.Incompatible, Header.CompressionType) = saved;
                Header.OtherExtensions.AddRange(featureNames);
                throw;
            }
        }
    }

    /// <summary>
    /// Version 2 has no zero flag. A zero cluster with no backing file becomes unallocated (it reads as zeroes
    /// either way); with a backing file it must still hide the backing data, so it gets a zero-filled cluster;
    /// a preallocated zero cluster keeps its cluster, zero-filled. A new cluster in an L2 table shared with
    /// snapshots takes one reference per sharer, as qemu does. Data is written before the entry that maps it.
    /// </summary>
    private void ExpandZeroClusters()
    {
        int cs = ClusterSize;
        var zeroes = new byte[cs];
        bool backed = Header.BackingFile is not null;
        var trees = new List<ulong[]> { _l1 };
        trees.AddRange(Snapshots.Select(sn => ReadL1At(sn.L1Offset, sn.L1Size)));
        foreach (var l1 in trees)
        {
            foreach (var l1e in l1)
            {
                long l2Off = (long)(l1e & L2Entry.OffsetMask);
                if (l2Off == 0)
                {
                    continue;
                }

                long sharers = (long)Refcounts.Get(l2Off >> ClusterBits);
                var l2 = LoadL2(l2Off);
                var toFree = new List<long>();
                bool dirty = false;
                for (int j = 0; j < l2.Length; j += 8)
                {
                    ulong e = BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan(j));
                    if ((e & L2Entry.CompressedBit) != 0 || (e & L2Entry.ZeroFlag) == 0)
                    {
                        continue;
                    }

                    long off = (long)(e & L2Entry.OffsetMask);
                    if (off == 0 && !backed)
                    {
                        BinaryPrimitives.WriteUInt64BigEndian(l2.AsSpan(j), 0);
                        dirty = true;
                        continue;
                    }

                    // In place only when every reference to the cluster comes through this table.
                    if (off == 0 || (long)Refcounts.Get(off >> ClusterBits) != sharers)
                    {
                        if (off != 0)
                        {
                            toFree.Add(off);
                        }

                        long c = Refcounts.AllocateOne();
                        if (sharers > 1)
                        {
                            Refcounts.Update(c, 1, sharers - 1);
                        }

                        off = c << ClusterBits;
                    }

                    FileIo.Write(_file, zeroes, off);
                    BinaryPrimitives.WriteUInt64BigEndian(l2.AsSpan(j), (ulong)off | (sharers == 1 ? L2Entry.Copied : 0));
                    dirty = true;
                }

                if (dirty)
                {
                    FileIo.Write(_file, l2, l2Off);
                }

                foreach (var old in toFree)
                {
                    Refcounts.Update(old >> ClusterBits, 1, -sharers);
                }
            }
        }
    }

    private bool AnyL2Entry(Func<ulong, bool> match)
    {
        var trees = new List<ulong[]> { _l1 };
        trees.AddRange(Snapshots.Select(sn => ReadL1At(sn.L1Offset, sn.L1Size)));
        foreach (var l1 in trees)
        {
            foreach (var l1e in l1)
            {
                long off = (long)(l1e & L2Entry.OffsetMask);
                if (off == 0)
                {
                    continue;
                }

                var l2 = LoadL2(off);
                for (int j = 0; j < l2.Length; j += Header.L2EntrySize)
                {
                    if (match(BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan(j))))
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }
}
