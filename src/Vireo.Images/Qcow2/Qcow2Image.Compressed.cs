using System.Buffers.Binary;

namespace Vireo.Images.Qcow2;

internal sealed partial class Qcow2Image
{
    /// <summary>
    /// Stores already-compressed clusters, packed back to back into fresh contiguous host clusters.
    /// A host cluster shared by k compressed clusters gets refcount k. All clusters lie in one L2 table.
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

            long nClusters = (total + ClusterSize - 1) >> ClusterBits;
            long start = AllocateContiguous(nClusters);
            long host = start << ClusterBits;
            var packed = new byte[nClusters << ClusterBits];
            var refs = new int[nClusters];
            long pos = 0;
            var entries = new ulong[clusters.Count];
            for (int i = 0; i < clusters.Count; i++)
            {
                var c = clusters[i];
                c.Data.Span.CopyTo(packed.AsSpan((int)pos));
                entries[i] = L2Entry.MakeCompressed(host + pos, c.Data.Length, ClusterBits);
                for (long hc = pos >> ClusterBits; hc <= (pos + c.Data.Length - 1) >> ClusterBits; hc++)
                {
                    refs[hc]++;
                }

                pos += c.Data.Length;
            }

            FileIo.Write(_file, packed.AsSpan(0, (int)pos), host);
            for (int i = 0; i < refs.Length; i++)
            {
                if (refs[i] > 1)
                {
                    Refcounts.Update(start + i, 1, refs[i] - 1);
                }
            }

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
}
