using Vireo.Model;
using Vireo.Model.Storage;

namespace Vireo.Engine.Storage;

/// <summary>What vol-create-as asks for.</summary>
public sealed record VolumeCreateRequest
{
    public required string Name { get; init; }

    public required long Capacity { get; init; }

    /// <summary><c>raw</c> or <c>qcow2</c>; null: raw in file pools, none in logical ones.</summary>
    public string? Format { get; init; }

    public long? Allocation { get; init; }

    public bool PreallocMetadata { get; init; }

    /// <summary>Backing volume: a name in the same pool, a key, or a path.</summary>
    public string? BackingVolume { get; init; }

    public string? BackingFormat { get; init; }
}

public sealed partial class StoragePoolManager
{
    public IReadOnlyList<VolumeInfo> ListVolumes(string pool)
    {
        EnsureReady();
        var def = ActiveDefinition(pool);
        return PoolDriver.For(def).ListVolumes(def);
    }

    /// <summary>
    /// Finds a volume as virsh does: by name in <paramref name="pool"/> when one is given, otherwise by key, then by
    /// path, in every active pool.
    /// </summary>
    public VolumeInfo FindVolume(string volume, string? pool)
    {
        EnsureReady();
        if (string.IsNullOrEmpty(volume))
        {
            throw VireoException.Invalid("volume name, key or path must not be empty");
        }

        if (pool is not null)
        {
            var def = ActiveDefinition(pool);
            var driver = PoolDriver.For(def);
            if (!volume.Contains('/', StringComparison.Ordinal))
            {
                ObjectName.Validate(volume, $"storage pool '{pool}': volume");
                return driver.FindVolume(def, volume)
                    ?? throw VireoException.NotFound($"storage pool '{pool}': volume '{volume}' not found");
            }

            return driver.ListVolumes(def).FirstOrDefault(v => v.Path == volume || v.Key == volume)
                ?? throw VireoException.NotFound($"storage pool '{pool}': no volume with path or key '{volume}'");
        }

        var all = AllActiveVolumes().ToList();
        string? full = volume.StartsWith('/') ? Path.GetFullPath(volume) : null;
        return all.FirstOrDefault(v => v.Key == volume)
            ?? all.FirstOrDefault(v => v.Path == volume || v.Path == full)
            ?? throw VireoException.NotFound(volume.Contains('/', StringComparison.Ordinal)
                ? $"no storage volume with key or path '{volume}' in any active pool"
                : $"storage volume '{volume}' not found: give its pool with --pool, or its key or path");
    }

    /// <summary>vol-create-as.</summary>
    public VolumeInfo CreateVolume(string pool, VolumeCreateRequest request)
    {
        EnsureReady();
        string name = ObjectName.Validate(request.Name, $"storage pool '{pool}': volume");
        using var l = _store.Lock(pool);
        var def = ActiveDefinition(pool);
        var driver = PoolDriver.For(def);
        CheckNewVolume(def, driver, name, request.Capacity);
        if (!driver.FileVolumes)
        {
            if (request.Format is not (null or "raw") || request.BackingVolume is not null)
            {
                throw VireoException.Unsupported($"storage pool '{pool}': volume '{name}': logical volumes are raw block devices; --format {request.Format} and --backing-vol are not supported");
            }

            driver.CreateBlockVolume(def, name, request.Capacity);
            return driver.FindVolume(def, name) ?? throw new VireoException(ErrorKind.OperationFailed, $"storage pool '{pool}': volume '{name}' vanished after creation");
        }

        string format = request.Format ?? "raw";
        string? backingPath = null;
        string? backingFormat = request.BackingFormat;
        if (request.BackingVolume is not null)
        {
            var backing = ResolveBacking(def, request.BackingVolume, name);
            backingPath = backing.Path;
            backingFormat ??= backing.DiskFormat;
        }

        var spec = new VolumeCreateSpec
        {
            Format = CheckCreatableFormat(pool, name, format),
            Capacity = request.Capacity,
            Allocation = request.Allocation,
            PreallocMetadata = request.PreallocMetadata,
            BackingPath = backingPath,
            BackingFormat = backingFormat,
        };
        return CreateFileVolume(def, driver, name, spec);
    }

