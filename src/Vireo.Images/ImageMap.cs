namespace Vireo.Images;

/// <summary>One line of <c>qemu-img map</c>: where a range of the guest disk comes from in the chain.</summary>
public sealed record MapEntry(long Start, long Length, int Depth, bool Present, bool Zero, bool Data, long? Offset, string? File, bool Compressed);

/// <summary>What <see cref="DiskImage.CompareDetailedAsync"/> found: the first differing offset (null: identical).</summary>
public sealed record CompareResult(long? Offset, bool StatusMismatch);

public static partial class DiskImage
{
    /// <summary>Maps the whole guest disk through the backing chain, merging neighbours as qemu-img does.</summary>
    public static async Task<IReadOnlyList<MapEntry>> MapAsync(IBlockImage image, long start = 0, long? length = null, CancellationToken ct = default)
    {
        var list = new List<MapEntry>();
        long end = Math.Min(image.VirtualSize, start + (length ?? image.VirtualSize));
        long pos = start;
        while (pos < end)
        {
            var e = await MapOneAsync(image, pos, end - pos, 0, ct).ConfigureAwait(false);
            if (list.Count > 0)
            {
                var p = list[^1];
                if (p.Depth == e.Depth && p.Present == e.Present && p.Zero == e.Zero && p.Data == e.Data && p.File == e.File && !p.Compressed && !e.Compressed
                    && (p.Offset is null ? e.Offset is null : e.Offset == p.Offset + p.Length))
                {
                    list[^1] = p with { Length = p.Length + e.Length };
                    pos += e.Length;
                    continue;
                }
            }

            list.Add(e);
            pos += e.Length;
        }

        return list;
    }

