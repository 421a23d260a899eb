using System.Buffers.Binary;

namespace Vireo.Images.Qcow2;

/// <summary>
/// Persistent dirty bitmaps kept up to date, as the spec asks of any writer: every bitmap with the <c>auto</c>
/// flag records each written, zeroed or discarded range. As in qemu, the bitmaps are marked <c>in_use</c> on
/// disk before the first write and saved (data clusters, then tables, then flags cleared) when the image is
/// closed, so a writer killed in between leaves them flagged inconsistent rather than silently stale.
/// </summary>
internal sealed partial class Qcow2Image
{
    // The tables of all tracked bitmaps are held in memory while the image is open: bounded, as hostile input.
    private const long MaxTrackedTableBytes = 64L << 20;

    private List<TrackedBitmap>? _tracked;
    private bool _bitmapsInUse;
    private string? _untrackable;

    /// <summary>Opening for write: drops unknown auto-clear bits (the spec's rule) and loads the bitmaps to track.</summary>
    private void PrepareBitmapsForWrite(long fileLength)
    {
        const ulong Known = 3; // bit 0: bitmaps, bit 1: raw external data
        if ((Header.Autoclear & ~Known) != 0)
        {
            Header.Autoclear &= Known;
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(b, Header.Autoclear);
            FileIo.Write(_file, b, 88);
        }

        // Without the auto-clear bit the bitmaps are already inconsistent: nothing to keep up to date.
        if ((Header.Autoclear & 1) == 0)
        {
            return;
        }

        IReadOnlyList<BitmapEntry>? dir;
        try
        {
            dir = Qcow2Bitmaps.ReadDirectory(_file, Header, Path, fileLength);
        }
        catch (ImageException e)
        {
            // A damaged directory still lets check -r and amend work; only data writes are refused.
            _untrackable = $"{e.Message}; the bitmaps cannot be kept up to date, so Vireo does not write to this image";
            return;
        }

        if (dir is null)
        {
            return;
        }

        long tableBytes = 0;
        foreach (var b in dir)
        {
            if ((b.Flags & BitmapEntry.InUse) != 0 || (b.Flags & BitmapEntry.Auto) == 0)
            {
                continue; // inconsistent already, or disabled: left exactly as it is
            }

            string? why = Unsupported(b) ?? ((tableBytes += b.TableSize * 8L) > MaxTrackedTableBytes ? "tables beyond the 64 MiB Vireo holds in memory for tracking" : null);
            if (why is not null)
            {
                // Refused at the first write, not at open: metadata-only work (check -r, amend) stays possible.
                _untrackable ??= $"'{Path}': bitmap '{b.Name}' has {why}; Vireo cannot keep it up to date, so it does not write to this image";
                continue;
            }

            var table = Qcow2Bitmaps.ReadTable(_file, b, Path);
            if (InvalidTableEntry(b, table, fileLength) is { } bad)
            {
                _untrackable ??= $"'{Path}': {bad}; Vireo cannot keep it up to date, so it does not write to this image";
                continue;
            }

            (_tracked ??= []).Add(new TrackedBitmap(b, table));
        }
    }

    /// <summary>Why Vireo cannot rewrite a bitmap (what it does not know in it), or null.</summary>
    private string? Unsupported(BitmapEntry b) =>
        (b.Flags & ~7u) != 0 ? $"reserved flags 0x{b.Flags:x}"
        : b.Type != 1 ? $"type {b.Type}"
        : b.ExtraDataSize != 0 && (b.Flags & BitmapEntry.ExtraDataCompatible) == 0 ? "extra data Vireo does not know"
        : b.GranularityBits is < 9 or > 31 ? $"granularity 2^{b.GranularityBits}"
        : b.TableSize != TableEntriesFor(b, VirtualSize) ? $"a table of {b.TableSize} entries for a {VirtualSize}-byte disk"
        : null;

    /// <summary>
    /// What is wrong with a bitmap's table, or null: saving and resizing free the clusters it names, so the
    /// table and each data cluster must be whole clusters inside the file, and no reserved bit may be set.
    /// </summary>
    private string? InvalidTableEntry(BitmapEntry b, ulong[] table, long fileLength)
    {
        if ((b.TableOffset & (ClusterSize - 1)) != 0)
        {
            return $"bitmap '{b.Name}' table at 0x{b.TableOffset:x} is not cluster-aligned";
        }

        foreach (ulong entry in table)
        {
            long host = (long)(entry & L2Entry.OffsetMask);
            if ((entry & ~L2Entry.OffsetMask) > AllOnesEntry || (host == 0 ? entry > AllOnesEntry : entry != (ulong)host)
                || (host & (ClusterSize - 1)) != 0 || host > fileLength - ClusterSize)
            {
                return $"bitmap '{b.Name}' table entry 0x{entry:x16} is invalid";
            }
        }

        return null;
    }

    private long TableEntriesFor(BitmapEntry b, long size) => (BitsFor(b, size) + ((long)ClusterSize * 8) - 1) / ((long)ClusterSize * 8);

    private static long BitsFor(BitmapEntry b, long size) => (size + b.Granularity - 1) >> b.GranularityBits;

