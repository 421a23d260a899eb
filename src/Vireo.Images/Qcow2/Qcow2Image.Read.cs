using System.Buffers.Binary;

namespace Vireo.Images.Qcow2;

/// <summary>A run of guest bytes stored the same way, within one L2 table.</summary>
internal readonly record struct Mapping(ClusterKind Kind, long Length, long Host, ulong Entry);

internal sealed partial class Qcow2Image
{
    private long _decompressedHost = -1;
    private byte[]? _decompressed;

    internal int L2Bits => ClusterBits - (Header.ExtendedL2 ? 4 : 3);

    internal long L2Coverage => 1L << (ClusterBits + L2Bits);

    internal byte[] LoadL2(long offset)
    {
        if (_l2Cache.TryGet(offset, out var tbl))
        {
            return tbl;
        }

        tbl = _l2Cache.Rent(ClusterSize);
        FileIo.ReadExact(_file, tbl, offset, Path, "L2 table");
        _l2Cache.Add(offset, tbl);
        return tbl;
    }

    internal void CacheL2(long offset, byte[] table) => _l2Cache.Add(offset, table);

    internal void ForgetL2(long offset) => _l2Cache.Remove(offset);

    /// <summary>Maps guest bytes from <paramref name="offset"/>: the longest run (≤ maxLen, within one L2 table) stored alike.</summary>
    internal Mapping Map(long offset, long maxLen)
    {
        long l1Index = offset >> (ClusterBits + L2Bits);
        long tableEnd = (l1Index + 1) << (ClusterBits + L2Bits);
        maxLen = Math.Min(maxLen, tableEnd - offset);
        ulong l1e = l1Index < _l1.Length ? _l1[l1Index] : 0;
        long l2Off = (long)(l1e & L2Entry.OffsetMask);
        if (l2Off == 0)
        {
            return new Mapping(ClusterKind.Unallocated, maxLen, 0, 0);
        }

        var l2 = LoadL2(l2Off);
        bool ext = Header.ExtendedL2;
        int unitBits = ext ? ClusterBits - 5 : ClusterBits;
        long unit = 1L << unitBits;
        long pos = offset;
        long end = offset + maxLen;
        ClusterKind kind = default;
        long host = 0;
        long runHostNext = 0;
        ulong firstEntry = 0;
        bool first = true;
        while (pos < end)
        {
            int idx = (int)((pos >> ClusterBits) & ((1L << L2Bits) - 1));
            ulong e = BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan(idx << (ext ? 4 : 3)));
            ClusterKind k;
            long h = 0;
            long inCluster = pos & (ClusterSize - 1);
            long unitLen = unit - (pos & (unit - 1));
            if ((e & L2Entry.CompressedBit) != 0)
            {
                k = ClusterKind.Compressed;
                unitLen = ClusterSize - inCluster;
            }
            else
            {
                long co = (long)(e & L2Entry.OffsetMask);
                if (ext)
                {
                    ulong bm = BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan((idx << 4) + 8));
                    int sc = (int)(inCluster >> unitBits);
                    k = ((bm >> sc) & 1) != 0 ? ClusterKind.Data : ((bm >> (32 + sc)) & 1) != 0 ? ClusterKind.Zero : ClusterKind.Unallocated;
                }
                else
                {
                    k = (e & L2Entry.ZeroFlag) != 0 && Header.Version == 3 ? ClusterKind.Zero
                        : co != 0 || (_dataFile is not null && (e & L2Entry.Copied) != 0) ? ClusterKind.Data
                        : ClusterKind.Unallocated;
                }

                if (k == ClusterKind.Data)
                {
                    if ((e & L2Entry.ReservedMask & ~L2Entry.ZeroFlag) != 0 || (co & (ClusterSize - 1)) != 0)
                    {
                        throw ImageException.Corrupt(Path, $"L2 entry for guest offset {pos} is invalid (0x{e:x16})");
                    }

                    h = co + inCluster;
                }
                else if (co != 0 && (k == ClusterKind.Zero || ext))
                {
                    // A preallocated zero cluster, and a zero or unallocated subcluster of an allocated
                    // cluster, keep their host cluster: map prints it as qemu-img does.
                    h = co + inCluster;
                }
            }

            if (first)
            {
                kind = k;
                host = h;
                firstEntry = e;
                first = false;
            }
            else if (k != kind || k == ClusterKind.Compressed || h != runHostNext)
            {
                break;
            }

