namespace Vireo.Model.Storage;

/// <summary>Pool types whose XML Vireo reads and writes; the engine runs <c>dir</c>, <c>fs</c> and <c>logical</c>.</summary>
public enum StoragePoolType
{
    Dir,
    Fs,
    NetFs,
    Logical,
    Disk,
    Iscsi,
    Scsi,
    Rbd,
}

/// <summary>Names of pool types as libvirt spells them.</summary>
public static class StoragePoolTypes
{
    public static string ToXml(this StoragePoolType t) => t switch
    {
        StoragePoolType.Dir => "dir",
        StoragePoolType.Fs => "fs",
        StoragePoolType.NetFs => "netfs",
        StoragePoolType.Logical => "logical",
        StoragePoolType.Disk => "disk",
        StoragePoolType.Iscsi => "iscsi",
        StoragePoolType.Scsi => "scsi",
        StoragePoolType.Rbd => "rbd",
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    public static StoragePoolType Parse(string? s) => s switch
    {
        "dir" => StoragePoolType.Dir,
        "fs" => StoragePoolType.Fs,
        "netfs" => StoragePoolType.NetFs,
        "logical" => StoragePoolType.Logical,
        "disk" => StoragePoolType.Disk,
        "iscsi" => StoragePoolType.Iscsi,
        "scsi" => StoragePoolType.Scsi,
        "rbd" => StoragePoolType.Rbd,
        null or "" => throw VireoException.Invalid("storage pool type is missing (<pool type='dir|fs|logical'>)"),
        _ => throw VireoException.Invalid($"storage pool type '{s}' is not known (supported: dir, fs, logical)"),
    };

    /// <summary>Volumes of file-backed pools are files with a format; of the others, block devices without one.</summary>
    public static bool HasFileVolumes(this StoragePoolType t) => t is StoragePoolType.Dir or StoragePoolType.Fs or StoragePoolType.NetFs;
}
