using System.Buffers.Binary;

using Vireo.Images.Raw;

namespace Vireo.Images.Qcow2;

internal sealed partial class Qcow2Image
{
    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        Write(offset, data);
        return ValueTask.CompletedTask;
    }

    internal void Write(long offset, ReadOnlyMemory<byte> data)
    {
        lock (_lock)
        {
            CheckWritable();
            CheckKey();
            CheckRange(offset, data.Length);
            MarkDirty(offset, data.Length);
            WriteCore(offset, data);
        }
    }

    private void WriteCore(long offset, ReadOnlyMemory<byte> data)
    {
        while (data.Length > 0)
        {
            long tableEnd = ((offset >> (ClusterBits + L2Bits)) + 1) << (ClusterBits + L2Bits);
            int n = (int)Math.Min(data.Length, tableEnd - offset);
            WriteInTable(offset, data[..n]);
            offset += n;
            data = data[n..];
        }
    }

    private bool IsInPlace(byte[]? l2, int idx, out long host)
    {
        host = 0;
        if (l2 is null)
        {
            return false;
        }

        bool ext = Header.ExtendedL2;
        ulong e = BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan(idx << (ext ? 4 : 3)));
        if ((e & L2Entry.Copied) == 0 || (e & L2Entry.CompressedBit) != 0 || (e & L2Entry.ZeroFlag) != 0)
        {
            return false;
        }

        if (ext && (BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan((idx << 4) + 8)) & 0xffff_ffffUL) != 0xffff_ffffUL)
        {
            return false;
        }

        host = (long)(e & L2Entry.OffsetMask);
        return host != 0;
    }

    private void WriteInTable(long pos, ReadOnlyMemory<byte> data)
    {
        long l1Index = pos >> (ClusterBits + L2Bits);
        long tableBase = l1Index << (ClusterBits + L2Bits);
        int cs = ClusterSize;
        long end = pos + data.Length;
        int firstIdx = (int)((pos - tableBase) >> ClusterBits);
        int lastIdx = (int)((end - 1 - tableBase) >> ClusterBits);
        ulong l1e = _l1[l1Index];
        long l2Off = (long)(l1e & L2Entry.OffsetMask);
        byte[]? l2 = l2Off != 0 && (l1e & L2Entry.Copied) != 0 ? LoadL2(l2Off) : null;
        int i = firstIdx;
        while (i <= lastIdx)
        {
            long gs = tableBase + ((long)i << ClusterBits);
            if (IsInPlace(l2, i, out long host))
            {
                // A run of clusters we own, contiguous on the host: one write.
                int j = i + 1;
                while (j <= lastIdx && IsInPlace(l2, j, out long h2) && h2 == host + ((long)(j - i) << ClusterBits))
                {
                    j++;
                }

                long a = Math.Max(pos, gs);
                long b = Math.Min(end, tableBase + ((long)j << ClusterBits));
                if (host + ((long)(j - i) << ClusterBits) > RandomAccess.GetLength(_file))
                {
                    throw ImageException.Corrupt(Path, $"L2 entry for guest offset {gs} points past the end of the file (0x{host:x})");
                }

                WriteData(a, host + (a - gs), data.Span.Slice((int)(a - pos), (int)(b - a)));
                i = j;
                continue;
            }

            int k = i + 1;
            while (k <= lastIdx && !IsInPlace(l2, k, out _))
            {
                k++;
            }

            (l2, l2Off) = EnsureWritableL2(l1Index);
            AllocateAndWrite(l2, l2Off, tableBase, i, k, pos, data);
            i = k;
        }
    }

    private bool _allocateAhead = true;

    /// <summary>Allocates fresh clusters for guest clusters [i, k) of one table and writes them (COW where partial).</summary>
    private void AllocateAndWrite(byte[] l2, long l2Off, long tableBase, int i, int k, long pos, ReadOnlyMemory<byte> data)
    {
        int cs = ClusterSize;
        long end = pos + data.Length;
        bool ext = Header.ExtendedL2;
        int es = ext ? 16 : 8;
        var toFree = new List<ulong>();
        while (i < k)
        {
            long start = Refcounts.Allocate(k - i, out long got);
            long hostStart = start << ClusterBits;
            var pieces = new List<ReadOnlyMemory<byte>>((int)got);
            for (int j = 0; j < got; j++)
            {
                long gs = tableBase + ((long)(i + j) << ClusterBits);
                long a = Math.Max(pos, gs);
                long b = Math.Min(end, gs + cs);
                if (a == gs && b == gs + cs)
                {
                    pieces.Add(data.Slice((int)(a - pos), cs));
                    continue;
                }

                // Partial cluster: merge with what the guest sees there now.
                var buf = new byte[cs];
                int visible = (int)Math.Min(cs, VirtualSize - gs);
                ReadCore(gs, buf.AsSpan(0, visible));
                data.Span.Slice((int)(a - pos), (int)(b - a)).CopyTo(buf.AsSpan((int)(a - gs)));
                pieces.Add(buf);
            }

            // Runs of fresh clusters are allocated in the file before they are written (see LinuxFile.MinAllocateAhead).
            // Stops at the first refusal (a file system without fallocate).
            if (_allocateAhead && got << ClusterBits >= LinuxFile.MinAllocateAhead && !LinuxFile.Allocate(_file, hostStart, got << ClusterBits))
            {
                _allocateAhead = false;
            }

            // Coalesce consecutive direct slices so the kernel sees large writes.
            WriteData(tableBase + ((long)i << ClusterBits), hostStart, Coalesce(pieces));
            for (int j = 0; j < got; j++)
            {
                int idx = i + j;
                ulong old = BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan(idx * es));
                toFree.Add(old);
                BinaryPrimitives.WriteUInt64BigEndian(l2.AsSpan(idx * es), (ulong)(hostStart + ((long)j << ClusterBits)) | L2Entry.Copied);
                if (ext)
                {
                    BinaryPrimitives.WriteUInt64BigEndian(l2.AsSpan((idx * es) + 8), 0xffff_ffffUL);
                }
            }

            FileIo.Write(_file, l2.AsSpan(i * es, (int)got * es), l2Off + (i * es));
            i += (int)got;
        }

        FreeEntries(toFree);
    }

    private static List<ReadOnlyMemory<byte>> Coalesce(List<ReadOnlyMemory<byte>> pieces)
    {
        if (pieces.Count <= 1)
        {
            return pieces;
        }

        var result = new List<ReadOnlyMemory<byte>>();
        foreach (var p in pieces)
        {
            if (result.Count > 0 && AreAdjacent(result[^1], p, out var merged))
            {
                result[^1] = merged;
            }
            else
            {
                result.Add(p);
            }
        }

        return result;
    }

    private static bool AreAdjacent(ReadOnlyMemory<byte> a, ReadOnlyMemory<byte> b, out ReadOnlyMemory<byte> merged)
    {
        merged = default;
        if (System.Runtime.InteropServices.MemoryMarshal.TryGetArray(a, out var sa) &&
            System.Runtime.InteropServices.MemoryMarshal.TryGetArray(b, out var sb) &&
            sa.Array == sb.Array && sa.Offset + sa.Count == sb.Offset)
        {
            merged = new ReadOnlyMemory<byte>(sa.Array, sa.Offset, sa.Count + sb.Count);
            return true;
        }

        return false;
    }

    /// <summary>Drops the references old L2 entries held; called after the new entries are on disk.</summary>
    private void FreeEntries(List<ulong> entries)
    {
        long runStart = -1;
        long runLen = 0;
        foreach (var e in entries)
        {
            if ((e & L2Entry.CompressedBit) != 0)
            {
                long host = L2Entry.CompressedOffset(e, ClusterBits);
                int len = L2Entry.CompressedLength(e, ClusterBits);
                long c0 = host >> ClusterBits;
                long c1 = (host + len - 1) >> ClusterBits;
                Refcounts.Update(c0, c1 - c0 + 1, -1);
                continue;
            }

            long off = (long)(e & L2Entry.OffsetMask);
            if (off == 0 || _dataFile is not null)
            {
                continue;
            }

            long c = off >> ClusterBits;
            if (runLen > 0 && c == runStart + runLen)
            {
                runLen++;
                continue;
            }

            if (runLen > 0)
            {
                Refcounts.Update(runStart, runLen, -1);
            }

            runStart = c;
            runLen = 1;
        }

        if (runLen > 0)
        {
            Refcounts.Update(runStart, runLen, -1);
        }
    }

    /// <summary>Returns an L2 table this image alone owns for the L1 index, allocating or copying it first.</summary>
    internal (byte[] Table, long Offset) EnsureWritableL2(long l1Index)
    {
        ulong e = _l1[l1Index];
        long off = (long)(e & L2Entry.OffsetMask);
        if (off != 0 && (e & L2Entry.Copied) != 0)
        {
            return (LoadL2(off), off);
        }

        long newOff = Refcounts.AllocateOne() << ClusterBits;
        var tbl = off != 0 ? (byte[])LoadL2(off).Clone() : new byte[ClusterSize];
        FileIo.Write(_file, tbl, newOff);
        WriteL1Entry(l1Index, (ulong)newOff | L2Entry.Copied);
        CacheL2(newOff, tbl);
        if (off != 0)
        {
            Refcounts.Update(off >> ClusterBits, 1, -1);
        }

        return (tbl, newOff);
    }

    internal void WriteL1Entry(long index, ulong value)
    {
        _l1[index] = value;
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, value);
        FileIo.Write(_file, b, Header.L1TableOffset + (index * 8));
    }

    public ValueTask WriteZeroesAsync(long offset, long length, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        lock (_lock)
        {
            CheckWritable();
            CheckKey();
            CheckRange(offset, length);
            MarkDirty(offset, length);
            WriteZeroesCore(offset, length);
        }

        return ValueTask.CompletedTask;
    }

    private void WriteZeroesCore(long offset, long length)
    {
        long cs = ClusterSize;
        long end = offset + length;
        long fullStart = (offset + cs - 1) & ~(cs - 1);
        long fullEnd = end == VirtualSize ? end : end & ~(cs - 1);
        if (fullStart >= fullEnd)
        {
            WriteZeroBytes(offset, length);
            return;
        }

        if (offset < fullStart)
        {
            WriteZeroBytes(offset, fullStart - offset);
        }

        if (Header.Version == 2 && Backing is not null)
        {
            WriteZeroBytes(fullStart, fullEnd - fullStart);
        }
        else
        {
            ZeroClusters(fullStart, fullEnd);
        }

        if (fullEnd < end)
        {
            WriteZeroBytes(fullEnd, end - fullEnd);
        }
    }

    private void WriteZeroBytes(long offset, long length)
    {
        var zero = new byte[(int)Math.Min(length, 1 << 20)];
        while (length > 0)
        {
            int n = (int)Math.Min(length, zero.Length);
            var cur = new byte[n];
            ReadCore(offset, cur);
            if (cur.AsSpan().ContainsAnyExcept((byte)0))
            {
                WriteCore(offset, zero.AsMemory(0, n));
            }

            offset += n;
            length -= n;
        }
    }

    /// <summary>Turns whole clusters into zero clusters (or unallocated ones when nothing lies beneath).</summary>
    private void ZeroClusters(long start, long end)
    {
        bool ext = Header.ExtendedL2;
        int es = ext ? 16 : 8;
        ulong newEntry = Backing is null || ext ? 0 : L2Entry.ZeroFlag;
        ulong newBitmap = Backing is null ? 0 : 0xffff_ffff_0000_0000UL;
        long pos = start;
        while (pos < end)
        {
            long l1Index = pos >> (ClusterBits + L2Bits);
            long tableEnd = Math.Min(end, (l1Index + 1) << (ClusterBits + L2Bits));
            long tableBase = l1Index << (ClusterBits + L2Bits);
            if ((_l1[l1Index] & L2Entry.OffsetMask) == 0 && Backing is null)
            {
                pos = tableEnd;
                continue;
            }

            var (l2, l2Off) = EnsureWritableL2(l1Index);
            int i0 = (int)((pos - tableBase) >> ClusterBits);
            int i1 = (int)((tableEnd - 1 - tableBase) >> ClusterBits);
            var toFree = new List<ulong>();
            for (int i = i0; i <= i1; i++)
            {
                ulong old = BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan(i * es));
                toFree.Add(old);
                BinaryPrimitives.WriteUInt64BigEndian(l2.AsSpan(i * es), newEntry);
                if (ext)
                {
                    BinaryPrimitives.WriteUInt64BigEndian(l2.AsSpan((i * es) + 8), newBitmap);
                }
            }

            FileIo.Write(_file, l2.AsSpan(i0 * es, (i1 - i0 + 1) * es), l2Off + (i0 * es));
            FreeEntries(toFree);
            pos = tableEnd;
        }
    }

    /// <summary>Changes the virtual size. Shrinking drops the clusters past the new end.</summary>
    internal void Resize(long newSize)
    {
        lock (_lock)
        {
            CheckWritable();
            if (newSize < 0 || newSize > Qcow2Header.MaxVirtualSize)
            {
                throw new ImageException($"invalid size {newSize}");
            }

            if (Snapshots.Count > 0 && newSize != Header.Size)
            {
                // As qemu 7.2: each v3 snapshot records its own disk size, and applying one restores it; v2
                // snapshots have no room for it.
                if (Header.Version < 3)
                {
                    throw new ImageException("Can't resize a v2 image which has snapshots");
                }

                if (Snapshots.FirstOrDefault(sn => sn.DiskSize is null) is { } old)
                {
                    throw new ImageException($"Can't resize an image whose snapshot '{old.Name}' records no disk size");
                }
            }

            // Each bitmap covers exactly the virtual size: they are resized with it.
            var bitmaps = newSize != Header.Size ? BitmapsToResize(newSize) : null;

            if (newSize < Header.Size)
            {
                long cs = ClusterSize;
                long from = (newSize + cs - 1) & ~(cs - 1);
                var saved = Backing;
                Backing = null;
                try
                {
                    // The tail of the last kept cluster must read as zeroes if the image grows again.
                    if (from > newSize)
                    {
                        WriteZeroBytes(newSize, Math.Min(from, Header.Size) - newSize);
                    }

                    if (from < Header.Size)
                    {
                        ZeroClusters(from, Header.Size);
                    }
                }
                finally
                {
                    Backing = saved;
                }
            }
            else
            {
                long needL1 = (newSize + L2Coverage - 1) / L2Coverage;
                if (needL1 > _l1.Length)
                {
                    GrowL1(needL1);
                }
            }

            long oldSize = Header.Size;
            if (bitmaps is not null)
            {
                ResizeBitmaps(bitmaps, oldSize, newSize);
            }

            Header.Size = newSize;
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(b, (ulong)newSize);
            FileIo.Write(_file, b, 24);
            if (bitmaps is not null)
            {
                EndBitmapResize(bitmaps);
            }
        }
    }

    private void GrowL1(long entries)
    {
        if (entries * 8 > Qcow2Header.MaxL1Bytes)
        {
            throw new ImageException($"'{Path}': L1 table of {entries} entries is too large");
        }

        int cs = ClusterSize;
        long clusters = ((entries * 8) + cs - 1) / cs;
        long start = AllocateContiguous(clusters);
        var newL1 = new ulong[clusters * cs / 8];
        _l1.CopyTo(newL1, 0);
        var raw = new byte[clusters * cs];
        for (int i = 0; i < newL1.Length; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(raw.AsSpan(i * 8), newL1[i]);
        }

        FileIo.Write(_file, raw, start << ClusterBits);
        RandomAccess.FlushToDisk(_file);
        long oldOff = Header.L1TableOffset;
        long oldClusters = ((_l1.Length * 8L) + cs - 1) / cs;
        Span<byte> h = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(h, (uint)newL1.Length);
        BinaryPrimitives.WriteUInt64BigEndian(h[4..], (ulong)(start << ClusterBits));
        FileIo.Write(_file, h[..12], 36);
        Header.L1Size = newL1.Length;
        Header.L1TableOffset = start << ClusterBits;
        _l1 = newL1;
        if (oldClusters > 0 && oldOff != 0)
        {
            Refcounts.Update(oldOff >> ClusterBits, oldClusters, -1);
        }
    }

    /// <summary>Allocates exactly <paramref name="clusters"/> contiguous clusters (tables must be contiguous).</summary>
    internal long AllocateContiguous(long clusters)
    {
        while (true)
        {
            long start = Refcounts.Allocate(clusters, out long got);
            if (got == clusters)
            {
                return start;
            }

            // Too short a hole: give it back and look further along (the cursor has moved past it).
            Refcounts.Update(start, got, -1);
            Refcounts.SkipTo(start + got);
        }
    }
}