    private static async ValueTask<MapEntry> MapOneAsync(IBlockImage img, long pos, long len, int depth, CancellationToken ct)
    {
        var s = await img.GetBlockStatusAsync(pos, len, ct).ConfigureAwait(false);
        switch (s.State)
        {
            case BlockState.Data:
                return new MapEntry(pos, s.Length, depth, true, false, true, s.Compressed ? null : s.HostOffset, img.Path, s.Compressed);
            case BlockState.Zero:
                // Raw holes and preallocated zero clusters have a place in the file, and qemu-img says where.
                long? at = s.HostOffset ?? (img.Format == ImageFormat.Raw ? pos : null);
                return new MapEntry(pos, s.Length, depth, true, true, false, at, at is null ? null : img.Path, false);
        }

        // Unallocated here: zeroes when nothing lies below (no backing file, or past its end), which qemu
        // reports at this depth, with the host place of an allocated cluster's unallocated subcluster.
        var b = img.Backing;
        if (b is null || pos >= b.VirtualSize)
        {
            return new MapEntry(pos, s.Length, depth, false, true, false, s.HostOffset, s.HostOffset is null ? null : img.Path, false);
        }

        return await MapOneAsync(b, pos, Math.Min(s.Length, b.VirtualSize - pos), depth + 1, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Compares guest contents (qemu-img compare). Returns null when identical, else the first differing
    /// offset. Unless <paramref name="strict"/>, a size difference is fine when the extra part reads as zeroes.
    /// </summary>
    public static async Task<long?> CompareAsync(IBlockImage a, IBlockImage b, bool strict, CancellationToken ct = default) =>
        (await CompareDetailedAsync(a, b, strict, ct).ConfigureAwait(false)).Offset;

    /// <summary>
    /// As <see cref="CompareAsync"/>, and says whether the first difference is one of block status: in strict
    /// mode qemu-img also requires both images to report the same status (data, zero, allocated, located) everywhere.
    /// </summary>
    public static async Task<CompareResult> CompareDetailedAsync(IBlockImage a, IBlockImage b, bool strict, CancellationToken ct = default)
    {
        if (strict && a.VirtualSize != b.VirtualSize)
        {
            throw new ImageException("Image size mismatch!");
        }

        const int Chunk = 1 << 20;
        var ba = new byte[Chunk];
        var bb = new byte[Chunk];
        long common = Math.Min(a.VirtualSize, b.VirtualSize);
        long pos = 0;
        while (pos < common)
        {
            var (sa, la) = await Converter.ChainStatusAsync(a, pos, Math.Min(Chunk, common - pos), ct).ConfigureAwait(false);
            var (sb, lb) = await Converter.ChainStatusAsync(b, pos, Math.Min(Chunk, common - pos), ct).ConfigureAwait(false);
            long n = Math.Min(la, lb);
            if (strict)
            {
                var (aa, lena) = await StatusFlagsAsync(a, pos, n, ct).ConfigureAwait(false);
                var (ab, lenb) = await StatusFlagsAsync(b, pos, n, ct).ConfigureAwait(false);
                if (aa != ab)
                {
                    return new CompareResult(pos, true);
                }

                n = Math.Min(n, Math.Min(lena, lenb));
            }

            if (sa != BlockState.Data && sb != BlockState.Data)
            {
                pos += n;
                continue;
            }

            await a.ReadAsync(pos, ba.AsMemory(0, (int)n), ct).ConfigureAwait(false);
            await b.ReadAsync(pos, bb.AsMemory(0, (int)n), ct).ConfigureAwait(false);
            int diff = ba.AsSpan(0, (int)n).CommonPrefixLength(bb.AsSpan(0, (int)n));
            if (diff < n)
            {
                return new CompareResult(pos + (diff & ~511L), false);
            }

            pos += n;
        }

        var bigger = a.VirtualSize > b.VirtualSize ? a : b;
        while (pos < bigger.VirtualSize)
        {
            var (s, l) = await Converter.ChainStatusAsync(bigger, pos, Math.Min(Chunk, bigger.VirtualSize - pos), ct).ConfigureAwait(false);
            if (s == BlockState.Data)
            {
                await bigger.ReadAsync(pos, ba.AsMemory(0, (int)l), ct).ConfigureAwait(false);
                int nz = ba.AsSpan(0, (int)l).IndexOfAnyExcept((byte)0);
                if (nz >= 0)
                {
                    return new CompareResult(pos + (nz & ~511L), false);
                }
            }

            pos += l;
        }

        return new CompareResult(null, false);
    }

    /// <summary>qemu-img measure: bytes a new image needs for this content (required) and when fully allocated.</summary>
    public static async Task<(long Required, long FullyAllocated)> MeasureAsync(IBlockImage? source, long size, ImageCreateOptions target, CancellationToken ct = default)
    {
        long virtualSize = source?.VirtualSize ?? size;
        if (target.Format == ImageFormat.Raw)
        {
            // qemu's raw_measure: holes count towards a raw file's size, so both figures are the whole disk.
            long whole = (virtualSize + 511) & ~511L;
            return (whole, whole);
        }

        if (target.Format == ImageFormat.Luks)
        {
            // Header and key material, then the whole payload (written as ciphertext, never sparse).
            long total = Crypto.LuksWriter.AreaLength(Crypto.LuksParams.KeyBytesOf(target.LuksCipher)) + ((virtualSize + 511) & ~511L);
            return (total, total);
        }

        long cs = target.ClusterSize;
        long aligned = (virtualSize + cs - 1) / cs * cs;
        long required = source is null ? 0 : target.BackingFile is not null ? aligned : await DataBytesAsync(source, cs, ct).ConfigureAwait(false);
        if (target.Preallocation is Preallocation.Full or Preallocation.Falloc)
        {
            required = aligned;
        }

        // An encrypted qcow2 also holds its LUKS header area, in whole clusters.
        long luks = target.Encrypted ? (Crypto.LuksWriter.AreaLength(Crypto.LuksParams.KeyBytesOf(target.LuksCipher)) + cs - 1) / cs * cs : 0;
        long fully = PreallocSize(aligned, cs, System.Numerics.BitOperations.Log2((uint)target.RefcountBits), target.ExtendedL2) + luks;
        return (fully - aligned + required, fully);
    }

    private static async Task<long> DataBytesAsync(IBlockImage img, long cs, CancellationToken ct)
    {
        long required = 0;
        long pos = 0;
        while (pos < img.VirtualSize)
        {
            var (s, n) = await Converter.ChainStatusAsync(img, pos, img.VirtualSize - pos, ct).ConfigureAwait(false);
            if (s == BlockState.Data)
            {
                // qemu's arithmetic: extend to the end of the cluster and count from the cluster start.
                n = ((pos + n + cs - 1) / cs * cs) - pos;
                required += (pos % cs) + n;
            }

            pos += n;
        }

        return required;
    }

    private static long PreallocSize(long aligned, long cs, int refcountOrder, bool extendedL2)
    {
        long l2e = extendedL2 ? 16 : 8;
        long meta = cs;
        long nl2e = aligned / cs;
        nl2e = (nl2e + (cs / l2e) - 1) / (cs / l2e) * (cs / l2e);
        meta += nl2e * l2e;
        long nl1e = nl2e * l2e / cs;
        nl1e = (nl1e + (cs / 8) - 1) / (cs / 8) * (cs / 8);
        meta += nl1e * 8;
        long clusters = (meta + aligned) / cs;
        long perTable = cs / 8;
        long perBlock = cs * 8 / (1L << refcountOrder);
        long table = 0;
        long blocks = 0;
        long n = 0;
        long last;
        do
        {
            last = n;
            blocks = (clusters + table + blocks + perBlock - 1) / perBlock;
            table = (blocks + perTable - 1) / perTable;
            n = clusters + blocks + table;
        }
        while (n != last);
        meta += (blocks + table) * cs;
        return meta + aligned;
    }

    /// <summary>
    /// A range's block status as qemu's bdrv_block_status_above flags it (data, zero, offset valid, allocated),
    /// which strict compare requires to be equal on both sides; and for how long it holds.
    /// </summary>
    private static async ValueTask<(int Flags, long Length)> StatusFlagsAsync(IBlockImage img, long pos, long len, CancellationToken ct)
    {
        const int Data = 1, Zero = 2, OffsetValid = 4, Allocated = 8;
        for (IBlockImage? layer = img; layer is not null; layer = layer.Backing)
        {
            if (pos >= layer.VirtualSize)
            {
                return (Zero, len);
            }

            var e = await layer.GetBlockStatusAsync(pos, Math.Min(len, layer.VirtualSize - pos), ct).ConfigureAwait(false);
            bool located = e.HostOffset is not null || layer.Format == ImageFormat.Raw;
            switch (e.State)
            {
                case BlockState.Data:
                    return (Data | Allocated | (located ? OffsetValid : 0), e.Length);
                case BlockState.Zero:
                    return (Zero | Allocated | (located ? OffsetValid : 0), e.Length);
            }

            len = e.Length;
        }

        return (Zero, len);
    }
}
