using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace Vireo.Images.Qcow2;

/// <summary>
/// The refcount table and its blocks (spec "Host cluster management"), and the cluster allocator on top.
/// Every change is written through at once, in the order that keeps a killed writer's image consistent:
/// a new refcount block is written before the table entry that points to it, a new table before the
/// header that points to it, and refcounts are raised before anything references the clusters.
/// </summary>
internal sealed class RefcountTable
{
    private readonly SafeFileHandle _file;
    private readonly string _path;
    private readonly Qcow2Header _header;
    private readonly MetadataCache _blocks;
    private readonly int _clusterBits;
    private readonly int _bits;
    private readonly long _entriesPerBlock;
    private readonly ulong _maxRefcount;
    private ulong[] _table;
    private long _freeCursor;

    public RefcountTable(SafeFileHandle file, string path, Qcow2Header header, long fileLength)
    {
        _file = file;
        _path = path;
        _header = header;
        _clusterBits = header.ClusterBits;
        _bits = header.RefcountBits;
        _entriesPerBlock = (long)header.ClusterSize * 8 / _bits;
        _maxRefcount = _bits == 64 ? ulong.MaxValue : (1UL << _bits) - 1;
        _blocks = new MetadataCache(header.ClusterSize, 4L * 1024 * 1024);
        int n = header.RefcountTableClusters * header.ClusterSize / 8;
        var raw = new byte[n * 8];
        FileIo.ReadExact(file, raw, header.RefcountTableOffset, path, "refcount table");
        _table = new ulong[n];
        for (int i = 0; i < n; i++)
        {
            _table[i] = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
            long off = (long)(_table[i] & L2Entry.OffsetMask);
            if (off != 0 && (off & (header.ClusterSize - 1)) != 0)
            {
                throw ImageException.Corrupt(path, $"refcount block {i} offset 0x{off:x} is not cluster aligned");
            }

            if (off > fileLength)
            {
                throw ImageException.Corrupt(path, $"refcount block {i} offset 0x{off:x} lies past the end of the file");
            }
        }
    }

    public ulong MaxRefcount => _maxRefcount;

    /// <summary>How many times refcounts were lowered: a cluster kept for later use is only safe while this is unchanged.</summary>
    public long Decrements { get; private set; }

    public long EntriesPerBlock => _entriesPerBlock;

    public IReadOnlyList<ulong> Table => _table;

    public long FileClusters => (RandomAccess.GetLength(_file) + (1L << _clusterBits) - 1) >> _clusterBits;

    private byte[]? LoadBlock(long blockIndex)
    {
        if (blockIndex >= _table.Length)
        {
            return null;
        }

        long off = (long)(_table[blockIndex] & L2Entry.OffsetMask);
        if (off == 0)
        {
            return null;
        }

        if (_blocks.TryGet(off, out var blk))
        {
            return blk;
        }

        blk = new byte[1 << _clusterBits];
        FileIo.ReadExact(_file, blk, off, _path, "refcount block");
        _blocks.Add(off, blk);
        return blk;
    }

    public ulong Get(long cluster)
    {
        var blk = LoadBlock(cluster / _entriesPerBlock);
        return blk is null ? 0 : GetEntry(blk, cluster % _entriesPerBlock);
    }

    private ulong GetEntry(byte[] blk, long i) => _bits switch
    {
        64 => BinaryPrimitives.ReadUInt64BigEndian(blk.AsSpan((int)(i * 8))),
        32 => BinaryPrimitives.ReadUInt32BigEndian(blk.AsSpan((int)(i * 4))),
        16 => BinaryPrimitives.ReadUInt16BigEndian(blk.AsSpan((int)(i * 2))),
        8 => blk[i],
        _ => (ulong)((blk[i * _bits / 8] >> (int)(i * _bits % 8)) & (int)_maxRefcount),
    };

