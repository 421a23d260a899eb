namespace Vireo.Images;

/// <summary>
/// qemu-img convert: a reader walks the source chain by block status (holes and zero clusters are never
/// read), a writer detects zeroes in what was read and writes only the rest, in large runs. The two overlap
/// through a small bounded queue, so memory stays flat whatever the image size. Long data extents are
/// mapped, not read (Converter.Source.cs); with -c both cores compress while the writer stores
/// (Converter.Compress.cs).
/// </summary>
internal sealed partial class Converter
{
    private const int ChunkSize = 2 * 1024 * 1024;
    private const int Buffers = 6;

    // Data extents at least this long are mapped rather than read (below it mmap costs more than a copy).
    private const int MinMapped = 64 * 1024;

    private readonly ConvertOptions _o;
    private readonly IReadOnlyList<IBlockImage> _sources;
    private readonly IBlockImage _dst;
    private readonly IBlockImage? _newBacking;
    private readonly bool _targetZero;

    private Converter(ConvertOptions o, IReadOnlyList<IBlockImage> sources, IBlockImage dst, IBlockImage? newBacking, bool targetZero)
    {
        _o = o;
        _sources = sources;
        _dst = dst;
        _newBacking = newBacking;
        _targetZero = targetZero;
    }

    public static async Task RunAsync(ConvertOptions o, IProgress<double>? progress, CancellationToken ct)
    {
        if (o.Sources.Count == 0)
        {
            throw new ImageException("convert: no source image");
        }

        if (o.Compress && o.DestinationFormat != ImageFormat.Qcow2)
        {
            throw new ImageException("Compression not supported for this file format");
        }

        if (o.Compress && (o.CreateOptions?.Encrypted ?? false))
        {
            throw new ImageException("Compression and encryption not supported at the same time");
        }

        var sources = new List<IBlockImage>();
        IBlockImage? dst = null;
        IBlockImage? backing = null;
        try
        {
            for (int i = 0; i < o.Sources.Count; i++)
            {
                byte[]? pw = o.SourcePasswords is { } p && i < p.Count ? p[i] : null;
                sources.Add(DiskImage.Open(o.Sources[i], o.SourceFormat, readOnly: true, options: new ImageOpenOptions { Password = pw }));
            }

            long total = sources.Sum(s => s.VirtualSize);
            bool targetZero;
            if (o.NoCreate)
            {
                dst = DiskImage.Open(o.Destination, o.DestinationFormat, options: new ImageOpenOptions { NoBacking = o.BackingFile is null, Password = o.DestinationPassword });
                DiskImage.CheckWritableTarget(dst, o.Compress);
                if (dst.VirtualSize < total)
                {
                    throw new ImageException($"destination '{o.Destination}' is smaller ({dst.VirtualSize}) than the source ({total})");
                }

                targetZero = o.TargetIsZero;
            }
            else
            {
                var co = (o.CreateOptions ?? new ImageCreateOptions()) with
                {
                    Format = o.DestinationFormat,
                    Size = total,
                    BackingFile = o.BackingFile ?? o.CreateOptions?.BackingFile,
                    BackingFormat = o.BackingFormat ?? o.CreateOptions?.BackingFormat,
                };
                dst = DiskImage.Create(o.Destination, co);
                // A new LUKS payload is zero ciphertext, which decrypts to noise: zeroes must be written.
                targetZero = (co.Preallocation != Preallocation.Full || o.DestinationFormat == ImageFormat.Qcow2) && o.DestinationFormat != ImageFormat.Luks;

                // Preallocated clusters of an encrypted qcow2 hold plaintext zeroes: noise once decrypted (as in qemu).
                targetZero &= !(co.Encrypted && co.Preallocation != Preallocation.Off);
                if (co.BackingFile is not null)
                {
                    targetZero = false;
                }
            }

            backing = dst.Backing;
            var conv = new Converter(o, sources, dst, backing, targetZero);
            await conv.CopyAsync(total, progress, ct).ConfigureAwait(false);
        }
        finally
        {
            dst?.Dispose();
            foreach (var s in sources)
            {
                s.Dispose();
            }
        }
    }

    private async ValueTask WriteZeroRangeAsync(long offset, long length, CancellationToken ct)
    {
        if (_targetZero && _newBacking is null)
        {
            return;
        }

        if (_newBacking is not null && await BackingIsZeroAsync(offset, length, ct).ConfigureAwait(false))
        {
            return;
        }

        await _dst.WriteZeroesAsync(offset, length, ct).ConfigureAwait(false);
    }

    private async ValueTask<bool> BackingIsZeroAsync(long offset, long length, CancellationToken ct)
    {
        var b = _newBacking!;
        long end = Math.Min(offset + length, b.VirtualSize);
        long pos = offset;
        while (pos < end)
        {
            var (s, l) = await ChainStatusAsync(b, pos, end - pos, ct).ConfigureAwait(false);
            if (s == BlockState.Data)
            {
                var tmp = new byte[(int)Math.Min(l, ChunkSize)];
                await b.ReadAsync(pos, tmp, ct).ConfigureAwait(false);
                if (tmp.AsSpan().ContainsAnyExcept((byte)0))
                {
                    return false;
                }

                l = tmp.Length;
            }

            pos += l;
        }

        return true;
    }

    private async ValueTask WriteDataAsync(long offset, ReadOnlyMemory<byte> data, int clusterSize, CancellationToken ct)
    {
        // Zero detection: runs of all-zero granules (at least -S bytes) are skipped or zeroed.
        int g = _o.SparseSize == 0 ? data.Length : (int)Math.Max(Math.Min(clusterSize, Math.Max(_o.SparseSize, 512)), 512);
        if (_o.SparseSize != 0 && _dst.Format == ImageFormat.Raw)
        {
            g = (int)Math.Max(512, _o.SparseSize);
        }

        int pos = 0;
        while (pos < data.Length)
        {
            int start = pos;
            bool zero = _o.SparseSize != 0 && IsZero(data.Span, pos, g, offset);
            int step = GranuleEnd(offset, pos, g, data.Length) - pos;
            pos += step;
            while (pos < data.Length && (_o.SparseSize != 0 && IsZero(data.Span, pos, g, offset)) == zero)
            {
                pos = GranuleEnd(offset, pos, g, data.Length);
            }

            if (zero)
            {
                await WriteZeroRangeAsync(offset + start, pos - start, ct).ConfigureAwait(false);
            }
            else
            {
                if (_newBacking is not null && await SameAsBackingAsync(offset + start, data.Slice(start, pos - start), ct).ConfigureAwait(false))
                {
                    continue;
                }

                await _dst.WriteAsync(offset + start, data.Slice(start, pos - start), ct).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask<bool> SameAsBackingAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var b = _newBacking!;
        if (offset + data.Length > b.VirtualSize)
        {
            return false;
        }

        var tmp = new byte[data.Length];
        await b.ReadAsync(offset, tmp, ct).ConfigureAwait(false);
        return tmp.AsSpan().SequenceEqual(data.Span);
    }

    private static int GranuleEnd(long baseOffset, int pos, int g, int length)
    {
        long abs = baseOffset + pos;
        long next = (abs / g + 1) * g;
        return (int)Math.Min(length, next - baseOffset);
    }

    private static bool IsZero(ReadOnlySpan<byte> span, int pos, int g, long baseOffset)
    {
        int end = GranuleEnd(baseOffset, pos, g, span.Length);
        return !span[pos..end].ContainsAnyExcept((byte)0);
    }
}
