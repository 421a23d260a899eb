using System.Collections.Concurrent;
using Microsoft.Win32.SafeHandles;
using Vireo.Images.Qcow2;
using Vireo.Images.Raw;

namespace Vireo.Images;

/// <summary>The reader half of convert and the pipeline joining it to the writer.</summary>
internal sealed partial class Converter
{
    /// <summary>
    /// One piece of the guest address space on its way from reader to writer: zeroes (no data), a pooled
    /// buffer, or a mapped window of a source file. With -c it also carries the compression in progress.
    /// </summary>
    private sealed class Chunk
    {
        public long Offset { get; init; }

        public int Length { get; init; }

        public byte[]? Buffer { get; init; }

        public HostMapping? Map { get; init; }

        public Task<PackedChunk>? Packed { get; set; }

        public bool IsZero => Buffer is null && Map is null;

        public ReadOnlyMemory<byte> Data => Map is not null ? Map.Memory[..Length] : Buffer.AsMemory(0, Length);
    }

    /// <summary>Where a range of the chain reads from: the layer holding data (null for zeroes) and its host offset.</summary>
    internal readonly record struct ChainExtent(BlockState State, long Length, IBlockImage? Layer, long Host, bool Compressed);

    /// <summary>Status through the whole chain: Data if any layer holds data, else Zero.</summary>
    internal static async ValueTask<(BlockState State, long Length)> ChainStatusAsync(IBlockImage img, long off, long len, CancellationToken ct)
    {
        var e = await ChainExtentAsync(img, off, len, ct).ConfigureAwait(false);
        return (e.State, e.Length);
    }

    internal static async ValueTask<ChainExtent> ChainExtentAsync(IBlockImage img, long off, long len, CancellationToken ct)
    {
        while (true)
        {
            var e = await img.GetBlockStatusAsync(off, len, ct).ConfigureAwait(false);
            switch (e.State)
            {
                case BlockState.Data:
                    return new ChainExtent(BlockState.Data, e.Length, img, e.HostOffset ?? -1, e.Compressed);
                case BlockState.Zero:
                    return new ChainExtent(BlockState.Zero, e.Length, null, -1, false);
            }

            var b = img.Backing;
            if (b is null || off >= b.VirtualSize)
            {
                return new ChainExtent(BlockState.Zero, e.Length, null, -1, false);
            }

            img = b;
            len = Math.Min(e.Length, b.VirtualSize - off);
        }
    }

    /// <summary>The file a data extent's host offset refers to, when it can be mapped directly.</summary>
    private static SafeFileHandle? MappableFile(in ChainExtent e) => e.Compressed || e.Host < 0 ? null : e.Layer switch
    {
        RawImage r => r.File,
        Qcow2Image q => q.DataHandle,
        _ => null,
    };

