using System.Buffers.Binary;

namespace Vireo.Images.Qcow2;

/// <summary>
/// Rebuilds the reference counts from every structure that references clusters (header, L1/L2 of the active
/// state and of each snapshot, snapshot table, refcount structures, bitmaps) and compares them with the
/// stored refcounts: more stored than referenced is a leak, fewer is a corruption.
/// </summary>
internal sealed class Qcow2Check
{
    private const long MaxCheckedClusters = 1L << 28;
    private readonly Qcow2Image _img;
    private readonly int _cb;
    private readonly long _fileLength;
    private readonly uint[] _expected;
    private readonly List<string> _messages = [];
    private long _corruptions;
    private long _allocated;
    private long _fragmented;
    private long _compressed;
    private long _copiedErrors;
    private long _highestCluster = -1;

    private Qcow2Check(Qcow2Image img)
    {
        _img = img;
        _cb = img.ClusterBits;
        _fileLength = RandomAccess.GetLength(img.File);
        long clusters = (_fileLength + img.ClusterSize - 1) >> _cb;
        if (clusters > MaxCheckedClusters)
        {
            throw new ImageException($"'{img.Path}': image file is too large to check ({clusters} clusters)");
        }

        _expected = new uint[clusters];
    }

    public static CheckResult Run(Qcow2Image img, CheckRepair repair)
    {
        var first = new Qcow2Check(img);
        first.Count();
        var (leaks, corrupt) = first.Compare(repair, out long leaksFixed, out long corruptFixed);
        if (leaksFixed + corruptFixed == 0)
        {
            return first.Result(leaks, corrupt, 0, 0);
        }

        img.ClearCaches();
        var second = new Qcow2Check(img);
        second.Count();
        var (leaks2, corrupt2) = second.Compare(CheckRepair.None, out _, out _);
        var r = second.Result(leaks2, corrupt2, leaksFixed, corruptFixed);
        return r with { Messages = [.. first._messages, .. second._messages] };
    }

    private CheckResult Result(long leaks, long corrupt, long leaksFixed, long corruptFixed) => new()
    {
        Path = _img.Path,
        Format = ImageFormat.Qcow2,
        Leaks = leaks,
        Corruptions = corrupt + _corruptions + _copiedErrors,
        LeaksFixed = leaksFixed,
        CorruptionsFixed = corruptFixed,
        TotalClusters = (_img.VirtualSize + _img.ClusterSize - 1) >> _cb,
        AllocatedClusters = _allocated,
        FragmentedClusters = _fragmented,
        CompressedClusters = _compressed,
        // qemu's figure: the end of the last cluster that is counted or referenced, not the file's length.
        ImageEndOffset = (_highestCluster + 1) << _cb,
        Messages = _messages,
    };

    private void Inc(long offset, long length, string what)
    {
        if (length <= 0)
        {
            return;
        }

        long c0 = offset >> _cb;
        long c1 = (offset + length - 1) >> _cb;
        for (long c = c0; c <= c1; c++)
        {
            if (c >= _expected.Length)
            {
                _messages.Add($"ERROR {what} at offset 0x{offset:x} lies past the end of the image file");
                _corruptions++;
                return;
            }

            _expected[c]++;
        }
    }

    private void Count()
    {
        var h = _img.Header;
        Inc(0, _img.ClusterSize, "header");
        if (h.CryptMethod != 0 && h.OtherExtensions.FirstOrDefault(e => e.Type == Qcow2Header.ExtEncryption) is { Data.Length: >= 16 } crypt)
        {
            // The LUKS header and key material: referenced by the extension, not by any table.
            long off = (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(crypt.Data), long.MaxValue / 2);
            long len = (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(crypt.Data.AsSpan(8)), long.MaxValue / 2);
            Inc(off, len, "encryption header");
        }
        WalkL1(_img.L1, h.L1TableOffset, h.L1Size, active: true);
        if (h.SnapshotCount > 0)
        {
            Inc(h.SnapshotsOffset, Qcow2Snapshot.Serialize(_img.Snapshots).Length, "snapshot table");
            foreach (var s in _img.Snapshots)
            {
                var raw = new byte[(long)s.L1Size * 8];
                FileIo.ReadExact(_img.File, raw, s.L1Offset, _img.Path, "snapshot L1 table");
                var l1 = new ulong[s.L1Size];
                for (int i = 0; i < l1.Length; i++)
                {
                    l1[i] = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
                }

                WalkL1(l1, s.L1Offset, s.L1Size, active: false);
            }
        }

        Inc(h.RefcountTableOffset, (long)h.RefcountTableClusters << _cb, "refcount table");
        foreach (var e in _img.Refcounts.Table)
        {
            long off = (long)(e & L2Entry.OffsetMask);
            if (off != 0)
            {
                Inc(off, _img.ClusterSize, "refcount block");
            }
        }

        CountBitmaps();
    }

