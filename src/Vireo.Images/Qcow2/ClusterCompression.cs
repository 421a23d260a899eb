namespace Vireo.Images.Qcow2;

/// <summary>
/// Compressed clusters (spec "Compressed Clusters Descriptor"): zlib type is raw deflate with a 4 KiB
/// window, zstd type one zstd frame; decompression stops once a whole cluster has been produced (trailing
/// bytes are ignored).
/// </summary>
internal static class ClusterCompression
{
    public static void Decompress(CompressionType type, ReadOnlySpan<byte> src, Span<byte> dst, string path)
    {
        int n = type == CompressionType.Zstd ? ZstdNative.Decompress(src, dst) : ZlibNative.Decompress(src, dst);
        if (n != dst.Length)
        {
            throw ImageException.Corrupt(path, n < 0 ? "compressed cluster does not decompress" : $"compressed cluster decompresses to {n} bytes, not {dst.Length}");
        }
    }

    /// <summary>Compresses one cluster into <paramref name="dst"/>; returns the length, or -1 when it would not save a sector.</summary>
    public static int Compress(CompressionType type, ReadOnlySpan<byte> src, Span<byte> dst)
    {
        int limit = Math.Min(dst.Length, src.Length - 512);
        if (limit <= 0)
        {
            return -1;
        }

        if (LikelyIncompressible(src))
        {
            return -1;
        }

        if (type == CompressionType.Zstd)
        {
            return ZstdNative.Compress(src, dst[..limit]);
        }

        // zlib-ng at level 4 where present (qemu-img's output size, much less CPU); else the system zlib at
        // level 1, fastest there but about 3 % larger than qemu-img's level 6.
        return ZlibNg.Available ? ZlibNg.Compress(src, dst[..limit], ZlibNg.Level) : ZlibNative.Compress(src, dst[..limit], 1);
    }

    private const int Sample = 2048;

    /// <summary>
    /// Early abort, as btrfs and ZFS do: deflating an incompressible cluster (encrypted or already compressed
    /// data) costs as much as a compressible one and is then thrown away. Three small samples — start,
    /// middle, end — are deflated first; when none of them shrinks, the cluster is stored plainly. This can
    /// only cost compression ratio on odd clusters (random at all three spots, repetitive elsewhere), never
    /// correctness, and makes -c on mixed images several times cheaper.
    /// </summary>
    private static bool LikelyIncompressible(ReadOnlySpan<byte> src)
    {
        if (src.Length < 16 * Sample)
        {
            return false;
        }

        Span<byte> tmp = stackalloc byte[Sample - 32];
        ReadOnlySpan<int> at = [0, (src.Length / 2) - (Sample / 2), src.Length - Sample];
        foreach (int o in at)
        {
            if (ZlibNative.Compress(src.Slice(o, Sample), tmp, 1) >= 0)
            {
                return false;
            }
        }

        return true;
    }
}
