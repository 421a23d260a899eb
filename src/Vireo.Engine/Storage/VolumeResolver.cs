using Vireo.Engine.State;

namespace Vireo.Engine.Storage;

/// <summary>
/// Turns a domain disk <c>&lt;disk type='volume'&gt;&lt;source pool='P' volume='V'/&gt;</c> into what QEMU opens:
/// the volume's path and its format (<c>raw</c> for block volumes). The domain engine calls it at start.
/// </summary>
public sealed class VolumeResolver
{
    private readonly StoragePoolManager _pools;

    public VolumeResolver(VireoPaths paths)
        : this(new StoragePoolManager(paths))
    {
    }

    public VolumeResolver(StoragePoolManager pools) => _pools = pools;

    /// <summary>Throws a VireoException naming the pool and volume when the pool is inactive or the volume missing.</summary>
    public (string path, string format) Resolve(string pool, string volume)
    {
        var v = _pools.FindVolume(volume, pool);
        return (v.Path, v.DiskFormat);
    }
}
