using Vireo.Model;
using Vireo.Model.Storage;

namespace Vireo.Engine.Storage;

/// <summary>
/// What differs between pool types: how the pool comes up and down and where its volumes live. Volume data
/// (create, clone, upload) goes through the image engine for every type.
/// </summary>
internal abstract class PoolDriver
{
    public static PoolDriver For(StoragePoolDefinition def) => def.Type switch
    {
        StoragePoolType.Dir => DirPoolDriver.Instance,
        StoragePoolType.Fs => FsPoolDriver.Instance,
        StoragePoolType.Logical => LogicalPoolDriver.Instance,
        _ => throw VireoException.Unsupported($"storage pool '{def.Name}': type {def.Type.ToXml()} is not supported (dir, fs, logical are)"),
    };

    public abstract void Build(StoragePoolDefinition def, PoolBuildMode mode);

    public abstract void Start(StoragePoolDefinition def);

    public abstract void Stop(StoragePoolDefinition def);

    /// <summary>Removes the pool's storage itself (the directory, the volume group).</summary>
    public abstract void Delete(StoragePoolDefinition def);

    public abstract StoragePoolFigures Figures(StoragePoolDefinition def);

    public abstract IReadOnlyList<VolumeInfo> ListVolumes(StoragePoolDefinition def);

    public abstract VolumeInfo? FindVolume(StoragePoolDefinition def, string name);

    /// <summary>Where a volume named <paramref name="name"/> lives (whether or not it exists).</summary>
    public abstract string VolumePath(StoragePoolDefinition def, string name);

    /// <summary>True when volumes are files with a format; false for block devices.</summary>
    public abstract bool FileVolumes { get; }

    /// <summary>Creates an empty block volume (logical pools); file pools create through the image engine.</summary>
    public virtual void CreateBlockVolume(StoragePoolDefinition def, string name, long capacity) =>
        throw new InvalidOperationException("file pools create volumes as images");

    public abstract void DeleteVolume(StoragePoolDefinition def, VolumeInfo volume);

    /// <summary>Grows or shrinks a block volume; file volumes resize through the image engine.</summary>
    public virtual void ResizeBlockVolume(StoragePoolDefinition def, VolumeInfo volume, long capacity) =>
        throw new InvalidOperationException("file pools resize volumes as images");
}