    /// <summary>vol-create: the volume as its XML describes it (name, capacity, allocation, format, backing store, compat).</summary>
    public VolumeInfo CreateVolume(string pool, string xml, bool preallocMetadata = false)
    {
        EnsureReady();
        var probe = ActiveDefinition(pool);
        var vol = StorageVolumeDefinition.Parse(xml, probe.Type);
        if (!PoolDriver.For(probe).FileVolumes)
        {
            return CreateVolume(pool, new VolumeCreateRequest { Name = vol.Name, Capacity = vol.Capacity!.Value });
        }

        using var l = _store.Lock(pool);
        var def = ActiveDefinition(pool);
        var driver = PoolDriver.For(def);
        CheckNewVolume(def, driver, vol.Name, vol.Capacity!.Value);
        string? backingFormat = vol.BackingStore?.Format;
        if (vol.BackingStore is { } b)
        {
            var facts = VolumeImages.Inspect(b.Path, pool, vol.Name);
            backingFormat ??= facts.Format;
        }

        var spec = new VolumeCreateSpec
        {
            Format = CheckCreatableFormat(pool, vol.Name, vol.Format ?? "raw"),
            Capacity = vol.Capacity!.Value,
            Allocation = vol.Allocation,
            PreallocMetadata = preallocMetadata,
            BackingPath = vol.BackingStore?.Path,
            BackingFormat = backingFormat,
            Compat = vol.Compat,
            LazyRefcounts = vol.LazyRefcounts,
        };
        return CreateFileVolume(def, driver, vol.Name, spec);
    }

    public void DeleteVolume(VolumeInfo volume)
    {
        EnsureReady();
        using var l = _store.Lock(volume.Pool);
        var def = ActiveDefinition(volume.Pool);
        var driver = PoolDriver.For(def);
        var current = driver.FindVolume(def, volume.Name) ?? throw VireoException.NotFound($"storage pool '{volume.Pool}': volume '{volume.Name}' not found");
        CheckNotInUse(current, "delete");
        driver.DeleteVolume(def, current);
    }

    /// <summary>
    /// vol-resize: <paramref name="capacity"/> is the new size, or with <paramref name="delta"/> the change; shrinking
    /// needs <paramref name="shrink"/>, as data past the new end is lost.
    /// </summary>
    public VolumeInfo ResizeVolume(VolumeInfo volume, long capacity, bool delta, bool shrink)
    {
        EnsureReady();
        using var l = _store.Lock(volume.Pool);
        var def = ActiveDefinition(volume.Pool);
        var driver = PoolDriver.For(def);
        var v = driver.FindVolume(def, volume.Name) ?? throw VireoException.NotFound($"storage pool '{volume.Pool}': volume '{volume.Name}' not found");
        long target = delta ? (shrink ? v.Capacity - capacity : v.Capacity + capacity) : capacity;
        string what = $"storage pool '{v.Pool}': volume '{v.Name}'";
        if (target <= 0)
        {
            throw VireoException.Invalid($"{what}: new capacity {target} is not positive");
        }

        if (target < v.Capacity && !shrink)
        {
            throw VireoException.Invalid($"{what}: {target} bytes is smaller than the current {v.Capacity}; use --shrink to lose the data past it");
        }

        if (target > v.Capacity && shrink && !delta)
        {
            throw VireoException.Invalid($"{what}: --shrink given but {target} bytes is larger than the current {v.Capacity}");
        }

        if (target < v.Capacity)
        {
            CheckNotInUse(v, "shrink");
        }

        if (target > v.Capacity && driver.FileVolumes && target - v.Capacity > driver.Figures(def).Available && v.Format == "raw")
        {
            // A sparse raw file could grow anyway, but libvirt refuses to promise space it does not have.
            throw VireoException.State($"{what}: growing by {target - v.Capacity} bytes exceeds the pool's available space");
        }

        if (driver.FileVolumes)
        {
            VolumeImages.Resize(v.Path, v.DiskFormat, target);
        }
        else
        {
            driver.ResizeBlockVolume(def, v, target);
        }

        return driver.FindVolume(def, v.Name)!;
    }

