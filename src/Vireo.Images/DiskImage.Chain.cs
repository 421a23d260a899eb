using Vireo.Images.Qcow2;

namespace Vireo.Images;

/// <summary>Options for <see cref="DiskImage.Amend"/>, after qemu-img amend's <c>-o</c> keys (null: unchanged).</summary>
public sealed record AmendOptions
{
    /// <summary>2 (compat=0.10) or 3 (compat=1.1).</summary>
    public int? Version { get; init; }

    public bool? LazyRefcounts { get; init; }

    /// <summary>New backing file name as written in the header; "" removes it.</summary>
    public string? BackingFile { get; init; }

    public ImageFormat? BackingFormat { get; init; }
}

/// <summary>Backing chains: rebase, commit; and amend, which changes the header in place.</summary>
public static partial class DiskImage
{
    private const int ChainChunk = 1 << 20;

    /// <summary>
    /// qemu-img rebase. Safe mode first copies into the image every cluster it does not allocate itself and
    /// where the old and new backing chains differ, then rewrites the header; <paramref name="unsafeMode"/>
    /// (-u) only rewrites the header. <paramref name="newBacking"/> null or "" means no backing file.
    /// </summary>
    public static async Task RebaseAsync(string path, string? newBacking, ImageFormat? newBackingFormat, bool unsafeMode,
        ImageFormat? format = null, ImageOpenOptions? options = null, IProgress<double>? progress = null, CancellationToken ct = default)
    {
        var fmt = format ?? Probe(path);
        if (fmt != ImageFormat.Qcow2)
        {
            throw new ImageException($"'{path}': format 'raw' has no backing file to rebase");
        }

        string? name = string.IsNullOrEmpty(newBacking) ? null : newBacking;
        var keys = options ?? new ImageOpenOptions();
        using var top = (Qcow2Image)OpenLayer(path, fmt, false, keys with { NoBacking = unsafeMode }, [], 0, top: true);
        if (unsafeMode)
        {
            top.SetBacking(name, name is null ? null : newBackingFormat is { } uf ? FormatName(uf) : top.Header.BackingFormat);
            return;
        }

        IBlockImage? next = null;
        try
        {
            if (name is not null)
            {
                next = Open(ResolveRelative(path, name), newBackingFormat, readOnly: true, BelowTop(keys));
            }

            RefuseLocked(top, next);

            await CopyBackingDifferencesAsync(top, next, progress, ct).ConfigureAwait(false);
            top.SetBacking(name, next is null ? null : FormatName(next.Format));
        }
        finally
        {
            next?.Dispose();
        }
    }

    /// <summary>Writes into <paramref name="top"/> the clusters it leaves to its backing chain where the new chain reads differently.</summary>
    private static async Task CopyBackingDifferencesAsync(Qcow2Image top, IBlockImage? next, IProgress<double>? progress, CancellationToken ct)
    {
        int cs = top.ClusterSize;
        var oldBuf = new byte[ChainChunk];
        var newBuf = new byte[ChainChunk];
        long size = top.VirtualSize;
        for (long pos = 0; pos < size;)
        {
            ct.ThrowIfCancellationRequested();
            var e = await top.GetBlockStatusAsync(pos, Math.Min(ChainChunk, size - pos), ct).ConfigureAwait(false);
            if (e.State != BlockState.Unallocated)
            {
                pos += e.Length;
                continue;
            }

            // Whole clusters only (an unallocated extent is cluster aligned except at the image's end).
            int len = (int)e.Length;
            var o = oldBuf.AsMemory(0, len);
            var n = newBuf.AsMemory(0, len);
            await top.ReadAsync(pos, o, ct).ConfigureAwait(false);
            n.Span.Clear();
            if (next is not null && pos < next.VirtualSize)
            {
                await next.ReadAsync(pos, n[..(int)Math.Min(len, next.VirtualSize - pos)], ct).ConfigureAwait(false);
            }

            for (int c = 0; c < len;)
            {
                int step = Math.Min(cs - (int)((pos + c) % cs), len - c);
                if (o.Span.Slice(c, step).SequenceEqual(n.Span.Slice(c, step)))
                {
                    c += step;
                    continue;
                }

                int run = c;
                while (run < len && !o.Span.Slice(run, Math.Min(cs - (int)((pos + run) % cs), len - run)).SequenceEqual(n.Span.Slice(run, Math.Min(cs - (int)((pos + run) % cs), len - run))))
                {
                    run += Math.Min(cs - (int)((pos + run) % cs), len - run);
                }

                await top.WriteAsync(pos + c, o[c..run], ct).ConfigureAwait(false);
                c = run;
            }

            pos += len;
            progress?.Report(pos * 100.0 / size);
        }
    }

