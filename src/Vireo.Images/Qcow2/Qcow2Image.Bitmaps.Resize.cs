using System.Buffers.Binary;

namespace Vireo.Images.Qcow2;

/// <summary>
/// Resizing an image resizes its persistent bitmaps, as qemu does: each keeps its bits for the guest range
/// both sizes cover, loses those past a shrunk end, and starts clean in a grown part. The bitmaps are flagged
/// in use on disk from before the first change until the header carries the new size, so a resize killed
/// halfway leaves them marked inconsistent (qemu accepts such a bitmap whatever its table size), never wrong.
/// </summary>
internal sealed partial class Qcow2Image
{
    // A bitmap table entry with no data cluster whose bits are all set (the spec's bit 0).
    private const ulong AllOnesEntry = 1;

    /// <summary>The bitmaps a resize to <paramref name="newSize"/> must rewrite; refuses, before any change, those it cannot.</summary>
    private IReadOnlyList<BitmapEntry>? BitmapsToResize(long newSize)
    {
        // Without the auto-clear bit every bitmap is already inconsistent and ignored by readers: left alone.
        if ((Header.Autoclear & 1) == 0 || !Header.OtherExtensions.Any(e => e.Type == Qcow2Header.ExtBitmaps))
        {
            return null;
        }

        long fileLength = RandomAccess.GetLength(_file);
        var dir = Qcow2Bitmaps.ReadDirectory(_file, Header, Path, fileLength);
        foreach (var b in dir ?? [])
        {
            if ((b.Flags & BitmapEntry.InUse) != 0)
            {
                throw new ImageException($"Bitmap '{b.Name}' is inconsistent and cannot be used; remove it first with 'qemu-img bitmap --remove'");
            }

            if (Unsupported(b) is { } why)
            {
                throw new ImageException($"'{Path}': bitmap '{b.Name}' has {why}; Vireo cannot resize it");
            }

            // The old table and data clusters are freed: they must be whole clusters of this file. Read again
            // by the resize itself, one table at a time, rather than all held here.
            if (InvalidTableEntry(b, Qcow2Bitmaps.ReadTable(_file, b, Path), fileLength) is { } bad)
            {
                throw ImageException.Corrupt(Path, bad);
            }

            if (newSize == 0)
            {
                throw new ImageException($"'{Path}': bitmap '{b.Name}' cannot cover an empty disk; remove it first with 'qemu-img bitmap --remove'");
            }

            if (TableEntriesFor(b, newSize) * 8 > Qcow2Header.MaxL1Bytes)
            {
                throw new ImageException($"'{Path}': bitmap '{b.Name}' (granularity {b.Granularity}) cannot cover {newSize} bytes: its table would exceed {Qcow2Header.MaxL1Bytes} bytes");
            }
        }

        return dir;
    }

