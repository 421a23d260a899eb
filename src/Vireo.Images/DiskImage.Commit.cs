using Vireo.Images.Qcow2;
using Vireo.Images.Raw;

namespace Vireo.Images;

/// <summary>qemu-img commit, into the immediate backing file or any deeper base of the chain.</summary>
public static partial class DiskImage
{
    /// <summary>
    /// qemu-img commit: writes everything the image and the layers between it and the base allocate (data and
    /// zeroes, the upper layer winning) into the base, flushes the base, then, unless <paramref name="keep"/>
    /// (-d), empties the image so it reads through to the updated backing file. <paramref name="baseImage"/>
    /// (-b) names any image of the backing chain, as written in the chain or relative to the image's
    /// directory; as in qemu-img, -b implies -d (the top and the intermediate images are left as they were,
    /// and the intermediates no longer agree with the base, as qemu-img documents).
    /// </summary>
    public static async Task CommitAsync(string path, ImageFormat? format = null, string? baseImage = null, bool keep = false,
        ImageOpenOptions? options = null, IProgress<double>? progress = null, CancellationToken ct = default)
    {
        var fmt = format ?? Probe(path);
        var keys = options ?? new ImageOpenOptions();
        using var chain = OpenLayer(path, fmt, true, keys, [], 0, top: true);
        if (chain is not Qcow2Image q || q.Header.BackingFile is null || chain.Backing is null)
        {
            throw new ImageException("Image does not have a backing file");
        }

        // The layers above the base, top first; the base is found by name as qemu's bdrv_find_backing_image does.
        var above = new List<IBlockImage> { chain };
        IBlockImage baseLayer = chain.Backing;
        string? baseFormat = q.Header.BackingFormat;
        if (baseImage is not null)
        {
            string wanted = Path.GetFullPath(ResolveRelative(path, baseImage));
            while (true)
            {
                string? written = above[^1] is Qcow2Image upper ? upper.Header.BackingFile : null;
                if (written == baseImage || Path.GetFullPath(baseLayer.Path) == wanted)
                {
                    break;
                }

                if (baseLayer.Backing is null || baseLayer is not Qcow2Image next)
                {
                    throw new ImageException($"Did not find '{baseImage}' in the backing chain of '{path}'");
                }

                above.Add(baseLayer);
                baseFormat = next.Header.BackingFormat;
                baseLayer = baseLayer.Backing;
            }

            keep = true;
        }

        long size = chain.VirtualSize;
        using (var b = Open(baseLayer.Path, baseFormat is null ? baseLayer.Format : ParseFormat(baseFormat), options: BelowTop(keys)))
        {
            RefuseLocked(chain, b);
            if (b.VirtualSize < size)
            {
                switch (b)
                {
                    case Qcow2Image bq:
                        bq.Resize(size);
                        break;
                    case RawImage br:
                        br.Resize(size);
                        break;
                }
            }

            var buf = new byte[ChainChunk];
            for (long pos = 0; pos < size;)
            {
                ct.ThrowIfCancellationRequested();
                var (state, len) = await AboveBaseStatusAsync(above, pos, Math.Min(ChainChunk, size - pos), ct).ConfigureAwait(false);
                if (state == BlockState.Data)
                {
                    // Read through the whole chain: the uppermost layer that holds a byte wins, as the guest sees it.
                    var m = buf.AsMemory(0, (int)len);
                    await chain.ReadAsync(pos, m, ct).ConfigureAwait(false);
                    await b.WriteAsync(pos, m, ct).ConfigureAwait(false);
                }
                else if (state == BlockState.Zero)
                {
                    await b.WriteZeroesAsync(pos, len, ct).ConfigureAwait(false);
                }

                pos += len;
                progress?.Report(pos * 100.0 / size);
            }

            // The base must hold the data before the top lets go of it.
            await b.FlushAsync(ct).ConfigureAwait(false);
        }

        if (!keep)
        {
            // A second, writable handle: the read-only chain above is done with and never reads again.
            using var top = (Qcow2Image)OpenLayer(path, fmt, false, keys with { NoBacking = true }, [], 0, top: true);
            top.MakeEmpty();
        }
    }

    /// <summary>The state of a range in the layers above the base: the first layer that allocates it decides.</summary>
    private static async ValueTask<(BlockState State, long Length)> AboveBaseStatusAsync(List<IBlockImage> above, long pos, long len, CancellationToken ct)
    {
        foreach (var layer in above)
        {
            if (pos >= layer.VirtualSize)
            {
                // Past a shorter layer's end the guest reads zeroes, whatever lies below.
                return (BlockState.Zero, len);
            }

            var e = await layer.GetBlockStatusAsync(pos, Math.Min(len, layer.VirtualSize - pos), ct).ConfigureAwait(false);
            if (e.State != BlockState.Unallocated)
            {
                return (e.State, e.Length);
            }

            len = e.Length;
        }

        return (BlockState.Unallocated, len);
    }
}