    private void SetEntry(byte[] blk, long i, ulong v)
    {
        switch (_bits)
        {
            case 64: BinaryPrimitives.WriteUInt64BigEndian(blk.AsSpan((int)(i * 8)), v); break;
            case 32: BinaryPrimitives.WriteUInt32BigEndian(blk.AsSpan((int)(i * 4)), (uint)v); break;
            case 16: BinaryPrimitives.WriteUInt16BigEndian(blk.AsSpan((int)(i * 2)), (ushort)v); break;
            case 8: blk[i] = (byte)v; break;
            default:
                int shift = (int)(i * _bits % 8);
                int idx = (int)(i * _bits / 8);
                blk[idx] = (byte)((blk[idx] & ~((int)_maxRefcount << shift)) | ((int)v << shift));
                break;
        }
    }

    /// <summary>Adds <paramref name="delta"/> to the refcounts of a run of clusters, writing each touched block once.</summary>
    public void Update(long first, long count, long delta)
    {
        if (delta < 0)
        {
            Decrements++;
        }

        long c = first;
        long end = first + count;
        while (c < end)
        {
            long b = c / _entriesPerBlock;
            var blk = LoadBlock(b) ?? (delta < 0
                ? throw ImageException.Corrupt(_path, $"cluster {c} is referenced but has no refcount block")
                : CreateBlock(b));
            long blkOff = (long)(_table[b] & L2Entry.OffsetMask);
            long i0 = c % _entriesPerBlock;
            long n = Math.Min(end - c, _entriesPerBlock - i0);
            for (long i = i0; i < i0 + n; i++)
            {
                ulong old = GetEntry(blk, i);
                ulong nv = (ulong)((long)old + delta);
                if ((delta < 0 && old < (ulong)-delta) || (delta > 0 && (nv > _maxRefcount || nv < old)))
                {
                    throw ImageException.Corrupt(_path, $"refcount of cluster {(b * _entriesPerBlock) + i} would leave its range ({old} {delta:+#;-#})");
                }

                SetEntry(blk, i, nv);
            }

            int byteStart = (int)(i0 * _bits / 8);
            int byteEnd = (int)(((i0 + n) * _bits + 7) / 8);
            FileIo.Write(_file, blk.AsSpan(byteStart, byteEnd - byteStart), blkOff + byteStart);
            if (delta < 0 && c < _freeCursor)
            {
                _freeCursor = c;
            }

            c += n;
        }
    }

    /// <summary>
    /// Finds up to <paramref name="wanted"/> contiguous free clusters and takes them (refcount 1).
    /// Returns the first cluster index; <paramref name="got"/> may be less than wanted.
    /// </summary>
    public long Allocate(long wanted, out long got)
    {
        while (true)
        {
            long start = _freeCursor;
            while (Get(start) != 0)
            {
                start++;
            }

            long n = 1;
            while (n < wanted && Get(start + n) == 0)
            {
                n++;
            }

            // Blocks that do not exist yet take the first cluster of the range they describe.
            if (!EnsureBlocks(start, n))
            {
                continue;
            }

            if (Get(start) != 0)
            {
                continue;
            }

            Update(start, n, 1);
            _freeCursor = start + n;
            got = n;
            return start;
        }
    }

    public long AllocateOne() => Allocate(1, out _);

    /// <summary>Makes sure refcount blocks exist for a run; false when creating them changed what is free.</summary>
    private bool EnsureBlocks(long first, long count)
    {
        bool unchanged = true;
        for (long b = first / _entriesPerBlock; b <= (first + count - 1) / _entriesPerBlock; b++)
        {
            if (LoadBlock(b) is null)
            {
                CreateBlock(b);
                unchanged = false;
            }
        }

        return unchanged;
    }

