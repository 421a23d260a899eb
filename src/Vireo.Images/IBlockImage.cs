namespace Vireo.Images;

/// <summary>Image formats the engine reads and writes.</summary>
public enum ImageFormat
{
    Raw,
    Qcow2,

    /// <summary>A raw LUKS1 container (qemu's <c>luks</c> driver).</summary>
    Luks,
}

/// <summary>What a range of guest-visible bytes is backed by, as qemu-img map reports it.</summary>
public enum BlockState
{
    /// <summary>Allocated in this layer with data.</summary>
    Data,
    /// <summary>Reads as zeroes (a zero cluster, or a hole in a raw file).</summary>
    Zero,
    /// <summary>Not allocated in this layer: reads come from the backing file (or zeroes when there is none).</summary>
    Unallocated,
}

/// <summary>
/// One extent of <see cref="IBlockImage.GetBlockStatusAsync"/>. <paramref name="Compressed"/> marks qcow2
/// compressed clusters (no host offset then).
/// </summary>
public readonly record struct BlockExtent(long Offset, long Length, BlockState State, long? HostOffset, int Depth, bool Compressed = false);

/// <summary>
/// An open disk image of any format, seen as the guest sees it: a byte array of <see cref="VirtualSize"/>.
/// Storage pools, volume clones, convert and install all work through this interface.
/// Calls on one image are serialized internally; an image is safe to share between tasks.
/// </summary>
public interface IBlockImage : IAsyncDisposable, IDisposable
{
    string Path { get; }

    ImageFormat Format { get; }

    long VirtualSize { get; }

    bool ReadOnly { get; }

    /// <summary>The image this one reads unallocated ranges from, already open (read-only), or null.</summary>
    IBlockImage? Backing { get; }

    /// <summary>Reads guest bytes; ranges that are unallocated in the whole chain read as zeroes.</summary>
    ValueTask ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default);

    ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default);

    /// <summary>Makes the range read as zeroes, deallocating where the format allows.</summary>
    ValueTask WriteZeroesAsync(long offset, long length, CancellationToken ct = default);

    /// <summary>
    /// Status of the range starting at <paramref name="offset"/> in this layer only: one extent, as long as
    /// possible (at most <paramref name="length"/>).
    /// </summary>
    ValueTask<BlockExtent> GetBlockStatusAsync(long offset, long length, CancellationToken ct = default);

    ValueTask FlushAsync(CancellationToken ct = default);
}
