using System.Buffers.Binary;

namespace Vireo.Images.Qcow2;

internal sealed partial class Qcow2Image
{
    /// <summary>Allocates every unallocated cluster up to the virtual size (contents read as zeroes).</summary>
    internal void PreallocateAll(bool writeZeroes)
    {
        lock (_lock)
        {
            CheckWritable();
            bool ext = Header.ExtendedL2;
            int es = ext ? 16 : 8;
            long clusters = (VirtualSize + ClusterSize - 1) >> ClusterBits;
            long perTable = 1L << L2Bits;
            var zero = writeZeroes ? new byte[Math.Max(ClusterSize, 1 << 20)] : null;
            for (long t = 0; t * perTable < clusters; t++)
            {
                var (l2, l2Off) = EnsureWritableL2(t);
                int n = (int)Math.Min(perTable, clusters - (t * perTable));
                int i = 0;
                while (i < n)
                {
                    if (BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan(i * es)) != 0)
                    {
                        i++;
                        continue;
                    }

                    int k = i;
                    while (k < n && BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan(k * es)) == 0)
                    {
                        k++;
                    }

                    long start = Refcounts.Allocate(k - i, out long got);
                    long host = start << ClusterBits;
                    long bytes = got << ClusterBits;
                    if (zero is not null)
                    {
                        for (long p = 0; p < bytes; p += zero.Length)
                        {
                            FileIo.Write(_file, zero.AsSpan(0, (int)Math.Min(zero.Length, bytes - p)), host + p);
                        }
                    }
                    else if (RandomAccess.GetLength(_file) < host + bytes)
                    {
                        RandomAccess.SetLength(_file, host + bytes);
                    }

                    for (int j = 0; j < got; j++)
                    {
                        BinaryPrimitives.WriteUInt64BigEndian(l2.AsSpan((i + j) * es), (ulong)(host + ((long)j << ClusterBits)) | L2Entry.Copied);
                        if (ext)
                        {
                            BinaryPrimitives.WriteUInt64BigEndian(l2.AsSpan(((i + j) * es) + 8), 0xffff_ffffUL);
                        }
                    }

                    FileIo.Write(_file, l2.AsSpan(i * es, (int)got * es), l2Off + (i * es));
                    i += (int)got;
                }
            }
        }
    }

    /// <summary>Sets bit 63 of active L1 and L2 entries from the refcounts (after a snapshot is applied or deleted).</summary>
    internal void RepairCopiedFlags()
    {
        bool ext = Header.ExtendedL2;
        int es = ext ? 16 : 8;
        for (int i = 0; i < _l1.Length; i++)
        {
            long l2Off = (long)(_l1[i] & L2Entry.OffsetMask);
            if (l2Off == 0)
            {
                continue;
            }

            bool own = Refcounts.Get(l2Off >> ClusterBits) == 1;
            ulong want = own ? _l1[i] | L2Entry.Copied : _l1[i] & ~L2Entry.Copied;
            if (want != _l1[i])
            {
                WriteL1Entry(i, want);
            }

            var l2 = LoadL2(l2Off);
            if (!own)
            {
                continue;
            }

            bool changed = false;
            for (int j = 0; j < ClusterSize / es; j++)
            {
                ulong e = BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan(j * es));
                long off = (long)(e & L2Entry.OffsetMask);
                if ((e & L2Entry.CompressedBit) != 0 || off == 0)
                {
                    continue;
                }

                ulong we = Refcounts.Get(off >> ClusterBits) == 1 ? e | L2Entry.Copied : e & ~L2Entry.Copied;
                if (we != e)
                {
                    BinaryPrimitives.WriteUInt64BigEndian(l2.AsSpan(j * es), we);
                    changed = true;
                }
            }

            if (changed)
            {
                FileIo.Write(_file, l2, l2Off);
            }
        }
    }
}
