using System.Buffers.Binary;

namespace Vireo.Images.Qcow2;

internal sealed partial class Qcow2Image
{
    // Where the last compressed write ended inside a partly filled host cluster (-1: none). The next one
    // continues there, as qemu does, instead of wasting the rest of the cluster: on text that waste was
    // 6 % of the output. Valid only while no refcount has been lowered since (the cluster could have been
    // freed and reused) and the refcount table is the same object.
    private long _compressedTail = -1;
    private long _compressedTailDecrements;
    private RefcountTable? _compressedTailTable;

    /// <summary>
    /// Stores already-compressed clusters, packed back to back after the previous compressed write (or into
    /// fresh contiguous host clusters). A host cluster shared by k compressed clusters gets refcount k. All
    /// clusters lie in one L2 table. Order: data, then refcounts, then the L2 entries.
    /// </summary>
    internal void WriteCompressed(long guestOffset, IReadOnlyList<(int Index, ReadOnlyMemory<byte> Data)> clusters)
    {
        if (clusters.Count == 0)
        {
            return;
        }

        lock (_lock)
        {
            CheckWritable();
            CheckCompressible();
            int firstIndex = clusters.Min(c => c.Index);
            int lastIndex = clusters.Max(c => c.Index);
            MarkDirty(guestOffset + ((long)firstIndex << ClusterBits), (long)(lastIndex - firstIndex + 1) << ClusterBits);

            long total = 0;
            foreach (var c in clusters)
            {
                total += c.Data.Length;
            }

            // host: where the packed bytes start; first: its host cluster; fresh: clusters this write allocated.
            var (host, fresh) = PlaceCompressed(total);
            long first = host >> ClusterBits;
            long span = ((host + total - 1) >> ClusterBits) - first + 1;
            var refs = new int[span];
            long pos = 0;
            var entries = new ulong[clusters.Count];
            var pieces = new List<ReadOnlyMemory<byte>>(clusters.Count);
            for (int i = 0; i < clusters.Count; i++)
            {
                var c = clusters[i];
                pieces.Add(c.Data);
                entries[i] = L2Entry.MakeCompressed(host + pos, c.Data.Length, ClusterBits);
                for (long hc = (host + pos) >> ClusterBits; hc <= (host + pos + c.Data.Length - 1) >> ClusterBits; hc++)
                {
                    refs[hc - first]++;
                }

                pos += c.Data.Length;
            }

            // One write, no copy (a packed buffer per window was large-object garbage): the pieces are
            // usually consecutive slices of one compression buffer, merged into a single span here.
            FileIo.Write(_file, Coalesce(pieces), host);
            for (int i = 0; i < refs.Length; i++)
            {
                // Freshly allocated clusters start at 1; a continued cluster already counts its earlier users.
                int have = i < span - fresh ? 0 : 1;
                if (refs[i] > have)
                {
                    Refcounts.Update(first + i, 1, refs[i] - have);
                }
            }

            long end = host + total;
            _compressedTail = (end & (ClusterSize - 1)) == 0 ? -1 : end;
            _compressedTailDecrements = Refcounts.Decrements;
            _compressedTailTable = Refcounts;

            long l1Index = guestOffset >> (ClusterBits + L2Bits);
            long tableBase = l1Index << (ClusterBits + L2Bits);
            var (l2, l2Off) = EnsureWritableL2(l1Index);
            int es = Header.ExtendedL2 ? 16 : 8;
            var old = new List<ulong>();
            int lo = int.MaxValue;
            int hi = -1;
            for (int i = 0; i < clusters.Count; i++)
            {
                int idx = (int)(((guestOffset - tableBase) >> ClusterBits) + clusters[i].Index);
                old.Add(BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan(idx * es)));
                BinaryPrimitives.WriteUInt64BigEndian(l2.AsSpan(idx * es), entries[i]);
                if (es == 16)
                {
                    BinaryPrimitives.WriteUInt64BigEndian(l2.AsSpan((idx * es) + 8), 0);
                }

                lo = Math.Min(lo, idx);
                hi = Math.Max(hi, idx);
            }

            FileIo.Write(_file, l2.AsSpan(lo * es, (hi - lo + 1) * es), l2Off + (lo * es));
            FreeEntries(old);
        }
    }

    /// <summary>
    /// Host room for <paramref name="total"/> packed bytes: after the last compressed write when the
    /// clusters following it can be had, else at the start of fresh contiguous clusters. Returns the start
    /// and how many clusters were newly allocated (the last ones of the span).
    /// </summary>
    private (long Host, long Fresh) PlaceCompressed(long total)
    {
        long tail = _compressedTail;
        if (tail >= 0 && _compressedTailTable == Refcounts && _compressedTailDecrements == Refcounts.Decrements)
        {
            long tailCluster = tail >> ClusterBits;
            long need = ((tail + total - 1) >> ClusterBits) - tailCluster;
            if (need == 0)
            {
                return (tail, 0);
            }

            long start = Refcounts.Allocate(need, out long got);
            if (start == tailCluster + 1 && got == need)
            {
                return (tail, need);
            }

            // Something else lies after the tail: give the clusters back and start afresh.
            Refcounts.Update(start, got, -1);
        }

        long n = (total + ClusterSize - 1) >> ClusterBits;
        return (AllocateContiguous(n) << ClusterBits, n);
    }
}