    private byte[] CreateBlock(long b)
    {
        if (b >= _table.Length)
        {
            GrowTable(b);
            var existing = LoadBlock(b);
            if (existing is not null)
            {
                return existing;
            }
        }

        // The block describes itself: it lives in the first cluster of its own range, which is free
        // because no block covered the range before. A missing block for a range the file already
        // occupies means the table is damaged: never write a block over whatever is there.
        long cluster = b * _entriesPerBlock;
        if (cluster < FileClusters)
        {
            throw ImageException.Corrupt(_path, $"refcount block {b} is missing for clusters the file already holds (run check -r all)");
        }

        var blk = new byte[1 << _clusterBits];
        SetEntry(blk, 0, 1);
        long off = cluster << _clusterBits;
        FileIo.Write(_file, blk, off);
        _table[b] = (ulong)off;
        Span<byte> e = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(e, (ulong)off);
        FileIo.Write(_file, e, _header.RefcountTableOffset + (b * 8));
        _blocks.Add(off, blk);
        return blk;
    }

    /// <summary>
    /// Moves the table to the end of the file with room for <paramref name="needBlock"/>: new blocks for the
    /// region it occupies, then the table, then the header, then the old table is freed.
    /// </summary>
    private void GrowTable(long needBlock)
    {
        int cs = 1 << _clusterBits;
        long p = Math.Max(FileClusters, 1);
        long k = 0;
        long t;
        List<long> missing = [];
        while (true)
        {
            long entries = Math.Max(needBlock + 1, ((p + k + 64) / _entriesPerBlock) + 1);
            entries = Math.Max(entries + (entries / 2) + 1, _table.Length + 1);
            t = ((entries * 8) + cs - 1) / cs;
            missing.Clear();
            for (long b = p / _entriesPerBlock; b <= (p + k + t - 1) / _entriesPerBlock; b++)
            {
                if (b >= _table.Length || _table[b] == 0)
                {
                    missing.Add(b);
                }
            }

            if (missing.Count == k)
            {
                break;
            }

            k = missing.Count;
        }

        if (t * cs > Qcow2Header.MaxRefcountTableBytes)
        {
            throw new ImageException($"'{_path}': refcount table would exceed {Qcow2Header.MaxRefcountTableBytes} bytes");
        }

        var newTable = new ulong[t * cs / 8];
        _table.CopyTo(newTable, 0);
        for (int j = 0; j < missing.Count; j++)
        {
            long off = (p + j) << _clusterBits;
            newTable[missing[j]] = (ulong)off;
            var blk = new byte[cs];
            // Refcounts of the whole new region that fall in this block.
            long b0 = missing[j] * _entriesPerBlock;
            for (long c = Math.Max(p, b0); c < Math.Min(p + k + t, b0 + _entriesPerBlock); c++)
            {
                SetEntry(blk, c - b0, 1);
            }

            FileIo.Write(_file, blk, off);
            _blocks.Add(off, blk);
        }

        var oldTable = _table;
        long oldOffset = _header.RefcountTableOffset;
        int oldClusters = _header.RefcountTableClusters;
        _table = newTable;

        // Region clusters covered by blocks that already existed.
        for (long c = p; c < p + k + t; c++)
        {
            long b = c / _entriesPerBlock;
            if (!missing.Contains(b))
            {
                Update(c, 1, 1);
            }
        }

        var raw = new byte[t * cs];
        for (int i = 0; i < newTable.Length; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(raw.AsSpan(i * 8), newTable[i]);
        }

        long tableOff = (p + k) << _clusterBits;
        FileIo.Write(_file, raw, tableOff);
        RandomAccess.FlushToDisk(_file);
        Span<byte> hdr = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64BigEndian(hdr, (ulong)tableOff);
        BinaryPrimitives.WriteUInt32BigEndian(hdr[8..], (uint)t);
        FileIo.Write(_file, hdr, 48);
        _header.RefcountTableOffset = tableOff;
        _header.RefcountTableClusters = (int)t;
        _ = oldTable;
        Update(oldOffset >> _clusterBits, oldClusters, -1);
    }

    public void DropCache() => _blocks.Clear();

    /// <summary>Moves the allocation cursor forward (past a hole too small for a table).</summary>
    public void SkipTo(long cluster) => _freeCursor = Math.Max(_freeCursor, cluster);
}
