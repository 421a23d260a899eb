using System.Threading.Channels;
using Vireo.Images.Qcow2;

namespace Vireo.Images;

/// <summary>
/// qemu-img convert: a reader walks the source chain by block status (holes and zero clusters are never
/// read), a writer detects zeroes in what was read and writes only the rest, in large runs. The two overlap
/// through a small bounded queue, so memory stays flat whatever the image size.
/// </summary>
internal sealed class Converter
{
    private const int ChunkSize = 2 * 1024 * 1024;
    private const int Buffers = 6;

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

    private readonly record struct Work(long Offset, int Length, byte[]? Buffer);

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

        var sources = new List<IBlockImage>();
        IBlockImage? dst = null;
        IBlockImage? backing = null;
        try
        {
            foreach (var s in o.Sources)
            {
                sources.Add(DiskImage.Open(s, o.SourceFormat, readOnly: true));
            }

            long total = sources.Sum(s => s.VirtualSize);
            bool targetZero;
            if (o.NoCreate)
            {
                dst = DiskImage.Open(o.Destination, o.DestinationFormat, options: new ImageOpenOptions { NoBacking = o.BackingFile is null });
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
                targetZero = co.Preallocation != Preallocation.Full || o.DestinationFormat == ImageFormat.Qcow2;
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

    private async Task CopyAsync(long total, IProgress<double>? progress, CancellationToken ct)
    {
        var queue = Channel.CreateBounded<Work>(new BoundedChannelOptions(Buffers - 2) { SingleReader = true, SingleWriter = true });
        var free = Channel.CreateUnbounded<byte[]>();
        for (int i = 0; i < Buffers; i++)
        {
            free.Writer.TryWrite(new byte[ChunkSize]);
        }

        var reader = Task.Run(() => ReadAllAsync(queue.Writer, free.Reader, ct), ct);
        long done = 0;
        int cs = _dst is Qcow2Image q ? q.ClusterSize : 4096;
        await foreach (var w in queue.Reader.ReadAllAsync(ct).ConfigureAwait(false))
        {
            if (w.Buffer is null)
            {
                await WriteZeroRangeAsync(w.Offset, w.Length, ct).ConfigureAwait(false);
            }
            else
            {
                await WriteDataAsync(w.Offset, w.Buffer.AsMemory(0, w.Length), cs, ct).ConfigureAwait(false);
                free.Writer.TryWrite(w.Buffer);
            }

            done += w.Length;
            progress?.Report(total == 0 ? 100 : done * 100.0 / total);
        }

        await reader.ConfigureAwait(false);

        // No fsync at the end, as qemu-img convert (cache=unsafe for the target): callers that need
        // durability call FlushAsync on the image themselves.
    }

    private async Task ReadAllAsync(ChannelWriter<Work> queue, ChannelReader<byte[]> free, CancellationToken ct)
    {
        try
        {
            long baseOffset = 0;
            foreach (var src in _sources)
            {
                long pos = 0;
                while (pos < src.VirtualSize)
                {
                    ct.ThrowIfCancellationRequested();
                    long want = Math.Min(ChunkSize, src.VirtualSize - pos);
                    var (state, len) = await ChainStatusAsync(src, pos, want, ct).ConfigureAwait(false);
                    if (state != BlockState.Data)
                    {
                        // Zero runs may be long: report them in one piece, up to 1 GiB.
                        long zlen = len;
                        while (zlen < (1L << 30) && pos + zlen < src.VirtualSize)
                        {
                            var (s2, l2) = await ChainStatusAsync(src, pos + zlen, Math.Min(1L << 30, src.VirtualSize - pos - zlen), ct).ConfigureAwait(false);
                            if (s2 == BlockState.Data)
                            {
                                break;
                            }

                            zlen += l2;
                        }

                        await queue.WriteAsync(new Work(baseOffset + pos, (int)Math.Min(zlen, int.MaxValue), null), ct).ConfigureAwait(false);
                        pos += Math.Min(zlen, int.MaxValue);
                        continue;
                    }

                    // Read whole data runs up to the chunk size.
                    while (len < want)
                    {
                        var (s2, l2) = await ChainStatusAsync(src, pos + len, want - len, ct).ConfigureAwait(false);
                        if (s2 != BlockState.Data)
                        {
                            break;
                        }

                        len += l2;
                    }

                    var buf = await free.ReadAsync(ct).ConfigureAwait(false);
                    await src.ReadAsync(pos, buf.AsMemory(0, (int)len), ct).ConfigureAwait(false);
                    await queue.WriteAsync(new Work(baseOffset + pos, (int)len, buf), ct).ConfigureAwait(false);
                    pos += len;
                }

                baseOffset += src.VirtualSize;
            }

            queue.Complete();
        }
        catch (Exception e)
        {
            queue.Complete(e);
            throw;
        }
    }

    /// <summary>Status through the whole chain: Data if any layer holds data, else Zero.</summary>
    internal static async ValueTask<(BlockState State, long Length)> ChainStatusAsync(IBlockImage img, long off, long len, CancellationToken ct)
    {
        var e = await img.GetBlockStatusAsync(off, len, ct).ConfigureAwait(false);
        if (e.State != BlockState.Unallocated)
        {
            return (e.State, e.Length);
        }

        var b = img.Backing;
        if (b is null || off >= b.VirtualSize)
        {
            return (BlockState.Zero, e.Length);
        }

        return await ChainStatusAsync(b, off, Math.Min(e.Length, b.VirtualSize - off), ct).ConfigureAwait(false);
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
        if (_o.Compress && _dst is Qcow2Image q)
        {
            WriteCompressed(q, offset, data);
            return;
        }

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

    private void WriteCompressed(Qcow2Image q, long offset, ReadOnlyMemory<byte> data)
    {
        int cs = q.ClusterSize;
        long first = offset & ~(long)(cs - 1);
        if (first != offset || (data.Length % cs != 0 && offset + data.Length != q.VirtualSize))
        {
            // Unaligned pieces (only at a size that is not a cluster multiple): store them plainly.
            q.Write(offset, data);
            return;
        }

        int n = (data.Length + cs - 1) / cs;
        var results = new (int Index, byte[] Data, int Length)[n];
        var type = q.Header.CompressionType;
        Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            var src = data.Span.Slice(i * cs, Math.Min(cs, data.Length - (i * cs)));
            if (!src.ContainsAnyExcept((byte)0))
            {
                results[i] = (i, [], 0);
                return;
            }

            var dst = new byte[cs];
            if (src.Length < cs)
            {
                var full = new byte[cs];
                src.CopyTo(full);
                src = full;
            }

            int len = ClusterCompression.Compress(type, src, dst);
            results[i] = len < 0 ? (i, src.ToArray(), -1) : (i, dst, len);
        });

        // One L2 table at a time: compressed ones packed together, incompressible ones written plainly.
        long perTable = 1L << (q.ClusterBits + q.L2Bits);
        var batch = new List<(int Index, byte[] Data, int Length)>();
        long batchBase = -1;
        for (int i = 0; i < n; i++)
        {
            long guest = offset + ((long)i * cs);
            var r = results[i];
            if (r.Length == 0)
            {
                if (!_targetZero)
                {
                    q.WriteZeroesAsync(guest, Math.Min(cs, q.VirtualSize - guest)).AsTask().GetAwaiter().GetResult();
                }

                continue;
            }

            if (r.Length < 0)
            {
                q.Write(guest, r.Data.AsMemory(0, (int)Math.Min(cs, q.VirtualSize - guest)));
                continue;
            }

            long tableBase = guest & ~(perTable - 1);
            if (batchBase != tableBase && batch.Count > 0)
            {
                q.WriteCompressed(batchBase, batch);
                batch.Clear();
            }

            batchBase = tableBase;
            batch.Add(((int)((guest - tableBase) / cs), r.Data, r.Length));
        }

        if (batch.Count > 0)
        {
            q.WriteCompressed(batchBase, batch);
        }
    }
}
