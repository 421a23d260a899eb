namespace Vireo.Images;

/// <summary>An internal snapshot as <c>qemu-img snapshot -l</c> and <c>info</c> list it.</summary>
public sealed record SnapshotInfo(
    string Id,
    string Name,
    long VmStateSize,
    long DateSeconds,
    int DateNanoseconds,
    long VmClockNanoseconds,
    long? Icount,
    long? DiskSize);

/// <summary>One persistent dirty bitmap as <c>qemu-img info</c> lists it.</summary>
/// <param name="Flags">qemu's names for the set flags: "in-use", "auto".</param>
public sealed record BitmapInfo(string Name, long Granularity, IReadOnlyList<string> Flags);

/// <summary>What <see cref="DiskImage.Inspect"/> reports about one image (not its chain).</summary>
public sealed record ImageInfo
{
    public required string Path { get; init; }

    public required ImageFormat Format { get; init; }

    public required long VirtualSize { get; init; }

    /// <summary>Bytes allocated on the host file system.</summary>
    public required long ActualSize { get; init; }

    /// <summary>Cluster size, or null for raw.</summary>
    public int? ClusterSize { get; init; }

    public string? BackingFile { get; init; }

    /// <summary>The backing file resolved against the image's directory.</summary>
    public string? FullBackingFile { get; init; }

    public string? BackingFormat { get; init; }

    public bool Dirty { get; init; }

    public bool Corrupt { get; init; }

    /// <summary>qcow2 compat level: "0.10" for version 2, "1.1" for version 3.</summary>
    public string? Compat { get; init; }

    public bool LazyRefcounts { get; init; }

    public int RefcountBits { get; init; }

    public CompressionType CompressionType { get; init; }

    public bool ExtendedL2 { get; init; }

    public string? DataFile { get; init; }

    public bool DataFileRaw { get; init; }

    public bool Encrypted { get; init; }

    /// <summary>The LUKS1 header of an encrypted image (qemu-img info's <c>encrypt</c> block).</summary>
    public LuksInfo? Luks { get; init; }

    public IReadOnlyList<SnapshotInfo> Snapshots { get; init; } = [];

    public IReadOnlyList<BitmapInfo> Bitmaps { get; init; } = [];
}
