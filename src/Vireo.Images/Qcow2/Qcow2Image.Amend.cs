using System.Buffers.Binary;

namespace Vireo.Images.Qcow2;

/// <summary>Header-level changes: backing file (rebase -u, amend), compat level, lazy refcounts; emptying (commit).</summary>
internal sealed partial class Qcow2Image
{
    /// <summary>Points the image at another backing file (null: none). Only the header changes.</summary>
    internal void SetBacking(string? file, string? format)
    {
        lock (_lock)
        {
            CheckWritable();
            string? oldFile = Header.BackingFile;
            string? oldFormat = Header.BackingFormat;
            Header.BackingFile = string.IsNullOrEmpty(file) ? null : file;
            Header.BackingFormat = Header.BackingFile is null ? null : format;
            try
            {
                WriteHeader();
            }
            catch
            {
                Header.BackingFile = oldFile;
                Header.BackingFormat = oldFormat;
                throw;
            }
        }
    }

    /// <summary>Makes every cluster unallocated (qemu-img commit empties the top image this way).</summary>
    internal void MakeEmpty()
    {
        lock (_lock)
        {
            CheckWritable();
            var saved = Backing;
            Backing = null;
            try
            {
                long end = (Header.Size + ClusterSize - 1) & ~(long)(ClusterSize - 1);
                if (end > 0)
                {
                    ZeroClusters(0, end);
                }
            }
            finally
            {
                Backing = saved;
            }
        }
    }

    internal void SetLazyRefcounts(bool on)
    {
        lock (_lock)
        {
            CheckWritable();
            if (Header.Version != 3)
            {
                throw new ImageException("Lazy refcounts only supported with compatibility level 1.1 and above (use compat=1.1 or greater)");
            }

            Header.Compatible = on ? Header.Compatible | 1 : Header.Compatible & ~1UL;
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(b, Header.Compatible);
            FileIo.Write(_file, b, 80);
        }
    }

    /// <summary>compat=1.1: the v3 header fields with their defaults, everything else unchanged.</summary>
    internal void UpgradeToV3()
    {
        lock (_lock)
        {
            CheckWritable();
            if (Header.Version == 3)
            {
                return;
            }

            Header.Version = 3;
            Header.Incompatible = IncompatibleFeatures.None;
            Header.Compatible = 0;
            Header.Autoclear = 0;
            Header.RefcountOrder = 4;
            Header.HeaderLength = Qcow2Header.V3HeaderLength;
            try
            {
                WriteHeader();
            }
            catch
            {
                Header.Version = 2;
                throw;
            }
        }
    }

    /// <summary>
    /// compat=0.10: only when nothing needs v3 — no zero clusters anywhere, 16-bit refcounts, no lazy
    /// refcounts, no extended L2, zlib, no bitmaps or data file.
    /// </summary>
    internal void DowngradeToV2()
    {
        lock (_lock)
        {
            CheckWritable();
            if (Header.Version == 2)
            {
                return;
            }

            string? why = Header.RefcountBits != 16 ? $"refcount_bits={Header.RefcountBits} (version 2 has 16-bit refcounts only)"
                : Header.LazyRefcounts ? "lazy_refcounts=on (turn it off first)"
                : Header.ExtendedL2 ? "extended_l2=on"
                : Header.CompressionType != CompressionType.Zlib ? "compression_type=zstd"
                : Header.Incompatible != IncompatibleFeatures.None ? $"incompatible features 0x{(ulong)Header.Incompatible:x}"
                : Header.Autoclear != 0 ? "bitmaps or a raw external data file"
                : HasZeroClusters() ? "zero clusters (version 2 cannot store them)"
                : null;
            if (why is not null)
            {
                throw new ImageException($"'{Path}': cannot downgrade to compat=0.10: the image uses {why}");
            }

            Header.Version = 2;
            Header.HeaderLength = Qcow2Header.V2HeaderLength;
            Header.OtherExtensions.RemoveAll(e => e.Type == Qcow2Header.ExtFeatureNames);
            try
            {
                WriteHeader();
            }
            catch
            {
                Header.Version = 3;
                throw;
            }
        }
    }

    private bool HasZeroClusters()
    {
        var trees = new List<ulong[]> { _l1 };
        trees.AddRange(Snapshots.Select(s => ReadL1At(s.L1Offset, s.L1Size)));
        foreach (var l1 in trees)
        {
            foreach (var e in l1)
            {
                long off = (long)(e & L2Entry.OffsetMask);
                if (off == 0)
                {
                    continue;
                }

                var l2 = LoadL2(off);
                for (int j = 0; j < l2.Length; j += 8)
                {
                    ulong x = BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan(j));
                    if ((x & L2Entry.CompressedBit) == 0 && (x & L2Entry.ZeroFlag) != 0)
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }
}