    /// <summary>vol-dumpxml: the volume's live XML.</summary>
    public string VolumeXml(VolumeInfo v)
    {
        StoragePermissions? perms = null;
        StorageVolumeTimestamps? stamps = null;
        try
        {
            var st = StorageNative.StatFull(v.Path);
            perms = new StoragePermissions((int)(st.Mode & 0xFFF), st.Uid, st.Gid, null);
            var fi = new FileInfo(v.Path);
            stamps = new StorageVolumeTimestamps(fi.LastAccessTimeUtc, fi.LastWriteTimeUtc, fi.LastWriteTimeUtc);
        }
        catch (VireoException)
        {
            // A logical volume without device-mapper has no node; its XML has no permissions then.
        }

        var def = new StorageVolumeDefinition
        {
            Type = v.Type,
            Name = v.Name,
            Key = v.Key,
            Capacity = v.Capacity,
            Allocation = v.Allocation,
            Physical = v.Physical,
            Path = v.Path,
            Format = v.Format,
            Permissions = perms,
            Timestamps = v.Type == "file" ? stamps : null,
            Compat = v.Format == "qcow2" ? v.Compat : null,
            HasFeatures = v.Format == "qcow2" && v.Compat == "1.1",
            LazyRefcounts = v.LazyRefcounts,
            BackingStore = v.BackingPath is null ? null : new StorageVolumeBacking(v.BackingPath, v.BackingFormat, null),
        };
        return def.ToXml();
    }

    private IEnumerable<VolumeInfo> AllActiveVolumes()
    {
        foreach (string name in _store.Names())
        {
            var def = _store.Active(name);
            if (def is null)
            {
                continue;
            }

            IReadOnlyList<VolumeInfo> vols;
            try
            {
                vols = PoolDriver.For(def).ListVolumes(def);
            }
            catch (VireoException)
            {
                continue;
            }

            foreach (var v in vols)
            {
                yield return v;
            }
        }
    }

    private VolumeInfo ResolveBacking(StoragePoolDefinition def, string backing, string name)
    {
        var driver = PoolDriver.For(def);
        if (!backing.Contains('/', StringComparison.Ordinal) && driver.FindVolume(def, backing) is { } inPool)
        {
            return inPool;
        }

        try
        {
            return FindVolume(backing, null);
        }
        catch (VireoException e) when (e.Kind == ErrorKind.NotFound)
        {
            throw VireoException.NotFound($"storage pool '{def.Name}': volume '{name}': backing volume '{backing}' not found in the pool nor by key or path");
        }
    }

    private static void CheckNewVolume(StoragePoolDefinition def, PoolDriver driver, string name, long capacity)
    {
        if (capacity < 0)
        {
            throw VireoException.Invalid($"storage pool '{def.Name}': volume '{name}': capacity must not be negative");
        }

        string path = driver.VolumePath(def, name);
        if (driver.FindVolume(def, name) is not null || File.Exists(path) || Directory.Exists(path))
        {
            throw new VireoException(ErrorKind.AlreadyExists, $"storage pool '{def.Name}': volume '{name}' already exists");
        }
    }

    private static string CheckCreatableFormat(string pool, string name, string format) => format switch
    {
        "raw" or "qcow2" => format,
        "iso" => "raw",
        _ => throw VireoException.Unsupported($"storage pool '{pool}': volume '{name}': format '{format}' cannot be created (raw, qcow2)"),
    };

    private static VolumeInfo CreateFileVolume(StoragePoolDefinition def, PoolDriver driver, string name, VolumeCreateSpec spec)
    {
        string path = driver.VolumePath(def, name);
        try
        {
            VolumeImages.Create(path, spec);
        }
        catch (Exception e) when (e is IOException or VireoException)
        {
            if (e is not IOException || File.Exists(path))
            {
                TryDelete(path);
            }

            throw e as VireoException ?? new VireoException(ErrorKind.OperationFailed, $"storage pool '{def.Name}': volume '{name}': {e.Message}", e);
        }

        return driver.FindVolume(def, name) ?? throw new VireoException(ErrorKind.OperationFailed, $"storage pool '{def.Name}': volume '{name}' vanished after creation");
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>A running domain's disk, or an image it reads through a backing chain, must not change under it.</summary>
    private void CheckNotInUse(VolumeInfo v, string operation)
    {
        foreach (var (domain, path) in _usage.InUse())
        {
            if (ChainContains(path, v.Path))
            {
                throw VireoException.State($"storage pool '{v.Pool}': cannot {operation} volume '{v.Name}': it is in use by running domain '{domain}' ({path})");
            }
        }
    }

    private static bool ChainContains(string top, string target)
    {
        string? p = top;
        for (int depth = 0; p is not null && depth < 16; depth++)
        {
            if (Path.GetFullPath(p) == target)
            {
                return true;
            }

            try
            {
                p = File.Exists(p) ? VolumeImages.Inspect(p, "-", "-").BackingPath : null;
            }
            catch (VireoException)
            {
                return false;
            }
        }

        return false;
    }
}