    /// <summary>qemu-img amend -o: compat, lazy_refcounts, backing_file, backing_fmt.</summary>
    public static void Amend(string path, AmendOptions options, ImageFormat? format = null)
    {
        var fmt = format ?? Probe(path);
        using var img = OpenLayer(path, fmt, false, new ImageOpenOptions { NoBacking = true }, [], 0, top: true);
        if (img is not Qcow2Image q)
        {
            throw new ImageException("Format driver 'raw' does not support option amendment");
        }

        // Order matters: lazy refcounts off before a downgrade, on only after an upgrade.
        if (options.LazyRefcounts == false && q.Header.Version == 3)
        {
            q.SetLazyRefcounts(false);
        }

        switch (options.Version)
        {
            case 3:
                q.UpgradeToV3();
                break;
            case 2:
                q.DowngradeToV2();
                break;
        }

        if (options.LazyRefcounts == true)
        {
            q.SetLazyRefcounts(true);
        }

        if (options.BackingFile is not null || options.BackingFormat is not null)
        {
            string? file = options.BackingFile ?? q.Header.BackingFile;
            string? bfmt = options.BackingFormat is { } f ? FormatName(f) : q.Header.BackingFormat;
            if (string.IsNullOrEmpty(file) && options.BackingFormat is not null)
            {
                throw new ImageException("backing_fmt given without a backing file");
            }

            q.SetBacking(file, bfmt);
        }
    }

    /// <summary>
    /// qemu-img dd: copies input bytes [skip×bs, min(count×bs, input size)) into a new image (qemu counts
    /// count from the start of the input, skip included).
    /// </summary>
    public static async Task DdAsync(string input, ImageFormat? inputFormat, string output, ImageFormat outputFormat,
        long blockSize, long? count, long skip, ImageOpenOptions? options = null, CancellationToken ct = default)
    {
        if (blockSize <= 0)
        {
            throw new ImageException($"invalid bs={blockSize}: must be positive");
        }

        if (skip < 0 || count < 0)
        {
            throw new ImageException("invalid count or skip: must not be negative");
        }

        using var src = Open(input, inputFormat, readOnly: true, options);
        RefuseLocked(src);
        long size = src.VirtualSize;
        if (count is { } c && c <= long.MaxValue / blockSize && c * blockSize < size)
        {
            size = c * blockSize;
        }

        long start = skip > long.MaxValue / blockSize ? long.MaxValue : skip * blockSize;
        long outSize = start > size ? 0 : size - start;
        using var dst = Create(output, new ImageCreateOptions { Format = outputFormat, Size = outSize });
        var buf = new byte[ChainChunk];
        for (long p = 0; p < outSize;)
        {
            ct.ThrowIfCancellationRequested();
            int n = (int)Math.Min(buf.Length, outSize - p);
            var (state, len) = await Converter.ChainStatusAsync(src, start + p, n, ct).ConfigureAwait(false);
            if (state != BlockState.Data)
            {
                p += len;
                continue;
            }

            n = (int)Math.Min(n, len);
            await src.ReadAsync(start + p, buf.AsMemory(0, n), ct).ConfigureAwait(false);
            if (buf.AsSpan(0, n).ContainsAnyExcept((byte)0))
            {
                await dst.WriteAsync(p, buf.AsMemory(0, n), ct).ConfigureAwait(false);
            }

            p += n;
        }
    }
}