            long take = Math.Min(unitLen, end - pos);
            pos += take;
            runHostNext = h == 0 && k != ClusterKind.Data ? 0 : h + take;
            if (k == ClusterKind.Compressed)
            {
                break;
            }
        }

        return new Mapping(kind, pos - offset, host, firstEntry);
    }

    public ValueTask ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        Read(offset, buffer.Span);
        return ValueTask.CompletedTask;
    }

    internal void Read(long offset, Span<byte> buffer)
    {
        lock (_lock)
        {
            CheckRange(offset, buffer.Length);
            ReadCore(offset, buffer);
        }
    }

    private void ReadCore(long offset, Span<byte> buffer)
    {
        long pos = offset;
        int done = 0;
        while (done < buffer.Length)
        {
            var m = Map(pos, buffer.Length - done);
            var dst = buffer.Slice(done, (int)m.Length);
            switch (m.Kind)
            {
                case ClusterKind.Data:
                    var h = _dataFile ?? _file;
                    if (Header.CryptMethod != 0)
                    {
                        ReadEncrypted(pos, m.Host, dst);
                    }
                    else if (FileIo.ReadAtMost(h, dst, m.Host) != dst.Length)
                    {
                        throw ImageException.Corrupt(Path, $"data for guest offset {pos} at host offset 0x{m.Host:x} lies past the end of the file");
                    }

                    break;
                case ClusterKind.Zero:
                    dst.Clear();
                    break;
                case ClusterKind.Unallocated:
                    ReadBacking(pos, dst);
                    break;
                case ClusterKind.Compressed:
                    var data = Decompress(m.Entry);
                    data.AsSpan((int)(pos & (ClusterSize - 1)), dst.Length).CopyTo(dst);
                    break;
            }

            pos += m.Length;
            done += (int)m.Length;
        }
    }

    private void ReadBacking(long pos, Span<byte> dst)
    {
        if (Backing is null || pos >= Backing.VirtualSize)
        {
            dst.Clear();
            return;
        }

        int n = (int)Math.Min(dst.Length, Backing.VirtualSize - pos);
        BlockImages.ReadSync(Backing, pos, dst[..n]);
        dst[n..].Clear();
    }

    private byte[] Decompress(ulong entry)
    {
        long host = L2Entry.CompressedOffset(entry, ClusterBits);
        if (host == _decompressedHost && _decompressed is not null)
        {
            return _decompressed;
        }

        int len = L2Entry.CompressedLength(entry, ClusterBits);
        var src = new byte[len];
        int n = FileIo.ReadAtMost(_file, src, host);
        if (n == 0)
        {
            throw ImageException.Corrupt(Path, $"compressed cluster at host offset 0x{host:x} lies past the end of the file");
        }

        var dst = _decompressed is { } d && d.Length == ClusterSize ? d : new byte[ClusterSize];
        _decompressedHost = -1;
        ClusterCompression.Decompress(Header.CompressionType, src.AsSpan(0, n), dst, Path);
        _decompressed = dst;
        _decompressedHost = host;
        return dst;
    }

    public ValueTask<BlockExtent> GetBlockStatusAsync(long offset, long length, CancellationToken ct = default)
    {
        lock (_lock)
        {
            CheckRange(offset, length);
            var m = Map(offset, length);
            long len = m.Length;
            // Extend across L2 tables while the state stays the same.
            while (offset + len < offset + length)
            {
                var next = Map(offset + len, length - len);
                if (next.Kind != m.Kind || m.Kind == ClusterKind.Compressed || (m.Kind == ClusterKind.Data && next.Host != m.Host + len)
                    || (m.Kind != ClusterKind.Data && next.Host != (m.Host == 0 ? 0 : m.Host + len)))
                {
                    break;
                }

                len += next.Length;
            }

            var state = m.Kind switch
            {
                ClusterKind.Data or ClusterKind.Compressed => BlockState.Data,
                ClusterKind.Zero => BlockState.Zero,
                _ => BlockState.Unallocated,
            };
            // Encrypted data must go through ReadAsync: no host offset, so nothing maps the file directly.
            long? host = Header.CryptMethod != 0 ? null : m.Kind == ClusterKind.Data ? m.Host : m.Kind != ClusterKind.Compressed && m.Host != 0 ? m.Host : null;
            return ValueTask.FromResult(new BlockExtent(offset, len, state, host, 0, m.Kind == ClusterKind.Compressed));
        }
    }
}
