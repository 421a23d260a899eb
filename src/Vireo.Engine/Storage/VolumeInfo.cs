namespace Vireo.Engine.Storage;

/// <summary>One volume as a pool sees it now.</summary>
public sealed record VolumeInfo
{
    public required string Pool { get; init; }

    public required string Name { get; init; }

    public required string Path { get; init; }

    /// <summary>libvirt's key: the path for file volumes, the LV uuid for logical ones.</summary>
    public required string Key { get; init; }

    /// <summary><c>file</c> or <c>block</c>.</summary>
    public required string Type { get; init; }

    /// <summary><c>raw</c>, <c>qcow2</c>, …; null for block volumes (they are raw to a domain).</summary>
    public string? Format { get; init; }

    public long Capacity { get; init; }

    public long Allocation { get; init; }

    /// <summary>Host size of the file (st_size) or device.</summary>
    public long Physical { get; init; }

    public string? BackingPath { get; init; }

    public string? BackingFormat { get; init; }

    public string? Compat { get; init; }

    public bool LazyRefcounts { get; init; }

    /// <summary>The format a domain's disk should use: block volumes are raw.</summary>
    public string DiskFormat => Format ?? "raw";
}

/// <summary>One pool's state for pool-list and pool-info.</summary>
public sealed record PoolStatus(
    string Name,
    Guid Uuid,
    string Type,
    bool Active,
    bool Persistent,
    bool Autostart,
    long Capacity,
    long Allocation,
    long Available);

/// <summary>What pool-build does to existing data (virsh's --overwrite / --no-overwrite).</summary>
public enum PoolBuildMode
{
    /// <summary>Create the directory or volume group; format nothing that holds data.</summary>
    Default,
    /// <summary>Format the device only when no file system or label is found on it.</summary>
    NoOverwrite,
    /// <summary>Format the device whatever it holds.</summary>
    Overwrite,
}