    /// <summary>Records a change of guest bytes [offset, offset+length) in every tracked bitmap. Called under the lock.</summary>
    private void MarkDirty(long offset, long length)
    {
        if (_untrackable is not null)
        {
            throw new ImageException(_untrackable);
        }

        if (_tracked is null || length <= 0)
        {
            return;
        }

        if (!_bitmapsInUse)
        {
            SetInUse(true);
            RandomAccess.FlushToDisk(_file);
            _bitmapsInUse = true;
        }

        foreach (var t in _tracked)
        {
            t.Mark(this, offset, length);
        }
    }

    /// <summary>Saves what was marked: data clusters, flush, tables, flush, then the in_use flags cleared.</summary>
    private void SaveBitmaps()
    {
        if (_tracked is null || !_bitmapsInUse)
        {
            return;
        }

        var freed = new List<long>();
        foreach (var t in _tracked)
        {
            t.WriteData(this, freed);
        }

        RandomAccess.FlushToDisk(_file);
        foreach (var t in _tracked)
        {
            t.WriteTable(this);
        }

        RandomAccess.FlushToDisk(_file);
        foreach (long cluster in freed)
        {
            Refcounts.Update(cluster, 1, -1);
        }

        SetInUse(false);
        RandomAccess.FlushToDisk(_file);
        _bitmapsInUse = false;
    }

    private void SetInUse(bool inUse) => WriteInUse(_tracked!.Select(t => t.Entry), inUse);

    /// <summary>
    /// One auto bitmap while the image is open: the clusters of bitmap data touched so far, and those that became
    /// wholly set (stored as the table's all-ones entry, so marking a whole large disk costs no data clusters).
    /// </summary>
    private sealed class TrackedBitmap(BitmapEntry entry, ulong[] table)
    {
        private readonly Dictionary<long, byte[]> _chunks = [];
        private readonly HashSet<long> _allOnes = [];

        public BitmapEntry Entry => entry;

        public void Mark(Qcow2Image img, long offset, long length)
        {
            long chunkBits = (long)img.ClusterSize * 8;
            long totalBits = BitsFor(entry, img.VirtualSize);
            long first = offset >> entry.GranularityBits;
            long last = Math.Min((offset + length - 1) >> entry.GranularityBits, totalBits - 1);
            for (long c = first / chunkBits; c <= last / chunkBits; c++)
            {
                if (table[c] == AllOnesEntry || _allOnes.Contains(c))
                {
                    continue;
                }

                long chunkStart = c * chunkBits;
                long chunkEnd = Math.Min(chunkStart + chunkBits, totalBits); // bits past the disk stay zero
                long a = Math.Max(first, chunkStart);
                long b = Math.Min(last + 1, chunkEnd);
                if (a == chunkStart && b == chunkStart + chunkBits)
                {
                    _allOnes.Add(c);
                    _chunks.Remove(c);
                    continue;
                }

                if (!_chunks.TryGetValue(c, out var data))
                {
                    data = new byte[img.ClusterSize];
                    long host = (long)(table[c] & L2Entry.OffsetMask);
                    if (host != 0)
                    {
                        FileIo.ReadExact(img._file, data, host, img.Path, $"bitmap '{entry.Name}' data");
                    }

                    _chunks[c] = data;
                }

                SetBits(data, a - chunkStart, b - chunkStart);
            }
        }

        /// <summary>Writes touched data clusters, allocating those that were all zeroes; collects clusters to free.</summary>
        public void WriteData(Qcow2Image img, List<long> freed)
        {
            foreach (var (c, data) in _chunks)
            {
                long host = (long)(table[c] & L2Entry.OffsetMask);
                if (host == 0)
                {
                    host = img.Refcounts.AllocateOne() << img.ClusterBits;
                    table[c] = (ulong)host;
                }

                FileIo.Write(img._file, data, host);
            }

            foreach (long c in _allOnes)
            {
                long host = (long)(table[c] & L2Entry.OffsetMask);
                if (host != 0)
                {
                    freed.Add(host >> img.ClusterBits);
                }
            }
        }

        public void WriteTable(Qcow2Image img)
        {
            if (_chunks.Count == 0 && _allOnes.Count == 0)
            {
                return;
            }

            foreach (long c in _allOnes)
            {
                table[c] = AllOnesEntry;
            }

            var raw = new byte[table.Length * 8L];
            for (int i = 0; i < table.Length; i++)
            {
                BinaryPrimitives.WriteUInt64BigEndian(raw.AsSpan(i * 8), table[i]);
            }

            FileIo.Write(img._file, raw, entry.TableOffset);
            _chunks.Clear();
            _allOnes.Clear();
        }

        /// <summary>Sets bits [from, to) of a bitmap cluster, bit 0 being the least significant bit of byte 0.</summary>
        private static void SetBits(byte[] data, long from, long to)
        {
            while (from < to && (from & 7) != 0)
            {
                data[from >> 3] |= (byte)(1 << (int)(from & 7));
                from++;
            }

            long fullBytes = (to - from) >> 3;
            data.AsSpan((int)(from >> 3), (int)fullBytes).Fill(0xff);
            from += fullBytes << 3;
            while (from < to)
            {
                data[from >> 3] |= (byte)(1 << (int)(from & 7));
                from++;
            }
        }
    }
}