    /// <summary>
    /// The reader and the writer each run on a thread of their own with blocking hand-offs: every call
    /// underneath is synchronous positional I/O, and waking pool threads for each 2 MiB chunk cost more
    /// CPU (spinning workers) than the hand-off itself on a two-core host.
    /// </summary>
    private async Task CopyAsync(long total, IProgress<double>? progress, CancellationToken ct)
    {
        using var queue = new BlockingCollection<Chunk>(Buffers - 2);
        using var free = new BlockingCollection<byte[]>();
        for (int i = 0; i < Buffers; i++)
        {
            free.Add(new byte[ChunkSize]);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var reader = Task.Factory.StartNew(() => ReadAll(queue, free, stop.Token), stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var writer = Task.Factory.StartNew(() => WriteAll(queue, free, total, progress, stop.Token), stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            await writer.ConfigureAwait(false);
        }
        catch
        {
            // Stop the reader and release whatever it left queued (mapped windows above all).
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await reader.ConfigureAwait(false);
            }
            catch
            {
                // The writer's error is the one to report.
            }

            while (queue.TryTake(out var left))
            {
                left.Map?.Unmap();
            }

            throw;
        }

        await reader.ConfigureAwait(false);

        // No fsync at the end, as qemu-img convert (cache=unsafe for the target): callers that need
        // durability call FlushAsync on the image themselves.
    }

    private void WriteAll(BlockingCollection<Chunk> queue, BlockingCollection<byte[]> free, long total, IProgress<double>? progress, CancellationToken ct)
    {
        long done = 0;
        int cs = _dst is Qcow2Image q ? q.ClusterSize : 4096;
        foreach (var w in queue.GetConsumingEnumerable(ct))
        {
            try
            {
                if (w.IsZero)
                {
                    WriteZeroRangeAsync(w.Offset, w.Length, ct).AsTask().GetAwaiter().GetResult();
                }
                else if (w.Packed is not null)
                {
                    WritePacked((Qcow2Image)_dst, w, w.Packed.GetAwaiter().GetResult());
                }
                else
                {
                    WriteDataAsync(w.Offset, w.Data, cs, ct).AsTask().GetAwaiter().GetResult();
                }
            }
            finally
            {
                w.Map?.Unmap();
                if (w.Buffer is not null)
                {
                    free.Add(w.Buffer, CancellationToken.None);
                }
            }

            done += w.Length;
            progress?.Report(total == 0 ? 100 : done * 100.0 / total);
        }
    }

    private void ReadAll(BlockingCollection<Chunk> queue, BlockingCollection<byte[]> free, CancellationToken ct)
    {
        try
        {
            bool packed = _o.Compress && _dst is Qcow2Image;
            long baseOffset = 0;
            foreach (var src in _sources)
            {
                long pos = 0;
                while (pos < src.VirtualSize)
                {
                    ct.ThrowIfCancellationRequested();
                    var w = (packed
                        ? ReadWindowAsync(src, baseOffset, pos, free, ct)
                        : ReadExtentAsync(src, baseOffset, pos, free, ct)).AsTask().GetAwaiter().GetResult();
                    pos += w.Length;
                    try
                    {
                        queue.Add(w, ct);
                    }
                    catch
                    {
                        w.Map?.Unmap();
                        throw;
                    }
                }

                baseOffset += src.VirtualSize;
            }
        }
        finally
        {
            // The writer drains what is queued and stops; a reader error surfaces when the reader task is awaited.
            queue.CompleteAdding();
        }
    }

    /// <summary>The next extent from <paramref name="pos"/>: a long zero run, a mapped window, or data read into a buffer.</summary>
    private async ValueTask<Chunk> ReadExtentAsync(IBlockImage src, long baseOffset, long pos, BlockingCollection<byte[]> free, CancellationToken ct)
    {
        long want = Math.Min(ChunkSize, src.VirtualSize - pos);
        var e = await ChainExtentAsync(src, pos, want, ct).ConfigureAwait(false);
        long len = e.Length;
        if (e.State != BlockState.Data)
        {
            // Zero runs may be long: report them in one piece, up to 1 GiB.
            while (len < (1L << 30) && pos + len < src.VirtualSize)
            {
                var (s2, l2) = await ChainStatusAsync(src, pos + len, Math.Min(1L << 30, src.VirtualSize - pos - len), ct).ConfigureAwait(false);
                if (s2 == BlockState.Data)
                {
                    break;
                }

                len += l2;
            }

            return new Chunk { Offset = baseOffset + pos, Length = (int)Math.Min(len, int.MaxValue) };
        }

        if (len >= MinMapped && MappableFile(e) is { } file && HostMapping.TryMap(file, e.Host, (int)len) is { } map)
        {
            return new Chunk { Offset = baseOffset + pos, Length = (int)len, Map = map };
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

        var buf = free.Take(ct);
        await src.ReadAsync(pos, buf.AsMemory(0, (int)len), ct).ConfigureAwait(false);
        return new Chunk { Offset = baseOffset + pos, Length = (int)len, Buffer = buf };
    }

    /// <summary>
    /// With -c: whole chunk-aligned windows (so every cluster is whole), read if any part holds data, and
    /// handed to the thread pool to compress while earlier windows are written.
    /// </summary>
    private async ValueTask<Chunk> ReadWindowAsync(IBlockImage src, long baseOffset, long pos, BlockingCollection<byte[]> free, CancellationToken ct)
    {
        long len = Math.Min(ChunkSize - ((baseOffset + pos) % ChunkSize), src.VirtualSize - pos);
        bool data = false;
        for (long p = pos; p < pos + len && !data;)
        {
            var (s, l) = await ChainStatusAsync(src, p, pos + len - p, ct).ConfigureAwait(false);
            data = s == BlockState.Data;
            p += l;
        }

        if (!data)
        {
            // Skip long unallocated stretches in one chunk, ending on a window boundary so that the
            // windows after it stay cluster-aligned (a 1 TiB sparse image is half a million windows).
            long run = len;
            while (run < (1L << 30) && pos + run < src.VirtualSize)
            {
                var (s2, l2) = await ChainStatusAsync(src, pos + run, Math.Min(1L << 30, src.VirtualSize - pos - run), ct).ConfigureAwait(false);
                if (s2 == BlockState.Data)
                {
                    break;
                }

                run += l2;
            }

            long end = Math.Min(pos + run, src.VirtualSize);
            if (end < src.VirtualSize)
            {
                end = (((baseOffset + end) / ChunkSize) * ChunkSize) - baseOffset;
            }

            return new Chunk { Offset = baseOffset + pos, Length = (int)Math.Max(len, end - pos) };
        }

        var buf = free.Take(ct);
        await src.ReadAsync(pos, buf.AsMemory(0, (int)len), ct).ConfigureAwait(false);
        var c = new Chunk { Offset = baseOffset + pos, Length = (int)len, Buffer = buf };
        var q = (Qcow2Image)_dst;
        c.Packed = Task.Run(() => Pack(q, c.Offset, c.Data), ct);
        return c;
    }
}
