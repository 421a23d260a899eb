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
}
