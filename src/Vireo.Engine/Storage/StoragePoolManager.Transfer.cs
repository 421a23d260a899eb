using Vireo.Engine.State;
using Vireo.Images;
using Vireo.Model;
using Vireo.Model.Storage;

namespace Vireo.Engine.Storage;

public sealed partial class StoragePoolManager
{
    private const int ChunkSize = 4 * 1024 * 1024;

    /// <summary>vol-clone: a full copy of <paramref name="source"/> in its pool under <paramref name="newName"/>, same format.</summary>
    public Task<VolumeInfo> CloneVolumeAsync(VolumeInfo source, string newName, IProgress<double>? progress = null, CancellationToken ct = default)
    {
        EnsureReady();
        var def = ActiveDefinition(source.Pool);
        string xml = new StorageVolumeDefinition
        {
            Type = source.Type,
            Name = ObjectName.Validate(newName, $"storage pool '{source.Pool}': volume"),
            Capacity = source.Capacity,
            Format = PoolDriver.For(def).FileVolumes ? source.DiskFormat : null,
        }.ToXml();
        return CreateVolumeFromAsync(source.Pool, xml, source, false, progress, ct);
    }

    /// <summary>
    /// vol-create-from: a new volume in <paramref name="pool"/> as <paramref name="xml"/> describes it (capacity
    /// defaults to the source's), holding a full copy of <paramref name="source"/>'s guest data.
    /// </summary>
    public async Task<VolumeInfo> CreateVolumeFromAsync(string pool, string xml, VolumeInfo source, bool preallocMetadata = false,
        IProgress<double>? progress = null, CancellationToken ct = default)
    {
        EnsureReady();
        var def = ActiveDefinition(pool);
        var vol = StorageVolumeDefinition.Parse(xml, def.Type, capacityOptional: true);
        long capacity = Math.Max(vol.Capacity ?? source.Capacity, source.Capacity);
        using var locks = LockPools(pool, source.Pool);
        def = ActiveDefinition(pool);
        var driver = PoolDriver.For(def);
        CheckNewVolume(def, driver, vol.Name, capacity);
        string path = driver.VolumePath(def, vol.Name);
        string format = driver.FileVolumes ? CheckCreatableFormat(pool, vol.Name, vol.Format ?? "raw") : "raw";
        bool created = false;
        try
        {
            if (driver.FileVolumes)
            {
                await VolumeImages.CopyAsync(source.Path, source.DiskFormat, path, format, destinationExists: false, progress, ct).ConfigureAwait(false);
                created = true;
                if (capacity > source.Capacity)
                {
                    VolumeImages.Resize(path, format, capacity);
                }
            }
            else
            {
                driver.CreateBlockVolume(def, vol.Name, capacity);
                created = true;
                await VolumeImages.CopyAsync(source.Path, source.DiskFormat, path, "raw", destinationExists: true, progress, ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is VireoException or IOException or OperationCanceledException)
        {
            // A half-copied volume is worse than none.
            if (driver.FileVolumes)
            {
                if (created || File.Exists(path))
                {
                    TryDelete(path);
                }
            }
            else if (created && driver.FindVolume(def, vol.Name) is { } half)
            {
                driver.DeleteVolume(def, half);
            }

            if (e is VireoException or OperationCanceledException)
            {
                throw;
            }

            throw new VireoException(ErrorKind.OperationFailed, $"storage pool '{pool}': volume '{vol.Name}': copy from '{source.Path}' failed: {e.Message}", e);
        }

        return driver.FindVolume(def, vol.Name) ?? throw new VireoException(ErrorKind.OperationFailed, $"storage pool '{pool}': volume '{vol.Name}' vanished after creation");
    }

    /// <summary>vol-wipe: makes every guest-visible byte read as zero (holes where the file system allows).</summary>
    public async Task WipeVolumeAsync(VolumeInfo volume, string? algorithm = null, IProgress<double>? progress = null, CancellationToken ct = default)
    {
        EnsureReady();
        if (algorithm is not (null or "zero"))
        {
            throw VireoException.Unsupported($"storage pool '{volume.Pool}': volume '{volume.Name}': wipe algorithm '{algorithm}' is not supported (zero)");
        }

        using var l = _store.Lock(volume.Pool);
        var v = Current(volume);
        CheckNotInUse(v, "wipe");
        await using var img = VolumeImages.Open(v.Path, v.DiskFormat, readOnly: false);
        for (long off = 0; off < img.VirtualSize; off += 1L << 30)
        {
            long n = Math.Min(1L << 30, img.VirtualSize - off);
            await img.WriteZeroesAsync(off, n, ct).ConfigureAwait(false);
            progress?.Report((double)(off + n) / img.VirtualSize);
        }

        await img.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// vol-upload: writes <paramref name="input"/> into the volume at <paramref name="offset"/>. The bytes are the
    /// volume file's, as in libvirt (a qcow2 image uploaded into a qcow2 volume becomes that volume); raw data
    /// uploaded into a qcow2 volume is written as the guest's disk content instead of wrecking the header.
    /// </summary>
    public async Task<long> UploadVolumeAsync(VolumeInfo volume, Stream input, long offset = 0, long? length = null, bool sparse = false,
        IProgress<double>? progress = null, CancellationToken ct = default)
    {
        EnsureReady();
        string what = $"storage pool '{volume.Pool}': volume '{volume.Name}'";
        if (offset < 0 || length < 0)
        {
            throw VireoException.Invalid($"{what}: offset and length must not be negative");
        }

        using var l = _store.Lock(volume.Pool);
        var v = Current(volume);
        CheckNotInUse(v, "upload into");
        long available = input.CanSeek ? input.Length - input.Position : long.MaxValue;
        long total = Math.Min(length ?? long.MaxValue, available);
        var buffer = new byte[ChunkSize];
        int first = await ReadFullAsync(input, buffer.AsMemory(0, (int)Math.Min(buffer.Length, total)), ct).ConfigureAwait(false);
        bool replaceImage = false;
        if (v.DiskFormat == "qcow2" && offset == 0 && VolumeImages.LooksLikeQcow2(buffer.AsSpan(0, first), out bool hasBacking))
        {
            if (hasBacking)
            {
                // Its backing file name would make the guest read some host file: refuse rather than trust it.
                throw VireoException.Invalid($"{what}: the uploaded qcow2 image names a backing file; flatten it first (vireo img convert)");
            }

            if (!input.CanSeek || length is not null)
            {
                throw VireoException.Invalid($"{what}: a qcow2 image must be uploaded whole from a file (no --length)");
            }

            replaceImage = true;
        }

        bool hostBytes = v.DiskFormat == "raw" || replaceImage;
        if (hostBytes && v.Type == "file" && total != long.MaxValue)
        {
            // The volume file takes the upload's size where it reaches further (libvirt grows it too).
            long end = offset + total;
            using var fs = new FileStream(v.Path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            if (replaceImage)
            {
                fs.SetLength(0);
            }

            if (fs.Length < end || replaceImage)
            {
                fs.SetLength(end);
            }
        }

        await using var img = VolumeImages.Open(v.Path, hostBytes ? "raw" : v.DiskFormat, readOnly: false);
        if (total == long.MaxValue)
        {
            total = img.VirtualSize - offset;
        }

        if (offset + total > img.VirtualSize)
        {
            throw VireoException.Invalid($"{what}: {total} bytes at offset {offset} do not fit in its {img.VirtualSize} bytes (vol-resize it first)");
        }

        // Two buffers: the next chunk is read from the input while the current one is written.
        var spare = new byte[ChunkSize];
        long done = 0;
        int n = first;
        while (n > 0)
        {
            long remaining = total - done - n;
            var next = remaining > 0
                ? ReadFullAsync(input, spare.AsMemory(0, (int)Math.Min(spare.Length, remaining)), ct)
                : ValueTask.FromResult(0);
            await WriteChunkAsync(img, offset + done, buffer.AsMemory(0, n), sparse, replaceImage, ct).ConfigureAwait(false);
            done += n;
            progress?.Report(total == 0 ? 1 : (double)done / total);
            n = await next.ConfigureAwait(false);
            (buffer, spare) = (spare, buffer);
        }

        if (!hostBytes)
        {
            // Guest writes into a qcow2 volume: its metadata must reach the file. Host bytes are left to the page
            // cache, as qemu-img convert leaves them (it never syncs either).
            await img.FlushAsync(ct).ConfigureAwait(false);
        }

        return done;
    }

    /// <summary>
    /// vol-download: the volume file's bytes (a qcow2 volume downloads as a qcow2 image, as in libvirt). With
    /// <paramref name="sparse"/> and a seekable output, unallocated ranges are skipped, leaving holes.
    /// </summary>
    public async Task<long> DownloadVolumeAsync(VolumeInfo volume, Stream output, long offset = 0, long? length = null, bool sparse = false,
        IProgress<double>? progress = null, CancellationToken ct = default)
    {
        EnsureReady();
        string what = $"storage pool '{volume.Pool}': volume '{volume.Name}'";
        var v = Current(volume);
        await using var img = VolumeImages.Open(v.Path, "raw", readOnly: true);
        if (offset < 0 || offset > img.VirtualSize || length < 0)
        {
            throw VireoException.Invalid($"{what}: offset {offset} is outside its {img.VirtualSize} bytes");
        }

        long total = Math.Min(length ?? long.MaxValue, img.VirtualSize - offset);
        long start = output.CanSeek ? output.Position : 0;
        var buffer = new byte[ChunkSize];
        long done = 0;
        while (done < total)
        {
            var ext = await img.GetBlockStatusAsync(offset + done, Math.Min(total - done, 1L << 30), ct).ConfigureAwait(false);
            long run = Math.Min(ext.Length, total - done);
            if (run <= 0)
            {
                run = Math.Min(buffer.Length, total - done);
            }

            if (ext.State != BlockState.Data && sparse && output.CanSeek)
            {
                output.Seek(run, SeekOrigin.Current);
                done += run;
            }
            else
            {
                long end = done + run;
                while (done < end)
                {
                    int n = (int)Math.Min(buffer.Length, end - done);
                    await img.ReadAsync(offset + done, buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                    await output.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                    done += n;
                }
            }

            progress?.Report(total == 0 ? 1 : (double)done / total);
        }

        if (output.CanSeek && output.Length < start + total)
        {
            // Trailing holes: give the file its full length.
            output.SetLength(start + total);
        }

        await output.FlushAsync(ct).ConfigureAwait(false);
        return done;
    }

    private VolumeInfo Current(VolumeInfo volume)
    {
        var def = ActiveDefinition(volume.Pool);
        return PoolDriver.For(def).FindVolume(def, volume.Name)
            ?? throw VireoException.NotFound($"storage pool '{volume.Pool}': volume '{volume.Name}' not found");
    }

    /// <summary>Locks one or two pools, always in name order so two copies in opposite directions cannot deadlock.</summary>
    private Locks LockPools(string a, string b)
    {
        var names = new[] { a, b }.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var held = new List<ObjectLock>();
        try
        {
            foreach (var n in names)
            {
                held.Add(_store.Lock(n));
            }
        }
        catch
        {
            held.ForEach(h => h.Dispose());
            throw;
        }

        return new Locks(held);
    }

    private sealed class Locks(List<ObjectLock> held) : IDisposable
    {
        public void Dispose()
        {
            for (int i = held.Count - 1; i >= 0; i--)
            {
                held[i].Dispose();
            }
        }
    }

    private static async ValueTask<int> ReadFullAsync(Stream s, Memory<byte> buffer, CancellationToken ct)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = await s.ReadAsync(buffer[total..], ct).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    private static bool IsZero(ReadOnlySpan<byte> data) => !data.ContainsAnyExcept((byte)0);

    /// <summary>
    /// Writes one chunk of an upload in runs of 64 KiB blocks: data runs are written, zero runs become holes
    /// (sparse), are skipped (a fresh replacement already reads as zero) or are written as zeroes.
    /// </summary>
    private static async ValueTask WriteChunkAsync(IBlockImage img, long at, ReadOnlyMemory<byte> chunk, bool sparse, bool targetIsZero, CancellationToken ct)
    {
        const int Block = 64 * 1024;
        int pos = 0;
        while (pos < chunk.Length)
        {
            bool zero = IsZero(chunk.Span.Slice(pos, Math.Min(Block, chunk.Length - pos)));
            int end = pos + Block;
            while (end < chunk.Length && IsZero(chunk.Span.Slice(end, Math.Min(Block, chunk.Length - end))) == zero)
            {
                end += Block;
            }

            end = Math.Min(end, chunk.Length);
            var run = chunk[pos..end];
            if (!zero || (!sparse && !targetIsZero))
            {
                await img.WriteAsync(at + pos, run, ct).ConfigureAwait(false);
            }
            else if (!targetIsZero)
            {
                await img.WriteZeroesAsync(at + pos, run.Length, ct).ConfigureAwait(false);
            }

            pos = end;
        }
    }
}
