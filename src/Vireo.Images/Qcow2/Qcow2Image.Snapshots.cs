using System.Buffers.Binary;

namespace Vireo.Images.Qcow2;

/// <summary>
/// Internal snapshots (spec "Snapshots"): a snapshot is a frozen copy of the L1 table; every L2 table and
/// data cluster reachable from it holds one more reference, and the COPIED flag marks what exactly one
/// tree owns (so the writer copies on write everything else). Each operation raises refcounts before the
/// new references exist and lowers them only after the old ones are gone, so a crash in between leaves
/// leaked clusters at worst.
/// </summary>
internal sealed partial class Qcow2Image
{
    internal void CreateSnapshot(string name, DateTimeOffset now)
    {
        lock (_lock)
        {
            CheckWritable();
            if (string.IsNullOrEmpty(name) || System.Text.Encoding.UTF8.GetByteCount(name) > 65535)
            {
                throw new ImageException($"snapshot name '{name}' is empty or too long");
            }

            if (Snapshots.Any(s => s.Name == name || s.Id == name))
            {
                throw new ImageException($"Could not create snapshot '{name}': a snapshot with this name or ID already exists");
            }

            if (Header.RefcountBits == 1)
            {
                throw new ImageException($"Could not create snapshot '{name}': refcount_bits=1 cannot count the second reference a snapshot needs");
            }

            if (Snapshots.Count >= 65536)
            {
                throw new ImageException($"Could not create snapshot '{name}': the image already has 65536 snapshots");
            }

            // The active tree gains a reference: everything it reaches is now shared, COPIED cleared.
            UpdateTreeRefcounts(_l1, Header.L1TableOffset, +1);

            long l1Off = 0;
            if (_l1.Length > 0)
            {
                long clusters = ((_l1.Length * 8L) + ClusterSize - 1) >> ClusterBits;
                l1Off = AllocateContiguous(clusters) << ClusterBits;
                FileIo.Write(_file, SerializeL1(_l1, (int)(clusters << ClusterBits)), l1Off);
            }

            long nextId = 1 + Snapshots.Select(s => long.TryParse(s.Id, out long v) ? v : 0).DefaultIfEmpty(0).Max();
            var snap = new Qcow2Snapshot
            {
                L1Offset = l1Off,
                L1Size = _l1.Length,
                Id = nextId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Name = name,
                DateSeconds = now.ToUnixTimeSeconds(),
                DateNanoseconds = (int)(now.ToUnixTimeMilliseconds() % 1000 * 1_000_000),
                DiskSize = Header.Size,

                // What qemu-img snapshot -c records (its replay stub's icount), so info and snapshot -l read alike.
                Icount = 0,
            };
            WriteSnapshotTable([.. Snapshots, snap]);
        }
    }

    /// <summary>Reverts the active state to the snapshot (qemu-img snapshot -a).</summary>
    internal void ApplySnapshot(string nameOrId)
    {
        lock (_lock)
        {
            CheckWritable();
            var sn = FindSnapshot(nameOrId) ?? throw new ImageException($"Could not apply snapshot '{nameOrId}': snapshot not found");

            // The spec counts snapshot switching as a change auto bitmaps must reflect: all of the disk may differ.
            MarkDirty(0, VirtualSize);
            var snL1 = ReadL1At(sn.L1Offset, sn.L1Size);
            long size = sn.DiskSize ?? Header.Size;
            long needL1 = Math.Max(sn.L1Size, (size + L2Coverage - 1) / L2Coverage);
            if (needL1 > _l1.Length)
            {
                GrowL1(needL1);
            }

            // Snapshot tree +1, then it becomes the active L1, then the old active tree -1, then flags.
            UpdateTreeRefcounts(snL1, sn.L1Offset, +1);
            var old = _l1;
            var now = new ulong[old.Length];
            snL1.CopyTo(now, 0);
            FileIo.Write(_file, SerializeL1(now, now.Length * 8), Header.L1TableOffset);
            _l1 = now;
            UpdateTreeRefcounts(old, -1, -1);
            if (size != Header.Size)
            {
                Header.Size = size;
                Span<byte> b = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64BigEndian(b, (ulong)size);
                FileIo.Write(_file, b, 24);
            }

            UpdateTreeRefcounts(_l1, Header.L1TableOffset, 0);
        }
    }

