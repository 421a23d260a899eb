using System.Buffers.Binary;
using Vireo.Model;

namespace Vireo.Engine.Storage;

/// <summary>What storage needs to know about one image file.</summary>
internal sealed record ImageFacts(string Format, long VirtualSize, string? BackingPath, string? BackingFormat, string? Compat, bool LazyRefcounts);

/// <summary>How to make a new volume's image.</summary>
internal sealed record VolumeCreateSpec
{
    public required string Format { get; init; }

    public required long Capacity { get; init; }

    /// <summary>Bytes to reserve up front (raw: fallocate); null means the capacity.</summary>
    public long? Allocation { get; init; }

    public bool PreallocMetadata { get; init; }

    public string? BackingPath { get; init; }

    public string? BackingFormat { get; init; }

    public string? Compat { get; init; }

    public bool LazyRefcounts { get; init; }
}

/// <summary>
/// Storage's one door to the image engine (Vireo.Images): every image a volume holds is created, inspected,
/// copied, resized and read or written through here, never by running qemu-img.
/// </summary>
internal static partial class VolumeImages
{
    private static ReadOnlySpan<byte> Qcow2Magic => [0x51, 0x46, 0x49, 0xfb];

    public static ImageFacts Inspect(string path, string pool, string volume)
    {
        try
        {
            return InspectCore(path);
        }
        catch (IOException e)
        {
            throw new VireoException(ErrorKind.Corrupt, $"storage pool '{pool}': volume '{volume}': cannot read image '{path}': {e.Message}");
        }
    }

    /// <summary>Whether a buffer starts like a qcow2 image, and whether that image names a backing file.</summary>
    public static bool LooksLikeQcow2(ReadOnlySpan<byte> head, out bool hasBacking)
    {
        hasBacking = false;
        if (head.Length < 20 || !head[..4].SequenceEqual(Qcow2Magic))
        {
            return false;
        }

        hasBacking = BinaryPrimitives.ReadUInt64BigEndian(head[8..]) != 0;
        return true;
    }
}