    private void WalkL1(IReadOnlyList<ulong> l1, long l1Offset, int l1Size, bool active)
    {
        Inc(l1Offset, (long)l1Size * 8, "L1 table");
        bool ext = _img.Header.ExtendedL2;
        int es = ext ? 16 : 8;
        long lastHost = -1;
        for (int i = 0; i < l1.Count; i++)
        {
            long l2Off = (long)(l1[i] & L2Entry.OffsetMask);
            if (l2Off == 0)
            {
                continue;
            }

            if ((l2Off & (_img.ClusterSize - 1)) != 0 || l2Off + _img.ClusterSize > _fileLength)
            {
                _messages.Add($"ERROR L2 table offset 0x{l2Off:x} is invalid");
                _corruptions++;
                continue;
            }

            Inc(l2Off, _img.ClusterSize, "L2 table");
            if (active && ((l1[i] & L2Entry.Copied) != 0) != (_img.Refcounts.Get(l2Off >> _cb) == 1))
            {
                _messages.Add($"ERROR OFLAG_COPIED L2 cluster: l1_index={i} l1_entry={l1[i]:x} refcount={_img.Refcounts.Get(l2Off >> _cb)}");
                _copiedErrors++;
            }

            var l2 = new byte[_img.ClusterSize];
            FileIo.ReadExact(_img.File, l2, l2Off, _img.Path, "L2 table");
            for (int j = 0; j < _img.ClusterSize / es; j++)
            {
                ulong e = BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan(j * es));
                if ((e & L2Entry.CompressedBit) != 0)
                {
                    long host = L2Entry.CompressedOffset(e, _cb);
                    int len = L2Entry.CompressedLength(e, _cb);
                    Inc(host, len, "compressed cluster");
                    if (active)
                    {
                        // qemu counts every compressed cluster as fragmented (it re-reads shared sectors).
                        _allocated++;
                        _compressed++;
                        _fragmented++;
                    }

                    continue;
                }

                long off = (long)(e & L2Entry.OffsetMask);
                if (off == 0)
                {
                    continue;
                }

                if ((off & (_img.ClusterSize - 1)) != 0)
                {
                    _messages.Add($"ERROR offset=0x{off:x}: Cluster is not properly aligned; L2 entry corrupted.");
                    _corruptions++;
                    continue;
                }

                Inc(off, _img.ClusterSize, "data cluster");
                if (active)
                {
                    bool zeroOnly = !ext && (e & L2Entry.ZeroFlag) != 0;
                    if (!zeroOnly)
                    {
                        _allocated++;
                        if (lastHost >= 0 && off != lastHost + _img.ClusterSize)
                        {
                            _fragmented++;
                        }

                        lastHost = off;
                    }

                    if (((e & L2Entry.Copied) != 0) != (_img.Refcounts.Get(off >> _cb) == 1) && off >> _cb < _expected.Length)
                    {
                        _messages.Add($"ERROR OFLAG_COPIED data cluster: l2_entry={e:x} refcount={_img.Refcounts.Get(off >> _cb)}");
                        _copiedErrors++;
                    }
                }
            }
        }
    }

    private void CountBitmaps()
    {
        IReadOnlyList<BitmapEntry>? dir;
        try
        {
            dir = Qcow2Bitmaps.ReadDirectory(_img.File, _img.Header, _img.Path, _fileLength);
        }
        catch (ImageException e)
        {
            _messages.Add($"ERROR bitmaps: {e.Message}");
            _corruptions++;
            return;
        }

        if (dir is null)
        {
            return;
        }

        var ext = _img.Header.OtherExtensions.First(e => e.Type == Qcow2Header.ExtBitmaps);
        Inc((long)BinaryPrimitives.ReadUInt64BigEndian(ext.Data.AsSpan(16)), (long)BinaryPrimitives.ReadUInt64BigEndian(ext.Data.AsSpan(8)), "bitmap directory");
        foreach (var b in dir)
        {
            Inc(b.TableOffset, (long)b.TableSize * 8, "bitmap table");
            foreach (ulong entry in Qcow2Bitmaps.ReadTable(_img.File, b, _img.Path))
            {
                long off = (long)(entry & L2Entry.OffsetMask);
                if (off != 0)
                {
                    Inc(off, _img.ClusterSize, "bitmap data");
                }
            }
        }
    }

    private (long Leaks, long Corruptions) Compare(CheckRepair repair, out long leaksFixed, out long corruptFixed)
    {
        leaksFixed = 0;
        corruptFixed = 0;
        long leaks = 0;
        long corrupt = 0;
        var rc = _img.Refcounts;
        long limit = Math.Max(_expected.Length, rc.Table.Count(e => e != 0) == 0 ? 0 : _expected.Length);
        for (long c = 0; c < limit; c++)
        {
            ulong actual = rc.Get(c);
            ulong exp = c < _expected.Length ? _expected[c] : 0;
            if (actual == exp)
            {
                if (actual != 0)
                {
                    _highestCluster = c;
                }

                continue;
            }

            if (actual != 0 || exp != 0)
            {
                _highestCluster = c;
            }

            bool leak = actual > exp;
            bool fix = leak ? (repair & CheckRepair.Leaks) != 0 : (repair & CheckRepair.Errors) != 0;
            _messages.Add($"{(fix ? "Repairing" : leak ? "Leaked" : "ERROR")} cluster {c} refcount={actual} reference={exp}");
            if (fix)
            {
                rc.Update(c, 1, (long)exp - (long)actual);
                if (leak)
                {
                    leaksFixed++;
                }
                else
                {
                    corruptFixed++;
                }
            }
            else if (leak)
            {
                leaks++;
            }
            else
            {
                corrupt++;
            }
        }

        if ((repair & CheckRepair.Errors) != 0 && _copiedErrors > 0)
        {
            corruptFixed += _copiedErrors;
            _copiedErrors = 0;
            _img.RepairCopiedFlags();
        }

        return (leaks, corrupt);
    }
}