    /// <summary>Deletes a snapshot (qemu-img snapshot -d): out of the table first, then its references dropped.</summary>
    internal void DeleteSnapshot(string nameOrId)
    {
        lock (_lock)
        {
            CheckWritable();
            var sn = FindSnapshot(nameOrId) ?? throw new ImageException($"Could not delete snapshot '{nameOrId}': snapshot not found");
            var snL1 = ReadL1At(sn.L1Offset, sn.L1Size);
            WriteSnapshotTable(Snapshots.Where(s => !ReferenceEquals(s, sn)).ToList());
            UpdateTreeRefcounts(snL1, -1, -1);
            if (sn.L1Size > 0)
            {
                Refcounts.Update(sn.L1Offset >> ClusterBits, ((sn.L1Size * 8L) + ClusterSize - 1) >> ClusterBits, -1);
            }

            UpdateTreeRefcounts(_l1, Header.L1TableOffset, 0);
        }
    }

    private Qcow2Snapshot? FindSnapshot(string nameOrId) =>
        Snapshots.FirstOrDefault(s => s.Id == nameOrId) ?? Snapshots.FirstOrDefault(s => s.Name == nameOrId);

    /// <summary>
    /// Refuses, before anything changes, a reference the refcount width cannot count (narrow refcount_bits
    /// with several snapshots): failing half way would leave the image inconsistent.
    /// </summary>
    private void CheckHeadroom(ulong[] l1, int es)
    {
        ulong max = Refcounts.MaxRefcount;
        var extra = new Dictionary<long, ulong>();
        void Need(long cluster)
        {
            extra[cluster] = extra.GetValueOrDefault(cluster) + 1;
            if (Refcounts.Get(cluster) + extra[cluster] > max)
            {
                throw new ImageException($"'{Path}': refcount_bits={Header.RefcountBits} cannot count another reference to host cluster {cluster} (the image needs wider refcounts for this snapshot)");
            }
        }

        foreach (var e1 in l1)
        {
            long l2Off = (long)(e1 & L2Entry.OffsetMask);
            if (l2Off == 0)
            {
                continue;
            }

            Need(l2Off >> ClusterBits);
            var l2 = LoadL2(l2Off);
            for (int j = 0; j < l2.Length; j += es)
            {
                ulong e = BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan(j));
                if ((e & L2Entry.CompressedBit) != 0)
                {
                    long host = L2Entry.CompressedOffset(e, ClusterBits);
                    int len = L2Entry.CompressedLength(e, ClusterBits);
                    for (long c = host >> ClusterBits; c <= (host + len - 1) >> ClusterBits; c++)
                    {
                        Need(c);
                    }
                }
                else if ((e & L2Entry.OffsetMask) != 0)
                {
                    Need((long)(e & L2Entry.OffsetMask) >> ClusterBits);
                }
            }
        }
    }

    private ulong[] ReadL1At(long offset, int size)
    {
        var raw = new byte[size * 8L];
        FileIo.ReadExact(_file, raw, offset, Path, "snapshot L1 table");
        var l1 = new ulong[size];
        for (int i = 0; i < size; i++)
        {
            l1[i] = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
            long off = (long)(l1[i] & L2Entry.OffsetMask);
            if ((off & (ClusterSize - 1)) != 0 || off + ClusterSize > RandomAccess.GetLength(_file))
            {
                throw ImageException.Corrupt(Path, $"snapshot L1 entry {i} points to invalid offset 0x{off:x}");
            }
        }

        return l1;
    }

    private static byte[] SerializeL1(ulong[] l1, int bytes)
    {
        var raw = new byte[bytes];
        for (int i = 0; i < l1.Length; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(raw.AsSpan(i * 8), l1[i]);
        }

        return raw;
    }

    /// <summary>
    /// Writes a new snapshot table into fresh clusters, points the header at it with one write (count and
    /// offset are adjacent), then frees the old table.
    /// </summary>
    private void WriteSnapshotTable(List<Qcow2Snapshot> snaps)
    {
        long oldOff = Header.SnapshotsOffset;
        long oldLen = Header.SnapshotCount == 0 ? 0 : Qcow2Snapshot.Serialize(Snapshots).Length;
        var table = Qcow2Snapshot.Serialize(snaps);
        long newOff = 0;
        if (snaps.Count > 0)
        {
            long clusters = (table.Length + ClusterSize - 1) >> ClusterBits;
            newOff = AllocateContiguous(clusters) << ClusterBits;
            FileIo.Write(_file, table, newOff);
        }

        RandomAccess.FlushToDisk(_file);
        Span<byte> h = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(h, (uint)snaps.Count);
        BinaryPrimitives.WriteUInt64BigEndian(h[4..], (ulong)newOff);
        FileIo.Write(_file, h, 60);
        Header.SnapshotCount = snaps.Count;
        Header.SnapshotsOffset = newOff;
        Snapshots = snaps;
        if (oldLen > 0 && oldOff != 0)
        {
            Refcounts.Update(oldOff >> ClusterBits, (oldLen + ClusterSize - 1) >> ClusterBits, -1);
        }
    }

    /// <summary>
    /// Adds <paramref name="addend"/> to the refcount of every L2 table and data cluster the L1 table reaches
    /// (compressed clusters: each host cluster they touch), then sets COPIED on exactly the entries whose
    /// refcount is now 1. The L1 is written back at <paramref name="l1Offset"/> unless it is -1.
    /// </summary>
    private void UpdateTreeRefcounts(ulong[] l1, long l1Offset, int addend)
    {
        int es = Header.ExtendedL2 ? 16 : 8;
        if (addend > 0)
        {
            CheckHeadroom(l1, es);
        }

        bool l1Changed = false;
        for (int i = 0; i < l1.Length; i++)
        {
            long l2Off = (long)(l1[i] & L2Entry.OffsetMask);
            if (l2Off == 0)
            {
                continue;
            }

            var l2 = LoadL2(l2Off);
            int n = ClusterSize / es;
            if (addend != 0)
            {
                long runStart = -1;
                long runLen = 0;
                for (int j = 0; j < n; j++)
                {
                    ulong e = BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan(j * es));
                    if ((e & L2Entry.CompressedBit) != 0)
                    {
                        long host = L2Entry.CompressedOffset(e, ClusterBits);
                        int len = L2Entry.CompressedLength(e, ClusterBits);
                        long c0 = host >> ClusterBits;
                        Refcounts.Update(c0, ((host + len - 1) >> ClusterBits) - c0 + 1, addend);
                        continue;
                    }

                    long c = (long)(e & L2Entry.OffsetMask) >> ClusterBits;
                    if (c == 0)
                    {
                        continue;
                    }

                    if (runLen > 0 && c == runStart + runLen)
                    {
                        runLen++;
                        continue;
                    }

                    if (runLen > 0)
                    {
                        Refcounts.Update(runStart, runLen, addend);
                    }

                    runStart = c;
                    runLen = 1;
                }

                if (runLen > 0)
                {
                    Refcounts.Update(runStart, runLen, addend);
                }
            }

            bool changed = false;
            for (int j = 0; j < n; j++)
            {
                ulong e = BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan(j * es));
                long off = (long)(e & L2Entry.OffsetMask);
                if ((e & L2Entry.CompressedBit) != 0 || off == 0)
                {
                    continue;
                }

                ulong ne = Refcounts.Get(off >> ClusterBits) == 1 ? e | L2Entry.Copied : e & ~L2Entry.Copied;
                if (ne != e)
                {
                    BinaryPrimitives.WriteUInt64BigEndian(l2.AsSpan(j * es), ne);
                    changed = true;
                }
            }

            if (changed)
            {
                FileIo.Write(_file, l2, l2Off);
            }

            if (addend != 0)
            {
                Refcounts.Update(l2Off >> ClusterBits, 1, addend);
            }

            ulong rc = Refcounts.Get(l2Off >> ClusterBits);
            if (rc == 0)
            {
                ForgetL2(l2Off);
            }

            ulong nl1 = rc == 1 ? l1[i] | L2Entry.Copied : l1[i] & ~L2Entry.Copied;
            l1Changed |= nl1 != l1[i];
            l1[i] = nl1;
        }

        if (l1Changed && l1Offset >= 0)
        {
            FileIo.Write(_file, SerializeL1(l1, l1.Length * 8), l1Offset);
        }
    }
}
