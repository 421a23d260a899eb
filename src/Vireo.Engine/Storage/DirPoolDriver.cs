using Vireo.Model;
using Vireo.Model.Storage;

namespace Vireo.Engine.Storage;

/// <summary>A directory of image files: the pool type every host has.</summary>
internal class DirPoolDriver : PoolDriver
{
    public static readonly DirPoolDriver Instance = new();

    public override bool FileVolumes => true;

    public override void Build(StoragePoolDefinition def, PoolBuildMode mode)
    {
        Directory.CreateDirectory(def.TargetPath);
        if (def.Target?.Permissions?.Mode is int mode2)
        {
            StorageNative.Chmod(def.TargetPath, mode2);
        }
    }

    public override void Start(StoragePoolDefinition def)
    {
        if (!Directory.Exists(def.TargetPath))
        {
            throw VireoException.State($"storage pool '{def.Name}': target directory '{def.TargetPath}' does not exist (run pool-build first)");
        }
    }

    public override void Stop(StoragePoolDefinition def)
    {
    }

    public override void Delete(StoragePoolDefinition def)
    {
        if (!Directory.Exists(def.TargetPath))
        {
            return;
        }

        if (Directory.EnumerateFileSystemEntries(def.TargetPath).Any())
        {
            throw VireoException.State($"storage pool '{def.Name}': cannot delete '{def.TargetPath}': it is not empty (delete its volumes first)");
        }

        Directory.Delete(def.TargetPath);
    }

    public override StoragePoolFigures Figures(StoragePoolDefinition def)
    {
        var (cap, alloc, avail) = StorageNative.FileSystemFigures(def.TargetPath);
        return new StoragePoolFigures(cap, alloc, avail);
    }

    public override IReadOnlyList<VolumeInfo> ListVolumes(StoragePoolDefinition def)
    {
        var list = new List<VolumeInfo>();
        foreach (string path in Directory.EnumerateFiles(def.TargetPath).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(path);
            if (name.StartsWith('.'))
            {
                // Our own temporaries (and other hidden files) are not volumes.
                continue;
            }

            if (TryDescribe(def, name) is { } v)
            {
                list.Add(v);
            }
        }

        return list;
    }

    public override VolumeInfo? FindVolume(StoragePoolDefinition def, string name) =>
        name.StartsWith('.') ? null : TryDescribe(def, name);

    public override string VolumePath(StoragePoolDefinition def, string name) =>
        Path.Combine(def.TargetPath, ObjectName.Validate(name, $"storage pool '{def.Name}': volume"));

    public override void DeleteVolume(StoragePoolDefinition def, VolumeInfo volume) => File.Delete(volume.Path);

    private VolumeInfo? TryDescribe(StoragePoolDefinition def, string name)
    {
        string path = VolumePath(def, name);
        (long size, long allocated, uint mode) st;
        try
        {
            st = StorageNative.Stat(path);
        }
        catch (VireoException)
        {
            return null;
        }

        // Only regular files are volumes: a symlink could point anywhere on the host.
        if (!StorageNative.IsRegularFile(st.mode))
        {
            return null;
        }

        var facts = VolumeImages.Inspect(path, def.Name, name);
        return new VolumeInfo
        {
            Pool = def.Name,
            Name = name,
            Path = path,
            Key = path,
            Type = "file",
            Format = facts.Format,
            Capacity = facts.VirtualSize,
            Allocation = st.allocated,
            Physical = st.size,
            BackingPath = facts.BackingPath,
            BackingFormat = facts.BackingFormat,
            Compat = facts.Compat,
            LazyRefcounts = facts.LazyRefcounts,
        };
    }
}