    /// <summary>
    /// Gives every bitmap a table for <paramref name="newSize"/>: marks made so far are saved, the bitmaps are
    /// flagged in use, new tables (and a cleaned last data cluster) are written to new clusters, the directory
    /// entries point at them, and the old clusters are freed. <see cref="EndBitmapResize"/> clears the flags.
    /// </summary>
    private void ResizeBitmaps(IReadOnlyList<BitmapEntry> dir, long oldSize, long newSize)
    {
        SaveBitmaps();
        WriteInUse(dir, true);
        RandomAccess.FlushToDisk(_file);

        var freed = new List<(long First, long Count)>();
        var tables = new List<(BitmapEntry Entry, long Offset, int Entries)>();
        long chunkBits = (long)ClusterSize * 8;
        foreach (var b in dir)
        {
            var old = Qcow2Bitmaps.ReadTable(_file, b, Path);
            var table = new ulong[TableEntriesFor(b, newSize)];
            Array.Copy(old, table, Math.Min(table.Length, old.Length));
            for (int i = table.Length; i < old.Length; i++)
            {
                FreeBitmapData(old[i], freed);
            }

            // Bits past what both sizes cover must read clear: dropped on a shrink, and the new part of a grown
            // disk starts clean.
            long keep = Math.Min(BitsFor(b, oldSize), BitsFor(b, newSize));
            long last = keep / chunkBits;
            if (keep % chunkBits != 0 && last < table.Length)
            {
                table[last] = ClearBitsFrom(b, table[last], (int)(keep - (last * chunkBits)), freed);
            }

            long clusters = ((table.Length * 8L) + ClusterSize - 1) >> ClusterBits;
            long offset = AllocateContiguous(clusters) << ClusterBits;
            var raw = new byte[clusters << ClusterBits];
            for (int i = 0; i < table.Length; i++)
            {
                BinaryPrimitives.WriteUInt64BigEndian(raw.AsSpan(i * 8), table[i]);
            }

            FileIo.Write(_file, raw, offset);
            freed.Add((b.TableOffset >> ClusterBits, ((b.TableSize * 8L) + ClusterSize - 1) >> ClusterBits));
            tables.Add((b, offset, table.Length));
        }

        RandomAccess.FlushToDisk(_file);
        Span<byte> e = stackalloc byte[12];
        foreach (var (entry, offset, entries) in tables)
        {
            BinaryPrimitives.WriteUInt64BigEndian(e, (ulong)offset);
            BinaryPrimitives.WriteUInt32BigEndian(e[8..], (uint)entries);
            FileIo.Write(_file, e, entry.EntryOffset);
        }

        RandomAccess.FlushToDisk(_file);
        foreach (var (first, count) in freed)
        {
            Refcounts.Update(first, count, -1);
        }
    }

    /// <summary>Once the header carries the new size: the bitmaps are consistent again, and tracked at that size.</summary>
    private void EndBitmapResize(IReadOnlyList<BitmapEntry> dir)
    {
        RandomAccess.FlushToDisk(_file);
        WriteInUse(dir, false);
        RandomAccess.FlushToDisk(_file);
        _tracked = null;
        _bitmapsInUse = false;
        _untrackable = null;
        PrepareBitmapsForWrite(RandomAccess.GetLength(_file));
    }

    private void WriteInUse(IEnumerable<BitmapEntry> entries, bool inUse)
    {
        Span<byte> b = stackalloc byte[4];
        foreach (var entry in entries)
        {
            BinaryPrimitives.WriteUInt32BigEndian(b, inUse ? entry.Flags | BitmapEntry.InUse : entry.Flags & ~BitmapEntry.InUse);
            FileIo.Write(_file, b, entry.EntryOffset + 12);
        }
    }

    private void FreeBitmapData(ulong entry, List<(long First, long Count)> freed)
    {
        long host = (long)(entry & L2Entry.OffsetMask);
        if (host != 0)
        {
            freed.Add((host >> ClusterBits, 1));
        }
    }

    /// <summary>
    /// A table entry whose data cluster has every bit from <paramref name="from"/> on clear: the same entry when
    /// they already are, else the cleaned data in a new cluster (the old one is freed once the table is switched).
    /// </summary>
    private ulong ClearBitsFrom(BitmapEntry b, ulong entry, int from, List<(long First, long Count)> freed)
    {
        if (entry == 0)
        {
            return 0;
        }

        var data = new byte[ClusterSize];
        long host = (long)(entry & L2Entry.OffsetMask);
        if (host == 0)
        {
            data.AsSpan().Fill(0xff);
        }
        else
        {
            FileIo.ReadExact(_file, data, host, Path, $"bitmap '{b.Name}' data");
        }

        int firstByte = from >> 3;
        byte keepMask = (byte)((1 << (from & 7)) - 1);
        bool dirty = (data[firstByte] & ~keepMask) != 0 || data.AsSpan(firstByte + 1).ContainsAnyExcept((byte)0);
        if (!dirty)
        {
            return entry;
        }

        data[firstByte] &= keepMask;
        data.AsSpan(firstByte + 1).Clear();
        FreeBitmapData(entry, freed);
        if (!data.AsSpan().ContainsAnyExcept((byte)0))
        {
            return 0;
        }

        long fresh = Refcounts.AllocateOne() << ClusterBits;
        FileIo.Write(_file, data, fresh);
        return (ulong)fresh;
    }
}
